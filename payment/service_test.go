package payment_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/payment/paymenttest"
	"github.com/paykit/paykit/store/memstore"
	"github.com/stretchr/testify/require"
)

func TestNewRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	_, err := payment.New(nil)
	require.Error(t, err)
	sc := &scripted{name: "x"}
	_, err = payment.New(setup(t).store, payment.WithProvider(sc), payment.WithProvider(&scripted{name: "x"}))
	require.ErrorContains(t, err, "registered twice")
	_, err = payment.New(setup(t).store, payment.WithIdempotencyTTL(-time.Second))
	require.Error(t, err)
	_, err = payment.New(setup(t).store, nil, payment.WithWebhookBaseURL("ftp://x"))
	require.Error(t, err)
}

// TestCheckoutAcceptsEveryOrderIDCharacter checks the edges of the order
// id's alphabet and length that validation lets through.
func TestCheckoutAcceptsEveryOrderIDCharacter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, id := range []string{"a", "AZaz09_-", strings.Repeat("Z", 50), "0-_9"} {
		p, err := b.svc.Checkout(t.Context(), paymenttest.QRCheckout("sandbox", id, 100000, "THB"))
		require.NoError(t, err, id)
		require.Equal(t, id, p.OrderID)
	}
}

func TestCheckoutValidationNamesTheFieldAndWritesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	good := func() *payment.CheckoutParams { return paymenttest.QRCheckout("sandbox", "ord-1", 100000, "THB") }
	tests := []struct {
		name    string
		mutate  func(*payment.CheckoutParams)
		field   string
		missing bool
	}{
		{"no provider", func(p *payment.CheckoutParams) { p.Provider = "" }, "provider", true},
		{"unknown provider", func(p *payment.CheckoutParams) { p.Provider = "nope" }, "provider", false},
		{"bad method", func(p *payment.CheckoutParams) { p.Method = "cash" }, "method", false},
		{"unsupported method", func(p *payment.CheckoutParams) { p.Method = payment.MethodWeChat }, "method", false},
		{"order id chars", func(p *payment.CheckoutParams) { p.OrderID = "a b" }, "order_id", false},
		{"order id long", func(p *payment.CheckoutParams) { p.OrderID = strings.Repeat("a", 51) }, "order_id", false},
		{"order id zero bytes", func(p *payment.CheckoutParams) { p.OrderID = string(make([]byte, 10)) }, "order_id", false},
		{"order id non-ASCII", func(p *payment.CheckoutParams) { p.OrderID = "ordé-1" }, "order_id", false},
		{"order id dot", func(p *payment.CheckoutParams) { p.OrderID = "ord.1" }, "order_id", false},
		{"zero amount", func(p *payment.CheckoutParams) { p.Amount = 0 }, "amount", false},
		{"negative amount", func(p *payment.CheckoutParams) { p.Amount = -5 }, "amount", false},
		{"currency", func(p *payment.CheckoutParams) { p.Currency = "thb" }, "currency", false},
		{"unsupported currency", func(p *payment.CheckoutParams) { p.Currency = "KWD" }, "currency", false},
		{"email", func(p *payment.CheckoutParams) { p.Customer = &payment.Customer{Email: "x"} }, "customer.email", false},
		{"bank account", func(p *payment.CheckoutParams) {
			p.Customer = &payment.Customer{BankAccount: &payment.BankAccount{BankCode: "KBANK", Name: "A"}}
		}, "customer.bank_account.number", true},
		{"items sum", func(p *payment.CheckoutParams) {
			p.Items = []payment.Item{{Name: "a", Price: 100, Quantity: 1}}
		}, "items", false},
		{"item price", func(p *payment.CheckoutParams) {
			p.Items = []payment.Item{{Name: "a", Price: 0, Quantity: 1}}
		}, "items[0].price", false},
		{"card number", func(p *payment.CheckoutParams) {
			p.Method = payment.MethodCard
			p.Card = &payment.Card{Number: "4111x", ExpiryMonth: 1, ExpiryYear: 2030}
		}, "card.number", false},
		{"idempotency key", func(p *payment.CheckoutParams) { p.IdempotencyKey = "bad\nkey" }, "IdempotencyKey", false},
	}
	for _, tt := range tests {
		p := good()
		tt.mutate(p)
		_, err := b.svc.Checkout(ctx, p)
		var ve *payment.ValidationError
		require.ErrorAs(t, err, &ve, tt.name)
		require.ErrorIs(t, err, payment.ErrInvalidInput, tt.name)
		require.Equal(t, tt.field, ve.Field, tt.name)
		require.Equal(t, tt.missing, ve.Missing, tt.name)
		if p.Card != nil {
			require.NotContains(t, err.Error(), p.Card.Number, "card data never in errors")
		}
	}
	_, err := b.svc.Checkout(ctx, &payment.CheckoutParams{Provider: "nope", Method: "qr", OrderID: "o", Amount: 1, Currency: "THB"})
	require.ErrorIs(t, err, payment.ErrUnknownProvider)
	ps, err := b.svc.FindPayments(ctx, "", "ord-1")
	require.NoError(t, err)
	require.Empty(t, ps, "nothing written")
	require.Zero(t, b.sandbox.Charges())
}

func TestCheckoutQRWebhookRefund(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-qr", 100000, "THB"))
	require.NoError(t, err)
	require.Equal(t, payment.StatusRequiresAction, p.Status)
	require.Equal(t, "display_qr", p.NextAction.Type)
	require.Equal(t, "ref_"+p.ID, p.ProviderReference, "provider idempotency key is our payment id")

	ack, err := b.hook(ctx, scriptedEvent{
		Key: "e1", Reference: p.ProviderReference, Status: payment.StatusSucceeded,
		Amount: &payment.Money{Amount: 100000, Currency: "THB"},
	})
	require.NoError(t, err)
	require.JSONEq(t, `{"ok":true}`, string(ack.Body))
	got := paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusSucceeded)
	require.Equal(t, int64(100000), got.AmountCaptured)
	require.Nil(t, got.NextAction)
	require.Nil(t, got.NextSyncAt, "a final payment is not swept")

	evs := b.drain(t)
	var types []payment.EventType
	for _, e := range evs {
		types = append(types, e.Type)
	}
	require.Equal(t, []payment.EventType{payment.EventPaymentCreated, payment.EventPaymentRequiresAction, payment.EventPaymentSucceeded}, types)
	var snap payment.Payment
	require.NoError(t, json.Unmarshal(evs[2].Data, &snap))
	require.Equal(t, payment.StatusSucceeded, snap.Status, "event data is the payment after the change")

	audit, err := b.svc.ListEvents(ctx, p.ID)
	require.NoError(t, err)
	require.Len(t, audit, 3)
	require.Equal(t, payment.SourceWebhook, audit[2].Source)
	require.Equal(t, "e1", audit[2].ProviderEventID)
}

func TestSandboxCardsEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	cases := map[string]struct {
		status payment.Status
		code   string
	}{
		"4111111111111111": {payment.StatusSucceeded, ""},
		"5555555555554444": {payment.StatusSucceeded, ""},
		"378282246310005":  {payment.StatusSucceeded, ""},
		"4000000000000002": {payment.StatusFailed, payment.FailureCardDeclined},
		"4000000000009995": {payment.StatusFailed, payment.FailureInsufficientFunds},
		"4000000000000119": {payment.StatusProcessing, ""},
	}
	i := 0
	for number, want := range cases {
		i++
		p, err := b.svc.Checkout(ctx, paymenttest.CardCheckout("sandbox", fmt.Sprintf("card-%d", i), 5000, "THB", number))
		require.NoError(t, err, number)
		require.Equal(t, want.status, p.Status, number)
		if want.code != "" {
			require.Equal(t, want.code, p.Failure.Code, number)
		}
		require.Equal(t, number[len(number)-4:], p.Card.Last4)
		raw, _ := json.Marshal(p)
		require.NotContains(t, string(raw), number, "card number never returned")
	}
}

func TestIdempotencySequentialRetries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	var first []byte
	for i := range 100 {
		params := paymenttest.QRCheckout("sandbox", "ord-seq", 100000, "THB")
		params.IdempotencyKey = "key-seq"
		p, err := b.svc.Checkout(ctx, params)
		require.NoError(t, err)
		require.Equal(t, i > 0, p.Replayed)
		body, _ := json.Marshal(p)
		if i == 0 {
			first = body
		} else {
			require.Equal(t, string(first), string(body), "replay %d is the first response", i)
		}
	}
	require.Equal(t, 1, b.sandbox.Charges(), "one provider call")
	ps, err := b.svc.FindPayments(ctx, "sandbox", "ord-seq")
	require.NoError(t, err)
	require.Len(t, ps, 1)
}

func TestIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	var ok, inProgress atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			params := paymenttest.QRCheckout("scripted", "ord-conc", 100000, "THB")
			params.IdempotencyKey = "key-conc"
			_, err := b.svc.Checkout(ctx, params)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, payment.ErrIdempotencyInProgress):
				inProgress.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(1), b.scripted.starts.Load(), "exactly one provider call")
	require.Equal(t, int64(200), ok.Load()+inProgress.Load())
	require.GreaterOrEqual(t, ok.Load(), int64(1))
}

func TestIdempotencyMismatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	params := paymenttest.QRCheckout("scripted", "ord-mm", 100000, "THB")
	params.IdempotencyKey = "key-mm"
	_, err := b.svc.Checkout(ctx, params)
	require.NoError(t, err)
	for _, change := range []func(*payment.CheckoutParams){
		func(p *payment.CheckoutParams) { p.Amount++ },
		func(p *payment.CheckoutParams) { p.Currency = "VND" },
		func(p *payment.CheckoutParams) { p.OrderID = "other" },
	} {
		p2 := *params
		change(&p2)
		_, err := b.svc.Checkout(ctx, &p2)
		require.ErrorIs(t, err, payment.ErrIdempotencyMismatch)
	}
	// Another route with the same key.
	_, err = b.svc.Refund(ctx, &payment.RefundParams{PaymentID: "pay_x", IdempotencyKey: "key-mm"})
	require.Error(t, err)
	require.Equal(t, int64(1), b.scripted.starts.Load(), "no provider call for mismatches")
}

func TestIdempotencyKeyReleasedOnValidationError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	// A provider-level validation error (the sandbox needs a bank account
	// for bank transfers) must not burn the key.
	params := &payment.CheckoutParams{
		Provider: "sandbox", Method: payment.MethodBankTransfer, OrderID: "ord-bt",
		Amount: 100000, Currency: "THB", IdempotencyKey: "key-bt",
	}
	_, err := b.svc.Checkout(ctx, params)
	require.ErrorIs(t, err, payment.ErrInvalidInput)
	params.Customer = &payment.Customer{Name: "A", BankAccount: &payment.BankAccount{BankCode: "KBANK", Number: "1234567890", Name: "A"}}
	p, err := b.svc.Checkout(ctx, params)
	require.NoError(t, err, "the corrected retry with the same key proceeds")
	require.False(t, p.Replayed)
}

func TestCrashBetweenProviderAndCommit(t *testing.T) {
	t.Parallel()
	var fs *faultyStore
	b := setup(t, withStore(func(s payment.Store) payment.Store { fs = newFaultyStore(s); return fs }))
	ctx := t.Context()
	params := paymenttest.CardCheckout("sandbox", "ord-crash", 5000, "THB", "4111111111111111")
	params.IdempotencyKey = "key-crash"
	fs.fail("UpdatePayment", 1) // the provider charged; recording it fails
	_, err := b.svc.Checkout(ctx, params)
	require.True(t, isUnavailable(err), "got %v", err)
	require.Equal(t, 1, b.sandbox.Charges())

	// Right away the key is still held by the dead request.
	_, err = b.svc.Checkout(ctx, params)
	require.ErrorIs(t, err, payment.ErrIdempotencyInProgress)

	// After the lock timeout the retry resumes the same payment.
	b.clock.Advance(2 * time.Minute)
	p, err := b.svc.Checkout(ctx, params)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, p.Status)
	require.Equal(t, 1, b.sandbox.Charges(), "never a second charge")
	ps, err := b.svc.FindPayments(ctx, "sandbox", "ord-crash")
	require.NoError(t, err)
	require.Len(t, ps, 1)
}

