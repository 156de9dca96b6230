package sandbox_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/internal/emvqr"
	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/providertest"
	"github.com/paykit/paykit/providers/sandbox"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// bundle is what most tests need: a sandbox on a fake clock whose
// callbacks land in an inbox.
type bundle struct {
	sb    *sandbox.Provider
	clock *fakeClock
	inbox *inbox
}

func setup(t testing.TB, opts ...sandbox.Option) *bundle {
	t.Helper()
	b := &bundle{clock: newClock(), inbox: newInbox()}
	all := append([]sandbox.Option{
		sandbox.WithClock(b.clock), sandbox.WithDeliver(b.inbox.deliver), sandbox.WithQRImage(false),
	}, opts...)
	sb, err := sandbox.New(all...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	b.sb = sb
	return b
}

func cardReq(t testing.TB, number string, amount int64, currency string) *payment.StartRequest {
	t.Helper()
	req := providertest.NewStartRequest("sandbox", payment.MethodCard, amount, currency)
	cvv := "123"
	if strings.HasPrefix(number, "37") {
		cvv = "1234"
	}
	req.Card = &payment.Card{Number: number, ExpiryMonth: 12, ExpiryYear: 2030, CVV: cvv, HolderName: "John Doe"}
	return req
}

func qrReq(amount int64, currency string) *payment.StartRequest {
	return providertest.NewStartRequest("sandbox", payment.MethodQR, amount, currency)
}

// recordOf returns the payment as the Service would hold it after st.
func recordOf(req *payment.StartRequest, st *payment.PaymentState) *payment.Payment {
	p := req.Payment.Clone()
	p.Status = st.Status
	p.ProviderReference = st.ProviderReference
	if st.Status.Paid() {
		p.AmountCaptured = p.Amount
		if st.AmountCaptured != nil {
			p.AmountCaptured = *st.AmountCaptured
		}
	}
	return p
}

func parse(t testing.TB, sb *sandbox.Provider, wr *payment.WebhookRequest) payment.WebhookEvent {
	t.Helper()
	require.NotNil(t, wr, "a callback was delivered")
	res, err := sb.ParseWebhook(t.Context(), wr)
	require.NoError(t, err)
	require.Len(t, res.Events, 1)
	return res.Events[0]
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	require.Equal(t, "sandbox", sb.Name())
	require.Equal(t, []payment.Method{payment.MethodCard, payment.MethodQR, payment.MethodBankTransfer}, sb.Methods())
	require.Equal(t, []string{"THB", "VND", "TRY", "USD", "EUR"}, sb.Currencies())
	require.Equal(t, []string{"sync", "refund", "cancel", "capture", "confirm", "payout", "balance", "quote"},
		payment.Capabilities(sb))

	named, err := sandbox.New(sandbox.WithName("sandbox_eu"), sandbox.WithCurrencies("EUR"), nil)
	require.NoError(t, err)
	require.Equal(t, "sandbox_eu", named.Name())
	require.Equal(t, []string{"EUR"}, named.Currencies())
	require.NoError(t, named.Close())
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opt  sandbox.Option
	}{
		{"empty name", sandbox.WithName("")},
		{"no currencies", sandbox.WithCurrencies()},
		{"unknown currency", sandbox.WithCurrencies("THB", "XYZ")},
		{"lower-case currency", sandbox.WithCurrencies("thb")},
		{"nil clock", sandbox.WithClock(nil)},
		{"empty secret", sandbox.WithWebhookSecret("")},
		{"zero tolerance", sandbox.WithTolerance(0)},
		{"nil client", sandbox.WithHTTPClient(nil)},
		{"nil deliver", sandbox.WithDeliver(nil)},
		{"zero TTL", sandbox.WithQRTTL(0)},
		{"short PromptPay id", sandbox.WithPromptPayID("08123")},
		{"PromptPay id with letters", sandbox.WithPromptPayID("08123456ab")},
		{"incomplete merchant account", sandbox.WithMerchantAccount(payment.BankAccount{BankCode: "KBANK"})},
		{"nil logger", sandbox.WithLogger(nil)},
		{"no attempts", sandbox.WithDeliveryRetry(0, time.Second)},
		{"zero backoff", sandbox.WithDeliveryRetry(3, 0)},
		{"negative opening balance", sandbox.WithOpeningBalance("THB", -1)},
		{"opening balance in unknown currency", sandbox.WithOpeningBalance("XYZ", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sb, err := sandbox.New(tt.opt)
			require.Error(t, err)
			require.Nil(t, sb)
		})
	}
	_, err := sandbox.New(sandbox.WithCurrencies("USD"), sandbox.WithOpeningBalance("THB", 100))
	require.Error(t, err, "an opening balance in a currency that is not configured")
}

