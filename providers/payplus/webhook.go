package payplus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paykit/paykit/payment"
)

// AckBody is the acknowledgement Pay-Plus expects for a callback, sent
// with HTTP 200.
const AckBody = `{"code":200,"message":"Success"}`

// Callback types.
const (
	CallbackDeposit    = "deposit"
	CallbackWithdrawal = "withdrawal"
)

// actedOn returns the callback fields paykit acts on; with lenient claims
// each of them that the body carries must be signed.
func actedOn() []string {
	return []string{
		"order_no", "agent_order_no", "type", "amount", "fee",
		"transfer_amount", "actual_amount", "status", "timestamp",
	}
}

// ParseWebhook verifies a Pay-Plus callback and normalises it. The body is
// JSON with a signature field: an HS256 JWT (no other algorithm accepted)
// signed with the API key, whose claims must equal the body's other fields
// (numbers by value). Its timestamp (seconds or milliseconds) must be
// within the tolerance of now. Anything that does not verify is an error
// wrapping payment.ErrInvalidSignature.
//
// A deposit callback becomes a payment event (completed -> succeeded, with
// the underpaid flag when actual_amount is below what was due; failed,
// expired, cancelled), a withdrawal callback a payout event. A pending
// deposit callback reports nothing new and yields no event. The result's
// Ack is exactly {"code":200,"message":"Success"}.
func (p *Provider) ParseWebhook(_ context.Context, req *payment.WebhookRequest) (*payment.WebhookResult, error) {
	if req == nil || len(req.Body) == 0 {
		return nil, fmt.Errorf("payplus: callback: %w: empty body", payment.ErrInvalidSignature)
	}
	fields, ts, err := p.verifyCallback(req.Body)
	if err != nil {
		return nil, err
	}
	events, err := p.callbackEvents(fields, ts)
	if err != nil {
		return nil, err
	}
	return &payment.WebhookResult{
		Events: events,
		Ack: &payment.WebhookAck{
			StatusCode:  http.StatusOK,
			ContentType: "application/json",
			Body:        []byte(AckBody),
		},
	}, nil
}

func invalidCallback(reason string) error {
	return fmt.Errorf("payplus: callback: %w: %s", payment.ErrInvalidSignature, reason)
}

// verifyCallback authenticates a callback body and returns its fields
// (without the signature) and its timestamp.
func (p *Provider) verifyCallback(body []byte) (Params, time.Time, error) {
	fields, err := decodeObject(body)
	if err != nil {
		return nil, time.Time{}, invalidCallback("body is not a JSON object")
	}
	token, ok := fields[SignatureField].(string)
	if !ok || token == "" {
		return nil, time.Time{}, invalidCallback("no signature")
	}
	delete(fields, SignatureField)
	claims, err := VerifyToken(token, p.cfg.APIKey)
	if err != nil {
		return nil, time.Time{}, invalidCallback("signature does not verify")
	}
	for k, v := range claims {
		fv, present := fields[k]
		if !present || !sameValue(v, fv) {
			return nil, time.Time{}, invalidCallback("signed claims differ from the body")
		}
	}
	if p.lenientCallback {
		for _, k := range actedOn() {
			if _, inBody := fields[k]; inBody {
				if _, signed := claims[k]; !signed {
					return nil, time.Time{}, invalidCallback("field " + k + " is not signed")
				}
			}
		}
	} else if len(claims) != len(fields) {
		return nil, time.Time{}, invalidCallback("body has fields the signature does not cover")
	}
	ts, err := unixTime(fields["timestamp"])
	switch {
	case err != nil && p.tolerance > 0:
		return nil, time.Time{}, invalidCallback("no usable timestamp")
	case err == nil && p.tolerance > 0:
		now := p.clock.Now()
		if d := now.Sub(ts); d > p.tolerance || d < -p.tolerance {
			return nil, time.Time{}, invalidCallback("timestamp outside the tolerance")
		}
	}
	return Params(fields), ts, nil
}

