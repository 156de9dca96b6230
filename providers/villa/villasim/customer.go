package villasim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

type action string

const (
	actionPay     action = "pay"
	actionDecline action = "decline"
	actionExpire  action = "expire"
)

// Pay plays the customer paying: scanning the QR code, or finishing 3-D
// Secure for a card. The order (paykit's payment id) must be waiting for
// the customer. The callbacks are sent before Pay returns; their delivery
// is recorded in Callbacks, not returned as an error.
func (s *Server) Pay(ctx context.Context, paymentID string) error {
	return s.finish(ctx, paymentID, actionPay)
}

// Decline plays the customer (or the issuer) refusing the payment.
func (s *Server) Decline(ctx context.Context, paymentID string) error {
	return s.finish(ctx, paymentID, actionDecline)
}

// Expire lets the payment run out of time.
func (s *Server) Expire(ctx context.Context, paymentID string) error {
	return s.finish(ctx, paymentID, actionExpire)
}

func (s *Server) finish(ctx context.Context, orderID string, a action) error {
	s.mu.Lock()
	o := s.orders[orderID]
	if o == nil {
		s.mu.Unlock()
		return wrapf(ErrUnknownPayment, "villasim: %s %s", a, orderID)
	}
	s.expireIfDue(o)
	if o.status != StatusPending {
		s.mu.Unlock()
		return wrapf(ErrNotPayable, "villasim: %s %s (status %s)", a, orderID, o.status)
	}
	o.updated = s.now()
	switch a {
	case actionPay:
		o.status, o.transactionState, o.approvalCode = StatusPaid, "Authorized", approval()
	case actionDecline:
		o.status, o.transactionState = StatusFailed, "Declined"
		if o.method == "card" {
			o.failureCode, o.failureMessage = "card_declined", "Card declined by issuer"
		} else {
			o.failureCode, o.failureMessage = "payment_rejected", "The customer rejected the payment"
		}
	case actionExpire:
		o.status, o.transactionState = StatusExpired, "Expired"
	}
	var outs []outgoing
	if o.callback != "" {
		if o.method == "card" && s.cardForm && a != actionExpire {
			outs = append(outs, s.cardForm3DS(o, a == actionPay))
		} else {
			outs = append(outs, s.statusUpdate(o, o.status, o.callback)...)
		}
	}
	outs = append(outs, s.statusUpdate(o, o.status, "")...)
	stale := o.stale
	o.stale = nil
	dups := s.cbFaults.Duplicates
	var list []outgoing
	for _, out := range outs {
		for range dups + 1 {
			list = append(list, out)
		}
	}
	list = append(list, stale...)
	if s.hold {
		s.held = append(s.held, list...)
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	for _, out := range list {
		s.deliver(ctx, out)
	}
	return nil
}

// outgoing is a callback to send.
type outgoing struct {
	orderID     string
	url         string
	contentType string
	body        []byte
}

// Callback is a callback the simulator sent (or tried to).
type Callback struct {
	// OrderID is the order it is about (paykit's payment id).
	OrderID string
	// URL is where it went.
	URL string
	// Header holds the request headers of the last attempt, including the
	// signature headers when the simulator signs.
	Header http.Header
	// Body is the raw body.
	Body []byte
	// StatusCode is the receiver's answer to the last attempt (0 when it
	// could not be reached).
	StatusCode int
	// Attempts is how many times it was tried.
	Attempts int
	// Err is why the last attempt failed, if it did.
	Err string
	// SentAt is when it was last tried.
	SentAt time.Time
}

// Callbacks returns the callbacks sent so far, oldest first.
func (s *Server) Callbacks() []Callback {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Callback, len(s.callbacks))
	for i, c := range s.callbacks {
		c.Header = c.Header.Clone()
		c.Body = bytes.Clone(c.Body)
		out[i] = c
	}
	return out
}

type statusUpdateJSON struct {
	Event string `json:"event"`
	Data  struct {
		OrderID   string      `json:"orderId"`
		Status    string      `json:"status"`
		Amount    json.Number `json:"amount"`
		Timestamp string      `json:"timestamp"`
	} `json:"data"`
}

