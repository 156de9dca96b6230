package storetest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/store/memstore"
	"github.com/paykit/paykit/store/storetest"
)

// A conformance suite that cannot fail proves nothing: each mutant below
// breaks one contract of a correct store, and the suite must catch it.

type noCAS struct{ payment.Store }

func (m noCAS) UpdatePayment(ctx context.Context, p *payment.Payment, events []payment.Event) error {
	if cur, err := m.GetPayment(ctx, p.ID); err == nil {
		p.Version = cur.Version
	}
	return m.Store.UpdatePayment(ctx, p, events)
}

type refundNoCAS struct{ payment.Store }

func (m refundNoCAS) CreateRefund(ctx context.Context, r *payment.Refund, p *payment.Payment, events []payment.Event) error {
	if cur, err := m.GetPayment(ctx, p.ID); err == nil {
		p.Version = cur.Version
	}
	return m.Store.CreateRefund(ctx, r, p, events)
}

type sharedPointer struct {
	payment.Store
	mu   *sync.Mutex
	seen map[string]*payment.Payment
}

func (m sharedPointer) GetPayment(ctx context.Context, id string) (*payment.Payment, error) {
	p, err := m.Store.GetPayment(ctx, id)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.seen[id]; ok && old.Version == p.Version {
		return old, nil
	}
	m.seen[id] = p
	return p, nil
}

type localTime struct{ payment.Store }

func (m localTime) GetPayment(ctx context.Context, id string) (*payment.Payment, error) {
	p, err := m.Store.GetPayment(ctx, id)
	if p != nil {
		p.CreatedAt = p.CreatedAt.In(time.FixedZone("X", 3600))
	}
	return p, err
}

type reversedEvents struct{ payment.Store }

func (m reversedEvents) ListEvents(ctx context.Context, id string) ([]payment.Event, error) {
	evs, err := m.Store.ListEvents(ctx, id)
	slices.Reverse(evs)
	return evs, err
}

type nilFind struct{ payment.Store }

func (m nilFind) FindPayments(ctx context.Context, provider, orderID string) ([]*payment.Payment, error) {
	ps, err := m.Store.FindPayments(ctx, provider, orderID)
	if len(ps) == 0 {
		return nil, err
	}
	return ps, err
}

type inboxNoDedup struct{ payment.Store }

func (m inboxNoDedup) RecordInbox(ctx context.Context, msg *payment.InboxMessage) (*payment.InboxMessage, bool, error) {
	stored, _, err := m.Store.RecordInbox(ctx, msg)
	return stored, true, err
}

type idemAlwaysAcquire struct{ payment.Store }

func (m idemAlwaysAcquire) AcquireIdempotencyKey(ctx context.Context, rec *payment.IdempotencyRecord, now time.Time) (*payment.IdempotencyRecord, bool, error) {
	stored, _, err := m.Store.AcquireIdempotencyKey(ctx, rec, now)
	return stored, true, err
}

type claimOverLimit struct{ payment.Store }

func (m claimOverLimit) ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*payment.OutboxMessage, error) {
	return m.Store.ClaimOutbox(ctx, owner, now, lease, limit+1)
}

type claimNoLease struct{ payment.Store }

func (m claimNoLease) ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*payment.OutboxMessage, error) {
	msgs, err := m.Store.ClaimOutbox(ctx, owner, now, 0, limit)
	for _, msg := range msgs {
		msg.LeaseUntil = now.Add(lease).UTC()
	}
	return msgs, err
}

// redirected rewrites the Destinations of every event a write appends, on a
// copy of the events, before the correct store writes them.
type redirected struct {
	payment.Store
	dests func([]string) []string
}

func (m redirected) events(events []payment.Event) []payment.Event {
	out := slices.Clone(events)
	for i := range out {
		out[i].Destinations = m.dests(slices.Clone(out[i].Destinations))
	}
	return out
}

func (m redirected) CreatePayment(ctx context.Context, p *payment.Payment, events []payment.Event) error {
	return m.Store.CreatePayment(ctx, p, m.events(events))
}

func (m redirected) UpdatePayment(ctx context.Context, p *payment.Payment, events []payment.Event) error {
	return m.Store.UpdatePayment(ctx, p, m.events(events))
}

func (m redirected) CreateRefund(ctx context.Context, r *payment.Refund, p *payment.Payment, events []payment.Event) error {
	return m.Store.CreateRefund(ctx, r, p, m.events(events))
}