func TestTestCards(t *testing.T) {
	t.Parallel()
	tests := []struct {
		number  string
		status  payment.Status
		failure string
		brand   string
	}{
		{sandbox.CardVisa, payment.StatusSucceeded, "", "visa"},
		{sandbox.CardMastercard, payment.StatusSucceeded, "", "mastercard"},
		{sandbox.CardAmex, payment.StatusSucceeded, "", "amex"},
		{sandbox.CardDeclined, payment.StatusFailed, payment.FailureCardDeclined, "visa"},
		{sandbox.CardInsufficientFunds, payment.StatusFailed, payment.FailureInsufficientFunds, "visa"},
	}
	for _, tt := range tests {
		t.Run(tt.number, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			req := cardReq(t, tt.number, 12345, "THB")
			st, err := b.sb.Start(t.Context(), req)
			require.NoError(t, err)
			require.Equal(t, tt.status, st.Status)
			require.NotEmpty(t, st.ProviderReference)
			require.Equal(t, &payment.CardSummary{Brand: tt.brand, Last4: tt.number[len(tt.number)-4:]}, st.Card)
			if tt.failure == "" {
				require.Nil(t, st.Failure)
				require.Equal(t, &payment.Money{Amount: 12345, Currency: "THB"}, st.Amount)
				require.Nil(t, st.AmountCaptured, "a full capture reports no separate captured amount")
			} else {
				require.NotNil(t, st.Failure)
				require.Equal(t, tt.failure, st.Failure.Code)
				require.NotEmpty(t, st.Failure.Message)
			}
			require.Equal(t, 1, b.sb.Charges())

			got, err := b.sb.Sync(t.Context(), recordOf(req, st))
			require.NoError(t, err)
			require.Equal(t, st, got, "Sync reports what Start did")
			require.Zero(t, b.inbox.count(req.Payment.ID), "a synchronous outcome sends no callback")
		})
	}
}

func TestTestTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := providertest.NewStartRequest("sandbox", payment.MethodCard, 5000, "USD")
	req.PaymentToken = sandbox.TokenVisa
	st, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, st.Status)
}

func TestTimeoutCardThenSync(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := cardReq(t, sandbox.CardTimeout, 9900, "THB")
	st, err := b.sb.Start(t.Context(), req)
	require.Nil(t, st)
	var pe *payment.ProviderError
	require.ErrorAs(t, err, &pe)
	require.True(t, pe.Retryable, "a timeout leaves the outcome unknown")
	require.True(t, payment.IsRetryable(err))
	require.Equal(t, "timeout", pe.Code)
	require.NotContains(t, err.Error(), sandbox.CardTimeout, "errors never carry the card number")

	// The Service records processing, without a reference; Sync finds the
	// charge by paykit's id.
	rec := req.Payment.Clone()
	rec.Status = payment.StatusProcessing
	got, err := b.sb.Sync(t.Context(), rec)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, got.Status)
	require.Equal(t, &payment.Money{Amount: 9900, Currency: "THB"}, got.Amount)

	// A retry of Start with the same key finds it too, and charges nothing.
	again, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, again.Status)
	require.Equal(t, 1, b.sb.Charges())
	require.Equal(t, 2, b.sb.StartCalls(req.IdempotencyKey))
}

