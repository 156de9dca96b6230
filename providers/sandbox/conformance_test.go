package sandbox_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/providertest"
	"github.com/paykit/paykit/providers/sandbox"
)

// inbox captures callbacks delivered in process (WithDeliver), by payment
// or payout id.
type inbox struct {
	mu   sync.Mutex
	byID map[string][]*payment.WebhookRequest
	all  []*payment.WebhookRequest
}

func newInbox() *inbox { return &inbox{byID: map[string][]*payment.WebhookRequest{}} }

func (in *inbox) deliver(_ context.Context, req *payment.WebhookRequest) error {
	var ev sandbox.Event
	if err := json.Unmarshal(req.Body, &ev); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.byID[ev.Data.ID] = append(in.byID[ev.Data.ID], req)
	in.all = append(in.all, req)
	return nil
}

// last returns the latest callback for id, or nil.
func (in *inbox) last(id string) *payment.WebhookRequest {
	in.mu.Lock()
	defer in.mu.Unlock()
	reqs := in.byID[id]
	if len(reqs) == 0 {
		return nil
	}
	return reqs[len(reqs)-1]
}

func (in *inbox) count(id string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.byID[id])
}

func TestConformanceQRByHTTP(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.WithQRImage(false))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	rec := providertest.NewRecorder(t)
	providertest.Run(t, providertest.Harness{
		Provider: sb,
		Checkout: func(testing.TB) *payment.StartRequest {
			req := providertest.NewStartRequest(sb.Name(), payment.MethodQR, 100000, "THB")
			req.NotifyURL = rec.URLFor(req.Payment.ID)
			return req
		},
		Pay: func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error) {
			if err := sb.Pay(ctx, p.ID); err != nil {
				return nil, err
			}
			return rec.Next(ctx, p.ID)
		},
		Decline: func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error) {
			if err := sb.Decline(ctx, p.ID); err != nil {
				return nil, err
			}
			return rec.Next(ctx, p.ID)
		},
		DeclinedCheckout: func(testing.TB) *payment.StartRequest {
			req := providertest.NewStartRequest(sb.Name(), payment.MethodCard, 5000, "USD")
			req.Card = &payment.Card{Number: sandbox.CardDeclined, ExpiryMonth: 12, ExpiryYear: 2099, CVV: "123"}
			return req
		},
		Charges: func(p *payment.Payment) int { return sb.ChargesFor(p.ID) },
	})
}

func TestConformanceBankTransferInProcess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	providertest.Run(t, providertest.Harness{
		Provider: b.sb,
		Checkout: func(testing.TB) *payment.StartRequest {
			req := providertest.NewStartRequest(b.sb.Name(), payment.MethodBankTransfer, 120000, "VND")
			req.Payment.Customer = &payment.Customer{BankAccount: &payment.BankAccount{BankCode: "VCB", Number: "0011223344", Name: "Nguyen Van A"}}
			return req
		},
		Pay: func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error) {
			if err := b.sb.Pay(ctx, p.ID); err != nil {
				return nil, err
			}
			return b.inbox.last(p.ID), nil
		},
		Decline: func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error) {
			if err := b.sb.Decline(ctx, p.ID); err != nil {
				return nil, err
			}
			return b.inbox.last(p.ID), nil
		},
		Charges: func(p *payment.Payment) int { return b.sb.ChargesFor(p.ID) },
	})
}

// TestConformanceCardOTPManualCapture runs the suite on cards that wait
// for an OTP and are only authorized: the refund part captures first.
func TestConformanceCardOTPManualCapture(t *testing.T) {
	t.Parallel()
	b := setup(t)
	providertest.Run(t, providertest.Harness{
		Provider: b.sb,
		Checkout: func(testing.TB) *payment.StartRequest {
			req := providertest.NewStartRequest(b.sb.Name(), payment.MethodCard, 4999, "EUR")
			req.PaymentToken = sandbox.TokenOTP
			req.Payment.CaptureMethod = payment.CaptureManual
			return req
		},
		Pay: func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error) {
			if err := b.sb.Pay(ctx, p.ID); err != nil {
				return nil, err
			}
			return b.inbox.last(p.ID), nil
		},
		Decline: func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error) {
			if err := b.sb.Decline(ctx, p.ID); err != nil {
				return nil, err
			}
			return b.inbox.last(p.ID), nil
		},
		DeclinedCheckout: func(t testing.TB) *payment.StartRequest {
			return cardReq(t, sandbox.CardInsufficientFunds, 4999, "EUR")
		},
		Charges:      func(p *payment.Payment) int { return b.sb.ChargesFor(p.ID) },
		RefundAmount: 1,
	})
}

// TestConformanceDeclineWithoutCallback checks the suite's Sync path for
// vendors that send no callback for declines.
func TestConformanceDeclineWithoutCallback(t *testing.T) {
	t.Parallel()
	b := setup(t)
	providertest.Run(t, providertest.Harness{
		Provider: b.sb,
		Checkout: func(testing.TB) *payment.StartRequest {
			return providertest.NewStartRequest(b.sb.Name(), payment.MethodQR, 100, "TRY")
		},
		Pay: func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error) {
			if err := b.sb.Pay(ctx, p.ID); err != nil {
				return nil, err
			}
			return b.inbox.last(p.ID), nil
		},
		Decline: func(ctx context.Context, p *payment.Payment) (*payment.WebhookRequest, error) {
			return nil, b.sb.Decline(ctx, p.ID)
		},
		NoPartialRefund: true,
	})
}
