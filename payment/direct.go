package payment

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// This file holds the direct path of notifications to the in-process
// subscribers. While Run runs, a payment write asks the store to write its
// subscribers' messages leased to this process (Event.Lease). The store
// grants it only when this process already holds every pending message of
// the stream, so a granted message is next in its stream once the ones
// before it, which this process holds, are delivered. The writer hands the
// granted messages to one worker, in the order the writes were started,
// and the worker delivers and acknowledges them as Dispatch would have,
// without a claim: the store does not write a lease or read the event back.
// Whatever is not granted goes through ClaimOutbox as before.
//
// Order per stream: writes of one payment are ordered by its
// compare-and-set, and a slot is reserved after the read the write is
// based on, so slots of one stream are in commit order. A message is
// delivered only once the one before it in its stream is acknowledged, as
// with claims; acknowledgements are gathered for a few milliseconds, so one
// store call records many. When anything goes wrong (a delivery fails, a
// lease ends, an acknowledgement is lost) the worker takes a new owner
// name: the messages still held under the old one are put back for
// ClaimOutbox, and new writes are granted again only behind messages the
// new owner holds.

// maxDirectQueue bounds the messages waiting for the direct worker; beyond
// it, writes leave their messages to ClaimOutbox.
const maxDirectQueue = 4096

// direct is the queue between writers and the direct worker.
type direct struct {
	mu      sync.Mutex
	running bool
	owner   string // the lease owner new writes ask for
	slots   []*directSlot
	queued  int // messages in filled slots
	ready   chan struct{}
}

// directSlot is one write's place in the queue: the streams it writes to,
// and its granted messages once the write returned.
type directSlot struct {
	streams []string
	msgs    []*OutboxMessage
	filled  bool
}

// start marks the worker running, under a new owner name, and reports
// whether it was not running already: one worker per Service, or two could
// deliver one stream at once.
func (d *direct) start(instance string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running {
		return false
	}
	d.running = true
	d.renameLocked(instance)
	return true
}

// rename takes a new owner name: what the old one holds is not extended.
func (d *direct) rename(instance string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.renameLocked(instance)
}

func (d *direct) renameLocked(instance string) {
	d.owner = instance + "/direct/" + rand.Text()[:10]
}

// current returns the owner name new writes ask for.
func (d *direct) current() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.owner
}

// reserveDirect asks, for the subscribers' messages of events, to be
// written leased to this process, and reserves their place in the queue. It
// returns nil, asking nothing, when the direct path is off: Run is not
// running, the Service writes to another store (WithStore), the queue is
// full, or no event goes to the subscribers.
func (s *Service) reserveDirect(events []Event) *directSlot {
	if !s.home || len(s.cfg.subscribers) == 0 || len(events) == 0 {
		return nil
	}
	d := &s.direct
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.running || d.queued >= maxDirectQueue {
		return nil
	}
	until := s.now().Add(s.cfg.dispatchLease)
	slot := &directSlot{}
	for i := range events {
		if slices.Contains(events[i].Destinations, destSubscribers) {
			events[i].Lease = &OutboxLease{Destination: destSubscribers, Owner: d.owner, Until: until}
			if st := events[i].Stream(); !slices.Contains(slot.streams, st) {
				slot.streams = append(slot.streams, st)
			}
		}
	}
	if len(slot.streams) == 0 {
		return nil
	}
	d.slots = append(d.slots, slot)
	return slot
}

// writeDirect runs write, a store call that appends events, on the direct
// path: between reserveDirect and fillDirect, even when write panics. It
// returns write's error, and whether any message of events is left for the
// dispatcher to claim.
func (s *Service) writeDirect(events []Event, write func() error) (claim bool, err error) {
	slot := s.reserveDirect(events)
	filled := false
	defer func() {
		if !filled {
			s.fillDirect(slot, events, errors.New("payment: write panicked"))
		}
	}()
	err = write()
	filled = true
	return s.fillDirect(slot, events, err), err
}

// fillDirect hands the worker the messages the write of events granted
// (none when err is set), and reports whether any message of events is
// left for the dispatcher to claim. Call it once per reserveDirect, even
// when the write failed: the worker waits for the slot.
func (s *Service) fillDirect(slot *directSlot, events []Event, err error) (claim bool) {
	var msgs []*OutboxMessage
	for i := range events {
		e := &events[i]
		for _, dest := range e.Destinations {
			if err != nil || e.Lease == nil || !e.Lease.Granted || e.Lease.Destination != dest {
				claim = true
				continue
			}
			m := NewOutboxMessage(*e, dest)
			m.LeaseOwner, m.LeaseUntil = e.Lease.Owner, e.Lease.Until
			msgs = append(msgs, m)
		}
	}
	if slot == nil {
		return claim
	}
	d := &s.direct
	d.mu.Lock()
	running := d.running
	if running {
		slot.msgs, slot.filled = msgs, true
		d.queued += len(msgs)
	} else {
		d.slots = slices.DeleteFunc(d.slots, func(sl *directSlot) bool { return sl == slot })
	}
	d.mu.Unlock()
	if !running {
		// The worker stopped while the write ran.
		s.putBack(msgs)
		return claim
	}
	select {
	case d.ready <- struct{}{}:
	default:
	}
	return claim
}

