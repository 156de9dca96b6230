package vepara_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/providertest"
	"github.com/paykit/paykit/providers/vepara"
	"github.com/paykit/paykit/providers/vepara/veparasim"
)

// conformanceHarness wires the provider to a fresh simulator whose sale
// webhooks reach a providertest.Recorder, one URL per payment.
func conformanceHarness(t *testing.T, card string, capture payment.CaptureMethod, marketplace bool) providertest.Harness {
	t.Helper()
	sim := veparasim.New()
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	rec := providertest.NewRecorder(t)
	sim.SetWebhookURL("paykit", rec.URL()+"/cb/{invoice_id}")
	p, err := vepara.New(vepara.Config{AppID: sim.AppID(), AppSecret: sim.AppSecret(), MerchantKey: sim.MerchantKey()},
		vepara.WithBaseURL(srv.URL), vepara.WithSaleWebhookKey("paykit"))
	require.NoError(t, err)

	checkout := func(number string) func(testing.TB) *payment.StartRequest {
		return func(testing.TB) *payment.StartRequest {
			req := providertest.NewStartRequest(p.Name(), payment.MethodCard, 21000, "TRY")
			req.Payment.CaptureMethod = capture
			req.Card = &payment.Card{Number: number, ExpiryMonth: 12, ExpiryYear: 2035, CVV: "000", HolderName: "John Doe"}
			if marketplace {
				req.Payment.Items = sampleItems()
			}
			req.NotifyURL = rec.URLFor(req.Payment.ID)
			return req
		}
	}
	h := providertest.Harness{
		Provider: p,
		Checkout: checkout(card),
		Pay: func(ctx context.Context, pay *payment.Payment) (*payment.WebhookRequest, error) {
			if err := sim.Pay(ctx, pay.ID); err != nil {
				return nil, err
			}
			return rec.Next(ctx, pay.ID)
		},
		DeclinedCheckout: checkout(veparasim.CardDecline),
		Charges:          func(pay *payment.Payment) int { return sim.Charges(pay.ID) },
		UnsignedBody:     false,
	}
	if card == veparasim.CardPending {
		h.Decline = func(ctx context.Context, pay *payment.Payment) (*payment.WebhookRequest, error) {
			if err := sim.Decline(ctx, pay.ID); err != nil {
				return nil, err
			}
			return rec.Next(ctx, pay.ID)
		}
	}
	return h
}

func TestConformance(t *testing.T) {
	t.Parallel()
	t.Run("marketplace sale approved at once", func(t *testing.T) {
		t.Parallel()
		providertest.Run(t, conformanceHarness(t, veparasim.CardApprove, payment.CaptureAutomatic, true))
	})
	t.Run("2D sale the bank decides later", func(t *testing.T) {
		t.Parallel()
		providertest.Run(t, conformanceHarness(t, veparasim.CardPending, payment.CaptureAutomatic, false))
	})
	t.Run("pre-authorization", func(t *testing.T) {
		t.Parallel()
		providertest.Run(t, conformanceHarness(t, veparasim.CardApproveMastercard, payment.CaptureManual, false))
	})
}

// sampleItems are the marketplace sale sample's items: 210.00 TRY in all.
func sampleItems() []payment.Item {
	return []payment.Item{
		{ID: "1", Name: "Item1", Price: 1000, Quantity: 1, SubMerchantID: "98950-90-7111155889", SubMerchantShare: 800},
		{ID: "2", Name: "Item2", Price: 2000, Quantity: 1, SubMerchantID: "98950-89-7111157028", SubMerchantShare: 1600},
		{ID: "3", Name: "Item3", Price: 3000, Quantity: 3, SubMerchantID: "98950-88-7111133015", SubMerchantShare: 2400},
		{ID: "4", Name: "Item4", Price: 3000, Quantity: 3, SubMerchantID: "98950-90-7111155889", SubMerchantShare: 2400},
	}
}