func TestStartIdempotentSequential(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := qrReq(100000, "THB")
	first, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)
	for range 99 {
		st, err := b.sb.Start(t.Context(), req)
		require.NoError(t, err)
		require.Equal(t, first, st)
	}
	require.Equal(t, 1, b.sb.Charges())
	require.Equal(t, 1, b.sb.ChargesFor(req.Payment.ID))
	require.Equal(t, 100, b.sb.StartCalls(req.IdempotencyKey))

	// A second payment is a second charge.
	_, err = b.sb.Start(t.Context(), qrReq(100000, "THB"))
	require.NoError(t, err)
	require.Equal(t, 2, b.sb.Charges())
}

func TestStartIdempotentConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := cardReq(t, sandbox.CardVisa, 100000, "THB")
	const n = 200
	var wg sync.WaitGroup
	refs := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := b.sb.Start(context.Background(), req)
			if err == nil {
				refs[i] = st.ProviderReference
			}
		}()
	}
	wg.Wait()
	for _, ref := range refs {
		require.Equal(t, refs[0], ref)
	}
	require.NotEmpty(t, refs[0])
	require.Equal(t, 1, b.sb.Charges(), "200 concurrent starts with one key make one charge")
	require.Equal(t, n, b.sb.StartCalls(req.IdempotencyKey))
	bal, err := b.sb.Balance(t.Context())
	require.NoError(t, err)
	require.Contains(t, bal, payment.Balance{Currency: "THB", Available: 100000}, "the money was booked once")
}

func TestStartHonoursContext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := b.sb.Start(ctx, qrReq(100, "THB"))
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, payment.IsRetryable(err))
	require.Zero(t, b.sb.Charges())
}

func TestQR(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.WithQRImage(true))
	req := qrReq(100000, "THB")
	st, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, payment.StatusRequiresAction, st.Status)
	na := st.NextAction
	require.NotNil(t, na)
	require.Equal(t, payment.NextActionDisplayQR, na.Type)
	require.Equal(t, sandbox.DefaultPromptPayID, na.PromptPayID)
	wantExp := b.clock.Now().Add(15 * time.Minute)
	require.Equal(t, &wantExp, na.ExpiresAt)
	require.Equal(t, &wantExp, st.ExpiresAt)
	require.Nil(t, na.BankAccount)

	// An EMVCo PromptPay payload: version, dynamic, PromptPay merchant
	// account for 0812345678, THB (764), 1000.00, Thailand, CRC.
	want := "000201" + "010212" + "2937" + "0016A000000677010111" + "0113" + "0066812345678" +
		"5303764" + "5407" + "1000.00" + "5802TH"
	require.True(t, strings.HasPrefix(na.QRCode, want), "payload %s", na.QRCode)
	requireValidCRC(t, na.QRCode)

	png, ok := strings.CutPrefix(na.QRImage, "data:image/png;base64,")
	require.True(t, ok, "qr_image is a PNG data URL")
	raw, err := base64.StdEncoding.DecodeString(png)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(raw, []byte("\x89PNG\r\n\x1a\n")))

	// Another payment gets another payload.
	st2, err := b.sb.Start(t.Context(), qrReq(100000, "THB"))
	require.NoError(t, err)
	require.NotEqual(t, na.QRCode, st2.NextAction.QRCode)
}

// requireValidCRC checks that payload is well-formed EMVCo fields ending
// with a correct CRC (upper-case hex, as the sandbox writes it).
func requireValidCRC(t testing.TB, payload string) {
	t.Helper()
	_, err := emvqr.Parse(payload)
	require.NoError(t, err)
	require.Equal(t, strings.ToUpper(payload[len(payload)-4:]), payload[len(payload)-4:])
}

func TestQROtherCurrencyAndTTL(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.WithQRTTL(2*time.Minute))
	req := qrReq(120000, "VND")
	st, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)
	na := st.NextAction
	require.Empty(t, na.PromptPayID, "PromptPay is for THB")
	require.Contains(t, na.QRCode, "5303704"+"5406120000", "VND 120000 has no decimals")
	require.Contains(t, na.QRCode, "COM.PAYKIT.SANDBOX")
	require.Empty(t, na.QRImage, "WithQRImage(false)")
	requireValidCRC(t, na.QRCode)
	require.Equal(t, b.clock.Now().Add(2*time.Minute), *na.ExpiresAt)

	// Past its expiry the payment is expired, and can no longer be paid.
	b.clock.Advance(2*time.Minute + time.Second)
	got, err := b.sb.Sync(t.Context(), recordOf(req, st))
	require.NoError(t, err)
	require.Equal(t, payment.StatusExpired, got.Status)
	require.Equal(t, payment.FailureExpired, got.Failure.Code)
	require.Nil(t, got.NextAction)
	require.ErrorIs(t, b.sb.Pay(t.Context(), req.Payment.ID), payment.ErrInvalidState)
}