// take returns the messages of the filled slots, in order, waiting for one
// to be filled. A slot behind an unfilled one of the same stream waits for
// it; a write that takes long holds back its own stream only. It returns
// nil when ctx ends or flush fires first.
func (d *direct) take(ctx context.Context, flush <-chan time.Time) []*OutboxMessage {
	for {
		d.mu.Lock()
		var (
			msgs    []*OutboxMessage
			blocked []string // the streams of the slots left
			kept    = d.slots[:0]
		)
		for _, sl := range d.slots {
			if sl.filled && !slices.ContainsFunc(sl.streams, func(st string) bool { return slices.Contains(blocked, st) }) {
				msgs = append(msgs, sl.msgs...)
				continue
			}
			blocked = append(blocked, sl.streams...)
			kept = append(kept, sl)
		}
		clear(d.slots[len(kept):])
		d.slots = kept
		d.queued -= len(msgs)
		d.mu.Unlock()
		if len(msgs) > 0 {
			return msgs
		}
		select {
		case <-ctx.Done():
			return nil
		case <-flush:
			return nil
		case <-d.ready:
		}
	}
}

// stop marks the worker stopped and returns the messages it had not taken;
// slots filled later are put back by their writers.
func (d *direct) stop() []*OutboxMessage {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running = false
	var msgs []*OutboxMessage
	kept := d.slots[:0]
	for _, sl := range d.slots {
		if sl.filled {
			msgs = append(msgs, sl.msgs...)
			continue
		}
		kept = append(kept, sl)
	}
	d.slots = kept
	d.queued = 0
	return msgs
}

// Acknowledgements on the direct path are gathered: a delivered message is
// acknowledged with the others delivered within ackDelay, at most ackBatch
// at once, and before the next message of its stream is delivered.
const (
	ackDelay = 5 * time.Millisecond
	ackBatch = 256
)

// directAcks are the delivered messages not yet acknowledged, all held by
// one owner.
type directAcks struct {
	owner   string
	ids     []string
	streams map[string]bool
	timer   *time.Timer
	armed   bool
}

// due returns the channel that fires when the acknowledgements are due, or
// nil when none waits.
func (a *directAcks) due() <-chan time.Time {
	if !a.armed {
		return nil
	}
	return a.timer.C
}

// runDirect is the direct worker: it delivers what writes hand it until ctx
// ends, then acknowledges what it delivered and puts back what it did not.
func (s *Service) runDirect(ctx context.Context) {
	acks := &directAcks{streams: map[string]bool{}, timer: time.NewTimer(time.Hour)}
	acks.timer.Stop()
	defer acks.timer.Stop()
	for {
		msgs := s.direct.take(ctx, acks.due())
		switch {
		case msgs != nil:
			s.deliverDirect(ctx, msgs, acks)
		case ctx.Err() != nil:
			s.flushAcks(ctx, acks)
			s.putBack(s.direct.stop())
			return
		default: // the acknowledgements are due
			acks.armed = false
			s.flushAcks(ctx, acks)
		}
	}
}

// deliverDirect delivers msgs in order. A message waits for the
// acknowledgement of the one before it in its stream, and a message held
// under an owner name that is no longer current is put back instead.
func (s *Service) deliverDirect(ctx context.Context, msgs []*OutboxMessage, acks *directAcks) {
	var stale []*OutboxMessage
	for i, m := range msgs {
		if ctx.Err() != nil {
			stale = append(stale, msgs[i:]...)
			break
		}
		if acks.streams[m.Stream] || len(acks.ids) >= ackBatch {
			s.flushAcks(ctx, acks)
		}
		owner := s.direct.current()
		if m.LeaseOwner != owner {
			stale = append(stale, m)
			continue
		}
		ok, _, err := s.dispatchOne(ctx, m)
		if err != nil {
			s.log.Warn("direct notification not recorded", zap.String("event_id", m.Event.ID), zap.Error(err))
		}
		if !ok {
			// It failed (and waits for its retry), or its lease ended:
			// what the current owner holds of its stream must not pass it.
			s.flushAcks(ctx, acks)
			s.direct.rename(s.owner)
			continue
		}
		acks.owner = owner
		acks.ids = append(acks.ids, m.ID)
		acks.streams[m.Stream] = true
		if !acks.armed {
			acks.timer.Reset(ackDelay)
			acks.armed = true
		}
	}
	s.putBack(stale)
}

// flushAcks acknowledges the delivered messages with one store call. When
// that fails, or misses some, the worker takes a new owner name, so that
// nothing passes a message that will be delivered again.
func (s *Service) flushAcks(ctx context.Context, acks *directAcks) {
	if len(acks.ids) == 0 {
		return
	}
	n, err := s.ack(ctx, acks.owner, acks.ids)
	if err != nil || n < len(acks.ids) {
		if err != nil {
			s.log.Warn("direct notifications delivered but not recorded; they will be delivered again", zap.Error(err))
		}
		s.direct.rename(s.owner)
	}
	acks.ids = acks.ids[:0]
	clear(acks.streams)
}

// putBack ends the leases of msgs, each due now, for ClaimOutbox: they were
// leased to this process but will not be delivered directly.
func (s *Service) putBack(msgs []*OutboxMessage) {
	if len(msgs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := s.now()
	// Not an attempt: none was made. One store call per lease owner (the
	// worker renames itself when something goes wrong).
	byOwner := map[string][]string{}
	for _, m := range msgs {
		byOwner[m.LeaseOwner] = append(byOwner[m.LeaseOwner], m.ID)
	}
	for owner, ids := range byOwner {
		if _, err := s.store.ReleaseOutbox(ctx, owner, ids, now); err != nil {
			s.log.Warn("direct notifications not put back; they are claimed when their lease ends",
				zap.Int("messages", len(ids)), zap.Error(err))
		}
	}
	s.notifyDispatcher()
}