func TestCrashBeforeProviderCallIsSweptNotLost(t *testing.T) {
	t.Parallel()
	var fs *faultyStore
	b := setup(t, withStore(func(s payment.Store) payment.Store { fs = newFaultyStore(s); return fs }))
	ctx := t.Context()
	// The process "dies" after recording pending: the provider never hears.
	b.scripted.setStart(func(*payment.StartRequest) (*payment.PaymentState, error) {
		return nil, &payment.ProviderError{Provider: "scripted", Op: "start", Retryable: true, Message: "timeout"}
	})
	p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-lost", 100, "THB"))
	require.NoError(t, err)
	require.Equal(t, payment.StatusProcessing, p.Status, "unknown is processing, never failed")

	b.scripted.setSync(func(*payment.Payment) (*payment.PaymentState, error) {
		return &payment.PaymentState{Status: payment.StatusSucceeded, Amount: &payment.Money{Amount: 100, Currency: "THB"}}, nil
	})
	b.clock.Advance(2 * time.Minute)
	n, err := b.svc.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusSucceeded)
	_ = fs
}

func TestProviderTimeoutThenSweeperSucceeds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	p, err := b.svc.Checkout(ctx, paymenttest.CardCheckout("sandbox", "ord-timeout", 5000, "THB", "4000000000000119"))
	require.NoError(t, err)
	require.Equal(t, payment.StatusProcessing, p.Status)
	require.NotNil(t, p.NextSyncAt)

	n, err := b.svc.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "not due yet")
	b.clock.Advance(2 * time.Minute)
	n, err = b.svc.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusSucceeded)
	b.drain(t)
	require.Equal(t, []payment.EventType{payment.EventPaymentCreated, payment.EventPaymentProcessing, payment.EventPaymentSucceeded},
		b.rec.Types(p.ID), "one notification per transition")
	require.Equal(t, 1, b.sandbox.Charges())
}

func TestConcurrentDuplicateWebhooks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-storm", 100000, "THB"))
	require.NoError(t, err)
	b.drain(t)
	before := len(b.rec.Events())
	var wg sync.WaitGroup
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.hook(ctx, scriptedEvent{Key: "storm", PaymentID: p.ID, Status: payment.StatusSucceeded})
			if err != nil {
				t.Errorf("webhook: %v", err)
			}
		}()
	}
	wg.Wait()
	paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusSucceeded)
	evs, err := b.svc.ListEvents(ctx, p.ID)
	require.NoError(t, err)
	succeeded := 0
	for _, e := range evs {
		if e.Type == payment.EventPaymentSucceeded {
			succeeded++
		}
	}
	require.Equal(t, 1, succeeded, "exactly one transition and one event")
	b.drain(t)
	require.Len(t, b.rec.Events(), before+1, "exactly one notification")
}

func TestStaleEventAfterSuccessIsIgnored(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-stale", 100000, "THB"))
	require.NoError(t, err)
	_, err = b.hook(ctx, scriptedEvent{Key: "ok", PaymentID: p.ID, Status: payment.StatusSucceeded})
	require.NoError(t, err)
	b.drain(t)
	n := len(b.rec.Events())
	_, err = b.hook(ctx, scriptedEvent{Key: "late-pending", PaymentID: p.ID, Status: payment.StatusPending})
	require.NoError(t, err)
	paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusSucceeded)
	evs, err := b.svc.ListEvents(ctx, p.ID)
	require.NoError(t, err)
	last := evs[len(evs)-1]
	require.Equal(t, payment.EventIgnored, last.Type, "the stale event is in the audit trail")
	require.Equal(t, "pending", last.To)
	b.drain(t)
	require.Len(t, b.rec.Events(), n, "no notification for an ignored event")

	// A failure after success is a conflict: flagged, not flipped.
	_, err = b.hook(ctx, scriptedEvent{Key: "late-fail", PaymentID: p.ID, Status: payment.StatusFailed})
	require.NoError(t, err)
	got := paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusSucceeded)
	require.True(t, got.HasFlag(payment.FlagConflictingOutcome))
}

func TestRandomEventOrderReachesFurthestState(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	path := []payment.Status{payment.StatusRequiresAction, payment.StatusProcessing, payment.StatusAuthorized, payment.StatusSucceeded}
	for round := range 30 {
		p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", fmt.Sprintf("ord-rnd-%d", round), 100, "THB"))
		require.NoError(t, err)
		order := rand.Perm(len(path))
		for _, i := range order {
			_, err := b.hook(ctx, scriptedEvent{Key: fmt.Sprintf("r%d-%d", round, i), PaymentID: p.ID, Status: path[i]})
			require.NoError(t, err)
		}
		got := paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusSucceeded)
		evs, err := b.svc.ListEvents(ctx, p.ID)
		require.NoError(t, err)
		forward := 0
		for _, e := range evs {
			if e.Type != payment.EventIgnored {
				forward++
			}
		}
		// created + requires_action (from checkout) + each forward move.
		moves := 0
		cur := payment.StatusRequiresAction
		for _, i := range order {
			if payment.CanTransition(cur, path[i]) {
				cur = path[i]
				moves++
			}
		}
		require.Equal(t, 2+moves, forward, "round %d order %v: notifications equal forward transitions", round, order)
		require.Equal(t, int64(100), got.AmountCaptured)
	}
}

func TestAmountMismatchIsFlaggedNeverSucceeded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-amt", 100000, "THB"))
	require.NoError(t, err)
	for i, m := range []payment.Money{{Amount: 99999, Currency: "THB"}, {Amount: 100000, Currency: "VND"}} {
		_, err = b.hook(ctx, scriptedEvent{Key: fmt.Sprint("amt", i), PaymentID: p.ID, Status: payment.StatusSucceeded, Amount: &m})
		require.NoError(t, err)
		got := paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusRequiresAction)
		require.True(t, got.HasFlag(payment.FlagAmountMismatch))
	}
	b.drain(t)
	require.Contains(t, b.rec.Types(p.ID), payment.EventPaymentFlagged)
}

func TestWebhookForUnknownPaymentIsOrphan(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	ack, err := b.hook(ctx, scriptedEvent{Key: "orphan-1", Reference: "nobody", Status: payment.StatusSucceeded})
	require.NoError(t, err, "acknowledged")
	require.Equal(t, 200, ack.StatusCode)
	orphans, err := b.svc.ListInbox(ctx, payment.InboxOrphan, 10)
	require.NoError(t, err)
	require.Len(t, orphans, 1)
	require.Equal(t, "orphan-1", orphans[0].EventKey)
}

func TestWebhookBadSignatureWritesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-sig", 100, "THB"))
	require.NoError(t, err)
	body, _ := json.Marshal(scriptedEvent{Key: "forged", PaymentID: p.ID, Status: payment.StatusSucceeded})
	_, err = b.svc.HandleWebhook(ctx, "scripted", &payment.WebhookRequest{Body: body})
	require.ErrorIs(t, err, payment.ErrInvalidSignature)
	paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusRequiresAction)
	for _, st := range []payment.InboxStatus{payment.InboxReceived, payment.InboxProcessed, payment.InboxOrphan} {
		ms, err := b.svc.ListInbox(ctx, st, 10)
		require.NoError(t, err)
		require.Empty(t, ms, "nothing in the inbox")
	}
	_, err = b.svc.HandleWebhook(ctx, "nope", &payment.WebhookRequest{})
	require.ErrorIs(t, err, payment.ErrUnknownProvider)
}

func TestWebhookStoreDownThenRedelivered(t *testing.T) {
	t.Parallel()
	var fs *faultyStore
	b := setup(t, withStore(func(s payment.Store) payment.Store { fs = newFaultyStore(s); return fs }))
	ctx := t.Context()
	p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-down", 100, "THB"))
	require.NoError(t, err)
	ev := scriptedEvent{Key: "down-1", PaymentID: p.ID, Status: payment.StatusSucceeded}
	// The inbox row is written, then applying it fails: the provider
	// retries and the retry applies it once.
	fs.fail("UpdatePayment", 1)
	_, err = b.hook(ctx, ev)
	require.True(t, isUnavailable(err), "503 so the provider retries: %v", err)
	paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusRequiresAction)
	kept, err := b.svc.ListInbox(ctx, payment.InboxReceived, 10)
	require.NoError(t, err)
	require.Len(t, kept, 1, "kept, unapplied, for the operator")
	require.Equal(t, "down-1", kept[0].EventKey)
	require.Nil(t, kept[0].ProcessedAt)
	fs.down.Store(true)
	_, err = b.hook(ctx, ev)
	require.True(t, isUnavailable(err))
	fs.down.Store(false)
	_, err = b.hook(ctx, ev)
	require.NoError(t, err)
	_, err = b.hook(ctx, ev)
	require.NoError(t, err)
	paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusSucceeded)
	msg, err := b.store.GetInbox(ctx, "scripted", "down-1")
	require.NoError(t, err)
	require.Equal(t, payment.InboxProcessed, msg.Status, "the retry applied the kept message and marked it")
	require.Equal(t, p.ID, msg.ObjectID)
	require.NotNil(t, msg.ProcessedAt)
	b.drain(t)
	count := 0
	for _, typ := range b.rec.Types(p.ID) {
		if typ == payment.EventPaymentSucceeded {
			count++
		}
	}
	require.Equal(t, 1, count)
}

// A new webhook event is applied and recorded with one write: the
// compare-and-set that applies it carries the inbox message. A duplicate
// costs one read; an event that changes nothing is recorded on its own.
func TestWebhookEventIsOneWrite(t *testing.T) {
	t.Parallel()
	var fs *faultyStore
	b := setup(t, withStore(func(s payment.Store) payment.Store { fs = newFaultyStore(s); return fs }))
	ctx := t.Context()
	p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-one-write", 100, "THB"))
	require.NoError(t, err)
	ev := scriptedEvent{Key: "one-write", PaymentID: p.ID, Status: payment.StatusSucceeded}
	fs.takeCalls()
	_, err = b.hook(ctx, ev)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"GetInbox": 1, "GetPayment": 1, "UpdatePayment": 1}, fs.takeCalls())
	paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusSucceeded)
	msg, err := b.store.GetInbox(ctx, "scripted", "one-write")
	require.NoError(t, err)
	require.Equal(t, payment.InboxProcessed, msg.Status)
	require.Equal(t, p.ID, msg.ObjectID)
	require.NotEmpty(t, msg.Payload)
	require.NotNil(t, msg.ProcessedAt)
	evs, err := b.svc.ListEvents(ctx, p.ID)
	require.NoError(t, err)
	last := evs[len(evs)-1]
	require.Equal(t, payment.EventPaymentSucceeded, last.Type)
	require.Equal(t, "one-write", last.ProviderEventID)
	require.Nil(t, last.Inbox, "the store does not keep the message on the event")

	fs.takeCalls()
	_, err = b.hook(ctx, ev)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"GetInbox": 1}, fs.takeCalls(), "a duplicate reads and writes nothing")

	// The same status again under another key: nothing to change, so the
	// message is recorded alone.
	fs.takeCalls()
	_, err = b.hook(ctx, scriptedEvent{Key: "same-again", PaymentID: p.ID, Status: payment.StatusSucceeded})
	require.NoError(t, err)
	require.Equal(t, map[string]int{"GetInbox": 1, "GetPayment": 1, "RecordInbox": 1}, fs.takeCalls())
	msg, err = b.store.GetInbox(ctx, "scripted", "same-again")
	require.NoError(t, err)
	require.Equal(t, payment.InboxProcessed, msg.Status)
	require.Equal(t, p.ID, msg.ObjectID)

	// A stale report is audited: the audit event carries the message.
	fs.takeCalls()
	_, err = b.hook(ctx, scriptedEvent{Key: "stale", PaymentID: p.ID, Status: payment.StatusPending})
	require.NoError(t, err)
	require.Equal(t, map[string]int{"GetInbox": 1, "GetPayment": 1, "AppendEvents": 1}, fs.takeCalls())
	msg, err = b.store.GetInbox(ctx, "scripted", "stale")
	require.NoError(t, err)
	require.Equal(t, payment.InboxProcessed, msg.Status)
}

func TestLateSuccessAfterExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, withOptions(payment.WithAbandonAfter(time.Hour)))
	ctx := t.Context()
	p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-late", 100, "THB"))
	require.NoError(t, err)
	b.clock.Advance(2 * time.Hour)
	_, err = b.svc.Sweep(ctx) // the provider still says requires_action: confirmed unpaid
	require.NoError(t, err)
	got := paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusExpired)
	require.Equal(t, payment.FailureExpired, got.Failure.Code)
	// A new payment may use the order now.
	_, err = b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-late", 100, "THB"))
	require.NoError(t, err)

	_, err = b.hook(ctx, scriptedEvent{Key: "paid-late", PaymentID: p.ID, Status: payment.StatusSucceeded})
	require.NoError(t, err)
	paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusSucceeded)
	b.drain(t)
	require.Contains(t, b.rec.Types(p.ID), payment.EventPaymentSucceededLate)
}