func TestBankTransfer(t *testing.T) {
	t.Parallel()
	acct := payment.BankAccount{BankCode: "KBANK", Number: "9876543210", Name: "Shop Co"}
	b := setup(t, sandbox.WithMerchantAccount(acct))
	req := providertest.NewStartRequest("sandbox", payment.MethodBankTransfer, 50000, "THB")
	_, err := b.sb.Start(t.Context(), req)
	requireField(t, err, "customer.bank_account")

	req.Payment.Customer = &payment.Customer{BankAccount: &payment.BankAccount{BankCode: "SCB", Number: "1234567890", Name: "John Doe"}}
	st, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, payment.StatusRequiresAction, st.Status)
	require.Equal(t, payment.NextActionDisplayQR, st.NextAction.Type)
	require.Equal(t, &acct, st.NextAction.BankAccount)
	requireValidCRC(t, st.NextAction.QRCode)

	require.NoError(t, b.sb.Pay(t.Context(), req.Payment.ID))
	ev := parse(t, b.sb, b.inbox.last(req.Payment.ID))
	require.Equal(t, payment.StatusSucceeded, ev.Payment.Status)
}

func requireField(t testing.TB, err error, field string) {
	t.Helper()
	require.ErrorIs(t, err, payment.ErrInvalidInput)
	var ve *payment.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, field, ve.Field, "error: %v", err)
}

func TestValidateCheckout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	card := func(mut func(*payment.StartRequest)) *payment.StartRequest {
		req := cardReq(t, sandbox.CardVisa, 1000, "THB")
		mut(req)
		return req
	}
	tests := []struct {
		name  string
		req   *payment.StartRequest
		field string
	}{
		{"no payment", &payment.StartRequest{}, "payment"},
		{"no id", card(func(r *payment.StartRequest) { r.Payment.ID = "" }), "id"},
		{"wechat", card(func(r *payment.StartRequest) { r.Payment.Method = payment.MethodWeChat }), "method"},
		{"unsupported currency", card(func(r *payment.StartRequest) { r.Payment.Currency = "JPY" }), "currency"},
		{"zero amount", card(func(r *payment.StartRequest) { r.Payment.Amount = 0 }), "amount"},
		{"negative amount", card(func(r *payment.StartRequest) { r.Payment.Amount = -5 }), "amount"},
		{"unknown capture method", card(func(r *payment.StartRequest) { r.Payment.CaptureMethod = "later" }), "capture_method"},
		{"no card", card(func(r *payment.StartRequest) { r.Card = nil }), "card"},
		{"no card number", card(func(r *payment.StartRequest) { r.Card.Number = "" }), "card.number"},
		{"not a test card", card(func(r *payment.StartRequest) { r.Card.Number = "4242424242424242" }), "card.number"},
		{"month 13", card(func(r *payment.StartRequest) { r.Card.ExpiryMonth = 13 }), "card.expiry_month"},
		{"expired card", card(func(r *payment.StartRequest) { r.Card.ExpiryYear = 2026; r.Card.ExpiryMonth = 10 }), "card.expiry_year"},
		{"expired card, two-digit year", card(func(r *payment.StartRequest) { r.Card.ExpiryYear = 25 }), "card.expiry_year"},
		{"no cvv", card(func(r *payment.StartRequest) { r.Card.CVV = "" }), "card.cvv"},
		{"short cvv", card(func(r *payment.StartRequest) { r.Card.CVV = "12" }), "card.cvv"},
		{"amex needs 4 digits", card(func(r *payment.StartRequest) { r.Card.Number = sandbox.CardAmex }), "card.cvv"},
		{"unknown token", card(func(r *payment.StartRequest) { r.Card = nil; r.PaymentToken = "tok_nope" }), "payment_token"},
		{"token and card", card(func(r *payment.StartRequest) { r.PaymentToken = sandbox.TokenVisa }), "payment_token"},
		{"manual capture of a qr", func() *payment.StartRequest {
			r := qrReq(100, "THB")
			r.Payment.CaptureMethod = payment.CaptureManual
			return r
		}(), "capture_method"},
		{"bank transfer without account number", func() *payment.StartRequest {
			r := providertest.NewStartRequest("sandbox", payment.MethodBankTransfer, 100, "THB")
			r.Payment.Customer = &payment.Customer{BankAccount: &payment.BankAccount{BankCode: "SCB", Name: "A"}}
			return r
		}(), "customer.bank_account.number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := b.sb.ValidateCheckout(tt.req)
			requireField(t, err, tt.field)
			if tt.req.Card != nil && tt.req.Card.Number != "" {
				require.NotContains(t, err.Error(), tt.req.Card.Number[6:], "errors never carry the card number")
			}
			st, err := b.sb.Start(t.Context(), tt.req)
			require.Nil(t, st)
			requireField(t, err, tt.field)
			require.False(t, payment.IsRetryable(err), "invalid input is not retryable")
		})
	}
	require.Zero(t, b.sb.Charges(), "invalid checkouts charge nothing")
	require.NoError(t, b.sb.ValidateCheckout(cardReq(t, sandbox.CardAmex, 100, "THB")))
	require.NoError(t, b.sb.ValidateCheckout(cardReq(t, sandbox.CardVisa, 100, "THB")))
}

