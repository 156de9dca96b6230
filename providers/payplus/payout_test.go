package payplus_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/payplus"
	"github.com/paykit/paykit/providers/payplus/payplussim"
)

func TestPayoutCompleted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	req := e.newPayout(100000) // THB 1,000.00
	st, err := e.p.StartPayout(ctx, req)
	require.NoError(t, err)
	require.Equal(t, payment.PayoutProcessing, st.Status, "Pay-Plus has the withdrawal; the bank has not paid yet")
	ord, ok := e.sim.Order(req.Payout.ID)
	require.True(t, ok)
	require.Equal(t, ord.OrderNo, st.ProviderReference)
	require.Regexp(t, `^WD\d+[A-Z0-9]{6}$`, st.ProviderReference)
	require.Equal(t, int64(1500), *st.Fee, "THB 15 on 1,000, as documented")
	require.Equal(t, int64(98500), *st.TransferAmount)
	require.Equal(t, req.Payout.BankAccount, ord.Account)
	bal, _ := e.sim.Balance(payplussim.DefaultMerchantID)
	require.Equal(t, payplussim.DefaultBalance-100000, bal, "the amount is held when the withdrawal is made")

	po := req.Payout.Clone()
	po.ProviderReference = st.ProviderReference
	sync, err := e.p.SyncPayout(ctx, po)
	require.NoError(t, err)
	require.Equal(t, payment.PayoutProcessing, sync.Status)

	require.NoError(t, e.sim.CompletePayout(ctx, po.ID))
	_, res := e.callback(t, ctx, po.ID)
	require.Len(t, res.Events, 1)
	ev := res.Events[0]
	require.Equal(t, po.ID, ev.PayoutID)
	require.Equal(t, st.ProviderReference, ev.ProviderReference)
	require.Nil(t, ev.Payment)
	require.Equal(t, payment.PayoutSucceeded, ev.Payout.Status)
	require.Equal(t, int64(1500), *ev.Payout.Fee)
	require.Equal(t, int64(98500), *ev.Payout.TransferAmount)

	sync, err = e.p.SyncPayout(ctx, po)
	require.NoError(t, err)
	require.Equal(t, payment.PayoutSucceeded, sync.Status)
	require.Equal(t, int64(1500), *sync.Fee)
	require.Equal(t, int64(98500), *sync.TransferAmount, "the query's actual_amount is what was transferred")

	balances, err := e.p.Balance(ctx)
	require.NoError(t, err)
	require.Equal(t, []payment.Balance{{Currency: "THB", Available: payplussim.DefaultBalance - 100000}}, balances)
}

func TestPayoutFailedReturnsTheMoney(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	req := e.newPayout(99550)
	st, err := e.p.StartPayout(ctx, req)
	require.NoError(t, err)
	require.NoError(t, e.sim.FailPayout(ctx, req.Payout.ID))
	_, res := e.callback(t, ctx, req.Payout.ID)
	ev := res.Events[0]
	require.Equal(t, payment.PayoutFailed, ev.Payout.Status)
	require.Equal(t, payplus.FailureFailed, ev.Payout.Failure.Code)

	po := req.Payout.Clone()
	po.ProviderReference = st.ProviderReference
	sync, err := e.p.SyncPayout(ctx, po)
	require.NoError(t, err)
	require.Equal(t, payment.PayoutFailed, sync.Status)
	require.NotNil(t, sync.Failure)
	bal, _ := e.sim.Balance(payplussim.DefaultMerchantID)
	require.Equal(t, payplussim.DefaultBalance, bal)
	require.ErrorIs(t, e.sim.CompletePayout(ctx, po.ID), payplussim.ErrNotPending)
}

func TestPayoutIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	req := e.newPayout(100000)
	first, err := e.p.StartPayout(ctx, req)
	require.NoError(t, err)
	second, err := e.p.StartPayout(ctx, req)
	require.NoError(t, err, "a duplicate agent_order_no is resolved by querying the order")
	require.Equal(t, first.ProviderReference, second.ProviderReference)
	require.Equal(t, payment.PayoutProcessing, second.Status)
	require.Equal(t, int64(1500), *second.Fee)
	require.Equal(t, 1, e.sim.Charges(req.Payout.ID))
	bal, _ := e.sim.Balance(payplussim.DefaultMerchantID)
	require.Equal(t, payplussim.DefaultBalance-100000, bal, "debited once")

	// The answer to the first attempt is lost: the retry recovers it.
	req2 := e.newPayout(20000)
	e.sim.InjectFault(payplussim.Fault{Op: "withdraw", AfterProcessing: true, Status: http.StatusBadGateway})
	_, err = e.p.StartPayout(ctx, req2)
	require.True(t, payment.IsRetryable(err), "%v", err)
	st, err := e.p.StartPayout(ctx, req2)
	require.NoError(t, err)
	ord, _ := e.sim.Order(req2.Payout.ID)
	require.Equal(t, ord.OrderNo, st.ProviderReference)
	require.Equal(t, 1, e.sim.Charges(req2.Payout.ID))
}

func TestPayoutRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSim(payplussim.WithBalance(10000)))
	ctx := testCtx(t)
	req := e.newPayout(10001)
	_, err := e.p.StartPayout(ctx, req)
	var pe *payment.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "Insufficient balance", pe.Message)
	require.False(t, payment.IsRetryable(err), "the vendor refused it: it did not happen")
	require.Equal(t, 0, e.sim.Charges(req.Payout.ID))

	req = e.newPayout(10000)
	req.Payout.BankAccount.BankCode = "NOPE"
	_, err = e.p.StartPayout(ctx, req)
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "Invalid bank_code", pe.Message)
}

func TestValidatePayout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name  string
		edit  func(*payment.PayoutRequest)
		field string
	}{
		{"only THB", func(r *payment.PayoutRequest) { r.Payout.Currency = "VND" }, "currency"},
		{"positive amount", func(r *payment.PayoutRequest) { r.Payout.Amount = -5 }, "amount"},
		{"bank code", func(r *payment.PayoutRequest) { r.Payout.BankAccount.BankCode = "" }, "bank_account.bank_code"},
		{"account number", func(r *payment.PayoutRequest) { r.Payout.BankAccount.Number = "12" }, "bank_account.number"},
		{"holder name", func(r *payment.PayoutRequest) { r.Payout.BankAccount.Name = "" }, "bank_account.name"},
		{"id", func(r *payment.PayoutRequest) { r.Payout.ID = "" }, "id"},
		{"notify URL", func(r *payment.PayoutRequest) { r.NotifyURL = "mailto:x@example.com" }, "notify_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := e.newPayout(100000)
			require.NoError(t, e.p.ValidatePayout(req))
			tt.edit(req)
			var ve *payment.ValidationError
			require.ErrorAs(t, e.p.ValidatePayout(req), &ve)
			require.Equal(t, tt.field, ve.Field)
			_, err := e.p.StartPayout(testCtx(t), req)
			require.ErrorIs(t, err, payment.ErrInvalidInput)
		})
	}
	require.ErrorIs(t, e.p.ValidatePayout(nil), payment.ErrInvalidInput)
}

func TestSyncPayoutByAgentOrderNo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	req := e.newPayout(100000)
	_, err := e.p.StartPayout(ctx, req)
	require.NoError(t, err)
	require.NoError(t, e.sim.CompletePayout(ctx, req.Payout.ID))
	st, err := e.p.SyncPayout(ctx, req.Payout) // no provider reference recorded
	require.NoError(t, err)
	require.Equal(t, payment.PayoutSucceeded, st.Status)
	ord, _ := e.sim.Order(req.Payout.ID)
	require.Equal(t, ord.OrderNo, st.ProviderReference)

	_, err = e.p.SyncPayout(ctx, e.newPayout(1).Payout)
	require.ErrorIs(t, err, payment.ErrNotFound)
}

func TestBalanceBanksHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testCtx(t)
	bal, err := e.p.Balance(ctx)
	require.NoError(t, err)
	require.Equal(t, []payment.Balance{{Currency: "THB", Available: payplussim.DefaultBalance}}, bal)

	pay, _ := e.start(t, ctx, payment.MethodQR, 100000)
	require.NoError(t, e.sim.Pay(ctx, pay.ID))
	bal, err = e.p.Balance(ctx)
	require.NoError(t, err)
	require.Equal(t, payplussim.DefaultBalance+99500, bal[0].Available, "the deposit's actual amount is credited")

	banks, err := e.p.Banks(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, banks)
	require.Equal(t, payplus.Bank{Code: "KBANK", Name: "Kasikorn Bank", NameTH: "ธนาคารกสิกรไทย", Active: true}, banks[0])

	fe := newEnv(t, withFakeClock())
	fe.clock.Add(3600*time.Second + 500*time.Millisecond)
	h, err := fe.p.Health(ctx)
	require.NoError(t, err)
	require.Equal(t, "healthy", h.Status)
	require.Equal(t, fe.clock.Now(), h.Timestamp)
	require.Equal(t, 3600500*time.Millisecond, h.Uptime, "uptime 3600.5 s, read exactly")

	e.sim.InjectFault(payplussim.Fault{Op: "balance", Status: http.StatusServiceUnavailable})
	_, err = e.p.Balance(ctx)
	require.True(t, payment.IsRetryable(err))

	bad := newEnv(t, withCredentials(payplussim.DefaultMerchantID, "nope"))
	_, err = bad.p.Banks(ctx)
	require.ErrorIs(t, err, payplus.ErrAuthentication)
	_, err = bad.p.Health(ctx)
	require.NoError(t, err, "health needs no key")
}
