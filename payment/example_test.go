package payment_test

import (
	"context"
	"fmt"
	"log"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/sandbox"
	"github.com/paykit/paykit/store/memstore"
)

// newExampleService wires the sandbox so that its customer actions deliver
// signed callbacks straight into the Service's webhook handling.
func newExampleService() (*payment.Service, *sandbox.Provider) {
	var svc *payment.Service
	sb, err := sandbox.New(sandbox.WithDeliver(func(ctx context.Context, req *payment.WebhookRequest) error {
		_, err := svc.HandleWebhook(ctx, "sandbox", req)
		return err
	}))
	if err != nil {
		log.Fatal(err)
	}
	svc, err = payment.New(memstore.New(), payment.WithProvider(sb))
	if err != nil {
		log.Fatal(err)
	}
	return svc, sb
}

func ExampleNew() {
	sb, err := sandbox.New()
	if err != nil {
		log.Fatal(err)
	}
	svc, err := payment.New(memstore.New(),
		payment.WithProvider(sb),
		payment.WithSubscriber(func(_ context.Context, e payment.Event) error {
			fmt.Println("event:", e.Type)
			return nil
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range svc.Providers() {
		fmt.Println(p.Name, p.Methods, p.Capabilities)
	}
	// Output:
	// sandbox [card qr bank_transfer] [sync refund cancel capture confirm payout balance quote]
}

func ExampleService_Checkout() {
	svc, _ := newExampleService()
	p, err := svc.Checkout(context.Background(), &payment.CheckoutParams{
		Provider: "sandbox", Method: payment.MethodQR, OrderID: "482500007436",
		Amount: 100000, Currency: "THB", IdempotencyKey: "checkout-482500007436",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Status, p.NextAction.Type, p.Money())
	// Output: requires_action display_qr 1000.00 THB
}

func ExampleService_HandleWebhook() {
	svc, sb := newExampleService()
	ctx := context.Background()
	p, err := svc.Checkout(ctx, &payment.CheckoutParams{
		Provider: "sandbox", Method: payment.MethodQR, OrderID: "order-1", Amount: 50000, Currency: "THB",
	})
	if err != nil {
		log.Fatal(err)
	}
	// The customer scans and pays; the sandbox sends its signed callback,
	// which HandleWebhook verifies, deduplicates and applies.
	if err := sb.Pay(ctx, p.ID); err != nil {
		log.Fatal(err)
	}
	p, _ = svc.GetPayment(ctx, p.ID)
	fmt.Println(p.Status)
	// Output: succeeded
}

func ExampleService_Refund() {
	svc, _ := newExampleService()
	ctx := context.Background()
	p, err := svc.Checkout(ctx, &payment.CheckoutParams{
		Provider: "sandbox", Method: payment.MethodCard, OrderID: "order-2", Amount: 10000, Currency: "THB",
		Card: &payment.Card{Number: "4111111111111111", ExpiryMonth: 12, ExpiryYear: 2030, CVV: "123"},
	})
	if err != nil {
		log.Fatal(err)
	}
	r, err := svc.Refund(ctx, &payment.RefundParams{PaymentID: p.ID, Amount: 2500, Reason: "one item returned"})
	if err != nil {
		log.Fatal(err)
	}
	p, _ = svc.GetPayment(ctx, p.ID)
	fmt.Println(r.Status, r.Amount, p.Status, p.Refundable())
	// Output: succeeded 2500 partially_refunded 7500
}