func TestManualCapture(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := cardReq(t, sandbox.CardMastercard, 10000, "EUR")
	req.Payment.CaptureMethod = payment.CaptureManual
	st, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, payment.StatusAuthorized, st.Status)
	require.Equal(t, &payment.Money{Amount: 10000, Currency: "EUR"}, st.Amount)
	requireBalance(t, b.sb, "EUR", 0, 10000)
	rec := recordOf(req, st)

	_, err = b.sb.Refund(t.Context(), refundReq(rec, 100))
	require.ErrorIs(t, err, payment.ErrInvalidState, "an authorization cannot be refunded")

	_, err = b.sb.Capture(t.Context(), rec, 10001)
	requireField(t, err, "amount")

	got, err := b.sb.Capture(t.Context(), rec, 7500)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, got.Status)
	require.NotNil(t, got.AmountCaptured)
	require.Equal(t, int64(7500), *got.AmountCaptured)
	requireBalance(t, b.sb, "EUR", 7500, 0)

	again, err := b.sb.Capture(t.Context(), rec, 7500)
	require.NoError(t, err, "a retried capture returns its outcome again")
	require.Equal(t, got, again)
	_, err = b.sb.Capture(t.Context(), rec, 8000)
	require.ErrorIs(t, err, payment.ErrInvalidState)

	// Refunds are limited to what was captured.
	rec = recordOf(req, got)
	_, err = b.sb.Refund(t.Context(), refundReq(rec, 7501))
	require.ErrorIs(t, err, payment.ErrRefundExceedsCaptured)
	rs, err := b.sb.Refund(t.Context(), refundReq(rec, 7500))
	require.NoError(t, err)
	require.Equal(t, payment.RefundSucceeded, rs.Status)
}

