package vepara_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/providertest"
	"github.com/paykit/paykit/providers/vepara"
	"github.com/paykit/paykit/providers/vepara/veparasim"
)

func preAuthCheckout(amount int64) *payment.StartRequest {
	req := cardCheckout(veparasim.CardApprove, amount)
	req.Payment.CaptureMethod = payment.CaptureManual
	return req
}

func TestPreAuthorizationThenCapture(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pay, st := start(t, e.p, preAuthCheckout(21000))
	require.Equal(t, payment.StatusAuthorized, st.Status)
	require.Equal(t, &payment.Money{Amount: 21000, Currency: "TRY"}, st.Amount)
	require.Equal(t, "PreAuth", e.last(t, "/api/paySmart2D")["transaction_type"])
	synced, err := e.p.Sync(t.Context(), pay)
	require.NoError(t, err)
	require.Equal(t, payment.StatusAuthorized, synced.Status)

	captured, err := e.p.Capture(t.Context(), pay, pay.Amount)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, captured.Status)
	require.Nil(t, captured.AmountCaptured, "a full capture reports no partial amount")
	require.Equal(t, st.ProviderReference, captured.ProviderReference)
	body := e.last(t, "/api/confirmPayment")
	require.Equal(t, json.Number("1"), body["status"])
	require.NotContains(t, body, "total", "a full capture sends no total")
	parts, err := veparasim.OpenHashKey(e.sim.AppSecret(), body["hash_key"].(string))
	require.NoError(t, err)
	require.Equal(t, []string{e.sim.MerchantKey(), pay.ID, "1"}, parts, "confirmPayment's hash_key is merchant_key|invoice_id|status")

	tx, _ := e.sim.Transaction(pay.ID)
	require.Equal(t, int64(21000), tx.Captured)
	require.Equal(t, veparasim.TypePostAuth, tx.TransactionType)
	pay.Status = payment.StatusSucceeded
	synced, err = e.p.Sync(t.Context(), pay)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, synced.Status)

	again, err := e.p.Capture(t.Context(), pay, 0)
	require.NoError(t, err, "a repeated capture (a lost answer) finds the payment captured")
	require.Equal(t, payment.StatusSucceeded, again.Status)

	_, err = e.p.Cancel(t.Context(), pay)
	require.ErrorIs(t, err, payment.ErrInvalidState, "a captured sale cannot be voided")
	require.Equal(t, "113", providerErr(t, err).Code)
}

func TestPartialCapture(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pay, _ := start(t, e.p, preAuthCheckout(21000))
	st, err := e.p.Capture(t.Context(), pay, 5025)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, st.Status)
	require.NotNil(t, st.AmountCaptured)
	require.Equal(t, int64(5025), *st.AmountCaptured)
	require.Equal(t, json.Number("50.25"), e.last(t, "/api/confirmPayment")["total"])
	tx, _ := e.sim.Transaction(pay.ID)
	require.Equal(t, int64(5025), tx.Captured)

	_, err = e.p.Capture(t.Context(), pay, 30000)
	require.ErrorIs(t, err, payment.ErrInvalidInput, "more than was authorized")
}

func TestVoid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pay, _ := start(t, e.p, preAuthCheckout(9900))
	st, err := e.p.Cancel(t.Context(), pay)
	require.NoError(t, err)
	require.Equal(t, payment.StatusCanceled, st.Status)
	require.Equal(t, payment.FailureCanceled, st.Failure.Code)
	require.Equal(t, json.Number("2"), e.last(t, "/api/confirmPayment")["status"])
	synced, err := e.p.Sync(t.Context(), pay)
	require.NoError(t, err)
	require.Equal(t, payment.StatusCanceled, synced.Status)

	again, err := e.p.Cancel(t.Context(), pay)
	require.NoError(t, err, "a repeated void finds the payment voided")
	require.Equal(t, payment.StatusCanceled, again.Status)
	_, err = e.p.Capture(t.Context(), pay, 0)
	require.ErrorIs(t, err, payment.ErrInvalidState)
}

func TestCancelOfAnAutomaticSaleIsInvalidState(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pay, _ := start(t, e.p, cardCheckout(veparasim.CardApprove, 100))
	_, err := e.p.Cancel(t.Context(), pay)
	require.ErrorIs(t, err, payment.ErrInvalidState)
}

func TestPreAuthorizationDecidedLater(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := preAuthCheckout(3000)
	req.Card.Number = veparasim.CardPending
	pay, st := start(t, e.p, req)
	require.Equal(t, payment.StatusProcessing, st.Status)
	require.NoError(t, e.sim.Pay(t.Context(), pay.ID))
	wr, err := e.rec.Next(t.Context(), pay.ID)
	require.NoError(t, err)
	res, err := e.p.ParseWebhook(t.Context(), wr)
	require.NoError(t, err)
	require.Equal(t, payment.StatusAuthorized, res.Events[0].Payment.Status)
}

