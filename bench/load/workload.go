package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paykit/paykit/providers/sandbox"
)

// scenario is what the clients ask for.
type scenario string

// The scenarios, in the order they run.
const (
	// scCheckout: POST /checkout of a QR payment with the sandbox, a new
	// order id each time.
	scCheckout scenario = "checkout"
	// scStatus: GET /payments/{id} of a payment the target created.
	scStatus scenario = "status"
	// scWebhook: POST /webhooks/sandbox, signed as the sandbox signs; every
	// other request is a new payment.succeeded callback for a payment the
	// target created, the others resend one sent earlier.
	scWebhook scenario = "webhook"
)

var allScenarios = []scenario{scCheckout, scStatus, scWebhook}

// expectedStatus is the answer every request of the scenario must get.
func (sc scenario) expectedStatus() int {
	if sc == scCheckout {
		return http.StatusCreated
	}
	return http.StatusOK
}

// payRef is a payment a target created: enough to read it and to report
// it paid.
type payRef struct {
	id, ref, order string
}

// pool is the payments a target created, in order; the first used have
// had their webhook.
type pool struct {
	mu   sync.Mutex
	refs []payRef
	used int
}

func (p *pool) add(r payRef) {
	p.mu.Lock()
	p.refs = append(p.refs, r)
	p.mu.Unlock()
}

func (p *pool) snapshot() (all, fresh []payRef) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refs, p.refs[p.used:]
}

func (p *pool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.refs)
}

func (p *pool) fresh() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.refs) - p.used
}

// poolKeep is how many used payments a pool keeps for status reads.
const poolKeep = 2048

// consume marks the next n fresh payments used, and forgets used ones
// beyond poolKeep, so that the pools do not grow over a long run.
func (p *pool) consume(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.used = min(p.used+n, len(p.refs))
	if drop := p.used - poolKeep; drop > poolKeep {
		p.refs = append([]payRef(nil), p.refs[drop:]...)
		p.used -= drop
	}
}

// errExhausted ends a webhook pass that ran out of fresh payments.
var errExhausted = errors.New("no fresh payments left for webhooks")

// load is one pass's request maker, shared by its workers.
type load struct {
	t       *target
	sc      scenario
	client  *http.Client
	orders  *atomic.Uint64 // order id counter, shared by the whole run
	runID   string
	idemKey bool
	harvest bool     // keep the payments checkouts create (untimed runs only)
	all     []payRef // status reads pick from these
	fresh   []payRef // webhooks report these paid, in order
	next    atomic.Int64
}

// worker is one client's state; it is used by one goroutine.
type worker struct {
	rng   *rand.Rand
	resp  bytes.Buffer
	sent  []*signedCallback // recent callbacks, for duplicates
	n     uint64
	hist  histogram
	reqs  int64
	errs  int64
	first string // the first error
}

func newWorker(seed uint64) *worker {
	return &worker{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} //nolint:gosec // a load pattern, not security
}

func (w *worker) fail(msg string) {
	w.errs++
	if w.first == "" {
		w.first = msg
	}
}

// signedCallback is a sandbox callback as sent, kept to send again.
type signedCallback struct {
	body   []byte
	header http.Header
}

// sentRing is how many recent callbacks a worker keeps to duplicate.
const sentRing = 256

// do sends one request and checks the answer. Only errExhausted and the
// end of ctx are returned; other failures are counted in w.
func (l *load) do(ctx context.Context, w *worker) error {
	w.n++
	var (
		method = http.MethodPost
		path   string
		body   []byte
		header = http.Header{}
	)
	switch l.sc {
	case scCheckout:
		order := l.runID + "-" + strconv.FormatUint(l.orders.Add(1), 36)
		path, body = "/checkout", appendCheckoutBody(make([]byte, 0, 512), order)
		header.Set("Content-Type", "application/json")
		header.Set("X-API-Key", apiKey)
		if l.idemKey {
			header.Set("Idempotency-Key", "idem-"+order)
		}
	case scStatus:
		method, path = http.MethodGet, "/payments/"+l.all[w.rng.IntN(len(l.all))].id
		header.Set("X-API-Key", apiKey)
	case scWebhook:
		var cb *signedCallback
		if w.n%2 == 0 && len(w.sent) > 0 {
			cb = w.sent[w.rng.IntN(len(w.sent))]
		} else {
			i := l.next.Add(1) - 1
			if i >= int64(len(l.fresh)) {
				return errExhausted
			}
			var err error
			if cb, err = newCallback(l.fresh[i]); err != nil {
				return err
			}
			if len(w.sent) < sentRing {
				w.sent = append(w.sent, cb)
			} else {
				w.sent[w.n%sentRing] = cb
			}
		}
		path, body, header = "/webhooks/sandbox", cb.body, cb.header
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.t.url+path, rd) //nolint:gosec // loopback, our own server
	if err != nil {
		return err
	}
	req.Header = header
	w.reqs++
	resp, err := l.client.Do(req) //nolint:gosec // loopback, our own server
	if err != nil {
		if ctx.Err() != nil {
			w.reqs-- // cut off by the end of the pass
			return ctx.Err()
		}
		w.fail(err.Error())
		return nil
	}
	defer resp.Body.Close()
	w.resp.Reset()
	if _, err := w.resp.ReadFrom(io.LimitReader(resp.Body, 1<<20)); err != nil {
		w.fail(err.Error())
		return nil
	}
	if resp.StatusCode != l.sc.expectedStatus() {
		w.fail(fmt.Sprintf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, truncate(w.resp.String(), 200)))
		return nil
	}
	if l.sc == scCheckout && l.harvest {
		body := w.resp.Bytes()
		id, ref := jsonString(body, `"id":"`), jsonString(body, `"provider_reference":"`)
		if id == "" {
			w.fail("checkout response without an id")
			return nil
		}
		l.t.pool.add(payRef{id: id, ref: ref, order: jsonString(body, `"order_id":"`)})
	}
	return nil
}

// newCallback builds and signs the sandbox's payment.succeeded callback
// for r, exactly as the sandbox would send it.
func newCallback(r payRef) (*signedCallback, error) {
	now := time.Now()
	body, err := json.Marshal(sandbox.Event{
		ID:      "evt_sbx_" + r.id + "_succeeded",
		Type:    "payment.succeeded",
		Created: now.Unix(),
		Data: sandbox.EventData{
			Object: "payment", ID: r.id, OrderID: r.order, Reference: r.ref,
			Status: "succeeded", Amount: checkoutAmount, Currency: checkoutCurrency,
		},
	})
	if err != nil {
		return nil, err
	}
	wr := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, now, body)
	return &signedCallback{body: wr.Body, header: wr.Header}, nil
}

// The checkout every client sends: a QR payment of THB 1,000.00 with a
// customer, a description, a return URL and metadata.
const (
	checkoutAmount   = 100000
	checkoutCurrency = "THB"
)

func appendCheckoutBody(b []byte, order string) []byte {
	b = append(b, `{"provider":"sandbox","method":"qr","order_id":"`...)
	b = append(b, order...)
	b = append(b, `","amount":100000,"currency":"THB","description":"Order `...)
	b = append(b, order...)
	b = append(b, `","customer":{"id":"customer-123","name":"John Doe","email":"john@example.com","phone":"+66812345678"},`+
		`"return_url":"https://shop.example/return","metadata":{"cart":"c_991"}}`...)
	return b
}

// jsonString returns the string value after the first occurrence of key
// (like `"id":"`), without decoding the document: ids have no escapes.
func jsonString(b []byte, key string) string {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return ""
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