func TestCaptureAll(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := cardReq(t, sandbox.CardVisa, 10000, "USD")
	req.Payment.CaptureMethod = payment.CaptureManual
	st, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)
	got, err := b.sb.Capture(t.Context(), recordOf(req, st), 0)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, got.Status)
	require.Nil(t, got.AmountCaptured, "all of it was captured")
	requireBalance(t, b.sb, "USD", 10000, 0)

	_, err = b.sb.Capture(t.Context(), &payment.Payment{ID: "pay_unknown"}, 0)
	require.ErrorIs(t, err, payment.ErrNotFound)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)

	// An authorization is voided and its hold released.
	auth := cardReq(t, sandbox.CardVisa, 10000, "THB")
	auth.Payment.CaptureMethod = payment.CaptureManual
	st, err := b.sb.Start(t.Context(), auth)
	require.NoError(t, err)
	requireBalance(t, b.sb, "THB", 0, 10000)
	got, err := b.sb.Cancel(t.Context(), recordOf(auth, st))
	require.NoError(t, err)
	require.Equal(t, payment.StatusCanceled, got.Status)
	require.Equal(t, payment.FailureCanceled, got.Failure.Code)
	requireBalance(t, b.sb, "THB", 0, 0)
	again, err := b.sb.Cancel(t.Context(), recordOf(auth, st))
	require.NoError(t, err, "canceling twice returns the outcome again")
	require.Equal(t, got, again)

	// A waiting QR payment is canceled and can no longer be paid.
	qr := qrReq(500, "THB")
	st, err = b.sb.Start(t.Context(), qr)
	require.NoError(t, err)
	got, err = b.sb.Cancel(t.Context(), recordOf(qr, st))
	require.NoError(t, err)
	require.Equal(t, payment.StatusCanceled, got.Status)
	require.ErrorIs(t, b.sb.Pay(t.Context(), qr.Payment.ID), payment.ErrInvalidState)

	// A succeeded payment cannot be canceled.
	paid := cardReq(t, sandbox.CardVisa, 500, "THB")
	st, err = b.sb.Start(t.Context(), paid)
	require.NoError(t, err)
	_, err = b.sb.Cancel(t.Context(), recordOf(paid, st))
	require.ErrorIs(t, err, payment.ErrInvalidState)
	var pe *payment.ProviderError
	require.ErrorAs(t, err, &pe)
	require.False(t, pe.Retryable)

	_, err = b.sb.Cancel(t.Context(), &payment.Payment{ID: "pay_unknown"})
	require.ErrorIs(t, err, payment.ErrNotFound)
}

func TestConfirmOTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := providertest.NewStartRequest("sandbox", payment.MethodCard, 20000, "TRY")
	req.PaymentToken = sandbox.TokenOTP
	st, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, payment.StatusRequiresAction, st.Status)
	require.Equal(t, &payment.NextAction{Type: payment.NextActionOTP}, st.NextAction)
	rec := recordOf(req, st)

	_, err = b.sb.Confirm(t.Context(), rec, &payment.Confirmation{OTP: "000000"})
	requireField(t, err, "otp")
	got, err := b.sb.Sync(t.Context(), rec)
	require.NoError(t, err)
	require.Equal(t, payment.StatusRequiresAction, got.Status, "a wrong code does not fail the payment")

	_, err = b.sb.Confirm(t.Context(), rec, nil)
	requireField(t, err, "otp")

	got, err = b.sb.Confirm(t.Context(), rec, &payment.Confirmation{OTP: sandbox.OTPCode})
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, got.Status)
	require.Nil(t, got.NextAction)

	_, err = b.sb.Confirm(t.Context(), rec, &payment.Confirmation{OTP: sandbox.OTPCode})
	require.ErrorIs(t, err, payment.ErrInvalidState, "nothing is left to confirm")

	// With manual capture the OTP authorizes.
	manual := providertest.NewStartRequest("sandbox", payment.MethodCard, 20000, "TRY")
	manual.PaymentToken = sandbox.TokenOTP
	manual.Payment.CaptureMethod = payment.CaptureManual
	st, err = b.sb.Start(t.Context(), manual)
	require.NoError(t, err)
	got, err = b.sb.Confirm(t.Context(), recordOf(manual, st), &payment.Confirmation{OTP: sandbox.OTPCode})
	require.NoError(t, err)
	require.Equal(t, payment.StatusAuthorized, got.Status)

	// A card payment that needs no OTP cannot be confirmed.
	card := cardReq(t, sandbox.CardVisa, 100, "TRY")
	st, err = b.sb.Start(t.Context(), card)
	require.NoError(t, err)
	_, err = b.sb.Confirm(t.Context(), recordOf(card, st), &payment.Confirmation{OTP: sandbox.OTPCode})
	require.ErrorIs(t, err, payment.ErrInvalidState)
}

