package providertest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

// Harness connects the suite to a provider and the simulator it talks to.
// Provider, Checkout and Pay are required; the rest is optional.
type Harness struct {
	// Provider is the provider under test, configured against the
	// simulator.
	Provider payment.Provider

	// Checkout returns a start request for a NEW payment (a fresh paykit id
	// "pay_..." in Payment.ID, with Provider, Method, OrderID, Amount,
	// Currency, and whatever the method needs: Card, PaymentToken,
	// Customer.BankAccount, NotifyURL) that the customer then completes
	// with Pay or Decline. [NewStartRequest] builds the common part.
	Checkout func(t testing.TB) *payment.StartRequest

	// Pay plays the customer paying the started payment and returns the
	// callback the simulator sent about it (capture it with a [Recorder]).
	// The payment is the suite's record after Start.
	Pay func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error)

	// Decline plays the customer declining (or the card network refusing)
	// and returns the callback, or nil when the vendor sends none for
	// declines (the suite then asks Sync). Nil skips the decline flow
	// unless DeclinedCheckout is set.
	Decline func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error)

	// DeclinedCheckout, when set, returns a start request that the
	// provider declines synchronously (a test card that is refused): Start
	// must answer with a failed state and a Failure, not an error.
	DeclinedCheckout func(t testing.TB) *payment.StartRequest

	// Charges, when set, returns how many charges the simulator recorded
	// for the payment; the idempotency subtests require exactly one.
	Charges func(p *payment.Payment) int

	// RefundAmount is the first, partial refund in minor units; zero means
	// a quarter of the amount (at least 1).
	RefundAmount int64
	// NoPartialRefund says the vendor refunds only whole payments: the
	// refund subtest then refunds the whole amount once.
	NoPartialRefund bool

	// UnsignedBody says the vendor's callback body carries no signature and
	// ParseWebhook confirms the state with the vendor's API instead, so a
	// changed body may still parse to the same, confirmed events.
	UnsignedBody bool

	// Timeout bounds each subtest's provider and simulator calls; zero
	// means 30 seconds.
	Timeout time.Duration
}

// Run runs the conformance suite against h. Each contract is a subtest, so
// a provider can be checked one contract at a time with -run.
func Run(t *testing.T, h Harness) {
	t.Helper()
	require.NotNil(t, h.Provider, "providertest: Harness.Provider is required")
	require.NotNil(t, h.Checkout, "providertest: Harness.Checkout is required")
	require.NotNil(t, h.Pay, "providertest: Harness.Pay is required")
	if h.Timeout <= 0 {
		h.Timeout = 30 * time.Second
	}
	s := &suite{h: h}
	t.Run("Describe", s.testDescribe)
	t.Run("Start", s.testStart)
	t.Run("StartIdempotent", s.testStartIdempotent)
	t.Run("StartConcurrent", s.testStartConcurrent)
	t.Run("Pay", s.testPay)
	t.Run("Decline", s.testDecline)
	t.Run("DeclinedCheckout", s.testDeclinedCheckout)
	t.Run("Refund", s.testRefund)
	t.Run("TamperedWebhook", s.testTamperedWebhook)
	t.Run("DuplicateWebhook", s.testDuplicateWebhook)
	t.Run("GarbageWebhook", s.testGarbageWebhook)
}

type suite struct {
	h Harness
}

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), s.h.Timeout)
	t.Cleanup(cancel)
	return ctx
}

func (s *suite) checkout(t *testing.T) *payment.StartRequest {
	t.Helper()
	req := s.h.Checkout(t)
	require.NotNil(t, req, "Harness.Checkout must return a start request")
	require.NotNil(t, req.Payment, "Harness.Checkout must return a start request with a Payment")
	require.True(t, strings.HasPrefix(req.Payment.ID, payment.PrefixPayment),
		"Harness.Checkout must give the payment a paykit id starting with %q, got %q", payment.PrefixPayment, req.Payment.ID)
	require.NotEmpty(t, req.IdempotencyKey, "Harness.Checkout must set StartRequest.IdempotencyKey")
	return req
}

