package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/paykit/paykit/payment"
)

// Declines' failure codes: card_declined for cards, declined otherwise.
const failureDeclined = "declined"

// Pay plays the customer paying the payment paymentID (paykit's id): a
// waiting, pending or processing payment succeeds (or is authorized, for
// manual capture), and a signed callback is delivered. The first delivery
// attempt happens before Pay returns; a failed one is retried in the
// background. Errors wrap payment.ErrNotFound or payment.ErrInvalidState.
func (p *Provider) Pay(ctx context.Context, paymentID string) error {
	return p.act(ctx, "pay", paymentID, func(c *charge) error {
		switch c.status {
		case payment.StatusPending, payment.StatusRequiresAction, payment.StatusProcessing:
			p.succeedLocked(c)
			return nil
		case payment.StatusAuthorized, payment.StatusSucceeded, payment.StatusPartiallyRefunded,
			payment.StatusRefunded, payment.StatusFailed, payment.StatusCanceled, payment.StatusExpired:
		}
		return errors.New("the payment is " + string(c.status))
	})
}

// Decline plays the customer declining (or the card network refusing) the
// payment: it fails with card_declined (declined for qr and
// bank_transfer), and a signed callback is delivered.
func (p *Provider) Decline(ctx context.Context, paymentID string) error {
	return p.act(ctx, "decline", paymentID, func(c *charge) error {
		switch c.status {
		case payment.StatusPending, payment.StatusRequiresAction, payment.StatusProcessing:
			code := failureDeclined
			if c.method == payment.MethodCard {
				code = payment.FailureCardDeclined
			}
			c.status = payment.StatusFailed
			c.next = nil
			c.failure = &payment.Failure{Code: code, Message: "the customer declined the payment"}
			return nil
		case payment.StatusAuthorized, payment.StatusSucceeded, payment.StatusPartiallyRefunded,
			payment.StatusRefunded, payment.StatusFailed, payment.StatusCanceled, payment.StatusExpired:
		}
		return errors.New("the payment is " + string(c.status))
	})
}

// Expire lets the payment's time run out now: a waiting, pending or
// processing payment (or an authorization, whose hold is released) becomes
// expired, and a signed callback is delivered.
func (p *Provider) Expire(ctx context.Context, paymentID string) error {
	return p.act(ctx, "expire", paymentID, func(c *charge) error {
		switch c.status {
		case payment.StatusAuthorized:
			p.held[c.currency] -= c.amount
		case payment.StatusPending, payment.StatusRequiresAction, payment.StatusProcessing:
		case payment.StatusSucceeded, payment.StatusPartiallyRefunded, payment.StatusRefunded,
			payment.StatusFailed, payment.StatusCanceled, payment.StatusExpired:
			return errors.New("the payment is " + string(c.status))
		}
		c.status = payment.StatusExpired
		c.next = nil
		c.failure = &payment.Failure{Code: payment.FailureExpired, Message: "the customer did not pay in time"}
		return nil
	})
}

// Resend delivers the callback for the payment's current status again,
// with the same event id (a duplicate, as vendors send them).
func (p *Provider) Resend(ctx context.Context, paymentID string) error {
	return p.act(ctx, "resend", paymentID, func(*charge) error { return nil })
}

// act runs change on the charge under the lock and delivers the callback
// for its new status.
func (p *Provider) act(ctx context.Context, op, paymentID string, change func(*charge) error) error {
	p.mu.Lock()
	c := p.charges[paymentID]
	if c == nil {
		p.mu.Unlock()
		return fmt.Errorf("sandbox: %s %s: %w", op, paymentID, payment.ErrNotFound)
	}
	p.expireLocked(c)
	if err := change(c); err != nil {
		p.mu.Unlock()
		return fmt.Errorf("sandbox: %s %s: %s: %w", op, paymentID, err.Error(), payment.ErrInvalidState)
	}
	ev := p.paymentEventLocked(c, c.status)
	notifyURL := c.notifyURL
	p.mu.Unlock()
	p.send(ctx, notifyURL, ev)
	return nil
}

