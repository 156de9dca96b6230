package bunstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/paykit/paykit/payment"
)

// Group commit. On a PostgreSQL pool, concurrent CreatePayment calls are
// written together, as are concurrent UpdatePayment calls: one statement
// (one round trip, one executor start-up over the payments, events, inbox
// and outbox tables, one commit) for all the payments waiting at that
// moment. That start-up and the commit are most of the server's work for
// a checkout's writes; the rows themselves are a small part.
//
// Nobody waits for a batch to fill. A call that finds no batch of its kind
// running writes at once, alone; otherwise it queues, and when a batch ends
// the oldest queued call writes the queue. So at low load every write is
// its own statement, as without batching, and under load the batches grow
// with the queue. Each statement costs the server about as much again as
// its rows, so batches are kept as large as the load makes them: another
// batch (up to batchesInFlight) starts beside a running one only when a
// full batch (maxBatch calls) is queued, so that a server with more cores
// than one batch keeps busy gets more of them at once, or when a call has
// waited stallAfter in the queue, so that a batch stuck on a row lock (a
// host's transaction holding a payment) holds up the others that long at
// most. Like the first, such a batch hands the queue on when it ends, so
// the extra writers stay while there is a queue and go when it is empty.
//
// A batch commits or fails as a whole. A batch that PostgreSQL refused
// (a constraint of one of its payments: a second live payment for an
// order, a stored inbox message) is written again one call at a time, so
// that every call gets its own answer, exactly as if it had run alone. A
// batch whose outcome is unknown (the connection broke) gives every call
// that error, as a lone write would. A compare-and-set that did not match
// fails only its own call.

// batchesInFlight is how many batches of one kind may run at once, each
// beyond the first only while a full batch waits or a call has waited
// stallAfter.
const batchesInFlight = 4

// stallAfter is how long a queued call waits for the running batches
// before it starts a batch of its own, if a slot is free: far longer than
// a batch takes on a healthy server.
const stallAfter = 50 * time.Millisecond

// maxBatch bounds the calls in one batch, so that a statement's text (one
// VALUES row per payment, event and notification) stays within the
// prepared-statement cache's few variants.
const maxBatch = 16

// writeJob is one CreatePayment or UpdatePayment call waiting in a batcher.
type writeJob struct {
	ctx    context.Context
	p      *payment.Payment
	args   []any // p's values, for paymentColumns
	events []payment.Event
	err    error
	// done is closed when err is set. lead receives the batch this job is
	// to write, as its first member.
	done chan struct{}
	lead chan []*writeJob
}

func newWriteJob(ctx context.Context, p *payment.Payment, args []any, events []payment.Event) *writeJob {
	return &writeJob{ctx: ctx, p: p, args: args, events: events, done: make(chan struct{}), lead: make(chan []*writeJob, 1)}
}

// finish sets the job's outcome and wakes its caller.
func (j *writeJob) finish(err error) {
	j.err = err
	close(j.done)
}

// batcher groups concurrent writes of one kind.
type batcher struct {
	// write writes jobs, a batch of calls for distinct payments, and
	// finishes every one of them.
	write func(ctx context.Context, jobs []*writeJob)
	// stall is stallAfter (tests lengthen it).
	stall time.Duration

	mu      sync.Mutex
	queue   []*writeJob
	running int // batches being written
}

// do writes j, alone or in a batch, and returns its outcome.
func (b *batcher) do(j *writeJob) error {
	b.mu.Lock()
	if b.running == 0 {
		b.running++
		b.mu.Unlock()
		b.run([]*writeJob{j})
		return j.err // run finished j
	}
	b.queue = append(b.queue, j)
	b.startIf(len(b.queue) >= maxBatch) // unlocks
	stalled := time.NewTimer(b.stall)
	defer stalled.Stop()
	for {
		select {
		case <-stalled.C:
			b.mu.Lock()
			b.startIf(slices.Contains(b.queue, j)) // unlocks
			continue
		case <-j.ctx.Done():
			b.mu.Lock()
			if i := slices.Index(b.queue, j); i >= 0 {
				// Still queued: nothing was written.
				b.queue = slices.Delete(b.queue, i, i+1)
				b.mu.Unlock()
				return mapError(j.ctx.Err())
			}
			b.mu.Unlock()
			// Taken into a batch: its outcome is the batch's.
		case <-j.done:
		case batch := <-j.lead:
			b.run(batch)
		}
		return b.await(j)
	}
}

// startIf starts a batch beside the running ones, from the oldest queued
// calls, if cond holds and a slot is free, and unlocks mu. The caller holds
// mu.
func (b *batcher) startIf(cond bool) {
	var batch []*writeJob
	if cond && b.running < batchesInFlight {
		if batch = b.take(); len(batch) > 0 {
			b.running++
		}
	}
	b.mu.Unlock()
	if len(batch) > 0 {
		batch[0].lead <- batch
	}
}