// start starts a fresh checkout and returns the suite's record of it.
func (s *suite) start(t *testing.T, ctx context.Context) (*payment.StartRequest, *payment.Payment, *payment.PaymentState) {
	t.Helper()
	req := s.checkout(t)
	before := req.Payment.Clone()
	st, err := s.h.Provider.Start(ctx, req)
	require.NoError(t, err, "Start of a valid checkout must succeed")
	require.Equal(t, before, req.Payment, "Start must not modify the request's Payment: it is the Service's record")
	checkState(t, "Start", st)
	require.NotEqual(t, payment.StatusFailed, st.Status,
		"Start of a valid checkout must not fail it (failure: %+v)", st.Failure)
	rec := req.Payment.Clone()
	apply(rec, st)
	return req, rec, st
}

// paid starts a checkout, plays the customer paying it, and returns the
// record (updated from the callback), the callback and its result.
func (s *suite) paid(t *testing.T, ctx context.Context) (*payment.Payment, *payment.WebhookRequest, *payment.WebhookResult) {
	t.Helper()
	_, rec, _ := s.start(t, ctx)
	wr, err := s.h.Pay(ctx, rec.Clone())
	require.NoError(t, err, "Harness.Pay must play the customer paying")
	require.NotNil(t, wr, "Harness.Pay must return the callback the simulator sent")
	res, err := s.h.Provider.ParseWebhook(ctx, cloneWebhook(wr))
	require.NoError(t, err, "ParseWebhook must accept the simulator's genuine callback for a paid payment")
	ev := requireEvent(t, "payment callback", res, rec)
	want := payment.StatusSucceeded
	if rec.CaptureMethod == payment.CaptureManual {
		want = payment.StatusAuthorized
	}
	require.Equal(t, want, ev.Payment.Status,
		"the callback for a paid payment must report status %s", want)
	if ev.Payment.Amount != nil {
		require.Equal(t, rec.Money(), *ev.Payment.Amount,
			"the amount a callback reports must be the payment's amount and currency")
	}
	apply(rec, ev.Payment)
	return rec, wr, res
}

func (s *suite) testDescribe(t *testing.T) {
	p := s.h.Provider
	require.NotEmpty(t, p.Name(), "Provider.Name must not be empty")
	require.NotEmpty(t, p.Methods(), "Provider.Methods must list at least one method")
	require.NotEmpty(t, p.Currencies(), "Provider.Currencies must list at least one currency")
	for _, c := range p.Currencies() {
		_, err := payment.CurrencyExponent(c)
		require.NoError(t, err, "Provider.Currencies must list ISO 4217 codes")
	}
	req := s.checkout(t)
	require.Equal(t, p.Name(), req.Payment.Provider, "Harness.Checkout must name the provider under test in Payment.Provider")
	require.Contains(t, p.Methods(), req.Payment.Method, "Provider.Methods must include the checkout's method")
	require.Contains(t, p.Currencies(), req.Payment.Currency, "Provider.Currencies must include the checkout's currency")
	if v, ok := p.(payment.CheckoutValidator); ok {
		require.NoError(t, v.ValidateCheckout(req), "CheckoutValidator must accept the harness's valid checkout")
	}
}

func (s *suite) testStart(t *testing.T) {
	ctx := s.ctx(t)
	_, rec, st := s.start(t, ctx)
	if st.Status.Final() || st.Status == payment.StatusAuthorized {
		return
	}
	if sy, ok := s.h.Provider.(payment.Syncer); ok {
		got, err := sy.Sync(ctx, rec.Clone())
		require.NoError(t, err, "Sync of a started payment must succeed")
		checkState(t, "Sync", got)
		require.False(t, got.Status.Final(),
			"Sync of a started payment nobody paid yet must not report a final status, got %s", got.Status)
	}
}

func (s *suite) testStartIdempotent(t *testing.T) {
	ctx := s.ctx(t)
	req, rec, first := s.start(t, ctx)
	second, err := s.h.Provider.Start(ctx, req)
	require.NoError(t, err, "Start must be idempotent on IdempotencyKey: a second call must not fail")
	checkState(t, "second Start", second)
	require.NotEqual(t, payment.StatusFailed, second.Status,
		"Start must be idempotent on IdempotencyKey: a second call must not fail the payment")
	require.Equal(t, first.ProviderReference, second.ProviderReference,
		"Start must be idempotent on IdempotencyKey: a second call must return the same provider reference")
	if s.h.Charges != nil {
		require.Equal(t, 1, s.h.Charges(rec.Clone()),
			"Start must be idempotent on IdempotencyKey: two calls must make one charge")
	}
}

