package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
)

// Callback headers.
const (
	// HeaderTimestamp holds the Unix time, in seconds, the callback was
	// signed at.
	HeaderTimestamp = "Sandbox-Timestamp"
	// HeaderSignature holds the lower-case hex HMAC-SHA256, keyed with the
	// webhook secret, of the timestamp, a ".", and the raw body.
	HeaderSignature = "Sandbox-Signature"
)

// Event is the JSON body of a sandbox callback.
type Event struct {
	// ID is unique per object and status ("evt_sbx_pay_..._succeeded"),
	// so a resent callback carries the same ID and deduplicates.
	ID string `json:"id"`
	// Type is "payment." or "payout." followed by the status.
	Type string `json:"type"`
	// Created is when the change happened, in Unix seconds.
	Created int64 `json:"created"`
	// Data is the object after the change.
	Data EventData `json:"data"`
}

// EventData is the object a callback reports.
type EventData struct {
	// Object is "payment" or "payout".
	Object string `json:"object"`
	// ID is paykit's id for it ("pay_...", "po_...").
	ID string `json:"id"`
	// OrderID is the merchant's order id.
	OrderID string `json:"order_id,omitempty"`
	// Reference is the sandbox's id for it ("sbx_ch_...", "sbx_po_...").
	Reference string `json:"reference"`
	// Status is the payment or payout status.
	Status string `json:"status"`
	// Amount and Currency are the payment's or payout's, in minor units.
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	// AmountCaptured is set when a payment was captured for less than its
	// amount.
	AmountCaptured *int64 `json:"amount_captured,omitempty"`
	// Fee and TransferAmount are set for payouts.
	Fee            *int64 `json:"fee,omitempty"`
	TransferAmount *int64 `json:"transfer_amount,omitempty"`
	// Failure says why it failed, expired or was canceled.
	Failure *payment.Failure `json:"failure,omitempty"`
}

// Signature returns the hex HMAC-SHA256 of timestamp "." body keyed with
// secret: the value of HeaderSignature.
func Signature(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// SignWebhook returns a callback carrying body, signed with secret at ts,
// exactly as the sandbox sends it. Tests use it to build callbacks
// (stale, out of order, forged with another secret).
func SignWebhook(secret string, ts time.Time, body []byte) *payment.WebhookRequest {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "paykit-sandbox")
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, Signature(secret, ts.Unix(), body))
	return &payment.WebhookRequest{Header: h, Query: url.Values{}, Body: bytes.Clone(body)}
}

func invalidSignature(reason string) error {
	return fmt.Errorf("sandbox: webhook: %s: %w", reason, payment.ErrInvalidSignature)
}

// verify checks the timestamp (within the tolerance either way of the
// clock) and the signature (in constant time).
func (p *Provider) verify(req *payment.WebhookRequest) error {
	if req == nil {
		return invalidSignature("no request")
	}
	tsText := req.Header.Get(HeaderTimestamp)
	if tsText == "" || len(tsText) > 12 || !allDigits(tsText) {
		return invalidSignature("missing or malformed " + HeaderTimestamp)
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return invalidSignature("malformed " + HeaderTimestamp)
	}
	skew := p.now().Unix() - ts
	if skew < 0 {
		skew = -skew
	}
	if time.Duration(skew)*time.Second > p.cfg.tolerance {
		return invalidSignature("timestamp outside the tolerance")
	}
	sigText := req.Header.Get(HeaderSignature)
	sig, err := hex.DecodeString(sigText)
	if err != nil || len(sig) != sha256.Size {
		return invalidSignature("missing or malformed " + HeaderSignature)
	}
	want, _ := hex.DecodeString(Signature(p.cfg.secret, ts, req.Body))
	if !hmac.Equal(sig, want) {
		return invalidSignature("signature mismatch")
	}
	return nil
}

// ParseWebhook verifies a callback (see HeaderSignature; the timestamp
// must be within 300 s of the clock, either way) and returns its event.
// A callback that does not verify is an error wrapping
// payment.ErrInvalidSignature; a verified body that is not a sandbox event
// is an error wrapping payment.ErrInvalidInput.
func (p *Provider) ParseWebhook(_ context.Context, req *payment.WebhookRequest) (*payment.WebhookResult, error) {
	if err := p.verify(req); err != nil {
		return nil, err
	}
	var ev Event
	if err := json.Unmarshal(req.Body, &ev); err != nil {
		return nil, fmt.Errorf("sandbox: webhook: %w", payment.InvalidField("body", "is not a sandbox event"))
	}
	if ev.ID == "" || ev.Data.ID == "" {
		return nil, fmt.Errorf("sandbox: webhook: %w", payment.InvalidField("body", "is not a sandbox event"))
	}
	var occurred time.Time
	if ev.Created > 0 {
		occurred = time.Unix(ev.Created, 0).UTC()
	}
	d := ev.Data
	out := payment.WebhookEvent{
		Key:               ev.ID,
		OrderID:           d.OrderID,
		ProviderReference: d.Reference,
		OccurredAt:        occurred,
	}
	var failure *payment.Failure
	if d.Failure != nil {
		f := *d.Failure
		failure = &f
	}
	switch d.Object {
	case "payment":
		st := payment.Status(d.Status)
		if !st.Valid() {
			return nil, fmt.Errorf("sandbox: webhook %s: %w", ev.ID, payment.InvalidField("data.status", "is not a payment status"))
		}
		ps := &payment.PaymentState{Status: st, ProviderReference: d.Reference, Failure: failure}
		if st == payment.StatusAuthorized || st.Paid() {
			ps.Amount = &payment.Money{Amount: d.Amount, Currency: d.Currency}
		}
		if d.AmountCaptured != nil {
			captured := *d.AmountCaptured
			ps.AmountCaptured = &captured
		}
		out.PaymentID = d.ID
		out.Payment = ps
	case "payout":
		st := payment.PayoutStatus(d.Status)
		if !st.Valid() {
			return nil, fmt.Errorf("sandbox: webhook %s: %w", ev.ID, payment.InvalidField("data.status", "is not a payout status"))
		}
		ps := &payment.PayoutState{Status: st, ProviderReference: d.Reference, Failure: failure}
		if d.Fee != nil {
			fee := *d.Fee
			ps.Fee = &fee
		}
		if d.TransferAmount != nil {
			ta := *d.TransferAmount
			ps.TransferAmount = &ta
		}
		out.PayoutID = d.ID
		out.Payout = ps
	default:
		return nil, fmt.Errorf("sandbox: webhook %s: %w", ev.ID, payment.InvalidField("data.object", "must be payment or payout"))
	}
	return &payment.WebhookResult{Events: []payment.WebhookEvent{out}}, nil
}