func TestSweeperNeverExpiresWhatMayBePaid(t *testing.T) {
	t.Parallel()
	b := setup(t, withOptions(payment.WithAbandonAfter(time.Hour)))
	ctx := t.Context()
	p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-unk", 100, "THB"))
	require.NoError(t, err)
	b.scripted.setSync(func(*payment.Payment) (*payment.PaymentState, error) {
		return nil, &payment.ProviderError{Provider: "scripted", Op: "sync", Retryable: true}
	})
	b.clock.Advance(3 * time.Hour)
	_, err = b.svc.Sweep(ctx)
	require.NoError(t, err)
	paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusRequiresAction)
}

func TestConcurrentRefundsNeverExceedCaptured(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	p, err := b.svc.Checkout(ctx, paymenttest.CardCheckout("sandbox", "ord-ref", 10000, "THB", "4111111111111111"))
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, p.Status)
	var ok, exceeded atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.svc.Refund(ctx, &payment.RefundParams{PaymentID: p.ID, Amount: 3000})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, payment.ErrRefundExceedsCaptured):
				exceeded.Add(1)
			default:
				t.Errorf("refund: %v", err)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(3), ok.Load())
	require.Equal(t, int64(47), exceeded.Load())
	got := paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusPartiallyRefunded)
	require.Equal(t, int64(9000), got.AmountRefunded)
	require.Zero(t, got.AmountRefundPending)
	refunds, err := b.svc.ListRefunds(ctx, p.ID)
	require.NoError(t, err)
	require.Len(t, refunds, 3, "provider refund calls equal successful refunds")

	r, err := b.svc.Refund(ctx, &payment.RefundParams{PaymentID: p.ID, Reason: "the rest"})
	require.NoError(t, err)
	require.Equal(t, int64(1000), r.Amount)
	paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusRefunded)
	_, err = b.svc.Refund(ctx, &payment.RefundParams{PaymentID: p.ID, Amount: 1})
	require.Error(t, err)
}

func TestRefundBeforeSuccessIsInvalidState(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("sandbox", "ord-rbs", 100, "THB"))
	require.NoError(t, err)
	_, err = b.svc.Refund(ctx, &payment.RefundParams{PaymentID: p.ID, Amount: 10})
	require.ErrorIs(t, err, payment.ErrInvalidState)
	_, err = b.svc.Refund(ctx, &payment.RefundParams{PaymentID: "pay_missing", Amount: 10})
	require.ErrorIs(t, err, payment.ErrNotFound)
}

func TestCaptureAndCancelRace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	for i := range 20 {
		params := paymenttest.CardCheckout("sandbox", fmt.Sprintf("ord-race-%d", i), 5000, "THB", "4111111111111111")
		params.CaptureMethod = payment.CaptureManual
		p, err := b.svc.Checkout(ctx, params)
		require.NoError(t, err)
		require.Equal(t, payment.StatusAuthorized, p.Status)
		var capErr, cancelErr error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _, capErr = b.svc.Capture(ctx, p.ID, 0) }()
		go func() { defer wg.Done(); _, cancelErr = b.svc.Cancel(ctx, p.ID) }()
		wg.Wait()
		require.NotEqual(t, capErr == nil, cancelErr == nil, "exactly one wins: capture %v, cancel %v", capErr, cancelErr)
		got, err := b.svc.GetPayment(ctx, p.ID)
		require.NoError(t, err)
		if capErr == nil {
			require.Equal(t, payment.StatusSucceeded, got.Status)
		} else {
			require.Equal(t, payment.StatusCanceled, got.Status)
		}
	}
}

func TestPartialCaptureThenRefundLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	params := paymenttest.CardCheckout("sandbox", "ord-pc", 5000, "THB", "4111111111111111")
	params.CaptureMethod = payment.CaptureManual
	p, err := b.svc.Checkout(ctx, params)
	require.NoError(t, err)
	_, err = b.svc.Capture(ctx, p.ID, 6000)
	require.ErrorIs(t, err, payment.ErrInvalidInput)
	p, err = b.svc.Capture(ctx, p.ID, 3000)
	require.NoError(t, err)
	require.Equal(t, int64(3000), p.AmountCaptured)
	_, err = b.svc.Refund(ctx, &payment.RefundParams{PaymentID: p.ID, Amount: 3001})
	require.ErrorIs(t, err, payment.ErrRefundExceedsCaptured)
	_, err = b.svc.Capture(ctx, p.ID, 0)
	require.ErrorIs(t, err, payment.ErrInvalidState)
}

func TestConfirmOTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	params := paymenttest.CardCheckout("sandbox", "ord-otp", 5000, "THB", "4111111111111111")
	params.Card, params.PaymentToken = nil, "tok_otp"
	p, err := b.svc.Checkout(ctx, params)
	require.NoError(t, err)
	require.Equal(t, payment.StatusRequiresAction, p.Status)
	require.Equal(t, payment.NextActionOTP, p.NextAction.Type)
	_, err = b.svc.Confirm(ctx, p.ID, &payment.Confirmation{OTP: "000000"})
	require.ErrorIs(t, err, payment.ErrInvalidInput)
	paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusRequiresAction)
	p, err = b.svc.Confirm(ctx, p.ID, &payment.Confirmation{OTP: "123456"})
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, p.Status)
}

func TestOrderHeldWithoutKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	_, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("sandbox", "ord-dup", 100, "THB"))
	require.NoError(t, err)
	_, err = b.svc.Checkout(ctx, paymenttest.QRCheckout("sandbox", "ord-dup", 100, "THB"))
	require.ErrorIs(t, err, payment.ErrAlreadyExists)
	// A declined payment releases its order.
	_, err = b.svc.Checkout(ctx, paymenttest.CardCheckout("sandbox", "ord-dec", 100, "THB", "4000000000000002"))
	require.NoError(t, err)
	p, err := b.svc.Checkout(ctx, paymenttest.CardCheckout("sandbox", "ord-dec", 100, "THB", "4111111111111111"))
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, p.Status)
}

func TestPayoutLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	params := &payment.PayoutParams{
		Provider: "sandbox", OrderID: "wd-1", Amount: 100000, Currency: "THB",
		BankAccount: &payment.BankAccount{BankCode: "KBANK", Number: "1234567890", Name: "John Doe"}, IdempotencyKey: "po-key",
	}
	po, err := b.svc.CreatePayout(ctx, params)
	require.NoError(t, err)
	require.False(t, po.Status.Final(), "status %s failure %+v", po.Status, po.Failure)
	again, err := b.svc.CreatePayout(ctx, params)
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.Equal(t, po.ID, again.ID)
	require.NoError(t, b.sandbox.CompletePayout(ctx, po.ID))
	got, err := b.svc.SyncPayout(ctx, po.ID)
	require.NoError(t, err)
	require.Equal(t, payment.PayoutSucceeded, got.Status)
	b.drain(t)
	require.Contains(t, b.rec.Types(po.ID), payment.EventPayoutSucceeded)
	_, err = b.svc.CreatePayout(ctx, &payment.PayoutParams{
		Provider: "scripted", OrderID: "x", Amount: 1, Currency: "THB",
		BankAccount: params.BankAccount,
	})
	require.ErrorIs(t, err, payment.ErrUnsupported)
	_, err = b.svc.CreatePayout(ctx, &payment.PayoutParams{
		Provider: "sandbox", OrderID: "wd-2", Amount: 1, Currency: "THB",
		BankAccount: &payment.BankAccount{BankCode: "KBANK", Name: "John Doe"},
	})
	var ve *payment.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "bank_account.number", ve.Field)
	require.True(t, ve.Missing)
}

func TestDispatcherRetriesInOrder(t *testing.T) {
	t.Parallel()
	var fail atomic.Bool
	fail.Store(true)
	var mu sync.Mutex
	var got []payment.EventType
	sub := func(_ context.Context, e payment.Event) error {
		if fail.Load() {
			return errors.New("host down")
		}
		mu.Lock()
		got = append(got, e.Type)
		mu.Unlock()
		return nil
	}
	b := setup(t, withOptions(payment.WithSubscriber(sub)))
	ctx := t.Context()
	p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-disp", 100, "THB"))
	require.NoError(t, err)
	_, err = b.hook(ctx, scriptedEvent{Key: "d1", PaymentID: p.ID, Status: payment.StatusSucceeded})
	require.NoError(t, err)
	for range 5 { // the host is down for a while: attempts back off
		_, err := b.svc.Dispatch(ctx)
		require.NoError(t, err)
		b.clock.Advance(time.Minute)
	}
	fail.Store(false)
	b.clock.Advance(2 * time.Hour)
	for range 5 {
		_, err := b.svc.Dispatch(ctx)
		require.NoError(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []payment.EventType{payment.EventPaymentCreated, payment.EventPaymentRequiresAction, payment.EventPaymentSucceeded}, got,
		"every event once, in order")
}

func TestRunStopsWithContext(t *testing.T) {
	t.Parallel()
	b := setup(t, withOptions(payment.WithDispatchInterval(10*time.Millisecond)))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.svc.Run(ctx) }()
	_, err := b.svc.Checkout(t.Context(), paymenttest.QRCheckout("scripted", "ord-run", 100, "THB"))
	require.NoError(t, err)
	b.rec.WaitFor(t, 2, 5*time.Second)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestEveryPairThroughTheService seeds a payment in each status and reports
// every status for it: legal moves happen with one notification, illegal
// ones change nothing and notify nothing.
func TestEveryPairThroughTheService(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	i := 0
	for _, from := range payment.Statuses() {
		for _, to := range payment.Statuses() {
			if to == from || to == payment.StatusPartiallyRefunded || to == payment.StatusRefunded {
				continue // refund statuses move through refunds, not provider reports
			}
			i++
			now := b.clock.Now()
			p := &payment.Payment{
				Object: "payment", ID: fmt.Sprintf("pay_pair_%d", i), Provider: "scripted", Method: payment.MethodQR,
				OrderID: fmt.Sprintf("pair-%d", i), Amount: 100, Currency: "THB", Status: from,
				CaptureMethod: payment.CaptureAutomatic, CreatedAt: now, UpdatedAt: now,
			}
			if from.Paid() {
				p.AmountCaptured = 100
			}
			require.NoError(t, b.store.CreatePayment(ctx, p, nil))
			_, err := b.hook(ctx, scriptedEvent{Key: fmt.Sprintf("pair-%d", i), PaymentID: p.ID, Status: to})
			require.NoError(t, err)
			got, err := b.svc.GetPayment(ctx, p.ID)
			require.NoError(t, err)
			evs, err := b.svc.ListEvents(ctx, p.ID)
			require.NoError(t, err)
			notifying := 0
			for _, e := range evs {
				if e.Notifies() && e.Type != payment.EventPaymentFlagged {
					notifying++
				}
			}
			if payment.CheckTransition(from, to) == nil {
				require.Equal(t, to, got.Status, "%s -> %s is legal", from, to)
				require.Equal(t, 1, notifying, "%s -> %s: one event", from, to)
			} else {
				require.Equal(t, from, got.Status, "%s -> %s is illegal", from, to)
				require.Zero(t, notifying, "%s -> %s: no state event", from, to)
			}
		}
	}
}

func TestLockTimeoutMustExceedProviderTimeout(t *testing.T) {
	t.Parallel()
	_, err := payment.New(setup(t).store, payment.WithProviderTimeout(2*time.Minute))
	require.ErrorContains(t, err, "lock timeout")
	_, err = payment.New(setup(t).store, payment.WithProviderTimeout(2*time.Minute), payment.WithIdempotencyLockTimeout(3*time.Minute))
	require.NoError(t, err)
}

func TestSweeperExpiresWhatTheProviderNeverReceived(t *testing.T) {
	t.Parallel()
	b := setup(t, withOptions(payment.WithAbandonAfter(time.Hour)))
	ctx := t.Context()
	b.scripted.setStart(func(*payment.StartRequest) (*payment.PaymentState, error) {
		return nil, &payment.ProviderError{Provider: "scripted", Op: "start", Retryable: true}
	})
	p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("scripted", "ord-never", 100, "THB"))
	require.NoError(t, err)
	require.Equal(t, payment.StatusProcessing, p.Status)
	b.scripted.setSync(func(*payment.Payment) (*payment.PaymentState, error) {
		return nil, &payment.ProviderError{Provider: "scripted", Op: "sync", Code: "36", Err: payment.ErrNotFound}
	})
	b.clock.Advance(30 * time.Minute)
	_, err = b.svc.Sweep(ctx)
	require.NoError(t, err)
	paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusProcessing) // not yet abandoned: keep asking
	b.clock.Advance(2 * time.Hour)
	_, err = b.svc.Sweep(ctx)
	require.NoError(t, err)
	paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusExpired)
}