func (s *suite) testStartConcurrent(t *testing.T) {
	ctx := s.ctx(t)
	req := s.checkout(t)
	const n = 8
	var (
		wg     sync.WaitGroup
		states = make([]*payment.PaymentState, n)
		errs   = make([]error, n)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			states[i], errs[i] = s.h.Provider.Start(ctx, req)
		}()
	}
	wg.Wait()
	ref := ""
	for i := range n {
		if errs[i] != nil {
			require.True(t, payment.IsRetryable(errs[i]),
				"Start must be idempotent under concurrent calls: a losing call may only fail with a retryable error, got %v", errs[i])
			continue
		}
		checkState(t, "concurrent Start", states[i])
		if ref == "" {
			ref = states[i].ProviderReference
		}
		require.Equal(t, ref, states[i].ProviderReference,
			"Start must be idempotent under concurrent calls: every call must return the same provider reference")
	}
	require.NotEmpty(t, ref, "Start must be idempotent under concurrent calls: at least one of %d calls must succeed", n)
	if s.h.Charges != nil {
		rec := req.Payment.Clone()
		rec.ProviderReference = ref
		require.Equal(t, 1, s.h.Charges(rec),
			"Start must be idempotent under concurrent calls: %d calls must make one charge", n)
	}
}

func (s *suite) testPay(t *testing.T) {
	ctx := s.ctx(t)
	rec, _, _ := s.paid(t, ctx)
	if s.h.Charges != nil {
		require.Equal(t, 1, s.h.Charges(rec.Clone()), "a paid payment must be charged exactly once")
	}
	sy, ok := s.h.Provider.(payment.Syncer)
	if !ok {
		return
	}
	st, err := sy.Sync(ctx, rec.Clone())
	require.NoError(t, err, "Sync of a paid payment must succeed")
	checkState(t, "Sync", st)
	require.Equal(t, rec.Status, st.Status, "Sync must agree with the callback about a paid payment")
	if st.Amount != nil {
		require.Equal(t, rec.Money(), *st.Amount, "the amount Sync reports must be the payment's amount and currency")
	}
	if st.ProviderReference != "" {
		require.Equal(t, rec.ProviderReference, st.ProviderReference,
			"Sync must report the provider reference Start gave")
	}
}

func (s *suite) testDecline(t *testing.T) {
	if s.h.Decline == nil {
		t.Skip("Harness.Decline is not set")
	}
	ctx := s.ctx(t)
	_, rec, _ := s.start(t, ctx)
	wr, err := s.h.Decline(ctx, rec.Clone())
	require.NoError(t, err, "Harness.Decline must play the customer declining")
	sy, canSync := s.h.Provider.(payment.Syncer)
	if wr == nil {
		require.True(t, canSync, "a provider whose vendor sends no callback for declines must be a payment.Syncer")
	} else {
		res, err := s.h.Provider.ParseWebhook(ctx, cloneWebhook(wr))
		require.NoError(t, err, "ParseWebhook must accept the simulator's genuine callback for a declined payment")
		ev := requireEvent(t, "decline callback", res, rec)
		require.Equal(t, payment.StatusFailed, ev.Payment.Status, "the callback for a declined payment must report status failed")
		checkFailure(t, ev.Payment)
		apply(rec, ev.Payment)
	}
	if canSync {
		st, err := sy.Sync(ctx, rec.Clone())
		require.NoError(t, err, "Sync of a declined payment must succeed")
		checkState(t, "Sync", st)
		require.Equal(t, payment.StatusFailed, st.Status, "Sync of a declined payment must report status failed")
		checkFailure(t, st)
	}
}

func (s *suite) testDeclinedCheckout(t *testing.T) {
	if s.h.DeclinedCheckout == nil {
		t.Skip("Harness.DeclinedCheckout is not set")
	}
	ctx := s.ctx(t)
	req := s.h.DeclinedCheckout(t)
	require.NotNil(t, req, "Harness.DeclinedCheckout must return a start request")
	st, err := s.h.Provider.Start(ctx, req)
	require.NoError(t, err, "a declined payment is not an error: Start must return a failed state")
	checkState(t, "Start", st)
	require.Equal(t, payment.StatusFailed, st.Status, "Start of a declined checkout must report status failed")
	require.NotNil(t, st.Failure, "Start of a declined checkout must say why in Failure")
	checkFailure(t, st)
}

