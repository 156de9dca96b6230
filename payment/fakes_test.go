package payment_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/payment/paymenttest"
	"github.com/paykit/paykit/providers/sandbox"
	"github.com/paykit/paykit/store/memstore"
	"github.com/stretchr/testify/require"
)

// t0 is where every test clock starts.
var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// bundle is what most tests need: a Service on memstore with the sandbox
// and a scripted provider, a clock, and a recorder of notifications.
type bundle struct {
	svc      *payment.Service
	store    payment.Store
	sandbox  *sandbox.Provider
	scripted *scripted
	clock    *paymenttest.Clock
	rec      *paymenttest.Recorder
}

type setupOpt func(*[]payment.Option, *payment.Store)

func withStore(wrap func(payment.Store) payment.Store) setupOpt {
	return func(_ *[]payment.Option, s *payment.Store) { *s = wrap(*s) }
}

func withOptions(opts ...payment.Option) setupOpt {
	return func(o *[]payment.Option, _ *payment.Store) { *o = append(*o, opts...) }
}

func setup(t testing.TB, extra ...setupOpt) *bundle {
	t.Helper()
	clock := paymenttest.NewClock(t0)
	sb, err := sandbox.New(sandbox.WithClock(clock), sandbox.WithOpeningBalance("THB", 100_000_000), sandbox.WithDeliver(func(context.Context, *payment.WebhookRequest) error { return nil }))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	sc := &scripted{name: "scripted"}
	rec := paymenttest.NewRecorder()
	var store payment.Store = memstore.New()
	opts := []payment.Option{
		payment.WithProvider(sb), payment.WithProvider(sc), payment.WithClock(clock),
		payment.WithSubscriber(rec.Subscriber()),
	}
	for _, e := range extra {
		e(&opts, &store)
	}
	svc, err := payment.New(store, opts...)
	require.NoError(t, err)
	return &bundle{svc: svc, store: store, sandbox: sb, scripted: sc, clock: clock, rec: rec}
}

// drain delivers every due notification and returns the recorded events.
func (b *bundle) drain(t testing.TB) []payment.Event {
	t.Helper()
	_, err := b.svc.Dispatch(context.Background())
	require.NoError(t, err)
	return b.rec.Events()
}

// scripted is a fake provider whose answers the test decides. Its webhooks
// are JSON bodies of scriptedEvent, "signed" with the header X-Sig: ok.
type scripted struct {
	name   string
	starts atomic.Int64
	mu     sync.Mutex
	start  func(*payment.StartRequest) (*payment.PaymentState, error)
	sync   func(*payment.Payment) (*payment.PaymentState, error)
}

type scriptedEvent struct {
	Key       string         `json:"key"`
	PaymentID string         `json:"payment_id,omitempty"`
	Reference string         `json:"reference,omitempty"`
	Status    payment.Status `json:"status"`
	Amount    *payment.Money `json:"amount,omitempty"`
}