// WebhookFor returns a signed callback that reports the payment at status,
// as the sandbox would send it, without changing anything. Tests use it
// for stale, out-of-order and duplicate callbacks.
func (p *Provider) WebhookFor(paymentID string, status payment.Status) (*payment.WebhookRequest, error) {
	if !status.Valid() {
		return nil, fmt.Errorf("sandbox: webhook for %s: %w", paymentID, payment.InvalidField("status", "is not a payment status"))
	}
	p.mu.Lock()
	c := p.charges[paymentID]
	if c == nil {
		p.mu.Unlock()
		return nil, fmt.Errorf("sandbox: webhook for %s: %w", paymentID, payment.ErrNotFound)
	}
	ev := p.paymentEventLocked(c, status)
	p.mu.Unlock()
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("sandbox: webhook for %s: %w", paymentID, err)
	}
	return SignWebhook(p.cfg.secret, p.now(), body), nil
}

// CompletePayout plays the bank crediting the payout: it succeeds, and a
// signed callback is delivered to its notify URL.
func (p *Provider) CompletePayout(ctx context.Context, payoutID string) error {
	return p.actPayout(ctx, "complete payout", payoutID, func(po *payout) {
		po.status = payment.PayoutSucceeded
	})
}

// FailPayout plays the bank rejecting the payout: it fails with
// bank_rejected, the amount returns to the available balance, and a signed
// callback is delivered.
func (p *Provider) FailPayout(ctx context.Context, payoutID string) error {
	return p.actPayout(ctx, "fail payout", payoutID, func(po *payout) {
		po.status = payment.PayoutFailed
		po.failure = &payment.Failure{Code: "bank_rejected", Message: "the receiving bank rejected the transfer"}
		p.available[po.currency] += po.amount
	})
}

func (p *Provider) actPayout(ctx context.Context, op, payoutID string, change func(*payout)) error {
	p.mu.Lock()
	po := p.payouts[payoutID]
	if po == nil {
		p.mu.Unlock()
		return fmt.Errorf("sandbox: %s %s: %w", op, payoutID, payment.ErrNotFound)
	}
	if po.status.Final() {
		p.mu.Unlock()
		return fmt.Errorf("sandbox: %s %s: the payout is %s: %w", op, payoutID, po.status, payment.ErrInvalidState)
	}
	change(po)
	ev := p.payoutEventLocked(po)
	notifyURL := po.notifyURL
	p.mu.Unlock()
	p.send(ctx, notifyURL, ev)
	return nil
}

// ChargeView is the sandbox's own view of a payment, as the actions
// handler shows it.
type ChargeView struct {
	Object         string           `json:"object"` // "sandbox_payment"
	ID             string           `json:"id"`
	Reference      string           `json:"reference"`
	Method         payment.Method   `json:"method"`
	Status         payment.Status   `json:"status"`
	Amount         int64            `json:"amount"`
	Currency       string           `json:"currency"`
	AmountCaptured int64            `json:"amount_captured"`
	AmountRefunded int64            `json:"amount_refunded"`
	Failure        *payment.Failure `json:"failure,omitempty"`
}

// PayoutView is the sandbox's own view of a payout.
type PayoutView struct {
	Object         string               `json:"object"` // "sandbox_payout"
	ID             string               `json:"id"`
	Reference      string               `json:"reference"`
	Status         payment.PayoutStatus `json:"status"`
	Amount         int64                `json:"amount"`
	Currency       string               `json:"currency"`
	Fee            int64                `json:"fee"`
	TransferAmount int64                `json:"transfer_amount"`
	Failure        *payment.Failure     `json:"failure,omitempty"`
}

