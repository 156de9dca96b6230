package sandbox_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/providertest"
	"github.com/paykit/paykit/providers/sandbox"
)

func payoutReq(amount int64, currency string) *payment.PayoutRequest {
	id := providertest.NewID(payment.PrefixPayout)
	return &payment.PayoutRequest{
		Payout: &payment.Payout{
			Object: "payout", ID: id, Provider: "sandbox", OrderID: "wd-" + id[3:], Amount: amount, Currency: currency,
			BankAccount: payment.BankAccount{BankCode: "KBANK", Number: "1234567890", Name: "John Doe"},
			Status:      payment.PayoutPending,
		},
		IdempotencyKey: id,
	}
}

func i64(v int64) *int64 { return &v }

func TestPayouts(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.WithOpeningBalance("THB", 500000))
	ctx := t.Context()

	req := payoutReq(100000, "THB")
	st, err := b.sb.StartPayout(ctx, req)
	require.NoError(t, err)
	require.Equal(t, payment.PayoutPending, st.Status)
	require.Equal(t, i64(1000), st.Fee, "1% of 1,000.00")
	require.Equal(t, i64(99000), st.TransferAmount)
	require.Equal(t, "sbx_po_"+req.Payout.ID[3:], st.ProviderReference)
	requireBalance(t, b.sb, "THB", 400000, 0)

	again, err := b.sb.StartPayout(ctx, req)
	require.NoError(t, err)
	require.Equal(t, st, again, "StartPayout is idempotent")
	requireBalance(t, b.sb, "THB", 400000, 0)

	require.NoError(t, b.sb.CompletePayout(ctx, req.Payout.ID))
	ev := parse(t, b.sb, b.inbox.last(req.Payout.ID))
	require.Equal(t, req.Payout.ID, ev.PayoutID)
	require.Equal(t, st.ProviderReference, ev.ProviderReference)
	require.Equal(t, &payment.PayoutState{
		Status: payment.PayoutSucceeded, ProviderReference: st.ProviderReference, Fee: i64(1000), TransferAmount: i64(99000),
	}, ev.Payout)
	synced, err := b.sb.SyncPayout(ctx, req.Payout)
	require.NoError(t, err)
	require.Equal(t, payment.PayoutSucceeded, synced.Status)
	require.ErrorIs(t, b.sb.CompletePayout(ctx, req.Payout.ID), payment.ErrInvalidState)
	require.ErrorIs(t, b.sb.FailPayout(ctx, req.Payout.ID), payment.ErrInvalidState)

	failing := payoutReq(50000, "THB")
	_, err = b.sb.StartPayout(ctx, failing)
	require.NoError(t, err)
	requireBalance(t, b.sb, "THB", 350000, 0)
	require.NoError(t, b.sb.FailPayout(ctx, failing.Payout.ID))
	ev = parse(t, b.sb, b.inbox.last(failing.Payout.ID))
	require.Equal(t, payment.PayoutFailed, ev.Payout.Status)
	require.Equal(t, "bank_rejected", ev.Payout.Failure.Code)
	requireBalance(t, b.sb, "THB", 400000, 0)
	require.NotEqual(t, parse(t, b.sb, b.inbox.last(req.Payout.ID)).Key, ev.Key)

	// By reference, too.
	byRef, err := b.sb.SyncPayout(ctx, &payment.Payout{ID: "po_other", ProviderReference: st.ProviderReference})
	require.NoError(t, err)
	require.Equal(t, payment.PayoutSucceeded, byRef.Status)
	_, err = b.sb.SyncPayout(ctx, &payment.Payout{ID: "po_unknown"})
	require.ErrorIs(t, err, payment.ErrNotFound)
	require.ErrorIs(t, b.sb.CompletePayout(ctx, "po_unknown"), payment.ErrNotFound)
	require.ErrorIs(t, b.sb.FailPayout(ctx, "po_unknown"), payment.ErrNotFound)
}

func TestPayoutInsufficientFunds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := payoutReq(100, "USD")
	st, err := b.sb.StartPayout(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, payment.PayoutFailed, st.Status)
	require.Equal(t, payment.FailureInsufficientFunds, st.Failure.Code)
	requireBalance(t, b.sb, "USD", 0, 0)
	again, err := b.sb.StartPayout(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, st, again)
	require.ErrorIs(t, b.sb.CompletePayout(t.Context(), req.Payout.ID), payment.ErrInvalidState)
}

func TestValidatePayout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name  string
		mut   func(*payment.PayoutRequest)
		field string
	}{
		{"no payout", func(r *payment.PayoutRequest) { r.Payout = nil }, "payout"},
		{"no id", func(r *payment.PayoutRequest) { r.Payout.ID = "" }, "id"},
		{"currency", func(r *payment.PayoutRequest) { r.Payout.Currency = "GBP" }, "currency"},
		{"amount", func(r *payment.PayoutRequest) { r.Payout.Amount = 0 }, "amount"},
		{"bank code", func(r *payment.PayoutRequest) { r.Payout.BankAccount.BankCode = "" }, "bank_account.bank_code"},
		{"number", func(r *payment.PayoutRequest) { r.Payout.BankAccount.Number = "" }, "bank_account.number"},
		{"name", func(r *payment.PayoutRequest) { r.Payout.BankAccount.Name = "" }, "bank_account.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := payoutReq(100, "THB")
			tt.mut(req)
			requireField(t, b.sb.ValidatePayout(req), tt.field)
			_, err := b.sb.StartPayout(t.Context(), req)
			requireField(t, err, tt.field)
		})
	}
	require.NoError(t, b.sb.ValidatePayout(payoutReq(100, "THB")))
}

// TestBalance follows the money through payments, refunds and payouts.
func TestBalance(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	bal, err := b.sb.Balance(ctx)
	require.NoError(t, err)
	require.Equal(t, []payment.Balance{
		{Currency: "EUR"}, {Currency: "THB"}, {Currency: "TRY"}, {Currency: "USD"}, {Currency: "VND"},
	}, bal, "every configured currency, sorted")

	paid := cardReq(t, sandbox.CardVisa, 10000, "THB")
	st, err := b.sb.Start(ctx, paid)
	require.NoError(t, err)
	qr := qrReq(120000, "VND")
	_, err = b.sb.Start(ctx, qr)
	require.NoError(t, err)
	requireBalance(t, b.sb, "VND", 0, 0) // not paid yet
	require.NoError(t, b.sb.Pay(ctx, qr.Payment.ID))
	requireBalance(t, b.sb, "VND", 120000, 0)

	_, err = b.sb.Refund(ctx, refundReq(recordOf(paid, st), 3000))
	require.NoError(t, err)
	requireBalance(t, b.sb, "THB", 7000, 0)

	_, err = b.sb.StartPayout(ctx, payoutReq(5000, "THB"))
	require.NoError(t, err)
	requireBalance(t, b.sb, "THB", 2000, 0)

	declined := cardReq(t, sandbox.CardDeclined, 10000, "THB")
	_, err = b.sb.Start(ctx, declined)
	require.NoError(t, err)
	requireBalance(t, b.sb, "THB", 2000, 0)
}