func TestWithStoreSharesEverythingButTheStore(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	other := memstore.New()
	txSvc := b.svc.WithStore(other)
	p, err := txSvc.Checkout(ctx, paymenttest.QRCheckout("sandbox", "ord-ws", 100, "THB"))
	require.NoError(t, err)
	_, err = other.GetPayment(ctx, p.ID)
	require.NoError(t, err, "written to the given store")
	_, err = b.svc.GetPayment(ctx, p.ID)
	require.ErrorIs(t, err, payment.ErrNotFound, "not to the original's")
	require.Equal(t, b.svc.Providers(), txSvc.Providers())
}

func TestRunWorksThroughASweepBacklog(t *testing.T) {
	t.Parallel()
	b := setup(t, withOptions(payment.WithSweepInterval(time.Hour), payment.WithDispatchInterval(time.Hour)))
	var synced sync.Map
	b.scripted.setSync(func(p *payment.Payment) (*payment.PaymentState, error) {
		synced.Store(p.ID, true)
		return &payment.PaymentState{Status: payment.StatusSucceeded}, nil
	})
	const n = 250 // two and a half batches of the sweeper
	ids := make([]string, 0, n)
	for i := range n {
		p, err := b.svc.Checkout(t.Context(), paymenttest.QRCheckout("scripted", fmt.Sprintf("ord-backlog-%d", i), 100, "THB"))
		require.NoError(t, err)
		ids = append(ids, p.ID)
	}
	b.clock.Advance(2 * time.Minute) // every payment is due
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.svc.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool {
		for _, id := range ids {
			got, err := b.svc.GetPayment(t.Context(), id)
			require.NoError(t, err)
			if got.Status != payment.StatusSucceeded {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond, "Run's first sweep works through every due payment, not one batch")
	count := 0
	synced.Range(func(any, any) bool { count++; return true })
	require.Equal(t, n, count, "each asked about")
}

func TestSweepAsksFourAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var inFlight, most atomic.Int64
	b.scripted.setSync(func(p *payment.Payment) (*payment.PaymentState, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		// Wait, up to a point, for the others: a sweep that asks one at a
		// time gets here alone.
		for deadline := time.Now().Add(2 * time.Second); most.Load() < 4 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // long enough for more to start, were more allowed
		return &payment.PaymentState{Status: payment.StatusSucceeded}, nil
	})
	for i := range 8 {
		_, err := b.svc.Checkout(t.Context(), paymenttest.QRCheckout("scripted", fmt.Sprintf("ord-sweep4-%d", i), 100, "THB"))
		require.NoError(t, err)
	}
	b.clock.Advance(2 * time.Minute)
	n, err := b.svc.Sweep(t.Context())
	require.NoError(t, err)
	require.Equal(t, 8, n)
	require.Equal(t, int64(4), most.Load(), "the provider is asked about four payments at once, no more")
}

// slowSyncs makes b's scripted provider answer every Sync with succeeded
// after 40 s of b's clock (past a sweep's lease less the provider timeout),
// and returns the count of calls. The first four calls are all under way
// before any of them takes its time, so a sweep (four at once) starts
// exactly four within its lease.
func slowSyncs(b *bundle) *atomic.Int64 {
	var calls, inFlight atomic.Int64
	b.scripted.setSync(func(*payment.Payment) (*payment.PaymentState, error) {
		calls.Add(1)
		inFlight.Add(1)
		defer inFlight.Add(-1)
		for deadline := time.Now().Add(2 * time.Second); inFlight.Load() < 4 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		b.clock.Advance(40 * time.Second)
		return &payment.PaymentState{Status: payment.StatusSucceeded}, nil
	})
	return &calls
}

func TestSweepLeavesWhatItCannotStartWithinItsLease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	calls := slowSyncs(b)
	ids := make([]string, 8)
	for i := range ids {
		p, err := b.svc.Checkout(t.Context(), paymenttest.QRCheckout("scripted", fmt.Sprintf("ord-lease-%d", i), 100, "THB"))
		require.NoError(t, err)
		ids[i] = p.ID
	}
	b.clock.Advance(2 * time.Minute)
	n, err := b.svc.Sweep(t.Context())
	require.NoError(t, err)
	require.Equal(t, 4, n, "the pass looked at the four it started in time")
	require.Equal(t, int64(4), calls.Load(), "the other four were not asked about once the lease ran short")
	pending := 0
	for _, id := range ids {
		got, err := b.svc.GetPayment(t.Context(), id)
		require.NoError(t, err)
		if got.Status != payment.StatusSucceeded {
			pending++
		}
	}
	require.Equal(t, 4, pending, "what the pass left is still to be asked about")

	n, err = b.svc.Sweep(t.Context())
	require.NoError(t, err)
	require.Positive(t, n, "the clock is past the first lease: the next pass claims what was left")
	for n > 0 {
		n, err = b.svc.Sweep(t.Context())
		require.NoError(t, err)
	}
	require.Equal(t, int64(8), calls.Load(), "each payment asked about once in all")
	for _, id := range ids {
		got, err := b.svc.GetPayment(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, payment.StatusSucceeded, got.Status)
	}
}

