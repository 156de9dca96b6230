// Package memstore is an in-memory payment.Store: the default for tests and
// demos. It keeps everything in maps behind one read-write mutex, hands out
// deep copies, and stores times in UTC. Nothing survives the process.
package memstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/paykit/paykit/payment"
)

// Store is an in-memory payment.Store, safe for concurrent use. The zero
// value is not usable; call New.
type Store struct {
	mu  sync.RWMutex
	seq uint64 // insertion counter: orders payments, refunds, inbox and outbox rows

	payments      map[string]*paymentRow
	paymentByRef  map[refKey]string
	paymentsByOrd map[string][]*paymentRow // by order id, any provider, creation order
	orderHolder   map[orderKey]string      // the payment holding the order
	duePayments   dueQueue[*paymentRow]    // NextSyncAt set

	refunds          map[string]*payment.Refund
	refundsByPayment map[string][]string // creation order

	payouts      map[string]*payoutRow
	payoutByRef  map[refKey]string
	payoutByOrd  map[orderKey]string
	duePayouts   dueQueue[*payoutRow]       // NextSyncAt set
	eventsByID   map[string][]payment.Event // object or payment id -> its events, in append order (see appendEvent)
	idempotency  map[string]*payment.IdempotencyRecord
	inbox        map[inboxKey]*inboxRow
	outbox       map[string]*outboxRow
	outboxStream map[queueKey][]*outboxRow // pending messages per (destination, stream), oldest first
	outboxFailed map[string]*outboxRow     // failed messages, by id
}

var _ payment.Store = (*Store)(nil)

type refKey struct{ provider, reference string }

type orderKey struct{ provider, orderID string }

type inboxKey struct{ provider, eventKey string }

type paymentRow struct {
	p   *payment.Payment
	seq uint64
	due int // see dueRow.slot
	// released is set once the payment first reached failed, canceled or
	// expired: it never holds its order again.
	released bool
}

type payoutRow struct {
	p   *payment.Payout
	seq uint64
	due int // see dueRow.slot
}

type inboxRow struct {
	m   *payment.InboxMessage
	seq uint64
}

type outboxRow struct {
	m   *payment.OutboxMessage
	seq uint64
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		payments:         map[string]*paymentRow{},
		paymentByRef:     map[refKey]string{},
		paymentsByOrd:    map[string][]*paymentRow{},
		orderHolder:      map[orderKey]string{},
		refunds:          map[string]*payment.Refund{},
		refundsByPayment: map[string][]string{},
		payouts:          map[string]*payoutRow{},
		payoutByRef:      map[refKey]string{},
		payoutByOrd:      map[orderKey]string{},
		eventsByID:       map[string][]payment.Event{},
		idempotency:      map[string]*payment.IdempotencyRecord{},
		inbox:            map[inboxKey]*inboxRow{},
		outbox:           map[string]*outboxRow{},
		outboxStream:     map[queueKey][]*outboxRow{},
		outboxFailed:     map[string]*outboxRow{},
	}
}

func (s *Store) next() uint64 {
	s.seq++
	return s.seq
}

// releasesOrder reports whether a payment in st gives its order id back.
func releasesOrder(st payment.Status) bool {
	return st == payment.StatusFailed || st == payment.StatusCanceled || st == payment.StatusExpired
}

func notFound(what, id string) error {
	return fmt.Errorf("memstore: %s %s: %w", what, id, payment.ErrNotFound)
}

func exists(what, id string) error {
	return fmt.Errorf("memstore: %s %s: %w", what, id, payment.ErrAlreadyExists)
}

func conflict(what, id string) error {
	return fmt.Errorf("memstore: %s %s: %w", what, id, payment.ErrConflict)
}

// Payments