// unixTime reads a Unix timestamp in seconds or milliseconds (values from
// 10^12 up are milliseconds), given as a string or a number.
func unixTime(v any) (time.Time, error) {
	s := strings.TrimSpace(fieldString(v))
	if s == "" || !allDigits(s) || len(s) > 16 {
		return time.Time{}, fmt.Errorf("payplus: timestamp %q", truncate(s, 20))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("payplus: timestamp: %w", err)
	}
	if n >= 1e12 {
		return time.UnixMilli(n).UTC(), nil
	}
	return time.Unix(n, 0).UTC(), nil
}

// fieldString reads an identifier or status sent as a string or a number.
func fieldString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	default:
		return ""
	}
}

// fieldDecimal reads an amount sent as a number or a numeric string.
func fieldDecimal(v any) decimal {
	s := strings.TrimSpace(fieldString(v))
	if s == "" {
		return decimal{}
	}
	return decimal{lit: s, set: true}
}

// callbackEvents turns verified callback fields into events: one, or none
// when the callback reports nothing new.
func (p *Provider) callbackEvents(f Params, ts time.Time) ([]payment.WebhookEvent, error) {
	typ := strings.ToLower(strings.TrimSpace(fieldString(f["type"])))
	orderNo := fieldString(f["order_no"])
	agent := fieldString(f["agent_order_no"])
	status := fieldString(f["status"])
	if orderNo == "" && agent == "" {
		return nil, fmt.Errorf("payplus: callback: %w: no order number", payment.ErrInvalidInput)
	}
	if status == "" {
		return nil, fmt.Errorf("payplus: callback: %w: no status", payment.ErrInvalidInput)
	}
	a := amounts{
		amount:   fieldDecimal(f["amount"]),
		fee:      fieldDecimal(f["fee"]),
		transfer: fieldDecimal(f["transfer_amount"]),
		actual:   fieldDecimal(f["actual_amount"]),
	}
	ev := &payment.WebhookEvent{ProviderReference: orderNo}
	if !ts.IsZero() {
		ev.OccurredAt = ts
	}
	switch typ {
	case CallbackDeposit:
		if normStatus(status) == StatusPending {
			return []payment.WebhookEvent{}, nil // a pending deposit reports nothing new
		}
		st, err := p.outcome(orderNo, status, a, nil)
		if err != nil {
			return nil, fmt.Errorf("payplus: callback: %w: %w", payment.ErrInvalidInput, err)
		}
		ev.Payment = st
		if strings.HasPrefix(agent, payment.PrefixPayment) {
			ev.PaymentID = agent
		} else {
			ev.OrderID = agent
		}
	case CallbackWithdrawal, "withdraw":
		typ = CallbackWithdrawal
		st, err := p.payoutState(orderNo, status, a)
		if err != nil {
			return nil, fmt.Errorf("payplus: callback: %w: %w", payment.ErrInvalidInput, err)
		}
		ev.Payout = st
		if strings.HasPrefix(agent, payment.PrefixPayout) {
			ev.PayoutID = agent
		} else {
			ev.OrderID = agent
		}
	default:
		return nil, fmt.Errorf("payplus: callback: %w: unknown type %q", payment.ErrInvalidInput, truncate(typ, 32))
	}
	ev.Key = eventKey(typ, orderNo, agent, status, f)
	return []payment.WebhookEvent{*ev}, nil
}

// eventKey identifies a callback independently of when it was (re)sent:
// the type, the order, the status and a digest of every field except the
// timestamp and signature.
func eventKey(typ, orderNo, agent, status string, f Params) string {
	rest := make(Params, len(f))
	for k, v := range f {
		if k != "timestamp" && k != SignatureField {
			rest[k] = v
		}
	}
	canon, err := CanonicalJSON(rest)
	if err != nil {
		canon = []byte(fmt.Sprint(len(rest)))
	}
	sum := sha256.Sum256(canon)
	id := orderNo
	if id == "" {
		id = agent
	}
	return typ + ":" + id + ":" + strings.ToLower(status) + ":" + hex.EncodeToString(sum[:8])
}