// await returns j's outcome once it is finished, writing the batch j is
// handed to lead meanwhile, if any.
func (b *batcher) await(j *writeJob) error {
	select {
	case <-j.done:
	case batch := <-j.lead:
		b.run(batch)
		<-j.done
	}
	return j.err
}

// run writes batch, then hands the queue, if any, to its oldest call. If
// the write panics, the batch's calls that were not finished get an error
// and the queue is still handed on, so that one panic does not stop every
// later write; the panic goes on up the caller's stack.
func (b *batcher) run(batch []*writeJob) {
	defer b.handOff()
	defer func() {
		if r := recover(); r != nil {
			for _, j := range batch {
				select {
				case <-j.done:
				default:
					j.finish(fmt.Errorf("bunstore: the write of a batch of %d panicked: %w", len(batch), payment.ErrUnavailable))
				}
			}
			panic(r)
		}
	}()
	if len(batch) == 1 {
		// Alone, the write is the caller's, under its context.
		b.write(batch[0].ctx, batch)
		return
	}
	ctx, cancel := batchContext(batch)
	defer cancel()
	b.write(ctx, batch)
}

// handOff gives the next batch to its oldest call, or frees the slot.
func (b *batcher) handOff() {
	b.mu.Lock()
	next := b.take()
	if len(next) == 0 {
		b.running--
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	next[0].lead <- next
}

// take removes the next batch from the queue: the oldest calls, one per
// payment, at most maxBatch. Calls whose context ended are finished with
// its error, nothing written. The caller holds mu.
func (b *batcher) take() []*writeJob {
	var batch []*writeJob
	rest := b.queue[:0]
	for _, j := range b.queue {
		switch {
		case j.ctx.Err() != nil:
			j.finish(mapError(j.ctx.Err()))
		case len(batch) < maxBatch && !slices.ContainsFunc(batch, func(o *writeJob) bool { return o.p.ID == j.p.ID }):
			batch = append(batch, j)
		default:
			rest = append(rest, j)
		}
	}
	clear(b.queue[len(rest):])
	b.queue = rest
	return batch
}

// batchContext returns the context a batch of several calls is written
// under: not canceled by any one caller (the others' writes are in the
// same statement), with the latest of their deadlines if they all have one.
func batchContext(batch []*writeJob) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(batch[0].ctx)
	var latest time.Time
	for _, j := range batch {
		d, ok := j.ctx.Deadline()
		if !ok {
			return context.WithCancel(ctx)
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(ctx, latest)
}

// refusedAsAWhole reports an error with which PostgreSQL rejected a whole
// statement, such as a constraint violation: nothing of it was written,
// and its calls can be written again one by one to learn whose it was.
func refusedAsAWhole(err error) bool {
	return pgCode(err) != "" && !isServerGone(err)
}

// writeEach writes the calls of a refused batch one at a time.
func writeEach(batch []*writeJob, write func(ctx context.Context, jobs []*writeJob)) {
	for _, j := range batch {
		write(j.ctx, []*writeJob{j})
	}
}

// batchShape is what the text of a batch's statement depends on: whether it
// creates or updates, and how many payments, events, inbox messages and
// outbox messages it writes. Everything else is in the arguments.
type batchShape struct {
	update                              bool
	payments, events, inbox, deliveries int
}

func shapeOf(update bool, payments int, events []payment.Event) batchShape {
	sh := batchShape{update: update, payments: payments, events: len(events)}
	for i := range events {
		if events[i].Inbox != nil {
			sh.inbox++
		}
		sh.deliveries += len(events[i].Destinations)
	}
	return sh
}

// textCache holds the texts of batch statements by shape, up to
// maxBatchTexts of them: a batch's text runs to kilobytes, and building it
// for every batch was a tenth of what a PostgreSQL checkout allocated.
type textCache struct {
	mu sync.Mutex
	m  map[batchShape]batchText
}

// batchText is the text of a shape's statement, and how many arguments it
// takes.
type batchText struct {
	text string
	args int
}

// maxBatchTexts bounds the shapes whose text is kept; the usual shapes are
// a few dozen (batches of 1 to maxBatch payments, one or two events each).
const maxBatchTexts = 512

// batchTexts is the texts of every Store's batch statements.
var batchTexts = &textCache{m: map[batchShape]batchText{}}

// statement returns the text for sh and build's arguments. build writes the
// statement into q; it runs with q.argsOnly, and room for the arguments,
// when the text is known.
func (c *textCache) statement(sh batchShape, build func(q *query)) (string, []any) {
	c.mu.Lock()
	known, ok := c.m[sh]
	c.mu.Unlock()
	q := query{argsOnly: ok}
	if ok {
		q.args = make([]any, 0, known.args)
	}
	build(&q)
	if ok {
		return known.text, q.args
	}
	text := q.String()
	c.mu.Lock()
	if len(c.m) < maxBatchTexts {
		c.m[sh] = batchText{text: text, args: len(q.args)}
	}
	c.mu.Unlock()
	return text, q.args
}
