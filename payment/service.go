package payment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Service is paykit: the only thing that changes the state of payments,
// refunds and payouts. Build it with New; it is safe for concurrent use.
type Service struct {
	store Store
	// home is set on the Service New returned, whose store Run uses: only
	// its writes take the direct path (see direct.go). A WithStore
	// Service's writes may yet be rolled back.
	home bool
	*shared
}

// shared is everything a Service and the Services made from it by
// WithStore have in common.
type shared struct {
	cfg       *config
	log       *zap.Logger
	clock     Clock
	ids       idSource
	validate  *validator
	owner     string
	wake      chan struct{}
	locks     [64]sync.Mutex
	lockSeed  maphash.Seed
	providers []ProviderInfo
	// endpoints are the webhook endpoints by destination name.
	endpoints     map[string]*endpoint
	goneMu        sync.Mutex
	goneEndpoints map[string]bool
	direct        direct
}

// ProviderInfo describes a configured provider.
type ProviderInfo struct {
	// Object is always "provider" in JSON.
	Object string `json:"object"`
	// Name is the provider's name.
	Name string `json:"name"`
	// Methods are the payment methods it supports.
	Methods []Method `json:"methods"`
	// Currencies are the currencies it supports.
	Currencies []string `json:"currencies"`
	// Capabilities are the optional operations it supports: sync, refund,
	// cancel, capture, confirm, payout, balance, quote.
	Capabilities []string `json:"capabilities"`
}

// New returns a Service that keeps its records in store. Providers,
// subscribers and the rest come as options. It fails on a nil store or an
// invalid option; nothing is started until Run.
func New(store Store, opts ...Option) (*Service, error) {
	if store == nil {
		return nil, errors.New("payment: New: nil store")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.idempotencyLock <= cfg.providerTimeout {
		return nil, fmt.Errorf("payment: New: the idempotency lock timeout (%s) must exceed the provider timeout (%s), "+
			"or a retry could take over a request that is still waiting on the provider", cfg.idempotencyLock, cfg.providerTimeout)
	}
	if cfg.instanceID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.instanceID = "paykit-" + hex.EncodeToString(b[:])
	}
	s := &Service{store: store, home: true, shared: &shared{
		cfg:      cfg,
		log:      cfg.logger.Named("paykit"),
		clock:    cfg.clock,
		validate: newValidator(),
		owner:    cfg.instanceID,
		wake:     make(chan struct{}, 1),
		lockSeed: maphash.MakeSeed(),

		endpoints:     map[string]*endpoint{},
		goneEndpoints: map[string]bool{},
		direct:        direct{ready: make(chan struct{}, 1)},
	}}
	for _, ep := range cfg.endpoints {
		s.endpoints[ep.destination()] = ep
		// A claimed batch must be delivered within its lease, or another
		// instance may deliver it too: size the lease for the slowest
		// batch, every round of concurrent deliveries timing out.
		rounds := (cfg.dispatchBatch+cfg.dispatchConcurrency-1)/cfg.dispatchConcurrency + 1
		cfg.dispatchLease = max(cfg.dispatchLease, time.Duration(rounds)*ep.timeout)
	}
	for _, name := range cfg.providerOrder {
		p := cfg.providers[name]
		s.providers = append(s.providers, ProviderInfo{
			Object:       "provider",
			Name:         name,
			Methods:      slices.Clone(p.Methods()),
			Currencies:   slices.Clone(p.Currencies()),
			Capabilities: Capabilities(p),
		})
	}
	return s, nil
}

// WithStore returns a Service that keeps its records in store and shares
// everything else with s: providers, options, locks, and the dispatcher it
// wakes. Use it to create a payment inside the host's own transaction:
//
//	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
//		st, err := bunstore.New(tx)
//		...
//		p, err := svc.WithStore(st).Checkout(ctx, params)
//		...
//	})
//
// The provider is called inside the transaction: keep what follows
// Checkout short, since a rollback after it forgets a payment the provider
// has started (harmless for methods where the customer acts next, like QR).
// Run only the original Service's Run.
func (s *Service) WithStore(store Store) *Service {
	return &Service{store: store, shared: s.shared}
}

// Providers lists the configured providers in registration order.
func (s *Service) Providers() []ProviderInfo {
	out := make([]ProviderInfo, len(s.providers))
	copy(out, s.providers)
	return out
}

// Provider returns the configured provider of that name, or an error
// wrapping ErrUnknownProvider.
func (s *Service) Provider(name string) (Provider, error) {
	p, ok := s.cfg.providers[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownProvider, name)
	}
	return p, nil
}