func (s *suite) testRefund(t *testing.T) {
	rf, ok := s.h.Provider.(payment.Refunder)
	if !ok {
		t.Skip("the provider is not a payment.Refunder")
	}
	ctx := s.ctx(t)
	rec, _, _ := s.paid(t, ctx)
	if rec.Status == payment.StatusAuthorized {
		c, ok := s.h.Provider.(payment.Capturer)
		require.True(t, ok, "a provider that authorizes must be a payment.Capturer")
		st, err := c.Capture(ctx, rec.Clone(), rec.Amount)
		require.NoError(t, err, "Capture of an authorized payment must succeed")
		checkState(t, "Capture", st)
		require.Equal(t, payment.StatusSucceeded, st.Status, "Capture of the whole amount must report succeeded")
		apply(rec, st)
	}
	require.Equal(t, payment.StatusSucceeded, rec.Status)

	first := rec.AmountCaptured
	if !s.h.NoPartialRefund && rec.AmountCaptured >= 2 {
		first = s.h.RefundAmount
		if first <= 0 {
			first = max(rec.AmountCaptured/4, 1)
		}
		require.Less(t, first, rec.AmountCaptured, "Harness.RefundAmount must be less than the amount")
	}
	r1 := newRefund(rec, first)
	st1 := s.refund(t, ctx, rf, rec, r1)
	// A retry of the same refund (a lost response) must not refund twice.
	st1b, err := rf.Refund(ctx, &payment.RefundRequest{Payment: rec.Clone(), Refund: r1.Clone(), IdempotencyKey: r1.ID})
	require.NoError(t, err, "Refund must be idempotent on IdempotencyKey: a retry must not fail")
	require.NotEqual(t, payment.RefundFailed, st1b.Status, "Refund must be idempotent on IdempotencyKey: a retry must not fail the refund")
	if st1.ProviderReference != "" && st1b.ProviderReference != "" {
		require.Equal(t, st1.ProviderReference, st1b.ProviderReference,
			"Refund must be idempotent on IdempotencyKey: a retry must return the same provider reference")
	}
	rec.AmountRefunded += first

	if rest := rec.AmountCaptured - rec.AmountRefunded; rest > 0 {
		r2 := newRefund(rec, rest)
		s.refund(t, ctx, rf, rec, r2)
		rec.AmountRefunded += rest
	}

	over := newRefund(rec, 1)
	st, err := rf.Refund(ctx, &payment.RefundRequest{Payment: rec.Clone(), Refund: over, IdempotencyKey: over.ID})
	if err == nil {
		require.Equal(t, payment.RefundFailed, st.Status,
			"a refund beyond the captured amount must be refused (an error or a failed refund)")
	}
}

func (s *suite) refund(t *testing.T, ctx context.Context, rf payment.Refunder, rec *payment.Payment, r *payment.Refund) *payment.RefundState {
	t.Helper()
	st, err := rf.Refund(ctx, &payment.RefundRequest{Payment: rec.Clone(), Refund: r.Clone(), IdempotencyKey: r.ID})
	require.NoError(t, err, "Refund of %d of a paid payment (captured %d, refunded %d) must succeed", r.Amount, rec.AmountCaptured, rec.AmountRefunded)
	require.NotNil(t, st, "Refund must return a state")
	require.True(t, st.Status.Valid(), "Refund must return a valid refund status, got %q", st.Status)
	require.NotEqual(t, payment.RefundFailed, st.Status, "Refund of a paid payment within its amount must not fail (failure: %+v)", st.Failure)
	if rs, ok := s.h.Provider.(payment.RefundSyncer); ok {
		r.ProviderReference = st.ProviderReference
		got, err := rs.SyncRefund(ctx, rec.Clone(), r.Clone())
		require.NoError(t, err, "SyncRefund of a refund just made must succeed")
		require.True(t, got.Status.Valid(), "SyncRefund must return a valid refund status, got %q", got.Status)
		require.NotEqual(t, payment.RefundFailed, got.Status, "SyncRefund must agree that the refund did not fail")
		if st.Status == payment.RefundSucceeded {
			require.Equal(t, payment.RefundSucceeded, got.Status, "SyncRefund must agree with Refund that the refund succeeded")
		}
	}
	return st
}