func (m redirected) UpdateRefund(ctx context.Context, r *payment.Refund, p *payment.Payment, events []payment.Event) error {
	return m.Store.UpdateRefund(ctx, r, p, m.events(events))
}

func (m redirected) CreatePayout(ctx context.Context, p *payment.Payout, events []payment.Event) error {
	return m.Store.CreatePayout(ctx, p, m.events(events))
}

func (m redirected) UpdatePayout(ctx context.Context, p *payment.Payout, events []payment.Event) error {
	return m.Store.UpdatePayout(ctx, p, m.events(events))
}

// reverseDestinations writes each event's messages in the reverse order of
// its Destinations.
func reverseDestinations(d []string) []string { slices.Reverse(d); return d }

// dropDestinations writes no outbox message.
func dropDestinations([]string) []string { return nil }

// ackAnyOwner acknowledges a message whoever holds it: it remembers who
// claimed each message and acks it as that owner.
type ackAnyOwner struct {
	payment.Store
	mu     *sync.Mutex
	holder map[string]string
}

func (m ackAnyOwner) ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*payment.OutboxMessage, error) {
	msgs, err := m.Store.ClaimOutbox(ctx, owner, now, lease, limit)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, msg := range msgs {
		m.holder[msg.ID] = owner
	}
	return msgs, err
}