func newRefund(pay *payment.Payment, amount int64) *payment.RefundRequest {
	r := &payment.Refund{
		ID: providertest.NewID(payment.PrefixRefund), PaymentID: pay.ID, Amount: amount,
		Currency: pay.Currency, Status: payment.RefundPending,
	}
	return &payment.RefundRequest{Payment: pay.Clone(), Refund: r, IdempotencyKey: r.ID}
}

func TestRefunds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pay, _ := start(t, e.p, marketplaceCheckout())

	first := newRefund(pay, 1234)
	st, err := e.p.Refund(t.Context(), first)
	require.NoError(t, err)
	require.Equal(t, payment.RefundSucceeded, st.Status)
	require.NotEmpty(t, st.ProviderReference)
	body := e.last(t, "/api/refund")
	require.Equal(t, json.Number("12.34"), body["amount"])
	require.Equal(t, first.Refund.ID, body["refund_transaction_id"], "the refund transaction id is the refund's id")
	require.Equal(t, vepara.RefundTransactionID(first.Refund.ID), body["refund_transaction_id"])
	require.Equal(t, e.sim.AppID(), body["app_id"])
	parts, err := veparasim.OpenHashKey(e.sim.AppSecret(), body["hash_key"].(string))
	require.NoError(t, err)
	require.Equal(t, []string{"12.34", pay.ID, e.sim.MerchantKey()}, parts, "the refund's hash_key is amount|invoice_id|merchant_key")

	retry, err := e.p.Refund(t.Context(), first)
	require.NoError(t, err, "a retried refund meets 104 and is resolved, never refunded twice")
	require.Equal(t, payment.RefundSucceeded, retry.Status)
	require.Equal(t, st.ProviderReference, retry.ProviderReference)
	tx, _ := e.sim.Transaction(pay.ID)
	require.Equal(t, int64(1234), tx.Refunded)
	require.Equal(t, veparasim.StatusPartialRefunded, tx.Status)

	synced, err := e.p.SyncRefund(t.Context(), pay, first.Refund)
	require.NoError(t, err)
	require.Equal(t, payment.RefundSucceeded, synced.Status)

	pay.AmountRefunded = 1234
	rest := newRefund(pay, 21000-1234)
	st, err = e.p.Refund(t.Context(), rest)
	require.NoError(t, err)
	require.Equal(t, payment.RefundSucceeded, st.Status)
	tx, _ = e.sim.Transaction(pay.ID)
	require.Equal(t, veparasim.StatusRefunded, tx.Status)
	require.Equal(t, int64(21000), tx.Refunded)

	paySync, err := e.p.Sync(t.Context(), pay)
	require.NoError(t, err)
	require.Equal(t, payment.StatusSucceeded, paySync.Status, "a refunded sale is still a paid one; refunds are tracked apart")

	over, err := e.p.Refund(t.Context(), newRefund(pay, 1))
	require.NoError(t, err)
	require.Equal(t, payment.RefundFailed, over.Status, "49: more than what is left")
	require.NotEmpty(t, over.Failure.Code)
}

func TestManualRefundRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []veparasim.Option{veparasim.WithManualRefunds(true)})
	pay, _ := start(t, e.p, cardCheckout(veparasim.CardApprove, 10000))

	ok := newRefund(pay, 4000)
	st, err := e.p.Refund(t.Context(), ok)
	require.NoError(t, err)
	require.Equal(t, payment.RefundPending, st.Status, "101 is a refund request settled later")
	synced, err := e.p.SyncRefund(t.Context(), pay, ok.Refund)
	require.NoError(t, err)
	require.Equal(t, payment.RefundPending, synced.Status)
	require.NoError(t, e.sim.CompleteRefund(t.Context(), ok.Refund.ID))
	synced, err = e.p.SyncRefund(t.Context(), pay, ok.Refund)
	require.NoError(t, err)
	require.Equal(t, payment.RefundSucceeded, synced.Status)

	refused := newRefund(pay, 1000)
	_, err = e.p.Refund(t.Context(), refused)
	require.NoError(t, err)
	require.NoError(t, e.sim.FailRefund(t.Context(), refused.Refund.ID))
	synced, err = e.p.SyncRefund(t.Context(), pay, refused.Refund)
	require.NoError(t, err)
	require.Equal(t, payment.RefundFailed, synced.Status)
	require.Error(t, e.sim.CompleteRefund(t.Context(), refused.Refund.ID), "a settled refund stays settled")
	require.ErrorIs(t, e.sim.CompleteRefund(t.Context(), "nope"), veparasim.ErrUnknownRefund)
}