func (s *suite) testTamperedWebhook(t *testing.T) {
	ctx := s.ctx(t)
	_, wr, res := s.paid(t, ctx)
	want := summarize(res)
	p := s.h.Provider

	// parse returns nil when tampered was rejected with ErrInvalidSignature,
	// or the events it parsed to.
	parse := func(tampered *payment.WebhookRequest) (string, error) {
		got, err := p.ParseWebhook(ctx, tampered)
		if err != nil {
			return "", err
		}
		return summarize(got), nil
	}

	// Body (or, for callbacks sent as a query string, the query): change
	// one byte at a time, keeping the format valid. A change the scheme
	// does not cover may pass only if it changes nothing that matters.
	variants := 0
	rejected := 0
	if len(wr.Body) > 0 {
		isJSON := json.Valid(wr.Body)
		for _, i := range flipPositions(wr.Body) {
			tw := cloneWebhook(wr)
			tw.Body[i] = flipByte(tw.Body[i])
			if isJSON && !json.Valid(tw.Body) {
				continue // "true" -> "trve": malformed, which GarbageWebhook covers
			}
			variants++
			got, err := parse(tw)
			if err != nil {
				require.ErrorIs(t, err, payment.ErrInvalidSignature,
					"a callback whose body changed (byte %d) must be rejected with an error wrapping ErrInvalidSignature", i)
				rejected++
				continue
			}
			require.Equal(t, want, got,
				"a callback whose body changed (byte %d) must be rejected with ErrInvalidSignature, not parsed into different events", i)
		}
	} else if len(wr.Query) > 0 {
		raw := []byte(wr.Query.Encode())
		for _, i := range flipPositions(raw) {
			b := slices.Clone(raw)
			b[i] = flipByte(b[i])
			q, err := url.ParseQuery(string(b))
			if err != nil {
				continue
			}
			tw := cloneWebhook(wr)
			tw.Query = q
			variants++
			got, err := parse(tw)
			if err != nil {
				require.ErrorIs(t, err, payment.ErrInvalidSignature,
					"a callback whose query changed (byte %d) must be rejected with an error wrapping ErrInvalidSignature", i)
				rejected++
				continue
			}
			require.Equal(t, want, got,
				"a callback whose query changed (byte %d) must be rejected with ErrInvalidSignature, not parsed into different events", i)
		}
	}
	if variants > 0 && !s.h.UnsignedBody {
		require.Positive(t, rejected,
			"a callback's body must be authenticated: none of %d one-byte changes was rejected with ErrInvalidSignature", variants)
	}

	// Every signature-bearing header and query parameter: a one-bit change
	// and its removal.
	for name, values := range wr.Header {
		if !strings.Contains(strings.ToLower(name), "sign") {
			continue
		}
		for j, v := range values {
			if v == "" {
				continue
			}
			tw := cloneWebhook(wr)
			tw.Header[name][j] = flipBit(v)
			_, err := p.ParseWebhook(ctx, tw)
			require.ErrorIs(t, err, payment.ErrInvalidSignature,
				"a callback whose %s header changed by one bit must be rejected with an error wrapping ErrInvalidSignature", name)
		}
		tw := cloneWebhook(wr)
		tw.Header.Del(name)
		_, err := p.ParseWebhook(ctx, tw)
		require.ErrorIs(t, err, payment.ErrInvalidSignature,
			"a callback without its %s header must be rejected with an error wrapping ErrInvalidSignature", name)
	}
	for name, values := range wr.Query {
		if !strings.Contains(strings.ToLower(name), "sign") {
			continue
		}
		for j, v := range values {
			if v == "" {
				continue
			}
			tw := cloneWebhook(wr)
			tw.Query[name][j] = flipBit(v)
			_, err := p.ParseWebhook(ctx, tw)
			require.ErrorIs(t, err, payment.ErrInvalidSignature,
				"a callback whose %s query parameter changed by one bit must be rejected with an error wrapping ErrInvalidSignature", name)
		}
	}
}

func (s *suite) testDuplicateWebhook(t *testing.T) {
	ctx := s.ctx(t)
	_, wr, res := s.paid(t, ctx)
	again, err := s.h.Provider.ParseWebhook(ctx, cloneWebhook(wr))
	require.NoError(t, err, "ParseWebhook must accept a duplicate of a genuine callback (the inbox deduplicates it)")
	require.Equal(t, eventKeys(res), eventKeys(again),
		"a duplicate callback must parse to the same event Keys, so the inbox deduplicates it")
}

