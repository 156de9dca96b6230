package payplussim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paykit/paykit/providers/payplus"
)

// Callback is a callback the simulator sent (or, with faults, meant to
// send) about an order's status.
type Callback struct {
	Kind         string // KindDeposit or KindWithdrawal
	OrderNo      string
	AgentOrderNo string
	Status       string
	URL          string
	// Body is the last body sent. Each attempt is signed afresh, with the
	// time of the attempt as its timestamp.
	Body []byte
	// Attempts counts deliveries tried, duplicates included.
	Attempts int
	// Delivered is true once the merchant acknowledged with HTTP 200 and
	// {"code":200,...}.
	Delivered bool
	// Dropped is true when a fault kept it from being sent.
	Dropped bool
	// LastError is why the last attempt failed.
	LastError string
}

// CallbackFaults make callbacks misbehave. They apply to callbacks sent
// after SetCallbackFaults.
type CallbackFaults struct {
	// Drop records callbacks without sending them.
	Drop bool
	// Duplicates sends each callback this many extra times.
	Duplicates int
	// StalePending sends, after each callback, an out-of-order one for the
	// same order with status pending.
	StalePending bool
	// BadSignature corrupts the signature of every callback.
	BadSignature bool
	// Delay waits this long before sending.
	Delay time.Duration
}

// SetCallbackFaults sets the callback faults; the zero value clears them.
func (s *Server) SetCallbackFaults(f CallbackFaults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cbFaults = f
}

// Callbacks returns copies of the callbacks about the order with that
// agent order number (all of them for ""), oldest first.
func (s *Server) Callbacks(id string) []Callback {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Callback
	for _, cb := range s.callbacks {
		if id == "" || cb.AgentOrderNo == id {
			c := *cb
			c.Body = append([]byte(nil), cb.Body...)
			out = append(out, c)
		}
	}
	return out
}

// CallbackBody returns a freshly signed callback body for the order's
// current status, as the simulator would send it now, without sending it.
func (s *Server) CallbackBody(id string) ([]byte, error) {
	s.mu.Lock()
	o := s.find(id, "")
	if o == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("payplussim: callback %s: %w", id, ErrNotFound)
	}
	snap := *o
	s.mu.Unlock()
	return s.callbackBody(&snap, snap.status, false)
}

// spawn runs f in the background until Close; false when closed.
func (s *Server) spawn(f func(ctx context.Context)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f(s.closeCtx)
	}()
	return true
}

// notifyAsync sends the callback for o in the background.
func (s *Server) notifyAsync(o *order) {
	s.spawn(func(ctx context.Context) { s.notify(ctx, o) })
}

// notify sends the callback about o's status: the first attempt (and any
// duplicates and stale copies a fault asks for) now, retries in the
// background.
func (s *Server) notify(ctx context.Context, o *order) {
	s.mu.Lock()
	f := s.cbFaults
	cb := &Callback{Kind: o.kind, OrderNo: o.orderNo, AgentOrderNo: o.agentNo, Status: o.status, URL: o.callbackURL}
	s.callbacks = append(s.callbacks, cb)
	if f.Drop {
		cb.Dropped = true
	}
	s.mu.Unlock()
	if f.Drop {
		return
	}
	if f.Delay > 0 && !sleep(ctx, f.Delay) {
		return
	}
	delivered := s.attempt(ctx, cb, o, o.status, f.BadSignature)
	for range f.Duplicates {
		if s.attempt(ctx, cb, o, o.status, f.BadSignature) {
			delivered = true
		}
	}
	if f.StalePending && o.status != payplus.StatusPending {
		stale := &Callback{Kind: o.kind, OrderNo: o.orderNo, AgentOrderNo: o.agentNo, Status: payplus.StatusPending, URL: o.callbackURL}
		s.mu.Lock()
		s.callbacks = append(s.callbacks, stale)
		s.mu.Unlock()
		s.attempt(ctx, stale, o, payplus.StatusPending, f.BadSignature)
	}
	if delivered || s.cfg.cbAttempts <= 1 {
		return
	}
	s.spawn(func(ctx context.Context) {
		backoff := s.cfg.cbBackoff
		for range s.cfg.cbAttempts - 1 {
			if !sleep(ctx, backoff) {
				return
			}
			if s.attempt(ctx, cb, o, o.status, f.BadSignature) {
				return
			}
			backoff *= 2
		}
	})
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// attempt delivers one callback and reports whether it was acknowledged.
func (s *Server) attempt(ctx context.Context, cb *Callback, o *order, status string, badSig bool) bool {
	body, err := s.callbackBody(o, status, badSig)
	if err == nil {
		err = s.post(ctx, o.callbackURL, body)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cb.Attempts++
	if body != nil {
		cb.Body = body
	}
	if err != nil {
		cb.LastError = err.Error()
		return false
	}
	cb.Delivered = true
	cb.LastError = ""
	return true
}

func (s *Server) post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.cfg.cbClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	ack, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("merchant answered HTTP %d", resp.StatusCode)
	}
	var a struct {
		Code json.RawMessage `json:"code"`
	}
	if err := json.Unmarshal(ack, &a); err != nil {
		return fmt.Errorf("merchant acknowledgement is not JSON")
	}
	if c := strings.Trim(string(a.Code), `" `); c != "200" {
		return fmt.Errorf("merchant acknowledgement code %q", c)
	}
	return nil
}

// callbackBody builds and signs a callback, as documented: order_no,
// agent_order_no, type, amount, fee, transfer_amount, actual_amount,
// status, timestamp (a string) and signature, a JWT of the other fields
// sorted by key.
func (s *Server) callbackBody(o *order, status string, badSig bool) ([]byte, error) {
	now := s.now()
	ts := strconv.FormatInt(now.Unix(), 10)
	if s.cfg.cbMillis {
		ts = strconv.FormatInt(now.UnixMilli(), 10)
	}
	actual := int64(0)
	if status == payplus.StatusCompleted {
		actual = o.actual
	}
	params := payplus.Params{
		"order_no":        o.orderNo,
		"agent_order_no":  o.agentNo,
		"type":            o.kind,
		"amount":          num(o.amount),
		"fee":             num(o.fee),
		"transfer_amount": num(o.transfer),
		"actual_amount":   num(actual),
		"status":          status,
		"timestamp":       ts,
	}
	sig, err := payplus.Sign(params, o.apiKey)
	if err != nil {
		return nil, err
	}
	if badSig {
		b := []byte(sig)
		i := len(b) - 2
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		sig = string(b)
	}
	out := make(map[string]any, len(params)+1)
	for k, v := range params {
		out[k] = v
	}
	out[payplus.SignatureField] = sig
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
