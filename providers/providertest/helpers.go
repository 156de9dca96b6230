package providertest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paykit/paykit/payment"
)

// crockford is Crockford's base32 alphabet, as paykit's ids use.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns a fresh id shaped like paykit's: prefix ("pay_", "re_",
// "po_") followed by 26 base32 characters, time-ordered.
func NewID(prefix string) string {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint64(b[:8], ms<<16)
	_, _ = rand.Read(b[6:])
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return prefix + string(out[:])
}

// NewStartRequest returns a start request for a new pending payment of
// provider with a fresh "pay_" id, an order id derived from it, and the
// idempotency key the Service would use (the payment id). Harnesses add what
// the method needs (Card, PaymentToken, Customer, NotifyURL).
func NewStartRequest(provider string, method payment.Method, amount int64, currency string) *payment.StartRequest {
	id := NewID(payment.PrefixPayment)
	now := time.Now().UTC()
	return &payment.StartRequest{
		Payment: &payment.Payment{
			Object:        "payment",
			ID:            id,
			Provider:      provider,
			Method:        method,
			OrderID:       "ord_" + strings.ToLower(id[len(payment.PrefixPayment):]),
			Amount:        amount,
			Currency:      currency,
			Status:        payment.StatusPending,
			CaptureMethod: payment.CaptureAutomatic,
			Description:   "providertest order",
			CreatedAt:     now,
			UpdatedAt:     now,
			Version:       1,
		},
		IdempotencyKey: id,
	}
}

// Recorder is an HTTP server that captures the callbacks a simulator sends,
// so a Harness's Pay and Decline can return them. Give each payment its own
// URL with URLFor and wait for its callbacks with Next.
type Recorder struct {
	srv *httptest.Server

	mu       sync.Mutex
	received []*recorded
	arrived  chan struct{} // closed and replaced on every arrival
	status   int
	ctype    string
	body     []byte
}

type recorded struct {
	key      string
	req      *payment.WebhookRequest
	consumed bool
}

// recorderPrefix is the path under which URLFor keys live.
const recorderPrefix = "/cb/"

// NewRecorder starts a Recorder that answers 200 "OK" until SetResponse
// says otherwise. It is closed when the test ends.
func NewRecorder(t testing.TB) *Recorder {
	t.Helper()
	r := &Recorder{arrived: make(chan struct{}), status: http.StatusOK, ctype: "text/plain", body: []byte("OK")}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *Recorder) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	key := ""
	if rest, ok := strings.CutPrefix(req.URL.Path, recorderPrefix); ok {
		if k, err := url.PathUnescape(rest); err == nil {
			key = k
		}
	}
	wr := &payment.WebhookRequest{
		Header:     req.Header.Clone(),
		Query:      req.URL.Query(),
		Body:       body,
		RemoteAddr: req.RemoteAddr,
	}
	r.mu.Lock()
	r.received = append(r.received, &recorded{key: key, req: wr})
	close(r.arrived)
	r.arrived = make(chan struct{})
	status, ctype, resp := r.status, r.ctype, r.body
	r.mu.Unlock()
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write(resp)
}

// URL returns the recorder's base URL. Callbacks sent to it (or to any path
// outside URLFor's) have the empty key.
func (r *Recorder) URL() string { return r.srv.URL }

// URLFor returns a callback URL for key (a payment or payout id).
func (r *Recorder) URLFor(key string) string {
	return r.srv.URL + recorderPrefix + url.PathEscape(key)
}

// SetResponse sets the answer to later callbacks (some vendors expect a
// particular acknowledgement body).
func (r *Recorder) SetResponse(status int, contentType string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status, r.ctype, r.body = status, contentType, append([]byte(nil), body...)
}

// Next returns the oldest callback for key that Next has not returned yet,
// waiting for one until ctx ends. The key "" matches every callback.
func (r *Recorder) Next(ctx context.Context, key string) (*payment.WebhookRequest, error) {
	for {
		r.mu.Lock()
		for _, rc := range r.received {
			if !rc.consumed && (key == "" || rc.key == key) {
				rc.consumed = true
				r.mu.Unlock()
				return rc.req, nil
			}
		}
		arrived := r.arrived
		r.mu.Unlock()
		select {
		case <-arrived:
		case <-ctx.Done():
			return nil, fmt.Errorf("providertest: no callback for %q: %w", key, ctx.Err())
		}
	}
}

// Count returns how many callbacks arrived for key ("" counts all).
func (r *Recorder) Count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rc := range r.received {
		if key == "" || rc.key == key {
			n++
		}
	}
	return n
}

// FuzzParseWebhook fuzzes p.ParseWebhook with bodies seeded from the given
// genuine callbacks (their headers and query are kept), checking that it
// never panics. Call it from a FuzzXxx function:
//
//	func FuzzParseWebhook(f *testing.F) {
//		providertest.FuzzParseWebhook(f, provider, sampleCallback)
//	}
func FuzzParseWebhook(f *testing.F, p payment.Provider, seeds ...*payment.WebhookRequest) {
	f.Helper()
	for i, s := range seeds {
		f.Add(i, s.Body)
	}
	f.Add(-1, []byte{})
	f.Fuzz(func(t *testing.T, seed int, body []byte) {
		req := &payment.WebhookRequest{Body: body}
		if seed >= 0 && seed < len(seeds) {
			req.Header = seeds[seed].Header.Clone()
			req.Query = cloneValues(seeds[seed].Query)
		}
		res, err := p.ParseWebhook(t.Context(), req)
		if err == nil && res == nil {
			t.Fatal("ParseWebhook must return a result when it returns no error")
		}
	})
}
