package payment_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/payment/paymenttest"
	"github.com/paykit/paykit/providers/sandbox"
	"github.com/paykit/paykit/store/memstore"
)

func benchService(b *testing.B) (*payment.Service, *sandbox.Provider) {
	b.Helper()
	sb, err := sandbox.New(sandbox.WithQRImage(false), sandbox.WithDeliver(func(context.Context, *payment.WebhookRequest) error { return nil }))
	if err != nil {
		b.Fatal(err)
	}
	svc, err := payment.New(memstore.New(), payment.WithProvider(sb))
	if err != nil {
		b.Fatal(err)
	}
	return svc, sb
}

// BenchmarkCheckout: a QR checkout on memstore + sandbox (validate, record
// pending, start, record requires_action, two events).
func BenchmarkCheckout(b *testing.B) {
	svc, _ := benchService(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		params := paymenttest.QRCheckout("sandbox", fmt.Sprintf("bench-%d", i), 100000, "THB")
		if _, err := svc.Checkout(ctx, params); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWebhook: a signed sandbox callback that moves a payment to
// succeeded (verify, inbox, compare-and-set, event, outbox).
func BenchmarkWebhook(b *testing.B) {
	svc, _ := benchService(b)
	ctx := context.Background()
	const n = 4096
	reqs := make([]*payment.WebhookRequest, 0, n)
	for i := range n {
		p, err := svc.Checkout(ctx, paymenttest.QRCheckout("sandbox", fmt.Sprintf("wh-%d", i), 100000, "THB"))
		if err != nil {
			b.Fatal(err)
		}
		body := fmt.Sprintf(`{"id":"evt_bench_%d","type":"payment.succeeded","created":%d,`+
			`"data":{"object":"payment","id":%q,"reference":%q,"status":"succeeded","amount":100000,"currency":"THB"}}`,
			i, time.Now().Unix(), p.ID, p.ProviderReference)
		reqs = append(reqs, sandbox.SignWebhook(sandbox.DefaultWebhookSecret, time.Now(), []byte(body)))
	}
	i := 0
	for b.Loop() {
		if _, err := svc.HandleWebhook(ctx, "sandbox", reqs[i%n]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
