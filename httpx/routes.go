package httpx

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"

	"github.com/paykit/paykit/payment"
)

// maxIDLength bounds ids in paths; longer ones cannot exist.
const maxIDLength = 128

// pathID returns the {id} path value, or NOT_FOUND when it cannot be an id.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if id == "" || len(id) > maxIDLength {
		return "", payment.ErrNotFound
	}
	return id, nil
}

// created writes a new object: 201, or 200 with Idempotent-Replayed: true
// when the idempotency key replayed a stored result.
func (h *handler) created(rw *respWriter, v any, replayed bool) error {
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
		rw.Header()[headerIdempotentReplayed] = trueValue
	}
	h.writeJSON(rw, status, v)
	return nil
}

// POST /checkout
func (h *handler) checkout(rw *respWriter, r *http.Request) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	buf := getBuffer()
	defer putBuffer(buf)
	body, err := readJSON(rw, r, h.maxBody, h.bodyTimeout, true, buf)
	if err != nil {
		return err
	}
	var params payment.CheckoutParams
	if err := decodeJSON(body, &params); err != nil {
		return err
	}
	params.IdempotencyKey = key
	params.ClientIP = h.clientIP(r)
	p, err := h.svc.Checkout(r.Context(), &params)
	params.Card, params.PaymentToken = nil, ""
	if err != nil {
		return refineMissing(err, body)
	}
	return h.created(rw, p, p.Replayed)
}

// GET /payments?order_id=...&provider=...
func (h *handler) listPayments(rw *respWriter, r *http.Request) error {
	q := r.URL.Query()
	ps, err := h.svc.FindPayments(r.Context(), q.Get("provider"), q.Get("order_id"))
	if err != nil {
		return err
	}
	h.writeJSON(rw, http.StatusOK, newList(ps))
	return nil
}

// GET /payments/{id}[?sync=true]
func (h *handler) getPayment(rw *respWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	sync := false
	if r.URL.RawQuery != "" {
		if sync, err = boolParam(r.URL.Query(), "sync"); err != nil {
			return err
		}
	}
	var p *payment.Payment
	if sync {
		p, err = h.svc.Sync(r.Context(), id)
	} else {
		p, err = h.svc.GetPayment(r.Context(), id)
	}
	if err != nil {
		return err
	}
	h.writeJSON(rw, http.StatusOK, p)
	return nil
}

// GET /payments/{id}/events
func (h *handler) listEvents(rw *respWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	evs, err := h.svc.ListEvents(r.Context(), id)
	if err != nil {
		return err
	}
	h.writeJSON(rw, http.StatusOK, newList(evs))
	return nil
}

// GET /events?delivery=failed[&limit=100]: notifications whose delivery
// was given up. delivery=failed is required (it is the only listing).
func (h *handler) listDeliveries(rw *respWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("delivery") != "failed" {
		return errInput("delivery", "delivery must be \"failed\"")
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return errInput("limit", "limit must be an integer from 1 to 1000")
		}
		limit = n
	}
	ds, err := h.svc.FailedDeliveries(r.Context(), limit)
	if err != nil {
		return err
	}
	h.writeJSON(rw, http.StatusOK, newList(ds))
	return nil
}

// redelivery is the answer of POST /events/{id}/redeliver.
type redelivery struct {
	Object      string `json:"object"`
	EventID     string `json:"event_id"`
	Redelivered int    `json:"redelivered"`
}

// POST /events/{id}/redeliver: send an event's failed deliveries again.
func (h *handler) redeliver(rw *respWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	n, err := h.svc.Redeliver(r.Context(), id)
	if err != nil {
		return err
	}
	h.writeJSON(rw, http.StatusOK, &redelivery{Object: "redelivery", EventID: id, Redelivered: n})
	return nil
}

// POST /payments/{id}/refunds {"amount": 5000, "reason": "..."}, both
// optional: without amount, what is left is refunded.
func (h *handler) refund(rw *respWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	buf := getBuffer()
	defer putBuffer(buf)
	body, err := readJSON(rw, r, h.maxBody, h.bodyTimeout, false, buf)
	if err != nil {
		return err
	}
	var params payment.RefundParams
	if body != nil {
		if err := decodeJSON(body, &params); err != nil {
			return err
		}
		// An explicit 0 is not "everything".
		if params.Amount == 0 && present(body, "amount") {
			return errInput("amount", "amount must be a positive integer")
		}
	}
	params.PaymentID = id
	params.IdempotencyKey = key
	re, err := h.svc.Refund(r.Context(), &params)
	if err != nil {
		return err
	}
	return h.created(rw, re, re.Replayed)
}

