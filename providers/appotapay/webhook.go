package appotapay

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/paykit/paykit/payment"
)

// IPNAck is the acknowledgement AppotaPay expects for an IPN, exactly.
const IPNAck = `{"status":"ok"}`

// IPN is a verified, decoded AppotaPay IPN (v2 format).
type IPN struct {
	// Data is the raw base64 data string the signature covers.
	Data string
	// Time is the envelope's time as sent (unsigned).
	Time string
	// Decoded is the JSON inside Data.
	Decoded []byte
	txn     txnBody
	orderID string
}

type ipnEnvelope struct {
	Data      *string    `json:"data"`
	Signature *string    `json:"signature"`
	Time      flexString `json:"time"`
}

type ipnPayload struct {
	Transaction      txnBody `json:"transaction"`
	PartnerReference struct {
		Order gatewayOrder `json:"order"`
	} `json:"partnerReference"`
}

// VerifyIPN authenticates an IPN: a JSON body {data, signature, time} (or,
// for the redirect, the same as query parameters) whose signature is
// hex(HMAC-SHA256(secretKey, data)) over the raw data string, compared in
// constant time. Anything that does not verify wraps
// payment.ErrInvalidSignature; a verified IPN whose data does not decode
// wraps payment.ErrInvalidInput.
func VerifyIPN(secretKey string, body []byte, query map[string][]string) (*IPN, error) {
	var data, sig, ts string
	if len(bytes.TrimSpace(body)) > 0 {
		var env ipnEnvelope
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, fmt.Errorf("appotapay: ipn: malformed body: %w", payment.ErrInvalidSignature)
		}
		if env.Data == nil || env.Signature == nil {
			return nil, fmt.Errorf("appotapay: ipn: data or signature missing: %w", payment.ErrInvalidSignature)
		}
		data, sig, ts = *env.Data, *env.Signature, string(env.Time)
	} else {
		data, sig = first(query, "data"), first(query, "signature")
		ts = first(query, "time")
	}
	if data == "" || sig == "" {
		return nil, fmt.Errorf("appotapay: ipn: data or signature missing: %w", payment.ErrInvalidSignature)
	}
	if !verifyHex(secretKey, data, sig) {
		return nil, fmt.Errorf("appotapay: ipn: %w", payment.ErrInvalidSignature)
	}
	decoded, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("appotapay: ipn: data is not base64: %w", payment.ErrInvalidInput)
	}
	var pl ipnPayload
	if err := unmarshal(decoded, &pl); err != nil {
		return nil, fmt.Errorf("appotapay: ipn: data is not the documented JSON: %w", payment.ErrInvalidInput)
	}
	orderID := pl.PartnerReference.Order.ID
	if orderID == "" {
		orderID = pl.Transaction.OrderID
	}
	if pl.Transaction.id() == "" && orderID == "" {
		return nil, fmt.Errorf("appotapay: ipn: no transaction or order id: %w", payment.ErrInvalidInput)
	}
	return &IPN{Data: data, Time: ts, Decoded: decoded, txn: pl.Transaction, orderID: orderID}, nil
}

func first(q map[string][]string, k string) string {
	if v := q[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// TransactionID is AppotaPay's transaction id.
func (n *IPN) TransactionID() string { return n.txn.id() }

// OrderID is the partner orderId (paykit's payment id without the
// underscore).
func (n *IPN) OrderID() string { return n.orderID }

// Status is the vendor's status: pending, processing, success or error.
func (n *IPN) Status() string { return n.txn.Status }

// OrderAmount is the order amount, when sent.
func (n *IPN) OrderAmount() (payment.Money, bool) {
	m := n.txn.paid()
	if m == nil {
		return payment.Money{}, false
	}
	return *m, true
}

// ParseWebhook verifies and normalises an AppotaPay IPN (or redirect query)
// into one payment event, keyed by transaction id and status, and answers
// with exactly {"status":"ok"}. The amount is reported in the event
// (orderAmount) so the Service can compare it with the record; it never
// moves a payment whose amount differs. The unsigned "time" member is not
// checked: AppotaPay retries an IPN 5 minutes apart, so a freshness window
// would drop its retries and adds nothing the HMAC does not give.
func (p *Provider) ParseWebhook(ctx context.Context, req *payment.WebhookRequest) (*payment.WebhookResult, error) {
	if req == nil {
		return nil, fmt.Errorf("appotapay: ipn: empty request: %w", payment.ErrInvalidSignature)
	}
	ipn, err := VerifyIPN(p.cred.SecretKey, req.Body, req.Query)
	if err != nil {
		return nil, err
	}
	ev := payment.WebhookEvent{
		Key:               eventKey(ipn),
		ProviderReference: ipn.txn.id(),
		OccurredAt:        parseTime(ipn.txn.UpdatedAt),
	}
	if id, ok := PaymentIDFromOrderID(ipn.orderID); ok {
		ev.PaymentID = id
	}
	st := p.state(&ipn.txn, nil)
	if p.c.confirmWebhooks && ipn.orderID != "" {
		resp, ve, err := p.queryOrder(ctx, ipn.orderID)
		if err != nil {
			return nil, transportError("webhook", err)
		}
		if ve != nil {
			return nil, ve.providerError("webhook", nil)
		}
		confirmed := p.state(&resp.Transaction, nil)
		if st.Amount != nil && confirmed.Amount == nil {
			confirmed.Amount = st.Amount
		}
		st = confirmed
	}
	ev.Payment = st
	return &payment.WebhookResult{
		Events: []payment.WebhookEvent{ev},
		Ack:    &payment.WebhookAck{StatusCode: http.StatusOK, ContentType: "application/json", Body: []byte(IPNAck)},
	}, nil
}

// eventKey identifies an IPN: retries of one notification share it.
func eventKey(n *IPN) string {
	id := n.txn.id()
	if id == "" {
		id = n.orderID
	}
	status := strings.ToLower(n.txn.Status)
	if status == "" {
		sum := sha256.Sum256([]byte(n.Data))
		status = hex.EncodeToString(sum[:8])
	}
	return id + ":" + status
}