// statusUpdate builds payment.status.updated callbacks saying status: to to
// when given, else to the merchant-wide webhook URL when there is one.
// s.mu is held.
func (s *Server) statusUpdate(o *order, status, to string) []outgoing {
	if to == "" {
		to = s.webhookURL
	}
	if to == "" {
		return nil
	}
	var ev statusUpdateJSON
	ev.Event = "payment.status.updated"
	ev.Data.OrderID = o.id
	ev.Data.Status = status
	ev.Data.Amount = villaAmount(o.amount)
	ev.Data.Timestamp = s.now().Format(time.RFC3339)
	b, err := json.Marshal(ev)
	if err != nil {
		return nil
	}
	return []outgoing{{orderID: o.id, url: to, contentType: "application/json", body: b}}
}

// cardForm3DS builds KBank's card callback form, in KBank's field order.
// s.mu is held.
func (s *Server) cardForm3DS(o *order, ok bool) outgoing {
	msg := ""
	if !ok {
		msg = o.failureMessage
	}
	body := "objectId=" + url.QueryEscape(o.kbankID) +
		"&token=" + url.QueryEscape(o.token) +
		"&status=" + strconv.FormatBool(ok) +
		"&message=" + url.QueryEscape(msg) +
		"&saveCard=false"
	return outgoing{orderID: o.id, url: o.callback, contentType: "application/x-www-form-urlencoded", body: []byte(body)}
}

// sign returns the simulator's signature of body sent at ts.
func (s *Server) sign(ts string, body []byte) string {
	m := hmac.New(sha256.New, s.webhookSecret)
	_, _ = io.WriteString(m, ts+".")
	_, _ = m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// deliver sends one callback, retrying a few times, and records it.
func (s *Server) deliver(ctx context.Context, out outgoing) {
	cb := Callback{OrderID: out.orderID, URL: out.url, Body: out.body}
	for attempt := 1; attempt <= s.callbackAttempts; attempt++ {
		cb.Attempts, cb.SentAt = attempt, s.now()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, out.url, bytes.NewReader(out.body))
		if err != nil {
			cb.Err = err.Error()
			break
		}
		req.Header.Set("Content-Type", out.contentType)
		req.Header.Set("User-Agent", "villasim")
		if len(s.webhookSecret) > 0 {
			ts := strconv.FormatInt(s.now().Unix(), 10)
			req.Header.Set(HeaderTimestamp, ts)
			req.Header.Set(HeaderSignature, s.sign(ts, out.body))
		}
		cb.Header = req.Header.Clone()
		resp, err := s.hc.Do(req)
		if err != nil {
			cb.StatusCode, cb.Err = 0, err.Error()
		} else {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
			cb.StatusCode = resp.StatusCode
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				cb.Err = ""
				break
			}
			cb.Err = "HTTP " + strconv.Itoa(resp.StatusCode)
		}
		if attempt < s.callbackAttempts && !sleep(ctx, time.Duration(attempt)*25*time.Millisecond) {
			break
		}
	}
	s.mu.Lock()
	s.callbacks = append(s.callbacks, cb)
	s.mu.Unlock()
}

var threeDSTemplate = template.Must(template.New("3ds").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>villasim 3-D Secure</title></head>
<body>
<h1>3-D Secure (simulated)</h1>
{{if .Done}}<p>{{.Done}}</p>{{else}}
<p>Charge {{.ChargeID}}: {{.Amount}} THB</p>
<form method="post"><button name="action" value="pay">Authenticate and pay</button>
<button name="action" value="decline">Decline</button></form>{{end}}
</body></html>`))

type threeDSView struct {
	ChargeID string
	Amount   string
	Done     string
}

func (s *Server) orderByCharge(id string) (string, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.byKBankID[id]
	if o == nil || o.method != "card" || o.kbankID != id {
		return "", "", false
	}
	return o.id, string(villaAmount(o.amount)), true
}

func (s *Server) threeDSPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("chargeId")
	_, amount, ok := s.orderByCharge(id)
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = threeDSTemplate.Execute(w, threeDSView{ChargeID: id, Amount: amount})
}

func (s *Server) threeDSSubmit(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("chargeId")
	orderID, amount, ok := s.orderByCharge(id)
	if !ok {
		http.NotFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	a := actionDecline
	if r.PostFormValue("action") == "pay" {
		a = actionPay
	}
	done := "Payment authenticated."
	if a == actionDecline {
		done = "Payment declined."
	}
	if err := s.finish(r.Context(), orderID, a); err != nil {
		done = "This payment is no longer waiting for authentication."
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = threeDSTemplate.Execute(w, threeDSView{ChargeID: id, Amount: amount, Done: done})
}
