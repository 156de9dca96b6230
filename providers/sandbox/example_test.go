package sandbox_test

import (
	"context"
	"fmt"
	"time"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/sandbox"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// A QR payment, paid by the customer; the signed callback is delivered to a
// Go function and parsed back.
func Example() {
	ctx := context.Background()
	var sb *sandbox.Provider
	sb, err := sandbox.New(
		sandbox.WithClock(fixedClock{time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}),
		sandbox.WithQRImage(false),
		sandbox.WithDeliver(func(ctx context.Context, req *payment.WebhookRequest) error {
			res, err := sb.ParseWebhook(ctx, req) // what the Service's webhook route does
			if err != nil {
				return err
			}
			ev := res.Events[0]
			fmt.Println("callback:", ev.Key, ev.Payment.Status, ev.Payment.Amount)
			return nil
		}),
	)
	if err != nil {
		panic(err)
	}
	defer sb.Close()

	st, err := sb.Start(ctx, &payment.StartRequest{
		Payment: &payment.Payment{
			ID: "pay_01JD3EXAMPLE", Provider: "sandbox", Method: payment.MethodQR,
			OrderID: "order-1", Amount: 100000, Currency: "THB",
		},
		IdempotencyKey: "pay_01JD3EXAMPLE",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(st.Status, st.ProviderReference, st.NextAction.Type, st.NextAction.ExpiresAt.Format(time.TimeOnly))

	if err := sb.Pay(ctx, "pay_01JD3EXAMPLE"); err != nil {
		panic(err)
	}
	// Output:
	// requires_action sbx_ch_01JD3EXAMPLE display_qr 12:15:00
	// callback: evt_sbx_pay_01JD3EXAMPLE_succeeded succeeded 1000.00 THB
}

// The test cards and what Start makes of them.
func Example_testCards() {
	sb, err := sandbox.New()
	if err != nil {
		panic(err)
	}
	defer sb.Close()
	for i, number := range []string{
		sandbox.CardVisa, sandbox.CardMastercard, sandbox.CardAmex,
		sandbox.CardDeclined, sandbox.CardInsufficientFunds, sandbox.CardTimeout,
	} {
		cvv := "123"
		if number == sandbox.CardAmex {
			cvv = "1234"
		}
		id := fmt.Sprintf("pay_card%d", i)
		st, err := sb.Start(context.Background(), &payment.StartRequest{
			Payment: &payment.Payment{
				ID: id, Provider: "sandbox", Method: payment.MethodCard, OrderID: id, Amount: 5000, Currency: "USD",
			},
			IdempotencyKey: id,
			Card:           &payment.Card{Number: number, ExpiryMonth: 12, ExpiryYear: 2099, CVV: cvv},
		})
		switch {
		case err != nil:
			fmt.Printf("%s: retryable=%v\n", number, payment.IsRetryable(err))
		case st.Failure != nil:
			fmt.Printf("%s: %s %s\n", number, st.Status, st.Failure.Code)
		default:
			fmt.Printf("%s: %s %s\n", number, st.Status, st.Card.Brand)
		}
	}
	// Output:
	// 4111111111111111: succeeded visa
	// 5555555555554444: succeeded mastercard
	// 378282246310005: succeeded amex
	// 4000000000000002: failed card_declined
	// 4000000000009995: failed insufficient_funds
	// 4000000000000119: retryable=true
}

// Building a signed callback for a test, and what ParseWebhook says of it.
func ExampleSignWebhook() {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	sb, err := sandbox.New(sandbox.WithClock(fixedClock{now}))
	if err != nil {
		panic(err)
	}
	defer sb.Close()
	body := []byte(`{"id":"evt_1","type":"payment.succeeded","data":{"object":"payment","id":"pay_1",` +
		`"reference":"sbx_ch_1","status":"succeeded","amount":100000,"currency":"THB"}}`)

	res, err := sb.ParseWebhook(context.Background(), sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, body))
	fmt.Println(res.Events[0].PaymentID, res.Events[0].Payment.Status, err)

	_, err = sb.ParseWebhook(context.Background(), sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now.Add(-time.Hour), body))
	fmt.Println(err)
	// Output:
	// pay_1 succeeded <nil>
	// sandbox: webhook: timestamp outside the tolerance: payment: invalid signature
}

// Fees and instalment plans.
func ExampleProvider_Quote() {
	sb, err := sandbox.New()
	if err != nil {
		panic(err)
	}
	defer sb.Close()
	q, err := sb.Quote(context.Background(), &payment.QuoteRequest{
		Amount: payment.Money{Amount: 100000, Currency: "THB"}, Method: payment.MethodCard,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("fee:", q.Fee)
	for _, plan := range q.Installments {
		first := plan.Total - plan.PerInstallment*int64(plan.Count-1)
		fmt.Printf("%d x %d (first %d) = %d\n", plan.Count, plan.PerInstallment, first, plan.Total)
	}
	// Output:
	// fee: 2950
	// 3 x 33833 (first 33834) = 101500
	// 6 x 17166 (first 17170) = 103000
	// 12 x 8833 (first 8837) = 106000
}

// Payouts wait for the bank; the sandbox plays it.
func ExampleProvider_StartPayout() {
	ctx := context.Background()
	sb, err := sandbox.New(sandbox.WithOpeningBalance("THB", 1000000))
	if err != nil {
		panic(err)
	}
	defer sb.Close()
	po := &payment.Payout{
		ID: "po_1", Provider: "sandbox", OrderID: "wd-1", Amount: 100000, Currency: "THB",
		BankAccount: payment.BankAccount{BankCode: "KBANK", Number: "1234567890", Name: "John Doe"},
	}
	st, err := sb.StartPayout(ctx, &payment.PayoutRequest{Payout: po, IdempotencyKey: po.ID})
	if err != nil {
		panic(err)
	}
	fmt.Println(st.Status, *st.Fee, *st.TransferAmount)
	if err := sb.CompletePayout(ctx, po.ID); err != nil {
		panic(err)
	}
	st, _ = sb.SyncPayout(ctx, po)
	fmt.Println(st.Status)
	bal, _ := sb.Balance(ctx)
	fmt.Println(bal[1])
	// Output:
	// pending 1000 99000
	// succeeded
	// {THB 900000 0}
}