// now reads the clock at the precision stores keep (microseconds), so what
// a call returns equals what a later read returns.
func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// lock serialises operations on one object within this process (capture
// against cancel, for example), on top of the store's compare-and-set.
func (s *Service) lock(id string) func() {
	m := &s.locks[maphash.String(s.lockSeed, id)%uint64(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// notifyDispatcher wakes the dispatcher after events were written.
func (s *Service) notifyDispatcher() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// providerCtx bounds a provider call.
func (s *Service) providerCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.providerTimeout)
}

func (s *Service) notifyURL(provider string) string {
	if s.cfg.webhookBaseURL == "" {
		return ""
	}
	return s.cfg.webhookBaseURL + "/webhooks/" + provider
}

// GetPayment returns a payment, or an error wrapping ErrNotFound.
func (s *Service) GetPayment(ctx context.Context, id string) (*Payment, error) {
	p, err := s.store.GetPayment(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("payment: get %s: %w", id, err)
	}
	return p, nil
}

// FindPayments returns the payments for a merchant order id, oldest first.
// An empty provider matches every provider.
func (s *Service) FindPayments(ctx context.Context, provider, orderID string) ([]*Payment, error) {
	if orderID == "" {
		return nil, MissingField("order_id")
	}
	ps, err := s.store.FindPayments(ctx, provider, orderID)
	if err != nil {
		return nil, fmt.Errorf("payment: find order %s: %w", orderID, err)
	}
	return ps, nil
}

// ListEvents returns the audit trail of a payment (its refunds included)
// or a payout, oldest first. An unknown id is ErrNotFound.
func (s *Service) ListEvents(ctx context.Context, id string) ([]Event, error) {
	if err := s.exists(ctx, id); err != nil {
		return nil, err
	}
	evs, err := s.store.ListEvents(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("payment: list events of %s: %w", id, err)
	}
	return evs, nil
}

func (s *Service) exists(ctx context.Context, id string) error {
	var err error
	switch {
	case len(id) > len(PrefixPayout) && id[:len(PrefixPayout)] == PrefixPayout:
		_, err = s.store.GetPayout(ctx, id)
	case len(id) > len(PrefixRefund) && id[:len(PrefixRefund)] == PrefixRefund:
		_, err = s.store.GetRefund(ctx, id)
	default:
		_, err = s.store.GetPayment(ctx, id)
	}
	if err != nil {
		return fmt.Errorf("payment: get %s: %w", id, err)
	}
	return nil
}

// GetRefund returns a refund, or an error wrapping ErrNotFound.
func (s *Service) GetRefund(ctx context.Context, id string) (*Refund, error) {
	r, err := s.store.GetRefund(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("payment: get refund %s: %w", id, err)
	}
	return r, nil
}

// ListRefunds returns a payment's refunds, oldest first.
func (s *Service) ListRefunds(ctx context.Context, paymentID string) ([]*Refund, error) {
	if _, err := s.GetPayment(ctx, paymentID); err != nil {
		return nil, err
	}
	rs, err := s.store.ListRefunds(ctx, paymentID)
	if err != nil {
		return nil, fmt.Errorf("payment: list refunds of %s: %w", paymentID, err)
	}
	return rs, nil
}

// ListInbox returns inbound provider events with the given status (orphans,
// for example: events no payment matched), oldest first.
func (s *Service) ListInbox(ctx context.Context, status InboxStatus, limit int) ([]*InboxMessage, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	ms, err := s.store.ListInbox(ctx, status, limit)
	if err != nil {
		return nil, fmt.Errorf("payment: list inbox: %w", err)
	}
	return ms, nil
}

// Balance returns the merchant's balance at a provider.
func (s *Service) Balance(ctx context.Context, provider string) ([]Balance, error) {
	p, err := s.Provider(provider)
	if err != nil {
		return nil, err
	}
	br, ok := p.(BalanceReader)
	if !ok {
		return nil, fmt.Errorf("%w: provider %s has no balance", ErrUnsupported, provider)
	}
	ctx, cancel := s.providerCtx(ctx)
	defer cancel()
	return br.Balance(ctx)
}

// Quote asks a provider what a payment would cost.
func (s *Service) Quote(ctx context.Context, provider string, req *QuoteRequest) (*Quote, error) {
	p, err := s.Provider(provider)
	if err != nil {
		return nil, err
	}
	q, ok := p.(Quoter)
	if !ok {
		return nil, fmt.Errorf("%w: provider %s has no quotes", ErrUnsupported, provider)
	}
	if req == nil || req.Amount.Amount <= 0 {
		return nil, InvalidField("amount", "must be a positive integer")
	}
	if _, err := CurrencyExponent(req.Amount.Currency); err != nil {
		return nil, InvalidField("currency", "must be an ISO 4217 code")
	}
	ctx, cancel := s.providerCtx(ctx)
	defer cancel()
	return q.Quote(ctx, req)
}