// paymentEventLocked describes charge c at status.
func (p *Provider) paymentEventLocked(c *charge, status payment.Status) Event {
	d := EventData{
		Object:    "payment",
		ID:        c.paymentID,
		OrderID:   c.orderID,
		Reference: c.ref,
		Status:    string(status),
		Amount:    c.amount,
		Currency:  c.currency,
	}
	if status.Paid() && c.captured != 0 && c.captured != c.amount {
		captured := c.captured
		d.AmountCaptured = &captured
	}
	if c.failure != nil && (status == payment.StatusFailed || status == payment.StatusExpired || status == payment.StatusCanceled) {
		f := *c.failure
		d.Failure = &f
	}
	return Event{
		ID:      "evt_sbx_" + c.paymentID + "_" + string(status),
		Type:    "payment." + string(status),
		Created: p.now().Unix(),
		Data:    d,
	}
}

// payoutEventLocked describes payout po.
func (p *Provider) payoutEventLocked(po *payout) Event {
	fee, transfer := po.fee, po.amount-po.fee
	d := EventData{
		Object:         "payout",
		ID:             po.id,
		OrderID:        po.orderID,
		Reference:      po.ref,
		Status:         string(po.status),
		Amount:         po.amount,
		Currency:       po.currency,
		Fee:            &fee,
		TransferAmount: &transfer,
	}
	if po.failure != nil {
		f := *po.failure
		d.Failure = &f
	}
	return Event{
		ID:      "evt_sbx_" + po.id + "_" + string(po.status),
		Type:    "payout." + string(po.status),
		Created: p.now().Unix(),
		Data:    d,
	}
}

// send delivers ev once now, in the caller's ctx, and on failure keeps
// retrying in the background with doubling delays until it is delivered,
// the attempts run out or the provider is closed. Without a deliver
// function and a notify URL there is no one to tell, and send does
// nothing.
func (p *Provider) send(ctx context.Context, notifyURL string, ev Event) {
	if p.cfg.deliver == nil && notifyURL == "" {
		return
	}
	body, err := json.Marshal(ev)
	if err != nil { // cannot happen: Event has only plain fields
		p.cfg.logger.Error("sandbox: encode callback", zap.String("event", ev.ID), zap.Error(err))
		return
	}
	err = p.attempt(ctx, notifyURL, body)
	if err == nil {
		return
	}
	p.cfg.logger.Warn("sandbox: callback delivery failed; retrying",
		zap.String("event", ev.ID), zap.Int("attempt", 1), zap.Error(err))
	if p.cfg.attempts < 2 {
		return
	}
	p.closeMu.Lock()
	if p.closed {
		p.closeMu.Unlock()
		return
	}
	p.wg.Add(1)
	p.closeMu.Unlock()
	go p.retry(notifyURL, body, ev.ID)
}

func (p *Provider) retry(notifyURL string, body []byte, id string) {
	defer p.wg.Done()
	delay := p.cfg.backoff
	for n := 2; n <= p.cfg.attempts; n++ {
		timer := time.NewTimer(delay)
		select {
		case <-p.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		err := p.attempt(p.ctx, notifyURL, body)
		if err == nil {
			return
		}
		if p.ctx.Err() != nil {
			return
		}
		p.cfg.logger.Warn("sandbox: callback delivery failed",
			zap.String("event", id), zap.Int("attempt", n), zap.Error(err))
		delay *= 2
	}
	p.cfg.logger.Error("sandbox: callback not delivered; giving up", zap.String("event", id), zap.Int("attempts", p.cfg.attempts))
}

// attempt signs body now and delivers it once.
func (p *Provider) attempt(ctx context.Context, notifyURL string, body []byte) error {
	wr := SignWebhook(p.cfg.secret, p.now(), body)
	if p.cfg.deliver != nil {
		return p.cfg.deliver(ctx, wr)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, notifyURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("sandbox: callback request: %w", err)
	}
	req.Header = wr.Header
	resp, err := p.cfg.client.Do(req)
	if err != nil {
		return fmt.Errorf("sandbox: post callback: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("sandbox: post callback: %w", errors.New(resp.Status))
	}
	return nil
}
