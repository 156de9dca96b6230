package villa

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paykit/paykit/payment"
)

// Webhook signature headers (paykit's scheme; Villa documents none). The
// signature is the lower-case hex HMAC-SHA256, keyed with the webhook
// secret, of the timestamp, a ".", and the raw body:
//
//	X-Villa-Timestamp: 1717000000
//	X-Villa-Signature: v1=hex(HMAC-SHA256(secret, "1717000000." + body))
//
// Several comma-separated v1= values are accepted (key rotation).
const (
	HeaderSignature = "X-Villa-Signature"
	HeaderTimestamp = "X-Villa-Timestamp"
)

// EventStatusUpdated is the event name of Villa's status webhook.
const EventStatusUpdated = "payment.status.updated"

// SignWebhook returns the X-Villa-Signature value for body sent at t.
func SignWebhook(secret string, t time.Time, body []byte) string {
	return "v1=" + signature([]byte(secret), strconv.FormatInt(t.Unix(), 10), body)
}

func signature(secret []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// invalid wraps payment.ErrInvalidSignature with a reason.
func invalid(reason string) error {
	return fmt.Errorf("villa: webhook: %s: %w", reason, payment.ErrInvalidSignature)
}

// verifySignature checks the HMAC headers against the raw body.
func (p *Provider) verifySignature(req *payment.WebhookRequest) error {
	ts := strings.TrimSpace(req.Header.Get(HeaderTimestamp))
	sig := strings.TrimSpace(req.Header.Get(HeaderSignature))
	if ts == "" || sig == "" {
		return invalid("missing signature headers")
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return invalid("malformed timestamp")
	}
	if d := p.clock.Now().Sub(time.Unix(secs, 0)); d > p.tolerance || d < -p.tolerance {
		return invalid("timestamp outside the tolerance")
	}
	want := []byte(signature(p.webhookSecret, ts, req.Body))
	for _, part := range strings.Split(sig, ",") {
		part = strings.TrimSpace(part)
		if v, ok := strings.CutPrefix(part, "v1="); ok {
			part = v
		} else if strings.Contains(part, "=") {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(strings.ToLower(part)), want) == 1 {
			return nil
		}
	}
	return invalid("signature mismatch")
}

// KBankChecksum returns the checksum KBank puts in its notify body: the
// lower-case hex SHA-256 of id, the amount with exactly four decimals,
// currency, status, transaction state and the secret key, concatenated.
func KBankChecksum(id string, amount payment.Money, status, transactionState, secretKey string) (string, error) {
	exp, err := payment.CurrencyExponent(amount.Currency)
	if err != nil {
		return "", err
	}
	concat := id + payment.FormatDecimal(amount.Amount, exp, 4) + amount.Currency + status + transactionState + secretKey
	sum := sha256.Sum256([]byte(concat))
	return hex.EncodeToString(sum[:]), nil
}

// VerifyKBankNotify checks a KBank notify body (a charge object) the way
// KBank's own plugins do: status "success", an id and a checksum that
// matches (compared in constant time). The charge is not confirmed with
// the API: ParseWebhook does that.
func VerifyKBankNotify(body []byte, secretKey string) (*KBankCharge, error) {
	var ch KBankCharge
	if err := ch.UnmarshalJSON(body); err != nil {
		return nil, invalid("malformed KBank notify")
	}
	if ch.Status != "success" || ch.ID == "" || ch.Checksum == "" {
		return nil, invalid("KBank notify without status success, id or checksum")
	}
	want, err := KBankChecksum(ch.ID, ch.Amount, ch.Status, ch.TransactionState, secretKey)
	if err != nil {
		return nil, invalid("KBank notify currency")
	}
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(ch.Checksum)), []byte(want)) != 1 {
		return nil, invalid("KBank checksum mismatch")
	}
	return &ch, nil
}

// claim is what an unauthenticated callback says: which order, and for
// card callbacks which charge. Nothing else in it is believed.
type claim struct {
	orderID  string
	chargeID string
	at       time.Time
	// payload is the callback as the inbox may keep it (nil: as received).
	payload []byte
}

