package memstore_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/store/memstore"
)

func benchPayment(i int, at time.Time) *payment.Payment {
	n := strconv.Itoa(i)
	return &payment.Payment{
		Object:        "payment",
		ID:            "pay_bench_" + n,
		Provider:      "sandbox",
		Method:        payment.MethodCard,
		OrderID:       "ord_" + n,
		Amount:        10000,
		Currency:      "THB",
		Status:        payment.StatusPending,
		CaptureMethod: payment.CaptureAutomatic,
		Metadata:      map[string]string{"cart": "c_1"},
		CreatedAt:     at,
		UpdatedAt:     at,
	}
}

// subscribers is the destination list of the benchmarks' events.
var subscribers = []string{"subscribers"}

func benchEvent(p *payment.Payment, at time.Time) payment.Event {
	return payment.Event{
		Object:    "event",
		ID:        "evt_" + p.ID + "_" + strconv.FormatInt(p.Version, 10),
		Type:      payment.EventPaymentCreated,
		ObjectID:  p.ID,
		PaymentID: p.ID,
		To:        string(p.Status),
		Source:    payment.SourceAPI,
		Data:      json.RawMessage(`{"id":"` + p.ID + `"}`),
		CreatedAt: at,
	}
}

func BenchmarkCreatePayment(b *testing.B) {
	s := memstore.New()
	ctx := b.Context()
	at := time.Now().UTC()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		p := benchPayment(i, at)
		if err := s.CreatePayment(ctx, p, []payment.Event{benchEvent(p, at)}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkUpdatePayment(b *testing.B) {
	s := memstore.New()
	ctx := b.Context()
	at := time.Now().UTC()
	p := benchPayment(0, at)
	if err := s.CreatePayment(ctx, p, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.UpdatedAt = at
		if err := s.UpdatePayment(ctx, p, []payment.Event{benchEvent(p, at)}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetPaymentParallel(b *testing.B) {
	s := memstore.New()
	ctx := b.Context()
	at := time.Now().UTC()
	for i := range 1000 {
		if err := s.CreatePayment(ctx, benchPayment(i, at), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.GetPayment(ctx, "pay_bench_"+strconv.Itoa(i%1000)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// qrPayment is a payment as a sandbox QR checkout leaves it: customer,
// metadata, a QR next action and the times the sweeper needs.
func qrPayment(i int, at time.Time) *payment.Payment {
	p := benchPayment(i, at)
	p.Method = payment.MethodQR
	p.Description = "Order " + p.OrderID
	p.Customer = &payment.Customer{ID: "customer-123", Name: "John Doe", Email: "john@example.com", Phone: "+66812345678"}
	p.ReturnURL = "https://shop.example/return"
	exp := at.Add(15 * time.Minute)
	sync := at.Add(time.Minute)
	p.ExpiresAt, p.NextSyncAt = &exp, &sync
	return p
}

// BenchmarkCheckoutFlow is the store's share of one checkout and its
// notification: create the payment with its event, move it to
// requires_action with a QR code and another event, read it back, then
// what the dispatcher does for its messages (claim, acknowledge the batch).
func BenchmarkCheckoutFlow(b *testing.B) {
	s := memstore.New()
	ctx := b.Context()
	at := time.Now().UTC()
	data := json.RawMessage(`{"object":"payment","id":"pay_01JD3ABCDEFGHJKMNPQRSTVWXY","provider":"sandbox","method":"qr",` +
		`"order_id":"ord_1","amount":100000,"currency":"THB","status":"requires_action","next_action":{"type":"display_qr",` +
		`"qr_code":"00020101021229370016A000000677010111011300668123456785802TH530376454061000.006304ABCD"}}`)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		p := qrPayment(i, at)
		created := benchEvent(p, at)
		created.Data, created.Destinations = data, subscribers
		if err := s.CreatePayment(ctx, p, []payment.Event{created}); err != nil {
			b.Fatal(err)
		}
		exp := at.Add(15 * time.Minute)
		p.Status = payment.StatusRequiresAction
		p.ProviderReference = "sbx_ch_" + p.ID
		p.NextAction = &payment.NextAction{Type: payment.NextActionDisplayQR, QRCode: "000201010212", ExpiresAt: &exp}
		action := benchEvent(p, at)
		action.Type, action.Data, action.Destinations = payment.EventPaymentRequiresAction, data, subscribers
		if err := s.UpdatePayment(ctx, p, []payment.Event{action}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.GetPayment(ctx, p.ID); err != nil {
			b.Fatal(err)
		}
		for {
			ms, err := s.ClaimOutbox(ctx, "bench", at, time.Minute, 10)
			if err != nil {
				b.Fatal(err)
			}
			if len(ms) == 0 {
				break
			}
			ids := make([]string, len(ms))
			for j, m := range ms {
				ids[j] = m.ID
			}
			if n, err := s.AckOutbox(ctx, "bench", ids, at); err != nil || n != len(ids) {
				b.Fatal(n, err)
			}
		}
		i++
	}
}

func BenchmarkGetQRPaymentParallel(b *testing.B) {
	s := memstore.New()
	ctx := b.Context()
	at := time.Now().UTC()
	for i := range 1000 {
		p := qrPayment(i, at)
		p.NextAction = &payment.NextAction{Type: payment.NextActionDisplayQR, QRCode: "000201010212", ExpiresAt: p.ExpiresAt}
		if err := s.CreatePayment(ctx, p, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.GetPayment(ctx, "pay_bench_"+strconv.Itoa(i%1000)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkClaimDueNoneDue is a sweep of a store holding 100,000 pending
// payments, none of them due yet (a shop's unpaid QR checkouts): the
// store's lock is held for as long as the claim takes.
func BenchmarkClaimDueNoneDue(b *testing.B) {
	s := memstore.New()
	at := time.Now().UTC()
	for i := range 100_000 {
		p := benchPayment(i, at)
		next := at.Add(time.Hour + time.Duration(i)*time.Millisecond)
		p.NextSyncAt = &next
		if err := s.CreatePayment(b.Context(), p, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		ps, err := s.ClaimDuePayments(b.Context(), at, time.Minute, 100)
		if err != nil || len(ps) != 0 {
			b.Fatal(err, len(ps))
		}
	}
}