func (s *suite) testGarbageWebhook(t *testing.T) {
	ctx := s.ctx(t)
	_, wr, _ := s.paid(t, ctx)
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // deterministic test input, not a secret

	type input struct {
		name string
		req  *payment.WebhookRequest
	}
	inputs := []input{
		{"nil header and empty body", &payment.WebhookRequest{}},
		{"empty body", &payment.WebhookRequest{Header: wr.Header.Clone(), Query: cloneValues(wr.Query)}},
	}
	for _, n := range []int{1, 16, 256, 4096} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		inputs = append(inputs,
			input{fmt.Sprintf("%d random bytes", n), &payment.WebhookRequest{Header: wr.Header.Clone(), Query: cloneValues(wr.Query), Body: b}},
			input{fmt.Sprintf("%d random bytes without headers", n), &payment.WebhookRequest{Body: slices.Clone(b)}},
		)
	}
	if len(wr.Body) > 1 {
		for _, n := range []int{1, len(wr.Body) / 2, len(wr.Body) - 1} {
			tw := cloneWebhook(wr)
			tw.Body = tw.Body[:n]
			inputs = append(inputs, input{fmt.Sprintf("callback truncated to %d bytes", n), tw})
		}
	}
	for _, in := range inputs {
		err := parseNoPanic(ctx, s.h.Provider, in.req)
		var pe *panicError
		require.NotErrorAs(t, err, &pe, "ParseWebhook must never panic (%s): %v", in.name, err)
		require.Error(t, err, "ParseWebhook must reject a callback that cannot verify (%s)", in.name)
	}
}

type panicError struct{ v any }

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.v) }

func parseNoPanic(ctx context.Context, p payment.Provider, req *payment.WebhookRequest) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{v}
		}
	}()
	_, err = p.ParseWebhook(ctx, req)
	return err
}

// checkState checks what every PaymentState must satisfy.
func checkState(t *testing.T, op string, st *payment.PaymentState) {
	t.Helper()
	require.NotNil(t, st, "%s must return a state when it returns no error", op)
	require.True(t, st.Status.Valid(), "%s must return a valid status, got %q", op, st.Status)
	require.NotEmpty(t, st.ProviderReference, "%s must return the provider's reference for the payment", op)
	if st.Status == payment.StatusRequiresAction {
		na := st.NextAction
		require.NotNil(t, na, "%s: a requires_action state must carry a NextAction", op)
		switch na.Type {
		case payment.NextActionDisplayQR:
			require.True(t, na.QRCode != "" || na.QRImage != "",
				"%s: a display_qr next action must carry a QR code or image", op)
		case payment.NextActionRedirect:
			u, err := url.Parse(na.URL)
			require.NoError(t, err, "%s: a redirect next action must carry a valid URL", op)
			require.True(t, u.IsAbs(), "%s: a redirect next action must carry an absolute URL", op)
		case payment.NextActionOTP:
		default:
			require.Failf(t, "unknown next action", "%s: next action type must be display_qr, redirect or otp, got %q", op, na.Type)
		}
	}
	if st.Status == payment.StatusFailed {
		checkFailure(t, st)
	}
}

func checkFailure(t *testing.T, st *payment.PaymentState) {
	t.Helper()
	if st.Failure != nil {
		require.NotEmpty(t, st.Failure.Code, "a Failure must carry a code")
	}
}

// requireEvent finds the payment event about rec in res.
func requireEvent(t *testing.T, what string, res *payment.WebhookResult, rec *payment.Payment) *payment.WebhookEvent {
	t.Helper()
	require.NotNil(t, res, "ParseWebhook must return a result when it returns no error (%s)", what)
	require.NotEmpty(t, res.Events, "ParseWebhook must report at least one event for a %s", what)
	for i := range res.Events {
		ev := &res.Events[i]
		require.NotEmpty(t, ev.Key, "every webhook event must carry a Key the inbox deduplicates on (%s)", what)
		n := 0
		for _, set := range []bool{ev.Payment != nil, ev.Refund != nil, ev.Payout != nil} {
			if set {
				n++
			}
		}
		require.Equal(t, 1, n, "exactly one of Payment, Refund and Payout must be set in a webhook event (%s)", what)
		if ev.Payment == nil {
			continue
		}
		if ev.PaymentID == rec.ID ||
			(ev.ProviderReference != "" && ev.ProviderReference == rec.ProviderReference) ||
			(ev.OrderID != "" && ev.OrderID == rec.OrderID) {
			require.True(t, ev.Payment.Status.Valid(), "a webhook event must carry a valid payment status, got %q", ev.Payment.Status)
			if ev.PaymentID != "" {
				require.Equal(t, rec.ID, ev.PaymentID, "a webhook event's PaymentID must be paykit's payment id")
			}
			return ev
		}
	}
	require.Failf(t, "no event for the payment",
		"a %s must parse into a payment event that identifies the payment by PaymentID %q, ProviderReference %q or OrderID %q; got %s",
		what, rec.ID, rec.ProviderReference, rec.OrderID, summarize(res))
	return nil
}