func TestSyncUnknownPayment(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.sb.Sync(t.Context(), &payment.Payment{ID: "pay_never_started", ProviderReference: "sbx_ch_nope"})
	require.ErrorIs(t, err, payment.ErrNotFound, "a payment Start never reached was not paid")
	require.False(t, payment.IsRetryable(err))

	// The reference finds a payment too.
	req := qrReq(100, "THB")
	st, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)
	got, err := b.sb.Sync(t.Context(), &payment.Payment{ID: "pay_other", ProviderReference: st.ProviderReference})
	require.NoError(t, err)
	require.Equal(t, st.ProviderReference, got.ProviderReference)
}

func requireBalance(t testing.TB, sb *sandbox.Provider, currency string, available, pending int64) {
	t.Helper()
	bal, err := sb.Balance(context.Background())
	require.NoError(t, err)
	for _, b := range bal {
		if b.Currency == currency {
			require.Equal(t, payment.Balance{Currency: currency, Available: available, Pending: pending}, b)
			return
		}
	}
	require.Failf(t, "no balance", "no balance in %s", currency)
}

func refundReq(p *payment.Payment, amount int64) *payment.RefundRequest {
	r := &payment.Refund{
		Object: "refund", ID: providertest.NewID(payment.PrefixRefund), PaymentID: p.ID,
		Amount: amount, Currency: p.Currency, Status: payment.RefundPending,
	}
	return &payment.RefundRequest{Payment: p, Refund: r, IdempotencyKey: r.ID}
}

func TestRefunds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := cardReq(t, sandbox.CardVisa, 10000, "THB")
	st, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)
	rec := recordOf(req, st)

	partial := refundReq(rec, 3000)
	rs, err := b.sb.Refund(t.Context(), partial)
	require.NoError(t, err)
	require.Equal(t, payment.RefundSucceeded, rs.Status)
	require.True(t, strings.HasPrefix(rs.ProviderReference, "sbx_re_"))
	requireBalance(t, b.sb, "THB", 7000, 0)

	again, err := b.sb.Refund(t.Context(), partial)
	require.NoError(t, err)
	require.Equal(t, rs, again, "a retried refund returns its outcome and refunds nothing more")
	requireBalance(t, b.sb, "THB", 7000, 0)

	synced, err := b.sb.SyncRefund(t.Context(), rec, partial.Refund)
	require.NoError(t, err)
	require.Equal(t, rs, synced)
	_, err = b.sb.SyncRefund(t.Context(), rec, &payment.Refund{ID: "re_unknown"})
	require.ErrorIs(t, err, payment.ErrNotFound)

	_, err = b.sb.Refund(t.Context(), refundReq(rec, 7001))
	require.ErrorIs(t, err, payment.ErrRefundExceedsCaptured)
	var pe *payment.ProviderError
	require.ErrorAs(t, err, &pe)
	require.False(t, pe.Retryable)

	wrong := refundReq(rec, 10)
	wrong.Refund.Currency = "USD"
	_, err = b.sb.Refund(t.Context(), wrong)
	requireField(t, err, "currency")
	_, err = b.sb.Refund(t.Context(), refundReq(rec, 0))
	requireField(t, err, "amount")

	rest, err := b.sb.Refund(t.Context(), refundReq(rec, 7000))
	require.NoError(t, err)
	require.Equal(t, payment.RefundSucceeded, rest.Status)
	requireBalance(t, b.sb, "THB", 0, 0)
	_, err = b.sb.Refund(t.Context(), refundReq(rec, 1))
	require.ErrorIs(t, err, payment.ErrRefundExceedsCaptured, "nothing is left to refund")

	// A payment that did not succeed cannot be refunded.
	declined := cardReq(t, sandbox.CardDeclined, 100, "THB")
	st, err = b.sb.Start(t.Context(), declined)
	require.NoError(t, err)
	_, err = b.sb.Refund(t.Context(), refundReq(recordOf(declined, st), 100))
	require.ErrorIs(t, err, payment.ErrInvalidState)
	_, err = b.sb.Refund(t.Context(), refundReq(&payment.Payment{ID: "pay_unknown", Currency: "THB"}, 100))
	require.ErrorIs(t, err, payment.ErrNotFound)
}