func (s *scripted) Name() string { return s.name }
func (s *scripted) Methods() []payment.Method {
	return []payment.Method{payment.MethodQR, payment.MethodCard}
}
func (s *scripted) Currencies() []string { return []string{"THB", "VND"} }
func (s *scripted) setStart(f func(*payment.StartRequest) (*payment.PaymentState, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start = f
}

func (s *scripted) setSync(f func(*payment.Payment) (*payment.PaymentState, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sync = f
}

func (s *scripted) Start(_ context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
	s.starts.Add(1)
	s.mu.Lock()
	f := s.start
	s.mu.Unlock()
	if f != nil {
		return f(req)
	}
	return &payment.PaymentState{
		Status: payment.StatusRequiresAction, ProviderReference: "ref_" + req.IdempotencyKey,
		NextAction: &payment.NextAction{Type: payment.NextActionDisplayQR, QRCode: "000201"},
	}, nil
}

func (s *scripted) Sync(_ context.Context, p *payment.Payment) (*payment.PaymentState, error) {
	s.mu.Lock()
	f := s.sync
	s.mu.Unlock()
	if f == nil {
		return &payment.PaymentState{Status: p.Status}, nil
	}
	return f(p)
}

func (s *scripted) ParseWebhook(_ context.Context, req *payment.WebhookRequest) (*payment.WebhookResult, error) {
	if req.Header.Get("X-Sig") != "ok" {
		return nil, payment.ErrInvalidSignature
	}
	var ev scriptedEvent
	if err := json.Unmarshal(req.Body, &ev); err != nil {
		return nil, fmt.Errorf("%w: %w", payment.ErrInvalidInput, err)
	}
	return &payment.WebhookResult{
		Events: []payment.WebhookEvent{{
			Key: ev.Key, PaymentID: ev.PaymentID, ProviderReference: ev.Reference,
			Payment: &payment.PaymentState{Status: ev.Status, Amount: ev.Amount},
		}},
		Ack: &payment.WebhookAck{StatusCode: http.StatusOK, ContentType: "application/json", Body: []byte(`{"ok":true}`)},
	}, nil
}

var (
	_ payment.Provider = (*scripted)(nil)
	_ payment.Syncer   = (*scripted)(nil)
)

// hook sends a scripted webhook.
func (b *bundle) hook(ctx context.Context, ev scriptedEvent) (*payment.WebhookAck, error) {
	body, _ := json.Marshal(ev)
	return b.svc.HandleWebhook(ctx, "scripted", &payment.WebhookRequest{
		Header: http.Header{"X-Sig": []string{"ok"}}, Body: body,
	})
}

// faultyStore fails chosen calls, to play a crash or an outage, and counts
// the calls it wraps.
type faultyStore struct {
	payment.Store
	mu       sync.Mutex
	failNext map[string]int // method -> how many calls to fail
	calls    map[string]int // method -> calls since the last takeCalls
	down     atomic.Bool
}

func newFaultyStore(s payment.Store) *faultyStore {
	return &faultyStore{Store: s, failNext: map[string]int{}, calls: map[string]int{}}
}

// takeCalls returns the calls counted since the last time, and starts over.
func (f *faultyStore) takeCalls() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = map[string]int{}
	return c
}

var errStoreDown = fmt.Errorf("test: store down: %w", payment.ErrUnavailable)

func (f *faultyStore) fail(method string, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext[method] = times
}

func (f *faultyStore) check(method string) error {
	if f.down.Load() {
		return errStoreDown
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method]++
	if f.failNext[method] > 0 {
		f.failNext[method]--
		return errStoreDown
	}
	return nil
}

func (f *faultyStore) GetPayment(ctx context.Context, id string) (*payment.Payment, error) {
	if err := f.check("GetPayment"); err != nil {
		return nil, err
	}
	return f.Store.GetPayment(ctx, id)
}

func (f *faultyStore) UpdatePayment(ctx context.Context, p *payment.Payment, evs []payment.Event) error {
	if err := f.check("UpdatePayment"); err != nil {
		return err
	}
	return f.Store.UpdatePayment(ctx, p, evs)
}

func (f *faultyStore) RecordInbox(ctx context.Context, m *payment.InboxMessage) (*payment.InboxMessage, bool, error) {
	if err := f.check("RecordInbox"); err != nil {
		return nil, false, err
	}
	return f.Store.RecordInbox(ctx, m)
}

func (f *faultyStore) GetInbox(ctx context.Context, provider, eventKey string) (*payment.InboxMessage, error) {
	if err := f.check("GetInbox"); err != nil {
		return nil, err
	}
	return f.Store.GetInbox(ctx, provider, eventKey)
}

func (f *faultyStore) AppendEvents(ctx context.Context, evs []payment.Event) error {
	if err := f.check("AppendEvents"); err != nil {
		return err
	}
	return f.Store.AppendEvents(ctx, evs)
}

func (f *faultyStore) UpdateInbox(ctx context.Context, m *payment.InboxMessage) error {
	if err := f.check("UpdateInbox"); err != nil {
		return err
	}
	return f.Store.UpdateInbox(ctx, m)
}

func isUnavailable(err error) bool { return errors.Is(err, payment.ErrUnavailable) }