// parseCallback reads any of the three callback shapes without trusting
// them: Villa's payment.status.updated JSON, the KBank card callback form
// (objectId, token, status) and a KBank notify charge object.
func (p *Provider) parseCallback(req *payment.WebhookRequest) (*claim, error) {
	body := bytes.TrimSpace(req.Body)
	if len(body) == 0 {
		return nil, invalid("empty body")
	}
	queryOrder := ""
	if req.Query != nil {
		queryOrder = req.Query.Get("orderId")
	}
	var c claim
	if body[0] == '{' {
		obj, err := decodeObject(body)
		if err != nil {
			return nil, invalid("malformed JSON")
		}
		switch {
		case obj.raw("event") != nil:
			if ev := obj.str("event"); ev != EventStatusUpdated {
				return nil, invalid("unknown event")
			}
			data := obj.obj("data")
			if data == nil {
				return nil, invalid("event without data")
			}
			c.orderID = data.str("orderId", "order_id", "orderid")
			if data.str("status") == "" {
				return nil, invalid("event without status")
			}
			if raw := data.raw("amount"); raw != nil {
				if _, err := ParseAmount(raw, "THB"); err != nil {
					return nil, invalid("malformed amount")
				}
			}
			if ts := data.str("timestamp"); ts != "" {
				t, err := time.Parse(time.RFC3339, ts)
				if err != nil {
					return nil, invalid("malformed timestamp")
				}
				c.at = t.UTC()
			}
		case obj.str("object") == "charge":
			var ch *KBankCharge
			if p.kbankSecretKey != "" {
				ch, err = VerifyKBankNotify(body, p.kbankSecretKey)
				if err != nil {
					return nil, err
				}
			} else {
				ch = &KBankCharge{}
				if err := ch.fromObject(obj); err != nil || ch.ID == "" {
					return nil, invalid("malformed KBank notify")
				}
			}
			c.chargeID = ch.ID
			c.orderID = orderFromReference(ch.ReferenceOrder)
			if c.orderID == "" {
				c.orderID = queryOrder
			}
		default:
			return nil, invalid("unknown callback")
		}
	} else {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, invalid("malformed form")
		}
		c.chargeID = form.Get("objectId")
		if c.chargeID == "" || !isBool(form.Get("status")) {
			return nil, invalid("card callback without objectId or status")
		}
		if _, ok := form["saveCard"]; ok && !isBool(form.Get("saveCard")) {
			return nil, invalid("card callback with a malformed saveCard")
		}
		c.orderID = queryOrder
		if c.orderID == "" {
			c.orderID = form.Get("orderId")
		}
		// The card token is spent, but it is still a token: keep the
		// callback without it.
		form.Del("token")
		c.payload = []byte(form.Encode())
	}
	if !validOrderID(c.orderID) {
		return nil, invalid("callback without a valid order id")
	}
	return &c, nil
}

// ParseWebhook authenticates a Villa or KBank callback and returns the
// payment's state as GET /checkstatus reports it. The body is never
// trusted: it only names the order (and, for card callbacks, the charge,
// which must match). When a webhook secret is configured the HMAC headers
// must verify first, and KBank notify checksums are checked when a KBank
// secret key is configured. Callbacks that fail any check, name an order
// Villa does not know, or cannot be read return an error wrapping
// payment.ErrInvalidSignature; a failed status query returns its
// (retryable) error so the sender tries again.
func (p *Provider) ParseWebhook(ctx context.Context, req *payment.WebhookRequest) (*payment.WebhookResult, error) {
	if req == nil {
		return nil, invalid("no request")
	}
	if len(p.webhookSecret) > 0 {
		if err := p.verifySignature(req); err != nil {
			return nil, err
		}
	}
	c, err := p.parseCallback(req)
	if err != nil {
		return nil, err
	}
	os, err := p.CheckStatus(ctx, c.orderID)
	if err != nil {
		if errors.Is(err, payment.ErrNotFound) {
			return nil, invalid("order unknown to villa")
		}
		var pe *payment.ProviderError
		if errors.As(err, &pe) && pe.Code == "ORDER_MISMATCH" {
			return nil, invalid("checkstatus answered about another order")
		}
		return nil, fmt.Errorf("villa: webhook: confirm %s: %w", c.orderID, err)
	}
	if c.chargeID != "" && os.ChargeID != "" && subtle.ConstantTimeCompare([]byte(c.chargeID), []byte(os.ChargeID)) != 1 {
		return nil, invalid("charge does not belong to the order")
	}
	p.warnUnknown(os)
	state := os.State(methodFromSource(os.SourceType))
	ev := payment.WebhookEvent{
		Key:               "villa:" + c.orderID + ":" + string(state.Status),
		ProviderReference: c.orderID,
		Payment:           state,
		OccurredAt:        p.clock.Now(),
	}
	if len(p.webhookSecret) > 0 && !c.at.IsZero() {
		ev.OccurredAt = c.at
	}
	if strings.HasPrefix(c.orderID, payment.PrefixPayment) {
		ev.PaymentID = c.orderID
	}
	return &payment.WebhookResult{Events: []payment.WebhookEvent{ev}, Payload: c.payload}, nil
}

func isBool(s string) bool { return s == "true" || s == "false" }