func TestConcurrentRefundsNeverExceedCaptured(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := cardReq(t, sandbox.CardVisa, 10000, "THB")
	st, err := b.sb.Start(t.Context(), req)
	require.NoError(t, err)
	rec := recordOf(req, st)
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok int
	)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.sb.Refund(context.Background(), refundReq(rec, 3000)); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if !errors.Is(err, payment.ErrRefundExceedsCaptured) {
				t.Errorf("unexpected refund error: %v", err)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 3, ok, "three refunds of 30.00 fit in 100.00")
	requireBalance(t, b.sb, "THB", 1000, 0)
}

func TestQuote(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name   string
		amount int64
		method payment.Method
		fee    int64
		plans  []payment.Installment
	}{
		{"card 100.00", 10000, payment.MethodCard, 295, []payment.Installment{
			{Count: 3, Total: 10150, PerInstallment: 3383},
			{Count: 6, Total: 10300, PerInstallment: 1716},
			{Count: 12, Total: 10600, PerInstallment: 883},
		}},
		{"card 10.00, fee 29.5 rounds half up", 1000, payment.MethodCard, 30, []payment.Installment{
			{Count: 3, Total: 1015, PerInstallment: 338},
			{Count: 6, Total: 1030, PerInstallment: 171},
			{Count: 12, Total: 1060, PerInstallment: 88},
		}},
		{"empty method quotes card", 1000, "", 30, []payment.Installment{
			{Count: 3, Total: 1015, PerInstallment: 338},
			{Count: 6, Total: 1030, PerInstallment: 171},
			{Count: 12, Total: 1060, PerInstallment: 88},
		}},
		{"card too small for 12 instalments", 5, payment.MethodCard, 0, []payment.Installment{
			{Count: 3, Total: 5, PerInstallment: 1},
		}},
		{"qr 1% of 0.50 rounds half up", 50, payment.MethodQR, 1, nil},
		{"qr 1% of 0.49 rounds down", 49, payment.MethodQR, 0, nil},
		{"bank transfer", 123456, payment.MethodBankTransfer, 1235, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := b.sb.Quote(t.Context(), &payment.QuoteRequest{Amount: payment.Money{Amount: tt.amount, Currency: "THB"}, Method: tt.method})
			require.NoError(t, err)
			require.Equal(t, &payment.Quote{
				Amount: tt.amount, Currency: "THB", Fee: tt.fee, CustomerPays: tt.amount, Installments: tt.plans,
			}, q)
			for _, plan := range q.Installments {
				first := plan.Total - plan.PerInstallment*int64(plan.Count-1)
				require.GreaterOrEqual(t, first, plan.PerInstallment)
				require.Less(t, first-plan.PerInstallment, int64(plan.Count), "the remainder is less than one per instalment")
				require.Equal(t, plan.Total, first+plan.PerInstallment*int64(plan.Count-1), "the instalments add up exactly")
			}
		})
	}
	_, err := b.sb.Quote(t.Context(), &payment.QuoteRequest{Amount: payment.Money{Amount: 100, Currency: "JPY"}})
	requireField(t, err, "currency")
	_, err = b.sb.Quote(t.Context(), &payment.QuoteRequest{Amount: payment.Money{Amount: 0, Currency: "THB"}})
	requireField(t, err, "amount")
	_, err = b.sb.Quote(t.Context(), &payment.QuoteRequest{Amount: payment.Money{Amount: 10, Currency: "THB"}, Method: payment.MethodWeChat})
	requireField(t, err, "method")
}

func TestNoSecretsInErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.WithWebhookSecret("whsec_very_secret_value"))
	req := cardReq(t, "4242424242424242", 100, "THB")
	req.Card.CVV = "987"
	_, err := b.sb.Start(t.Context(), req)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "4242424242424242")
	require.NotContains(t, err.Error(), "987")

	wr := sandbox.SignWebhook("whsec_wrong", b.clock.Now(), []byte(`{}`))
	_, err = b.sb.ParseWebhook(t.Context(), wr)
	require.ErrorIs(t, err, payment.ErrInvalidSignature)
	require.NotContains(t, err.Error(), "whsec_very_secret_value")
	require.NotContains(t, err.Error(), wr.Header.Get(sandbox.HeaderSignature))
}