func (m ackAnyOwner) AckOutbox(ctx context.Context, owner string, ids []string, now time.Time) (int, error) {
	n, err := m.Store.AckOutbox(ctx, owner, ids, now)
	if err != nil || owner == "" {
		return n, err
	}
	for _, id := range ids {
		m.mu.Lock()
		h := m.holder[id]
		m.mu.Unlock()
		if h == "" || h == owner {
			continue
		}
		k, err := m.Store.AckOutbox(ctx, h, []string{id}, now)
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

// ackCountsIDs reports every id as marked.
type ackCountsIDs struct{ payment.Store }

func (m ackCountsIDs) AckOutbox(ctx context.Context, owner string, ids []string, now time.Time) (int, error) {
	_, err := m.Store.AckOutbox(ctx, owner, ids, now)
	return len(ids), err
}

// keptDestinations hands events back with Destinations.
type keptDestinations struct{ payment.Store }

func (m keptDestinations) ListEvents(ctx context.Context, id string) ([]payment.Event, error) {
	evs, err := m.Store.ListEvents(ctx, id)
	for i := range evs {
		evs[i].Destinations = []string{"subscribers"}
	}
	return evs, err
}

// failAsRetry "fails" a message by retrying it far in the future: it is not
// claimable, but it still holds back its stream and is never listed.
type failAsRetry struct{ payment.Store }

func (m failAsRetry) FailOutbox(ctx context.Context, id, owner, lastErr string, now time.Time) error {
	return m.RetryOutbox(ctx, id, owner, now.AddDate(100, 0, 0), lastErr)
}

type dueNoLease struct{ payment.Store }

func (m dueNoLease) ClaimDuePayments(ctx context.Context, now time.Time, _ time.Duration, limit int) ([]*payment.Payment, error) {
	return m.Store.ClaimDuePayments(ctx, now, 0, limit)
}

type missingAsConflict struct{ payment.Store }

func (m missingAsConflict) UpdatePayment(ctx context.Context, p *payment.Payment, events []payment.Event) error {
	err := m.Store.UpdatePayment(ctx, p, events)
	if errors.Is(err, payment.ErrNotFound) {
		return payment.ErrConflict
	}
	return err
}

// carrying intercepts every write that appends events: write makes it, by
// calling do with the events to pass to the correct store, the mutant's
// way.
type carrying struct {
	payment.Store
	write func(ctx context.Context, events []payment.Event, do func([]payment.Event) error) error
}

func (m carrying) CreatePayment(ctx context.Context, p *payment.Payment, events []payment.Event) error {
	return m.write(ctx, events, func(evs []payment.Event) error { return m.Store.CreatePayment(ctx, p, evs) })
}

func (m carrying) UpdatePayment(ctx context.Context, p *payment.Payment, events []payment.Event) error {
	return m.write(ctx, events, func(evs []payment.Event) error { return m.Store.UpdatePayment(ctx, p, evs) })
}

func (m carrying) CreateRefund(ctx context.Context, r *payment.Refund, p *payment.Payment, events []payment.Event) error {
	return m.write(ctx, events, func(evs []payment.Event) error { return m.Store.CreateRefund(ctx, r, p, evs) })
}

func (m carrying) UpdateRefund(ctx context.Context, r *payment.Refund, p *payment.Payment, events []payment.Event) error {
	return m.write(ctx, events, func(evs []payment.Event) error { return m.Store.UpdateRefund(ctx, r, p, evs) })
}

func (m carrying) CreatePayout(ctx context.Context, p *payment.Payout, events []payment.Event) error {
	return m.write(ctx, events, func(evs []payment.Event) error { return m.Store.CreatePayout(ctx, p, evs) })
}

func (m carrying) UpdatePayout(ctx context.Context, p *payment.Payout, events []payment.Event) error {
	return m.write(ctx, events, func(evs []payment.Event) error { return m.Store.UpdatePayout(ctx, p, evs) })
}

func (m carrying) AppendEvents(ctx context.Context, events []payment.Event) error {
	return m.write(ctx, events, func(evs []payment.Event) error { return m.Store.AppendEvents(ctx, evs) })
}

// stripInbox returns a copy of events without their Inbox messages, and the
// messages.
func stripInbox(events []payment.Event) ([]payment.Event, []*payment.InboxMessage) {
	out := slices.Clone(events)
	var msgs []*payment.InboxMessage
	for i := range out {
		if out[i].Inbox != nil {
			msgs = append(msgs, out[i].Inbox)
			out[i].Inbox = nil
		}
	}
	return out, msgs
}

// ignoreInbox writes the events without their Inbox messages.
func ignoreInbox(s payment.Store) payment.Store {
	return carrying{s, func(_ context.Context, events []payment.Event, do func([]payment.Event) error) error {
		evs, _ := stripInbox(events)
		return do(evs)
	}}
}

// inboxAfter writes the events, then records their Inbox messages with
// RecordInbox, a second step: a message stored already is reported after
// the write is done (ErrAlreadyExists), or not at all when silent.
func inboxAfter(silent bool) func(payment.Store) payment.Store {
	return func(s payment.Store) payment.Store {
		return carrying{s, func(ctx context.Context, events []payment.Event, do func([]payment.Event) error) error {
			evs, msgs := stripInbox(events)
			if err := do(evs); err != nil {
				return err
			}
			for _, msg := range msgs {
				_, inserted, err := s.RecordInbox(ctx, msg)
				if err != nil {
					return err
				}
				if !inserted && !silent {
					return fmt.Errorf("inbox message %s/%s: %w", msg.Provider, msg.EventKey, payment.ErrAlreadyExists)
				}
			}
			return nil
		}}
	}
}

// inboxFirst records the Inbox messages with RecordInbox before the write,
// and keeps them when the write then fails.
func inboxFirst(s payment.Store) payment.Store {
	return carrying{s, func(ctx context.Context, events []payment.Event, do func([]payment.Event) error) error {
		evs, msgs := stripInbox(events)
		for _, msg := range msgs {
			_, inserted, err := s.RecordInbox(ctx, msg)
			if err != nil {
				return err
			}
			if !inserted {
				return fmt.Errorf("inbox message %s/%s: %w", msg.Provider, msg.EventKey, payment.ErrAlreadyExists)
			}
		}
		return do(evs)
	}}
}

// inboxCheckFirst looks the Inbox messages up before the write and records
// them after it: right one call at a time, but two concurrent writes both
// pass the check.
func inboxCheckFirst(s payment.Store) payment.Store {
	return carrying{s, func(ctx context.Context, events []payment.Event, do func([]payment.Event) error) error {
		evs, msgs := stripInbox(events)
		for _, msg := range msgs {
			if _, err := s.GetInbox(ctx, msg.Provider, msg.EventKey); err == nil {
				return fmt.Errorf("inbox message %s/%s: %w", msg.Provider, msg.EventKey, payment.ErrAlreadyExists)
			}
		}
		time.Sleep(time.Millisecond) // the time a round trip to a database takes
		if err := do(evs); err != nil {
			return err
		}
		for _, msg := range msgs {
			if _, _, err := s.RecordInbox(ctx, msg); err != nil {
				return err
			}
		}
		return nil
	}}
}

// inboxStoredFirst reports a stored Inbox message before the write's
// compare-and-set: ErrAlreadyExists where ErrConflict or ErrNotFound comes
// first.
func inboxStoredFirst(s payment.Store) payment.Store {
	return carrying{s, func(ctx context.Context, events []payment.Event, do func([]payment.Event) error) error {
		for _, e := range events {
			if msg := e.Inbox; msg != nil {
				if _, err := s.GetInbox(ctx, msg.Provider, msg.EventKey); err == nil {
					return fmt.Errorf("inbox message %s/%s: %w", msg.Provider, msg.EventKey, payment.ErrAlreadyExists)
				}
			}
		}
		return do(events)
	}}
}

// inboxDupAsConflict reports a stored Inbox message as ErrConflict.
func inboxDupAsConflict(s payment.Store) payment.Store {
	return carrying{s, func(_ context.Context, events []payment.Event, do func([]payment.Event) error) error {
		err := do(events)
		if errors.Is(err, payment.ErrAlreadyExists) {
			return payment.ErrConflict
		}
		return err
	}}
}

// keptInbox hands events back with the Inbox message they were appended
// with.
type keptInbox struct {
	payment.Store
	mu    *sync.Mutex
	inbox map[string]*payment.InboxMessage
}

func newKeptInbox(s payment.Store) payment.Store {
	k := keptInbox{mu: &sync.Mutex{}, inbox: map[string]*payment.InboxMessage{}}
	k.Store = carrying{s, func(_ context.Context, events []payment.Event, do func([]payment.Event) error) error {
		if err := do(events); err != nil {
			return err
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		for _, e := range events {
			if e.Inbox != nil {
				k.inbox[e.ID] = e.Inbox
			}
		}
		return nil
	}}
	return k
}

func (m keptInbox) ListEvents(ctx context.Context, id string) ([]payment.Event, error) {
	evs, err := m.Store.ListEvents(ctx, id)
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range evs {
		evs[i].Inbox = m.inbox[evs[i].ID]
	}
	return evs, err
}

// inboxCallerPointer keeps the Inbox messages writes are given, not copies,
// and GetInbox reads them.
type inboxCallerPointer struct {
	payment.Store
	mu    *sync.Mutex
	inbox map[[2]string]*payment.InboxMessage
}

func newInboxCallerPointer(s payment.Store) payment.Store {
	k := inboxCallerPointer{mu: &sync.Mutex{}, inbox: map[[2]string]*payment.InboxMessage{}}
	k.Store = carrying{s, func(_ context.Context, events []payment.Event, do func([]payment.Event) error) error {
		if err := do(events); err != nil {
			return err
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		for _, e := range events {
			if msg := e.Inbox; msg != nil {
				k.inbox[[2]string{msg.Provider, msg.EventKey}] = msg
			}
		}
		return nil
	}}
	return k
}

func (m inboxCallerPointer) GetInbox(ctx context.Context, provider, eventKey string) (*payment.InboxMessage, error) {
	got, err := m.Store.GetInbox(ctx, provider, eventKey)
	if err != nil {
		return got, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if kept, ok := m.inbox[[2]string{provider, eventKey}]; ok {
		c := *kept
		c.ReceivedAt = c.ReceivedAt.UTC()
		if c.ProcessedAt != nil {
			at := c.ProcessedAt.UTC()
			c.ProcessedAt = &at
		}
		return &c, nil
	}
	return got, nil
}

// getInboxMissing finds no inbox message.
type getInboxMissing struct{ payment.Store }

func (getInboxMissing) GetInbox(_ context.Context, provider, eventKey string) (*payment.InboxMessage, error) {
	return nil, fmt.Errorf("inbox message %s/%s: %w", provider, eventKey, payment.ErrNotFound)
}

// getInboxShared hands out the same message again while the stored one is
// unchanged, like a cache that returns its own entries.
type getInboxShared struct {
	payment.Store
	mu    *sync.Mutex
	cache map[[2]string][2]*payment.InboxMessage // stored value, value handed out
}

func (m getInboxShared) GetInbox(ctx context.Context, provider, eventKey string) (*payment.InboxMessage, error) {
	got, err := m.Store.GetInbox(ctx, provider, eventKey)
	if err != nil {
		return got, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{provider, eventKey}
	if c, ok := m.cache[k]; ok && reflect.DeepEqual(c[0], got) {
		return c[1], nil
	}
	stored := *got
	stored.Payload = slices.Clone(got.Payload)
	if got.ProcessedAt != nil {
		at := *got.ProcessedAt
		stored.ProcessedAt = &at
	}
	m.cache[k] = [2]*payment.InboxMessage{&stored, got}
	return got, nil
}

// getInboxLocalTime returns ReceivedAt in another zone.
type getInboxLocalTime struct{ payment.Store }

func (m getInboxLocalTime) GetInbox(ctx context.Context, provider, eventKey string) (*payment.InboxMessage, error) {
	got, err := m.Store.GetInbox(ctx, provider, eventKey)
	if got != nil {
		got.ReceivedAt = got.ReceivedAt.In(time.FixedZone("X", 3600))
	}
	return got, err
}

// getInboxAnyProvider finds a message by its event key alone when the
// provider has none with that key.
type getInboxAnyProvider struct {
	payment.Store
	mu       *sync.Mutex
	provider map[string]string // event key → a provider that recorded it
}

func (m getInboxAnyProvider) RecordInbox(ctx context.Context, msg *payment.InboxMessage) (*payment.InboxMessage, bool, error) {
	stored, inserted, err := m.Store.RecordInbox(ctx, msg)
	if inserted {
		m.mu.Lock()
		m.provider[msg.EventKey] = msg.Provider
		m.mu.Unlock()
	}
	return stored, inserted, err
}

func (m getInboxAnyProvider) GetInbox(ctx context.Context, provider, eventKey string) (*payment.InboxMessage, error) {
	got, err := m.Store.GetInbox(ctx, provider, eventKey)
	if errors.Is(err, payment.ErrNotFound) {
		m.mu.Lock()
		other, ok := m.provider[eventKey]
		m.mu.Unlock()
		if ok {
			return m.Store.GetInbox(ctx, other, eventKey)
		}
	}
	return got, err
}

var mutants = map[string]struct {
	group string // the suite group that must catch it
	want  string // a contract the failure must name
	wrap  func(payment.Store) payment.Store
}{
	"noCAS": {
		"Payments", "UpdatePayment with a Version other than the stored one is ErrConflict",
		func(s payment.Store) payment.Store { return noCAS{s} },
	},
	"refundNoCAS": {
		"Refunds", "CreateRefund fails with ErrConflict when p's Version is stale",
		func(s payment.Store) payment.Store { return refundNoCAS{s} },
	},
	"refundNoCASConcurrent": {
		"Concurrency", "concurrent refunds never exceed AmountCaptured",
		func(s payment.Store) payment.Store { return refundNoCAS{s} },
	},
	"sharedPointer": {
		"Payments", "a Store never keeps or hands out shared pointers",
		func(s payment.Store) payment.Store {
			return sharedPointer{s, &sync.Mutex{}, map[string]*payment.Payment{}}
		},
	},
	"localTime": {
		"Payments", "times are returned in UTC",
		func(s payment.Store) payment.Store { return localTime{s} },
	},
	"reversedEvents": {
		"Events", "in the order they were appended",
		func(s payment.Store) payment.Store { return reversedEvents{s} },
	},
	"nilFind": {
		"Payments", "FindPayments with no match returns an empty slice",
		func(s payment.Store) payment.Store { return nilFind{s} },
	},
	"inboxNoDedup": {
		"Inbox", "RecordInbox stores a provider event once per (Provider, EventKey)",
		func(s payment.Store) payment.Store { return inboxNoDedup{s} },
	},
	"idemAlwaysAcquire": {
		"Idempotency", "acquired false",
		func(s payment.Store) payment.Store { return idemAlwaysAcquire{s} },
	},
	"claimOverLimit": {
		"Outbox", "up to limit",
		func(s payment.Store) payment.Store { return claimOverLimit{s} },
	},
	"claimNoLease": {
		"Outbox", "two claimers never hold it at once",
		func(s payment.Store) payment.Store { return claimNoLease{s} },
	},
	"destinationsReversed": {
		"Outbox", "in the order of its Destinations",
		func(s payment.Store) payment.Store { return redirected{s, reverseDestinations} },
	},
	"destinationsDropped": {
		"Events", "the outbox holds one message per event and destination of the event",
		func(s payment.Store) payment.Store { return redirected{s, dropDestinations} },
	},
	"destinationsDroppedOutbox": {
		"Outbox", "an event gets one outbox message per destination",
		func(s payment.Store) payment.Store { return redirected{s, dropDestinations} },
	},
	"ackAnyOwner": {
		"Outbox", "the messages of ids owner does not hold",
		func(s payment.Store) payment.Store { return ackAnyOwner{s, &sync.Mutex{}, map[string]string{}} },
	},
	"ackCountsIDs": {
		"Outbox", "returns how many it marked",
		func(s payment.Store) payment.Store { return ackCountsIDs{s} },
	},
	"keptDestinations": {
		"Events", "events read back have none",
		func(s payment.Store) payment.Store { return keptDestinations{s} },
	},
	"failAsRetry": {
		"Outbox", "no longer holds back its Destination and Stream",
		func(s payment.Store) payment.Store { return failAsRetry{s} },
	},
	"dueNoLease": {
		"Sweeper", "moves their NextSyncAt to now+lease",
		func(s payment.Store) payment.Store { return dueNoLease{s} },
	},
	"ignoreInbox": {
		"Inbox", "inserts the Inbox message each event carries",
		ignoreInbox,
	},
	"inboxAfter": {
		"Inbox", "stored already fails with ErrAlreadyExists and writes nothing",
		inboxAfter(false),
	},
	"inboxAfterSilent": {
		"Inbox", "stored already fails with ErrAlreadyExists and writes nothing",
		inboxAfter(true),
	},
	"inboxFirst": {
		"Inbox", "a compare-and-set that misses is ErrConflict, first, and writes nothing",
		inboxFirst,
	},
	"inboxCheckFirst": {
		"Inbox", "exactly one writes, the others get ErrAlreadyExists",
		inboxCheckFirst,
	},
	"inboxStoredFirst": {
		"Inbox", "ErrConflict, not ErrAlreadyExists",
		inboxStoredFirst,
	},
	"inboxStoredFirstMissing": {
		"Inbox", "ErrNotFound, not ErrAlreadyExists",
		inboxStoredFirst,
	},
	"inboxDupAsConflict": {
		"Inbox", "stored already fails with ErrAlreadyExists",
		inboxDupAsConflict,
	},
	"keptInbox": {
		"Inbox", "events read back (ListEvents, outbox messages' Event) have none",
		newKeptInbox,
	},
	"inboxCallerPointer": {
		"Inbox", "the Inbox message an event carries is the caller's",
		newInboxCallerPointer,
	},
	"getInboxMissing": {
		"Inbox", "GetInbox returns the message stored for (provider, eventKey)",
		func(s payment.Store) payment.Store { return getInboxMissing{s} },
	},
	"getInboxShared": {
		"Inbox", "messages GetInbox returns are the caller's",
		func(s payment.Store) payment.Store {
			return getInboxShared{s, &sync.Mutex{}, map[[2]string][2]*payment.InboxMessage{}}
		},
	},
	"getInboxLocalTime": {
		"Inbox", "byte for byte (every field set): times are returned in UTC",
		func(s payment.Store) payment.Store { return getInboxLocalTime{s} },
	},
	"getInboxAnyProvider": {
		"Inbox", "GetInbox keys messages by (Provider, EventKey)",
		func(s payment.Store) payment.Store { return getInboxAnyProvider{s, &sync.Mutex{}, map[string]string{}} },
	},
	"missingAsConflict": {
		"Payments", "UpdatePayment of a missing payment is ErrNotFound",
		func(s payment.Store) payment.Store { return missingAsConflict{s} },
	},
}

const mutantEnv = "STORETEST_MUTANT"

// TestMutant runs the suite against the mutant named in $STORETEST_MUTANT;
// TestSuiteCatchesMutants starts it in a child process, one per mutant.
func TestMutant(t *testing.T) {
	name := os.Getenv(mutantEnv)
	if name == "" {
		t.Skip("run by TestSuiteCatchesMutants")
	}
	m, ok := mutants[name]
	require.True(t, ok, "unknown mutant %q", name)
	storetest.Run(t, func(*testing.T) payment.Store { return m.wrap(memstore.New()) })
}

func TestSuiteCatchesMutants(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a child process per mutant")
	}
	for name, m := range mutants {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0],
				"-test.run=^TestMutant$/^"+m.group+"$", "-test.count=1")
			cmd.Env = append(os.Environ(), mutantEnv+"="+name)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite must fail against mutant %s; output:\n%s", name, out)
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "the child process ran")
			require.Containsf(t, string(out), m.want,
				"the failure must name the broken contract %q; output:\n%s", m.want, out)
		})
	}
}

// TestMemstoreShared runs the suite against one memstore shared by every
// subtest, as a shared SQL database would be: the suite must not assume an
// empty store.
func TestMemstoreShared(t *testing.T) {
	t.Parallel()
	s := memstore.New()
	storetest.Run(t, func(*testing.T) payment.Store { return s })
}
