package httpx_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/paykit/paykit/payment"
)

// fakeProvider is a provider whose Start and Balance do what the test
// says. It accepts qr payments in THB and verifies no webhook.
type fakeProvider struct {
	name    string
	start   func(ctx context.Context, req *payment.StartRequest) (*payment.PaymentState, error)
	balance func(ctx context.Context) ([]payment.Balance, error)
	starts  atomic.Int64
}

var (
	_ payment.Provider      = (*fakeProvider)(nil)
	_ payment.BalanceReader = (*fakeProvider)(nil)
)

func (f *fakeProvider) Name() string { return f.name }

func (f *fakeProvider) Methods() []payment.Method { return []payment.Method{payment.MethodQR} }

func (f *fakeProvider) Currencies() []string { return []string{"THB"} }

func (f *fakeProvider) Start(ctx context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
	f.starts.Add(1)
	if f.start == nil {
		return &payment.PaymentState{Status: payment.StatusRequiresAction, ProviderReference: "fake_" + req.Payment.ID}, nil
	}
	return f.start(ctx, req)
}

func (f *fakeProvider) ParseWebhook(context.Context, *payment.WebhookRequest) (*payment.WebhookResult, error) {
	return nil, fmt.Errorf("fake: %w", payment.ErrInvalidSignature)
}

func (f *fakeProvider) Balance(ctx context.Context) ([]payment.Balance, error) {
	if f.balance == nil {
		return []payment.Balance{{Currency: "THB", Available: 1, Pending: 2}}, nil
	}
	return f.balance(ctx)
}

// blockingProvider is a fakeProvider whose Start signals entered and
// waits for release (or the request's end). release may be called more
// than once.
func blockingProvider(name string) (p *fakeProvider, entered <-chan struct{}, release func()) {
	in := make(chan struct{}, 1000)
	out := make(chan struct{})
	p = &fakeProvider{name: name, start: func(ctx context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
		in <- struct{}{}
		select {
		case <-out:
		case <-ctx.Done():
			return nil, &payment.ProviderError{Provider: name, Op: "start", Retryable: true, Err: ctx.Err()}
		}
		return &payment.PaymentState{Status: payment.StatusRequiresAction, ProviderReference: "fake_" + req.Payment.ID}, nil
	}}
	var once sync.Once
	return p, in, func() { once.Do(func() { close(out) }) }
}