// POST /payments/{id}/cancel
func (h *handler) cancel(rw *respWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p, err := h.svc.Cancel(r.Context(), id)
	if err != nil {
		return err
	}
	h.writeJSON(rw, http.StatusOK, p)
	return nil
}

// captureBody is the optional body of POST /payments/{id}/capture.
type captureBody struct {
	// Amount to capture in minor units; absent captures everything.
	Amount *int64 `json:"amount"`
}

// POST /payments/{id}/capture [{"amount": 5000}]
func (h *handler) capture(rw *respWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	buf := getBuffer()
	defer putBuffer(buf)
	body, err := readJSON(rw, r, h.maxBody, h.bodyTimeout, false, buf)
	if err != nil {
		return err
	}
	var amount int64
	if body != nil {
		var cb captureBody
		if err := decodeJSON(body, &cb); err != nil {
			return err
		}
		if cb.Amount != nil {
			if *cb.Amount <= 0 {
				return errInput("amount", "amount must be a positive integer")
			}
			amount = *cb.Amount
		}
	}
	p, err := h.svc.Capture(r.Context(), id, amount)
	if err != nil {
		return err
	}
	h.writeJSON(rw, http.StatusOK, p)
	return nil
}

// POST /payments/{id}/confirm {"otp": "123456"}
func (h *handler) confirm(rw *respWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	buf := getBuffer()
	defer putBuffer(buf)
	body, err := readJSON(rw, r, h.maxBody, h.bodyTimeout, true, buf)
	if err != nil {
		return err
	}
	var c payment.Confirmation
	if err := decodeJSON(body, &c); err != nil {
		return err
	}
	p, err := h.svc.Confirm(r.Context(), id, &c)
	if err != nil {
		return refineMissing(err, body)
	}
	h.writeJSON(rw, http.StatusOK, p)
	return nil
}

// POST /payouts
func (h *handler) createPayout(rw *respWriter, r *http.Request) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	buf := getBuffer()
	defer putBuffer(buf)
	body, err := readJSON(rw, r, h.maxBody, h.bodyTimeout, true, buf)
	if err != nil {
		return err
	}
	var params payment.PayoutParams
	if err := decodeJSON(body, &params); err != nil {
		return err
	}
	params.IdempotencyKey = key
	po, err := h.svc.CreatePayout(r.Context(), &params)
	if err != nil {
		return refineMissing(err, body)
	}
	return h.created(rw, po, po.Replayed)
}

// GET /payouts/{id}[?sync=true]
func (h *handler) getPayout(rw *respWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	sync := false
	if r.URL.RawQuery != "" {
		if sync, err = boolParam(r.URL.Query(), "sync"); err != nil {
			return err
		}
	}
	var po *payment.Payout
	if sync {
		po, err = h.svc.SyncPayout(r.Context(), id)
	} else {
		po, err = h.svc.GetPayout(r.Context(), id)
	}
	if err != nil {
		return err
	}
	h.writeJSON(rw, http.StatusOK, po)
	return nil
}

// GET /providers
func (h *handler) listProviders(rw *respWriter, _ *http.Request) error {
	h.writeJSON(rw, http.StatusOK, newList(h.svc.Providers()))
	return nil
}

// BalanceResponse is the body of GET /providers/{name}/balance: the
// merchant's money at the provider, one entry per currency in each list.
//
//	{"object": "balance", "provider": "sandbox",
//	 "available": [{"amount": 100000, "currency": "THB"}],
//	 "pending": [{"amount": 0, "currency": "THB"}]}
type BalanceResponse struct {
	// Object is always "balance".
	Object string `json:"object"`
	// Provider is the provider's name.
	Provider string `json:"provider"`
	// Available is what can be paid out now.
	Available []payment.Money `json:"available"`
	// Pending is what the provider has not settled yet.
	Pending []payment.Money `json:"pending"`
}

// GET /providers/{name}/balance
func (h *handler) balance(rw *respWriter, r *http.Request) error {
	name := r.PathValue("name")
	bs, err := h.svc.Balance(r.Context(), name)
	if err != nil {
		return err
	}
	out := &BalanceResponse{
		Object: "balance", Provider: name,
		Available: make([]payment.Money, 0, len(bs)), Pending: make([]payment.Money, 0, len(bs)),
	}
	for _, b := range bs {
		out.Available = append(out.Available, payment.Money{Amount: b.Available, Currency: b.Currency})
		out.Pending = append(out.Pending, payment.Money{Amount: b.Pending, Currency: b.Currency})
	}
	h.writeJSON(rw, http.StatusOK, out)
	return nil
}

