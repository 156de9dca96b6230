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