func (p *Provider) chargeView(id string) (*ChargeView, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.charges[id]
	if c == nil {
		return nil, false
	}
	p.expireLocked(c)
	v := &ChargeView{
		Object: "sandbox_payment", ID: c.paymentID, Reference: c.ref, Method: c.method, Status: c.status,
		Amount: c.amount, Currency: c.currency, AmountCaptured: c.captured, AmountRefunded: c.refunded,
	}
	if c.failure != nil {
		f := *c.failure
		v.Failure = &f
	}
	return v, true
}

func (p *Provider) payoutView(id string) (*PayoutView, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	po := p.payouts[id]
	if po == nil {
		return nil, false
	}
	v := &PayoutView{
		Object: "sandbox_payout", ID: po.id, Reference: po.ref, Status: po.status, Amount: po.amount,
		Currency: po.currency, Fee: po.fee, TransferAmount: po.amount - po.fee,
	}
	if po.failure != nil {
		f := *po.failure
		v.Failure = &f
	}
	return v, true
}

// ActionsHandler returns the customer-actions API, for people and scripts
// driving the sandbox over HTTP (mount it under a prefix with
// http.StripPrefix):
//
//	POST /payments/{id}/pay       Pay
//	POST /payments/{id}/decline   Decline
//	POST /payments/{id}/expire    Expire
//	POST /payments/{id}/resend    Resend
//	GET  /payments/{id}           the sandbox's view of the payment
//	POST /payouts/{id}/complete   CompletePayout
//	POST /payouts/{id}/fail       FailPayout
//	GET  /payouts/{id}            the sandbox's view of the payout
//
// {id} is paykit's id. Success is 200 with the sandbox's view as JSON;
// errors use paykit's envelope: 404 NOT_FOUND, 409 INVALID_STATE.
func (p *Provider) ActionsHandler() http.Handler {
	mux := http.NewServeMux()
	payAction := func(do func(context.Context, string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			id := r.PathValue("id")
			if err := do(r.Context(), id); err != nil {
				writeError(w, err)
				return
			}
			v, _ := p.chargeView(id)
			writeJSON(w, http.StatusOK, v)
		}
	}
	payoutAction := func(do func(context.Context, string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			id := r.PathValue("id")
			if err := do(r.Context(), id); err != nil {
				writeError(w, err)
				return
			}
			v, _ := p.payoutView(id)
			writeJSON(w, http.StatusOK, v)
		}
	}
	mux.Handle("POST /payments/{id}/pay", payAction(p.Pay))
	mux.Handle("POST /payments/{id}/decline", payAction(p.Decline))
	mux.Handle("POST /payments/{id}/expire", payAction(p.Expire))
	mux.Handle("POST /payments/{id}/resend", payAction(p.Resend))
	mux.HandleFunc("GET /payments/{id}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := p.chargeView(r.PathValue("id"))
		if !ok {
			writeError(w, fmt.Errorf("sandbox: payment %s: %w", r.PathValue("id"), payment.ErrNotFound))
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	mux.Handle("POST /payouts/{id}/complete", payoutAction(p.CompletePayout))
	mux.Handle("POST /payouts/{id}/fail", payoutAction(p.FailPayout))
	mux.HandleFunc("GET /payouts/{id}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := p.payoutView(r.PathValue("id"))
		if !ok {
			writeError(w, fmt.Errorf("sandbox: payout %s: %w", r.PathValue("id"), payment.ErrNotFound))
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, err error) {
	var body errorBody
	status := http.StatusInternalServerError
	body.Error.Code, body.Error.Message = "INTERNAL_ERROR", "internal error"
	switch {
	case errors.Is(err, payment.ErrNotFound):
		status = http.StatusNotFound
		body.Error.Code, body.Error.Message = "NOT_FOUND", err.Error()
	case errors.Is(err, payment.ErrInvalidState):
		status = http.StatusConflict
		body.Error.Code, body.Error.Message = "INVALID_STATE", err.Error()
	}
	writeJSON(w, status, body)
}