// QuoteResponse is the body of GET /providers/{name}/quote: the provider's
// quote with the object type, provider and method.
type QuoteResponse struct {
	// Object is always "quote".
	Object string `json:"object"`
	// Provider is the provider's name.
	Provider string `json:"provider"`
	// Method is the method asked about, if any.
	Method payment.Method `json:"method,omitempty"`
	*payment.Quote
}

// GET /providers/{name}/quote?amount=&currency=&method=
func (h *handler) quote(rw *respWriter, r *http.Request) error {
	name := r.PathValue("name")
	if _, err := h.svc.Provider(name); err != nil {
		return err
	}
	q := r.URL.Query()
	req := &payment.QuoteRequest{Method: payment.Method(q.Get("method"))}
	rawAmount := q.Get("amount")
	if rawAmount == "" {
		return payment.MissingField("amount")
	}
	amount, err := parseAmount(rawAmount)
	if err != nil {
		return err
	}
	req.Amount = payment.Money{Amount: amount, Currency: q.Get("currency")}
	if req.Amount.Currency == "" {
		return payment.MissingField("currency")
	}
	switch req.Method {
	case "", payment.MethodCard, payment.MethodQR, payment.MethodWeChat, payment.MethodEWallet, payment.MethodBankTransfer:
	default:
		return payment.InvalidField("method", "must be one of: card qr wechat ewallet bank_transfer")
	}
	quote, err := h.svc.Quote(r.Context(), name, req)
	if err != nil {
		return err
	}
	h.writeJSON(rw, http.StatusOK, &QuoteResponse{Object: "quote", Provider: name, Method: req.Method, Quote: quote})
	return nil
}

// parseAmount parses a positive integer amount in minor units: digits
// only, no sign, no decimals, no exponent.
func parseAmount(s string) (int64, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, payment.InvalidField("amount", "must be a positive integer in minor units")
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, payment.InvalidField("amount", "must be a positive integer in minor units")
	}
	return n, nil
}

// POST /webhooks/{provider}: authenticated by the provider's own scheme,
// not by API key, and not rate limited. The provider's acknowledgement is
// written as it is.
func (h *handler) webhook(w http.ResponseWriter, r *http.Request) {
	rw := asRespWriter(w)
	if err := h.serveWebhook(rw, r); err != nil {
		h.fail(rw, err, scopeProvider)
	}
}

func (h *handler) serveWebhook(rw *respWriter, r *http.Request) error {
	name := r.PathValue("provider")
	if _, err := h.svc.Provider(name); err != nil {
		return err
	}
	if r.ContentLength > h.maxWebhookBody {
		return tooLarge(h.maxWebhookBody)
	}
	// Not pooled: the inbox keeps the raw body.
	var body []byte
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		b := make([]byte, 0, max(r.ContentLength, 512))
		buf := bytes.NewBuffer(b)
		if err := readBody(rw, r, h.maxWebhookBody, h.bodyTimeout, buf); err != nil {
			return err
		}
		body = buf.Bytes()
	}
	ack, err := h.svc.HandleWebhook(r.Context(), name, &payment.WebhookRequest{
		Header:     r.Header,
		Query:      r.URL.Query(),
		Body:       body,
		RemoteAddr: r.RemoteAddr,
	})
	if errors.Is(err, payment.ErrConflict) {
		// Lost to concurrent updates: a 5xx makes the vendor retry, which
		// then applies the event once.
		return &apiError{
			status: http.StatusServiceUnavailable, code: CodeServiceUnavailable, retryAfter: "1",
			message: "temporarily unavailable; retry later", cause: err,
		}
	}
	if err != nil {
		return err
	}
	status := ack.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	if ack.ContentType != "" {
		rw.Header().Set("Content-Type", ack.ContentType)
	} else {
		rw.Header()["Content-Type"] = nil // no sniffing: the ack as given
	}
	rw.Header()["X-Content-Type-Options"] = noSniff
	rw.Header().Set("Content-Length", strconv.Itoa(len(ack.Body)))
	rw.WriteHeader(status)
	if len(ack.Body) > 0 {
		_, _ = rw.Write(ack.Body)
	}
	return nil
}