// CreatePayment implements payment.Store.
func (s *Store) CreatePayment(ctx context.Context, p *payment.Payment, events []payment.Event) error {
	if err := live(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.payments[p.ID]; ok {
		return exists("payment", p.ID)
	}
	ord := orderKey{p.Provider, p.OrderID}
	if holder, held := s.orderHolder[ord]; held {
		return fmt.Errorf("memstore: order %s of %s is held by payment %s: %w", p.OrderID, p.Provider, holder, payment.ErrAlreadyExists)
	}
	if err := s.checkInbox(events); err != nil {
		return err
	}
	c := clonePayment(p)
	c.Version = 1
	row := &paymentRow{p: c, seq: s.next(), released: releasesOrder(c.Status)}
	s.payments[c.ID] = row
	s.paymentsByOrd[c.OrderID] = append(s.paymentsByOrd[c.OrderID], row)
	if !row.released {
		s.orderHolder[ord] = c.ID
	}
	if c.ProviderReference != "" {
		s.paymentByRef[refKey{c.Provider, c.ProviderReference}] = c.ID
	}
	s.duePayments.set(row, c.NextSyncAt != nil)
	s.appendEvents(events, true)
	p.Version = 1
	return nil
}

// GetPayment implements payment.Store.
func (s *Store) GetPayment(ctx context.Context, id string) (*payment.Payment, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	row, ok := s.payments[id]
	if !ok {
		return nil, notFound("payment", id)
	}
	return clonePayment(row.p), nil
}

// GetPaymentByReference implements payment.Store.
func (s *Store) GetPaymentByReference(ctx context.Context, provider, reference string) (*payment.Payment, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.paymentByRef[refKey{provider, reference}]
	if !ok || reference == "" {
		return nil, notFound("payment with reference", reference)
	}
	return clonePayment(s.payments[id].p), nil
}

// FindPayments implements payment.Store.
func (s *Store) FindPayments(ctx context.Context, provider, orderID string) ([]*payment.Payment, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []*payment.Payment{}
	for _, row := range s.paymentsByOrd[orderID] {
		if provider == "" || row.p.Provider == provider {
			out = append(out, clonePayment(row.p))
		}
	}
	return out, nil
}

// UpdatePayment implements payment.Store.
func (s *Store) UpdatePayment(ctx context.Context, p *payment.Payment, events []payment.Event) error {
	if err := live(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	row, err := s.checkPayment(p)
	if err != nil {
		return err
	}
	if err := s.checkInbox(events); err != nil {
		return err
	}
	s.replacePayment(row, p)
	s.appendEvents(events, true)
	return nil
}

// checkPayment returns the stored row of p when its Version matches.
func (s *Store) checkPayment(p *payment.Payment) (*paymentRow, error) {
	row, ok := s.payments[p.ID]
	if !ok {
		return nil, notFound("payment", p.ID)
	}
	if row.p.Version != p.Version {
		return nil, fmt.Errorf("memstore: payment %s: version %d, stored %d: %w", p.ID, p.Version, row.p.Version, payment.ErrConflict)
	}
	return row, nil
}

// replacePayment stores p in row (already checked) and keeps the indexes
// right. It sets p.Version.
func (s *Store) replacePayment(row *paymentRow, p *payment.Payment) {
	old := row.p
	c := clonePayment(p)
	c.Version = old.Version + 1

	oldOrd, newOrd := orderKey{old.Provider, old.OrderID}, orderKey{c.Provider, c.OrderID}
	if oldOrd != newOrd {
		// The order does not normally change; keep the indexes right if it does.
		if old.OrderID != c.OrderID {
			s.paymentsByOrd[old.OrderID] = slices.DeleteFunc(s.paymentsByOrd[old.OrderID], func(r *paymentRow) bool { return r == row })
			if len(s.paymentsByOrd[old.OrderID]) == 0 {
				delete(s.paymentsByOrd, old.OrderID)
			}
			rows := append(s.paymentsByOrd[c.OrderID], row)
			slices.SortFunc(rows, func(a, b *paymentRow) int { return cmp.Compare(a.seq, b.seq) })
			s.paymentsByOrd[c.OrderID] = rows
		}
		if s.orderHolder[oldOrd] == c.ID {
			delete(s.orderHolder, oldOrd)
			if _, held := s.orderHolder[newOrd]; !held {
				s.orderHolder[newOrd] = c.ID
			}
		}
	}
	if !row.released && releasesOrder(c.Status) {
		row.released = true
		if s.orderHolder[newOrd] == c.ID {
			delete(s.orderHolder, newOrd)
		}
	}

	oldRef, newRef := refKey{old.Provider, old.ProviderReference}, refKey{c.Provider, c.ProviderReference}
	if oldRef != newRef {
		if old.ProviderReference != "" && s.paymentByRef[oldRef] == c.ID {
			delete(s.paymentByRef, oldRef)
		}
		if c.ProviderReference != "" {
			s.paymentByRef[newRef] = c.ID
		}
	}
	row.p = c
	s.duePayments.set(row, c.NextSyncAt != nil)
	p.Version = c.Version
}

// Refunds

// CreateRefund implements payment.Store.
func (s *Store) CreateRefund(ctx context.Context, r *payment.Refund, p *payment.Payment, events []payment.Event) error {
	if err := live(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	row, err := s.checkPayment(p)
	if err != nil {
		return err
	}
	if _, ok := s.refunds[r.ID]; ok {
		return exists("refund", r.ID)
	}
	if err := s.checkInbox(events); err != nil {
		return err
	}
	s.replacePayment(row, p)
	c := cloneRefund(r)
	s.refunds[c.ID] = c
	s.refundsByPayment[c.PaymentID] = append(s.refundsByPayment[c.PaymentID], c.ID)
	s.appendEvents(events, true)
	return nil
}

// UpdateRefund implements payment.Store.
func (s *Store) UpdateRefund(ctx context.Context, r *payment.Refund, p *payment.Payment, events []payment.Event) error {
	if err := live(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.refunds[r.ID]
	if !ok {
		return notFound("refund", r.ID)
	}
	row, err := s.checkPayment(p)
	if err != nil {
		return err
	}
	if err := s.checkInbox(events); err != nil {
		return err
	}
	s.replacePayment(row, p)
	c := cloneRefund(r)
	if c.PaymentID != old.PaymentID {
		// Refunds do not move between payments; keep the index right if one does.
		s.refundsByPayment[old.PaymentID] = slices.DeleteFunc(s.refundsByPayment[old.PaymentID], func(id string) bool { return id == c.ID })
		s.refundsByPayment[c.PaymentID] = append(s.refundsByPayment[c.PaymentID], c.ID)
	}
	s.refunds[c.ID] = c
	s.appendEvents(events, true)
	return nil
}

// GetRefund implements payment.Store.
func (s *Store) GetRefund(ctx context.Context, id string) (*payment.Refund, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.refunds[id]
	if !ok {
		return nil, notFound("refund", id)
	}
	return r.Clone(), nil
}

// ListRefunds implements payment.Store.
func (s *Store) ListRefunds(ctx context.Context, paymentID string) ([]*payment.Refund, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := s.refundsByPayment[paymentID]
	out := make([]*payment.Refund, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.refunds[id].Clone())
	}
	return out, nil
}

// Payouts

// CreatePayout implements payment.Store.
func (s *Store) CreatePayout(ctx context.Context, p *payment.Payout, events []payment.Event) error {
	if err := live(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.payouts[p.ID]; ok {
		return exists("payout", p.ID)
	}
	ord := orderKey{p.Provider, p.OrderID}
	if other, dup := s.payoutByOrd[ord]; dup {
		return fmt.Errorf("memstore: payout order %s of %s exists as %s: %w", p.OrderID, p.Provider, other, payment.ErrAlreadyExists)
	}
	if err := s.checkInbox(events); err != nil {
		return err
	}
	c := clonePayout(p)
	c.Version = 1
	row := &payoutRow{p: c, seq: s.next()}
	s.payouts[c.ID] = row
	s.payoutByOrd[ord] = c.ID
	if c.ProviderReference != "" {
		s.payoutByRef[refKey{c.Provider, c.ProviderReference}] = c.ID
	}
	s.duePayouts.set(row, c.NextSyncAt != nil)
	s.appendEvents(events, true)
	p.Version = 1
	return nil
}

// GetPayout implements payment.Store.
func (s *Store) GetPayout(ctx context.Context, id string) (*payment.Payout, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	row, ok := s.payouts[id]
	if !ok {
		return nil, notFound("payout", id)
	}
	return clonePayout(row.p), nil
}

// GetPayoutByReference implements payment.Store.
func (s *Store) GetPayoutByReference(ctx context.Context, provider, reference string) (*payment.Payout, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.payoutByRef[refKey{provider, reference}]
	if !ok || reference == "" {
		return nil, notFound("payout with reference", reference)
	}
	return clonePayout(s.payouts[id].p), nil
}

// UpdatePayout implements payment.Store.
func (s *Store) UpdatePayout(ctx context.Context, p *payment.Payout, events []payment.Event) error {
	if err := live(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	row, ok := s.payouts[p.ID]
	if !ok {
		return notFound("payout", p.ID)
	}
	old := row.p
	if old.Version != p.Version {
		return fmt.Errorf("memstore: payout %s: version %d, stored %d: %w", p.ID, p.Version, old.Version, payment.ErrConflict)
	}
	c := clonePayout(p)
	c.Version = old.Version + 1
	oldOrd, newOrd := orderKey{old.Provider, old.OrderID}, orderKey{c.Provider, c.OrderID}
	if oldOrd != newOrd {
		if other, dup := s.payoutByOrd[newOrd]; dup {
			return fmt.Errorf("memstore: payout order %s of %s exists as %s: %w", c.OrderID, c.Provider, other, payment.ErrAlreadyExists)
		}
	}
	if err := s.checkInbox(events); err != nil {
		return err
	}
	if oldOrd != newOrd {
		delete(s.payoutByOrd, oldOrd)
		s.payoutByOrd[newOrd] = c.ID
	}
	oldRef, newRef := refKey{old.Provider, old.ProviderReference}, refKey{c.Provider, c.ProviderReference}
	if oldRef != newRef {
		if old.ProviderReference != "" && s.payoutByRef[oldRef] == c.ID {
			delete(s.payoutByRef, oldRef)
		}
		if c.ProviderReference != "" {
			s.payoutByRef[newRef] = c.ID
		}
	}
	row.p = c
	s.duePayouts.set(row, c.NextSyncAt != nil)
	s.appendEvents(events, true)
	p.Version = c.Version
	return nil
}

// Events

// AppendEvents implements payment.Store.
func (s *Store) AppendEvents(ctx context.Context, events []payment.Event) error {
	if err := live(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkInbox(events); err != nil {
		return err
	}
	s.appendEvents(events, false)
	return nil
}

// checkInbox fails with ErrAlreadyExists when an Inbox message events carry
// is stored already, or is carried twice. The caller holds the write lock
// and has written nothing yet.
func (s *Store) checkInbox(events []payment.Event) error {
	for i := range events {
		m := events[i].Inbox
		if m == nil {
			continue
		}
		k := inboxKey{m.Provider, m.EventKey}
		_, stored := s.inbox[k]
		for j := range i {
			if o := events[j].Inbox; o != nil && (inboxKey{o.Provider, o.EventKey}) == k {
				stored = true
			}
		}
		if stored {
			return exists("inbox message", m.Provider+"/"+m.EventKey)
		}
	}
	return nil
}

// appendEvents appends copies of events to the log, inserts the Inbox
// messages they carry (checked by checkInbox) and, when notify is set, one
// outbox message per event and destination. The caller holds the write
// lock.
//
// An event's Data is never changed once stored, so the log and the outbox
// share one copy of it; what leaves the store is copied (cloneEvent,
// cloneOutbox).
func (s *Store) appendEvents(events []payment.Event, notify bool) {
	for i := range events {
		e := cloneEvent(events[i])
		e.Destinations, e.Inbox, e.Lease = nil, nil, nil
		if m := events[i].Inbox; m != nil {
			s.inbox[inboxKey{m.Provider, m.EventKey}] = &inboxRow{m: cloneInbox(m), seq: s.next()}
		}
		s.appendEvent(e.ObjectID, e)
		if e.PaymentID != "" && e.PaymentID != e.ObjectID {
			s.appendEvent(e.PaymentID, e)
		}
		if !notify {
			continue
		}
		for _, dest := range events[i].Destinations {
			m := payment.NewOutboxMessage(e, dest)
			if l := events[i].Lease; l != nil && l.Destination == dest && s.heldBy(queueOf(m), l.Owner) {
				m.LeaseOwner, m.LeaseUntil = l.Owner, l.Until.UTC()
				l.Granted = true
			}
			s.enqueue(&outboxRow{m: m, seq: s.next()})
		}
	}
}

// appendEvent appends e to the events of id. They are kept by value, one
// array per id, which the collector marks as one object: an object's first
// event starts it with room for two (a payment's creation is followed by
// its first move in nearly every checkout).
func (s *Store) appendEvent(id string, e payment.Event) {
	list := s.eventsByID[id]
	if list == nil {
		list = make([]payment.Event, 0, 2)
	}
	s.eventsByID[id] = append(list, e)
}

// heldBy reports whether owner holds every pending message of queue k (see
// payment.Event.Lease). The caller holds the write lock.
func (s *Store) heldBy(k queueKey, owner string) bool {
	if owner == "" {
		return false
	}
	for _, r := range s.outboxStream[k] {
		if r.m.LeaseOwner != owner {
			return false
		}
	}
	return true
}

// queueKey is the (destination, stream) a message is ordered in.
type queueKey struct{ destination, stream string }

func queueOf(m *payment.OutboxMessage) queueKey { return queueKey{m.Destination, m.Stream} }

// enqueue adds a pending row to the outbox and to its queue, in seq order.
// The caller holds the write lock.
func (s *Store) enqueue(row *outboxRow) {
	s.outbox[row.m.ID] = row
	k := queueOf(row.m)
	rows := s.outboxStream[k]
	i, _ := slices.BinarySearchFunc(rows, row.seq, func(r *outboxRow, seq uint64) int { return cmp.Compare(r.seq, seq) })
	s.outboxStream[k] = slices.Insert(rows, i, row)
}

// dequeue removes a row from its queue (it stays in s.outbox only if the
// caller keeps it there). The caller holds the write lock.
func (s *Store) dequeue(row *outboxRow) {
	k := queueOf(row.m)
	rows := slices.DeleteFunc(s.outboxStream[k], func(r *outboxRow) bool { return r == row })
	if len(rows) == 0 {
		delete(s.outboxStream, k)
	} else {
		s.outboxStream[k] = rows
	}
}

// ListEvents implements payment.Store.
func (s *Store) ListEvents(ctx context.Context, id string) ([]payment.Event, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	stored := s.eventsByID[id]
	out := make([]payment.Event, 0, len(stored))
	for _, e := range stored {
		out = append(out, cloneEvent(e))
	}
	return out, nil
}

// Idempotency keys

// AcquireIdempotencyKey implements payment.Store.
func (s *Store) AcquireIdempotencyKey(ctx context.Context, rec *payment.IdempotencyRecord, now time.Time) (*payment.IdempotencyRecord, bool, error) {
	if err := live(ctx); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.idempotency[rec.Key]
	if !ok || !cur.ExpiresAt.After(now) {
		c := cloneIdem(rec)
		s.idempotency[c.Key] = c
		return cloneIdem(c), true, nil
	}
	if cur.Fingerprint != rec.Fingerprint || cur.Status == payment.IdempotencyCompleted || cur.LockedUntil.After(now) {
		return cloneIdem(cur), false, nil
	}
	cur.LockedUntil = rec.LockedUntil.UTC()
	return cloneIdem(cur), true, nil
}

// CompleteIdempotencyKey implements payment.Store.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, key string, response []byte) error {
	if err := live(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.idempotency[key]
	if !ok {
		return notFound("idempotency key", key)
	}
	cur.Status = payment.IdempotencyCompleted
	cur.Response = bytes.Clone(response)
	return nil
}

// ReleaseIdempotencyKey implements payment.Store.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, key string) error {
	if err := live(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.idempotency[key]; ok && cur.Status == payment.IdempotencyInProgress {
		delete(s.idempotency, key)
	}
	return nil
}

// DeleteExpiredIdempotencyKeys implements payment.Store.
func (s *Store) DeleteExpiredIdempotencyKeys(ctx context.Context, now time.Time) (int, error) {
	if err := live(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, rec := range s.idempotency {
		if !rec.ExpiresAt.After(now) {
			delete(s.idempotency, k)
			n++
		}
	}
	return n, nil
}

// Inbox

// RecordInbox implements payment.Store.
func (s *Store) RecordInbox(ctx context.Context, m *payment.InboxMessage) (*payment.InboxMessage, bool, error) {
	if err := live(ctx); err != nil {
		return nil, false, err
	}
	k := inboxKey{m.Provider, m.EventKey}
	s.mu.Lock()
	defer s.mu.Unlock()
	if row, ok := s.inbox[k]; ok {
		return cloneInbox(row.m), false, nil
	}
	c := cloneInbox(m)
	s.inbox[k] = &inboxRow{m: c, seq: s.next()}
	return cloneInbox(c), true, nil
}

// GetInbox implements payment.Store.
func (s *Store) GetInbox(ctx context.Context, provider, eventKey string) (*payment.InboxMessage, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	row, ok := s.inbox[inboxKey{provider, eventKey}]
	if !ok {
		return nil, notFound("inbox message", provider+"/"+eventKey)
	}
	return cloneInbox(row.m), nil
}

// UpdateInbox implements payment.Store.
func (s *Store) UpdateInbox(ctx context.Context, m *payment.InboxMessage) error {
	if err := live(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	row, ok := s.inbox[inboxKey{m.Provider, m.EventKey}]
	if !ok {
		return notFound("inbox message", m.Provider+"/"+m.EventKey)
	}
	row.m.Status = m.Status
	row.m.ObjectID = m.ObjectID
	row.m.Error = m.Error
	row.m.ProcessedAt = utcPtr(m.ProcessedAt)
	return nil
}

// ListInbox implements payment.Store.
func (s *Store) ListInbox(ctx context.Context, status payment.InboxStatus, limit int) ([]*payment.InboxMessage, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var rows []*inboxRow
	for _, row := range s.inbox {
		if row.m.Status == status {
			rows = append(rows, row)
		}
	}
	slices.SortFunc(rows, func(a, b *inboxRow) int {
		return cmp.Or(a.m.ReceivedAt.Compare(b.m.ReceivedAt), cmp.Compare(a.seq, b.seq))
	})
	rows = rows[:min(len(rows), max(limit, 0))]
	out := make([]*payment.InboxMessage, 0, len(rows))
	for _, row := range rows {
		out = append(out, cloneInbox(row.m))
	}
	return out, nil
}

// Outbox

// ClaimOutbox implements payment.Store.
func (s *Store) ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*payment.OutboxMessage, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return []*payment.OutboxMessage{}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Only the oldest undelivered message of a stream may be claimed.
	var ready []*outboxRow
	for _, rows := range s.outboxStream {
		head := rows[0]
		if head.m.NextAttemptAt.After(now) || (head.m.LeaseOwner != "" && head.m.LeaseUntil.After(now)) {
			continue
		}
		ready = append(ready, head)
	}
	slices.SortFunc(ready, func(a, b *outboxRow) int { return cmp.Compare(a.seq, b.seq) })
	ready = ready[:min(len(ready), limit)]
	until := now.Add(lease).UTC()
	out := make([]*payment.OutboxMessage, 0, len(ready))
	for _, row := range ready {
		row.m.LeaseOwner = owner
		row.m.LeaseUntil = until
		out = append(out, cloneOutbox(row.m))
	}
	return out, nil
}

// leased returns the row of message id when owner holds its lease.
func (s *Store) leased(id, owner string) (*outboxRow, error) {
	row, ok := s.outbox[id]
	if !ok || row.m.LeaseOwner != owner || owner == "" {
		return nil, conflict("outbox message "+id+" not leased to", owner)
	}
	return row, nil
}

// AckOutbox implements payment.Store.
// A delivered message is forgotten (the event stays in the log), so the
// delivery time is not kept.
func (s *Store) AckOutbox(ctx context.Context, owner string, ids []string, _ time.Time) (int, error) {
	return s.eachLeased(ctx, owner, ids, func(id string, row *outboxRow) {
		delete(s.outbox, id)
		s.dequeue(row)
	})
}

// eachLeased calls fn, under the write lock, for each message of ids that
// owner holds, once, and returns how many it called it for.
func (s *Store) eachLeased(ctx context.Context, owner string, ids []string, fn func(id string, row *outboxRow)) (int, error) {
	if err := live(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, id := range ids {
		row, err := s.leased(id, owner)
		if err != nil {
			continue
		}
		fn(id, row)
		n++
	}
	return n, nil
}

// RetryOutbox implements payment.Store.
func (s *Store) RetryOutbox(ctx context.Context, id, owner string, next time.Time, lastErr string) error {
	if err := live(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	row, err := s.leased(id, owner)
	if err != nil {
		return err
	}
	row.m.LeaseOwner = ""
	row.m.LeaseUntil = time.Time{}
	row.m.Attempts++
	row.m.LastError = lastErr
	row.m.NextAttemptAt = next.UTC()
	return nil
}

// ReleaseOutbox implements payment.Store.
func (s *Store) ReleaseOutbox(ctx context.Context, owner string, ids []string, next time.Time) (int, error) {
	return s.eachLeased(ctx, owner, ids, func(_ string, row *outboxRow) {
		row.m.LeaseOwner, row.m.LeaseUntil = "", time.Time{}
		row.m.NextAttemptAt = next.UTC()
	})
}

// FailOutbox implements payment.Store.
func (s *Store) FailOutbox(ctx context.Context, id, owner, lastErr string, now time.Time) error {
	if err := live(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	row, err := s.leased(id, owner)
	if err != nil {
		return err
	}
	s.dequeue(row)
	failed := now.UTC()
	row.m.LeaseOwner, row.m.LeaseUntil = "", time.Time{}
	row.m.Attempts++
	row.m.LastError = lastErr
	row.m.FailedAt = &failed
	s.outboxFailed[id] = row
	return nil
}

// ListFailedOutbox implements payment.Store.
func (s *Store) ListFailedOutbox(ctx context.Context, limit int) ([]*payment.OutboxMessage, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	rows := make([]*outboxRow, 0, len(s.outboxFailed))
	for _, row := range s.outboxFailed {
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b *outboxRow) int {
		if c := a.m.FailedAt.Compare(*b.m.FailedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out := make([]*payment.OutboxMessage, 0, min(len(rows), max(limit, 0)))
	for _, row := range rows[:min(len(rows), max(limit, 0))] {
		out = append(out, cloneOutbox(row.m))
	}
	return out, nil
}

// RedeliverOutbox implements payment.Store.
func (s *Store) RedeliverOutbox(ctx context.Context, eventID string, now time.Time) (int, error) {
	if err := live(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, row := range s.outboxFailed {
		if row.m.Event.ID != eventID {
			continue
		}
		delete(s.outboxFailed, id)
		row.m.FailedAt = nil
		row.m.Attempts = 0
		row.m.NextAttemptAt = now.UTC()
		s.enqueue(row)
		n++
	}
	return n, nil
}

// Sweeper

// ClaimDuePayments implements payment.Store.
func (s *Store) ClaimDuePayments(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*payment.Payment, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return []*payment.Payment{}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	due := s.duePayments.take(now, limit)
	until := now.Add(lease).UTC()
	out := make([]*payment.Payment, 0, len(due))
	for _, row := range due {
		u := until
		row.p.NextSyncAt = &u
		s.duePayments.set(row, true)
		out = append(out, clonePayment(row.p))
	}
	return out, nil
}

// ClaimDuePayouts implements payment.Store.
func (s *Store) ClaimDuePayouts(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*payment.Payout, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return []*payment.Payout{}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	due := s.duePayouts.take(now, limit)
	until := now.Add(lease).UTC()
	out := make([]*payment.Payout, 0, len(due))
	for _, row := range due {
		u := until
		row.p.NextSyncAt = &u
		s.duePayouts.set(row, true)
		out = append(out, clonePayout(row.p))
	}
	return out, nil
}

// live returns ctx's error, if it is done: a canceled caller writes nothing.
func live(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	return nil
}