func TestSweepLeasesPayoutsFromWhenItClaimsThem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	slowSyncs(b) // the four payments take 160 s
	for i := range 4 {
		_, err := b.svc.Checkout(t.Context(), paymenttest.QRCheckout("scripted", fmt.Sprintf("ord-slow-%d", i), 100, "THB"))
		require.NoError(t, err)
	}
	po, err := b.svc.CreatePayout(t.Context(), &payment.PayoutParams{
		Provider: "sandbox", OrderID: "wd-after-slow", Amount: 100000, Currency: "THB",
		BankAccount: &payment.BankAccount{BankCode: "KBANK", Number: "1234567890", Name: "John Doe"},
	})
	require.NoError(t, err)
	require.NoError(t, b.sandbox.CompletePayout(t.Context(), po.ID))
	b.clock.Advance(2 * time.Minute)

	n, err := b.svc.Sweep(t.Context())
	require.NoError(t, err)
	require.Equal(t, 5, n, "the four payments and the payout")
	got, err := b.svc.GetPayout(t.Context(), po.ID)
	require.NoError(t, err)
	require.Equal(t, payment.PayoutSucceeded, got.Status,
		"the payout is claimed, and leased, when the slow payments are done, not when the pass began")
}

// slowReconciler is a scripted provider that can cancel and refund, whose
// calls from the sweeper take 40 s of the fake clock: its first cancel
// takes that long and fails (the customer may have paid), and so does
// each refund after the two that requests made (those time out).
type slowReconciler struct {
	*scripted
	clock            *paymenttest.Clock
	cancels, refunds atomic.Int64
}

func (s *slowReconciler) Cancel(context.Context, *payment.Payment) (*payment.PaymentState, error) {
	if s.cancels.Add(1) == 1 {
		s.clock.Advance(40 * time.Second)
		return nil, &payment.ProviderError{Provider: s.name, Op: "cancel", Message: "cannot cancel"}
	}
	return &payment.PaymentState{Status: payment.StatusCanceled}, nil
}

func (s *slowReconciler) Refund(context.Context, *payment.RefundRequest) (*payment.RefundState, error) {
	if s.refunds.Add(1) <= 2 {
		return nil, &payment.ProviderError{Provider: s.name, Op: "refund", Code: "timeout", Retryable: true}
	}
	s.clock.Advance(40 * time.Second)
	return &payment.RefundState{Status: payment.RefundSucceeded}, nil
}

func TestReconcileStopsBeforeACallItsLeaseHasNoRoomFor(t *testing.T) {
	t.Parallel()
	prov := &slowReconciler{scripted: &scripted{name: "slow"}}
	b := setup(t, withOptions(payment.WithProvider(prov)))
	prov.clock = b.clock
	ctx := t.Context()

	t.Run("abandoned payment", func(t *testing.T) {
		p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("slow", "ord-abandoned-slow", 100, "THB"))
		require.NoError(t, err)
		var syncs atomic.Int64
		prov.setSync(func(p *payment.Payment) (*payment.PaymentState, error) {
			syncs.Add(1)
			return &payment.PaymentState{Status: p.Status}, nil // not paid
		})
		b.clock.Advance(25 * time.Hour) // abandoned
		_, err = b.svc.Sweep(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(1), prov.cancels.Load())
		require.Equal(t, int64(1), syncs.Load(),
			"the cancel failed 40 s into a 60 s lease: no room for the sync it calls for")
		paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusRequiresAction)

		b.clock.Advance(30 * time.Second) // past the lease
		_, err = b.svc.Sweep(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(2), syncs.Load(), "the next pass asks again")
		require.Equal(t, int64(2), prov.cancels.Load())
		paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusExpired)
	})

	t.Run("pending refunds", func(t *testing.T) {
		prov.setStart(func(*payment.StartRequest) (*payment.PaymentState, error) {
			return &payment.PaymentState{Status: payment.StatusSucceeded}, nil
		})
		p, err := b.svc.Checkout(ctx, paymenttest.QRCheckout("slow", "ord-refunds-slow", 1000, "THB"))
		require.NoError(t, err)
		for range 2 {
			r, err := b.svc.Refund(ctx, &payment.RefundParams{PaymentID: p.ID, Amount: 100})
			require.NoError(t, err)
			require.Equal(t, payment.RefundPending, r.Status, "the provider's answer timed out")
		}
		b.clock.Advance(time.Hour)
		_, err = b.svc.Sweep(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(3), prov.refunds.Load(),
			"the first refund took 40 s of a 60 s lease: the second is left")
		refunds, err := b.svc.ListRefunds(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, []payment.RefundStatus{payment.RefundSucceeded, payment.RefundPending},
			[]payment.RefundStatus{refunds[0].Status, refunds[1].Status})

		// The refund it made rescheduled the payment: a later pass asks
		// about the one left, once.
		for range 3 {
			b.clock.Advance(time.Hour)
			_, err = b.svc.Sweep(ctx)
			require.NoError(t, err)
		}
		require.Equal(t, int64(4), prov.refunds.Load())
		got := paymenttest.RequireStatus(t, b.svc, p.ID, payment.StatusPartiallyRefunded)
		require.Equal(t, int64(200), got.AmountRefunded)
		require.Zero(t, got.AmountRefundPending)
	})
}

// meddler is a provider whose checkout validation writes to the payment it
// is shown, as a careless one might.
type meddler struct{ *scripted }

func (meddler) ValidateCheckout(req *payment.StartRequest) error {
	req.Payment.Customer.Name = "changed by the provider"
	req.Payment.Customer.BankAccount.Number = "changed by the provider"
	req.Payment.Items[0].Name = "changed by the provider"
	req.Payment.Metadata["cart"] = "changed by the provider"
	return nil
}

func TestCheckoutLeavesTheCallersParamsAlone(t *testing.T) {
	t.Parallel()
	b := setup(t, withOptions(payment.WithProvider(meddler{&scripted{name: "meddler"}})))
	params := paymenttest.QRCheckout("meddler", "ord-params", 200, "THB")
	params.Customer = &payment.Customer{
		Name:        "John Doe",
		BankAccount: &payment.BankAccount{BankCode: "KBANK", Number: "1234567890", Name: "John Doe"},
	}
	params.Items = []payment.Item{{Name: "Tea", Price: 100, Quantity: 2}}
	params.Metadata = map[string]string{"cart": "c_1"}
	_, err := b.svc.Checkout(t.Context(), params)
	require.NoError(t, err)
	require.Equal(t, "John Doe", params.Customer.Name, "the Service works on its own copy of the params")
	require.Equal(t, "1234567890", params.Customer.BankAccount.Number)
	require.Equal(t, "Tea", params.Items[0].Name)
	require.Equal(t, map[string]string{"cart": "c_1"}, params.Metadata)
}