func TestSyncRefundOfAnUnknownRefundIsPending(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pay, _ := start(t, e.p, cardCheckout(veparasim.CardApprove, 10000))
	st, err := e.p.SyncRefund(t.Context(), pay, newRefund(pay, 100).Refund)
	require.NoError(t, err)
	require.Equal(t, payment.RefundPending, st.Status, "a refund the platform does not list is never failed")
}

func TestPartialRefundNotAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []veparasim.Option{veparasim.WithPartialRefunds(false)})
	pay, _ := start(t, e.p, cardCheckout(veparasim.CardApprove, 10000))
	_, err := e.p.Refund(t.Context(), newRefund(pay, 100))
	require.ErrorIs(t, err, payment.ErrUnsupported)
	require.Equal(t, "110", providerErr(t, err).Code)
	st, err := e.p.Refund(t.Context(), newRefund(pay, 10000))
	require.NoError(t, err)
	require.Equal(t, payment.RefundSucceeded, st.Status)
}

func TestRefundOfAnUncapturedPreAuthorizationFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pay, _ := start(t, e.p, preAuthCheckout(10000))
	st, err := e.p.Refund(t.Context(), newRefund(pay, 100))
	require.NoError(t, err)
	require.Equal(t, payment.RefundFailed, st.Status)
}

func TestRefundValidatesTheAmount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pay, _ := start(t, e.p, cardCheckout(veparasim.CardApprove, 10000))
	_, err := e.p.Refund(t.Context(), newRefund(pay, 0))
	require.ErrorIs(t, err, payment.ErrInvalidInput)
	_, err = e.p.Refund(t.Context(), newRefund(pay, -5))
	require.ErrorIs(t, err, payment.ErrInvalidInput)
}

func TestQuote(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	q, err := e.p.Quote(t.Context(), &payment.QuoteRequest{Amount: payment.Money{Amount: 10000, Currency: "TRY"}, Method: payment.MethodCard})
	require.NoError(t, err)
	require.Equal(t, &payment.Quote{
		Amount: 10000, Currency: "TRY", Fee: 0, CustomerPays: 10000,
		Installments: []payment.Installment{
			{Count: 1, Total: 10000, PerInstallment: 10000},
			{Count: 2, Total: 10125, PerInstallment: 5062},
			{Count: 3, Total: 10250, PerInstallment: 3416},
			{Count: 6, Total: 10625, PerInstallment: 1770},
			{Count: 9, Total: 11000, PerInstallment: 1222},
			{Count: 12, Total: 11375, PerInstallment: 947},
		},
	}, q)
	body := e.last(t, "/api/getpos")
	require.Equal(t, "450803", body["credit_card"], "Quote asks about the configured BIN")
	require.Equal(t, json.Number("100"), body["amount"])
	require.NotContains(t, body, "is_2d", "the simulated merchant does 2D and 3D (is_3d 1)")
}

func TestQuoteKeepsOnlyEnabledInstallments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []veparasim.Option{veparasim.WithInstallments(3, 1), veparasim.WithIs3D(0)}, vepara.WithQuoteBIN("540667"))
	q, err := e.p.QuoteCard(t.Context(), "54066712", &payment.QuoteRequest{Amount: payment.Money{Amount: 999, Currency: "TRY"}})
	require.NoError(t, err)
	require.Equal(t, []payment.Installment{
		{Count: 1, Total: 999, PerInstallment: 999},
		{Count: 3, Total: 1024, PerInstallment: 341},
	}, q.Installments)
	body := e.last(t, "/api/getpos")
	require.Equal(t, "540667", body["credit_card"], "only the BIN is sent")
	require.Equal(t, json.Number("1"), body["is_2d"], "a 2D-only merchant asks for 2D POS")
	counts, err := e.p.Installments(t.Context())
	require.NoError(t, err)
	require.Equal(t, []int{1, 3}, counts)
	opts, err := e.p.Pos(t.Context(), "540667", payment.Money{Amount: 999, Currency: "TRY"})
	require.NoError(t, err)
	require.Equal(t, "MASTERCARD", opts[0].CardScheme)
}

func TestQuoteRejectsWhatItCannotPrice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name  string
		req   *payment.QuoteRequest
		field string
	}{
		{"nil", nil, "amount"},
		{"wrong method", &payment.QuoteRequest{Amount: payment.Money{Amount: 100, Currency: "TRY"}, Method: payment.MethodQR}, "method"},
		{"unsupported currency", &payment.QuoteRequest{Amount: payment.Money{Amount: 100, Currency: "USD"}}, "currency"},
		{"zero amount", &payment.QuoteRequest{Amount: payment.Money{Amount: 0, Currency: "TRY"}}, "amount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.p.Quote(t.Context(), tt.req)
			var ve *payment.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.field, ve.Field)
		})
	}
	_, err := e.p.Pos(t.Context(), "45", payment.Money{Amount: 100, Currency: "TRY"})
	require.ErrorIs(t, err, payment.ErrInvalidInput)
}