// apply updates the suite's record from a provider's state, as the Service
// would.
func apply(rec *payment.Payment, st *payment.PaymentState) {
	rec.Status = st.Status
	if st.ProviderReference != "" {
		rec.ProviderReference = st.ProviderReference
	}
	rec.NextAction = st.NextAction
	if st.ExpiresAt != nil {
		t := *st.ExpiresAt
		rec.ExpiresAt = &t
	}
	rec.Failure = st.Failure
	if st.Status.Paid() {
		rec.AmountCaptured = rec.Amount
		if st.AmountCaptured != nil {
			rec.AmountCaptured = *st.AmountCaptured
		}
	}
}

func newRefund(rec *payment.Payment, amount int64) *payment.Refund {
	return &payment.Refund{
		Object:    "refund",
		ID:        NewID(payment.PrefixRefund),
		PaymentID: rec.ID,
		Amount:    amount,
		Currency:  rec.Currency,
		Status:    payment.RefundPending,
		CreatedAt: time.Now().UTC(),
		UpdatedAt: time.Now().UTC(),
	}
}

// summarize renders what a result says, for comparisons and messages.
func summarize(res *payment.WebhookResult) string {
	if res == nil {
		return "<nil>"
	}
	var b strings.Builder
	for _, ev := range res.Events {
		fmt.Fprintf(&b, "{key=%q payment=%q refund=%q payout=%q order=%q ref=%q", ev.Key, ev.PaymentID, ev.RefundID, ev.PayoutID, ev.OrderID, ev.ProviderReference)
		if ev.Payment != nil {
			fmt.Fprintf(&b, " status=%s", ev.Payment.Status)
			if ev.Payment.Amount != nil {
				fmt.Fprintf(&b, " amount=%s", ev.Payment.Amount)
			}
			if ev.Payment.AmountCaptured != nil {
				fmt.Fprintf(&b, " captured=%d", *ev.Payment.AmountCaptured)
			}
		}
		if ev.Refund != nil {
			fmt.Fprintf(&b, " refund_status=%s", ev.Refund.Status)
		}
		if ev.Payout != nil {
			fmt.Fprintf(&b, " payout_status=%s", ev.Payout.Status)
		}
		b.WriteString("}")
	}
	return b.String()
}

func eventKeys(res *payment.WebhookResult) []string {
	keys := make([]string, 0, len(res.Events))
	for _, ev := range res.Events {
		keys = append(keys, ev.Key)
	}
	return keys
}

// flipPositions returns up to 48 evenly spread positions of letters and
// digits in b: changing one of them keeps JSON and form bodies well formed.
func flipPositions(b []byte) []int {
	var all []int
	for i, c := range b {
		if isAlnum(c) {
			all = append(all, i)
		}
	}
	const most = 48
	if len(all) <= most {
		return all
	}
	out := make([]int, 0, most)
	for k := range most {
		out = append(out, all[k*len(all)/most])
	}
	return out
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// flipByte changes a letter or digit to another of its kind.
func flipByte(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return '0' + (c-'0'+1)%10
	case c >= 'a' && c <= 'z':
		return 'a' + (c-'a'+1)%26
	case c >= 'A' && c <= 'Z':
		return 'A' + (c-'A'+1)%26
	default:
		return c ^ 1
	}
}

// flipBit changes the lowest bit of the middle byte of s.
func flipBit(s string) string {
	b := []byte(s)
	b[len(b)/2] ^= 1
	return string(b)
}

func cloneWebhook(wr *payment.WebhookRequest) *payment.WebhookRequest {
	return &payment.WebhookRequest{
		Header:     wr.Header.Clone(),
		Query:      cloneValues(wr.Query),
		Body:       slices.Clone(wr.Body),
		RemoteAddr: wr.RemoteAddr,
	}
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = slices.Clone(vs)
	}
	return c
}
