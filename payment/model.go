package payment

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Payment is money the customer pays the merchant through one provider.
// The JSON form is the HTTP API's. Card numbers, CVV and payment tokens are
// never part of it.
type Payment struct {
	// Object is always "payment" in JSON.
	Object string `json:"object"`
	// ID is "pay_" followed by a sortable random id.
	ID string `json:"id"`
	// Provider is the configured provider's name.
	Provider string `json:"provider"`
	// Method is how the customer pays.
	Method Method `json:"method"`
	// OrderID is the merchant's reference: 1 to 50 of A-Za-z0-9_-.
	OrderID string `json:"order_id"`
	// Amount is what the customer pays, in minor units of Currency.
	Amount int64 `json:"amount"`
	// Currency is the ISO 4217 code.
	Currency string `json:"currency"`
	// AmountCaptured is what was captured: Amount once the payment
	// succeeded, or less after a partial capture.
	AmountCaptured int64 `json:"amount_captured"`
	// AmountRefunded is the sum of succeeded refunds.
	AmountRefunded int64 `json:"amount_refunded"`
	// AmountRefundPending is the sum of refunds the provider has not
	// settled yet. AmountRefunded+AmountRefundPending never exceeds
	// AmountCaptured.
	AmountRefundPending int64 `json:"amount_refund_pending"`
	// Status is where the payment is; see the state machine.
	Status Status `json:"status"`
	// CaptureMethod is automatic (default) or manual (authorize only).
	CaptureMethod CaptureMethod `json:"capture_method"`
	// ProviderReference is the provider's id for the payment, once known.
	ProviderReference string `json:"provider_reference"`
	// NextAction says what the customer must do while Status is
	// requires_action.
	NextAction *NextAction `json:"next_action"`
	// Failure says why the payment failed.
	Failure *Failure `json:"failure"`
	// Card describes the card used, without its number.
	Card *CardSummary `json:"card,omitempty"`
	// Customer is who pays.
	Customer *Customer `json:"customer,omitempty"`
	// Description is shown to the customer where the provider supports it.
	Description string `json:"description,omitempty"`
	// Items are the order lines, for marketplace splits.
	Items []Item `json:"items,omitempty"`
	// Metadata is the merchant's own key-value data, returned as given.
	Metadata map[string]string `json:"metadata,omitempty"`
	// ReturnURL is where the provider sends the customer back to.
	ReturnURL string `json:"return_url,omitempty"`
	// Flags are anomalies an operator should look at, such as
	// "amount_mismatch" or "underpaid". A flagged payment is never moved to
	// succeeded by the anomaly.
	Flags []string `json:"flags,omitempty"`
	// ExpiresAt is when the customer's chance to pay runs out.
	ExpiresAt *time.Time `json:"expires_at"`
	// CreatedAt is when the payment was recorded.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when it last changed.
	UpdatedAt time.Time `json:"updated_at"`
	// Version counts the payment's changes. Store.UpdatePayment compares it.
	Version int64 `json:"-"`
	// NextSyncAt is when the sweeper should next ask the provider about a
	// payment whose status is not final; nil when there is nothing to ask.
	NextSyncAt *time.Time `json:"-"`
	// Replayed is true when this value is the stored result of an earlier
	// request with the same idempotency key.
	Replayed bool `json:"-"`
}

// Money returns the payment's amount as Money.
func (p *Payment) Money() Money { return Money{Amount: p.Amount, Currency: p.Currency} }

// Refundable returns how much may still be refunded.
func (p *Payment) Refundable() int64 {
	return p.AmountCaptured - p.AmountRefunded - p.AmountRefundPending
}

// HasFlag reports whether the payment carries the flag.
func (p *Payment) HasFlag(flag string) bool {
	for _, f := range p.Flags {
		if f == flag {
			return true
		}
	}
	return false
}

// Clone returns a deep copy, so a caller can change it without touching the
// original (memstore hands out clones; the Service mutates clones).
func (p *Payment) Clone() *Payment {
	if p == nil {
		return nil
	}
	c := *p
	if p.NextAction != nil {
		na := *p.NextAction
		na.ExpiresAt = cloneTime(na.ExpiresAt)
		if na.BankAccount != nil {
			ba := *na.BankAccount
			na.BankAccount = &ba
		}
		c.NextAction = &na
	}
	if p.Failure != nil {
		f := *p.Failure
		c.Failure = &f
	}
	if p.Card != nil {
		cs := *p.Card
		c.Card = &cs
	}
	c.Customer = p.Customer.clone()
	c.Items = append([]Item(nil), p.Items...)
	if p.Metadata != nil {
		c.Metadata = make(map[string]string, len(p.Metadata))
		for k, v := range p.Metadata {
			c.Metadata[k] = v
		}
	}
	c.Flags = append([]string(nil), p.Flags...)
	c.ExpiresAt = cloneTime(p.ExpiresAt)
	c.NextSyncAt = cloneTime(p.NextSyncAt)
	return &c
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// NextAction tells the customer what to do.
type NextAction struct {
	// Type is "display_qr", "redirect" or "otp".
	Type string `json:"type"`
	// QRCode is the QR payload to render, for display_qr.
	QRCode string `json:"qr_code,omitempty"`
	// QRImage is a data:image/png;base64 URL of the QR code, when the
	// provider sends one.
	QRImage string `json:"qr_image,omitempty"`
	// URL is where to send the customer, for redirect.
	URL string `json:"url,omitempty"`
	// AmountToPay is what the payer must transfer when it differs from the
	// payment's amount (deposit gateways that match transfers by amount).
	AmountToPay int64 `json:"amount_to_pay,omitempty"`
	// BankAccount is the account to transfer to, for bank transfers.
	BankAccount *BankAccount `json:"bank_account,omitempty"`
	// PromptPayID is the PromptPay number to pay, where the provider gives one.
	PromptPayID string `json:"promptpay_id,omitempty"`
	// ExpiresAt is when the action stops working.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Next action types.
const (
	NextActionDisplayQR = "display_qr"
	NextActionRedirect  = "redirect"
	NextActionOTP       = "otp"
)

// Failure says why a payment, refund or payout failed.
type Failure struct {
	// Code is paykit's code where one applies ("card_declined",
	// "insufficient_funds", "expired", "provider_error"), otherwise the
	// provider's.
	Code string `json:"code"`
	// Message is for people.
	Message string `json:"message"`
}

// Well-known failure codes.
const (
	FailureCardDeclined      = "card_declined"
	FailureInsufficientFunds = "insufficient_funds"
	FailureExpired           = "expired"
	FailureProviderError     = "provider_error"
	FailureCanceled          = "canceled"
)

// Well-known payment flags.
const (
	// FlagAmountMismatch: the provider reported a different amount or
	// currency than the payment's.
	FlagAmountMismatch = "amount_mismatch"
	// FlagUnderpaid: the payer transferred less than was due.
	FlagUnderpaid = "underpaid"
	// FlagConflictingOutcome: the provider reported an outcome that
	// contradicts a final status (a failure after success).
	FlagConflictingOutcome = "conflicting_outcome"
)

// Customer is who pays.
type Customer struct {
	ID    string `json:"id,omitempty" validate:"omitempty,max=255"`
	Name  string `json:"name,omitempty" validate:"omitempty,max=255"`
	Email string `json:"email,omitempty" validate:"omitempty,email,max=255"`
	Phone string `json:"phone,omitempty" validate:"omitempty,max=32"`
	// BankAccount is the payer's own account, for deposit gateways that
	// match incoming transfers by it.
	BankAccount *BankAccount `json:"bank_account,omitempty"`
}

// clone returns a deep copy of c, or nil.
func (c *Customer) clone() *Customer {
	if c == nil {
		return nil
	}
	cu := *c
	if c.BankAccount != nil {
		ba := *c.BankAccount
		cu.BankAccount = &ba
	}
	return &cu
}

// BankAccount is a bank account: a bank code (KBANK, SCB, VCB), the account
// number and the holder's name.
type BankAccount struct {
	BankCode string `json:"bank_code" validate:"required,max=32"`
	Number   string `json:"number" validate:"required,max=64"`
	Name     string `json:"name" validate:"required,max=255"`
}

// Item is an order line. For marketplace providers SubMerchantID and
// SubMerchantShare split the money; Price*Quantity over all items must equal
// the payment's amount.
type Item struct {
	ID               string `json:"id,omitempty" validate:"omitempty,max=100"`
	Name             string `json:"name" validate:"required,max=255"`
	Price            int64  `json:"price" validate:"gt=0"`
	Quantity         int64  `json:"quantity" validate:"gt=0"`
	SubMerchantID    string `json:"sub_merchant_id,omitempty" validate:"omitempty,max=100"`
	SubMerchantShare int64  `json:"sub_merchant_share,omitempty" validate:"gte=0"`
}

// Card is raw card data. It passes through to the provider and is never
// stored, logged or returned: String, GoString, Format and MarshalJSON all
// redact it.
type Card struct {
	Number      string `json:"number"`
	ExpiryMonth int    `json:"expiry_month"`
	ExpiryYear  int    `json:"expiry_year"`
	CVV         string `json:"cvv"`
	HolderName  string `json:"holder_name"`
}

// Last4 returns the card number's last four digits.
func (c *Card) Last4() string {
	if len(c.Number) < 4 {
		return ""
	}
	return c.Number[len(c.Number)-4:]
}

// Brand guesses the card brand from the number's prefix.
func (c *Card) Brand() string {
	n := c.Number
	switch {
	case strings.HasPrefix(n, "4"):
		return "visa"
	case strings.HasPrefix(n, "34"), strings.HasPrefix(n, "37"):
		return "amex"
	case len(n) >= 2 && n[0] == '5' && n[1] >= '1' && n[1] <= '5',
		len(n) >= 4 && n[:4] >= "2221" && n[:4] <= "2720":
		return "mastercard"
	case strings.HasPrefix(n, "35"):
		return "jcb"
	case strings.HasPrefix(n, "62"):
		return "unionpay"
	case strings.HasPrefix(n, "9792"):
		return "troy"
	default:
		return "unknown"
	}
}

// Summary returns what may be kept and shown of the card.
func (c *Card) Summary() *CardSummary {
	if c == nil {
		return nil
	}
	return &CardSummary{Brand: c.Brand(), Last4: c.Last4()}
}

// String redacts the card.
func (c Card) String() string { return "card(" + c.Brand() + " ****" + c.Last4() + ")" }

// GoString redacts the card for %#v.
func (c Card) GoString() string { return c.String() }

// Format redacts the card for every fmt verb.
func (c Card) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// MarshalJSON writes only the card summary, so card data cannot leak through
// JSON logging or encoding.
func (c Card) MarshalJSON() ([]byte, error) { return json.Marshal(c.Summary()) }

// CardSummary is what may be kept and returned about a card.
type CardSummary struct {
	Brand string `json:"brand"`
	Last4 string `json:"last4"`
}

// Refund returns money of a succeeded payment to the customer.
type Refund struct {
	// Object is always "refund" in JSON.
	Object string `json:"object"`
	// ID is "re_" followed by a sortable random id.
	ID string `json:"id"`
	// PaymentID is the refunded payment.
	PaymentID string `json:"payment_id"`
	// Amount is in minor units of Currency.
	Amount int64 `json:"amount"`
	// Currency is the payment's.
	Currency string `json:"currency"`
	// Status is pending, succeeded or failed.
	Status RefundStatus `json:"status"`
	// Reason is the merchant's reason.
	Reason string `json:"reason,omitempty"`
	// ProviderReference is the provider's id for the refund.
	ProviderReference string `json:"provider_reference"`
	// Failure says why the refund failed.
	Failure *Failure `json:"failure,omitempty"`
	// CreatedAt is when the refund was recorded.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when it last changed.
	UpdatedAt time.Time `json:"updated_at"`
	// Replayed is true when this value is the stored result of an earlier
	// request with the same idempotency key.
	Replayed bool `json:"-"`
}

// Clone returns a deep copy.
func (r *Refund) Clone() *Refund {
	if r == nil {
		return nil
	}
	c := *r
	if r.Failure != nil {
		f := *r.Failure
		c.Failure = &f
	}
	return &c
}

// Payout sends money out of the merchant's balance to a bank account.
type Payout struct {
	// Object is always "payout" in JSON.
	Object string `json:"object"`
	// ID is "po_" followed by a sortable random id.
	ID string `json:"id"`
	// Provider is the configured provider's name.
	Provider string `json:"provider"`
	// OrderID is the merchant's reference.
	OrderID string `json:"order_id"`
	// Amount is in minor units of Currency.
	Amount int64 `json:"amount"`
	// Currency is the ISO 4217 code.
	Currency string `json:"currency"`
	// Fee is what the provider charges, once known.
	Fee int64 `json:"fee"`
	// TransferAmount is what reaches the account, once known.
	TransferAmount int64 `json:"transfer_amount"`
	// BankAccount is where the money goes.
	BankAccount BankAccount `json:"bank_account"`
	// Status is pending, processing, succeeded, failed or canceled.
	Status PayoutStatus `json:"status"`
	// ProviderReference is the provider's id for the payout.
	ProviderReference string `json:"provider_reference"`
	// Failure says why the payout failed.
	Failure *Failure `json:"failure"`
	// Metadata is the merchant's own key-value data.
	Metadata map[string]string `json:"metadata,omitempty"`
	// CreatedAt is when the payout was recorded.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when it last changed.
	UpdatedAt time.Time `json:"updated_at"`
	// Version counts the payout's changes. Store.UpdatePayout compares it.
	Version int64 `json:"-"`
	// NextSyncAt is when the sweeper should next ask the provider; nil
	// when the status is final.
	NextSyncAt *time.Time `json:"-"`
	// Replayed is true when this value is the stored result of an earlier
	// request with the same idempotency key.
	Replayed bool `json:"-"`
}

// Clone returns a deep copy.
func (p *Payout) Clone() *Payout {
	if p == nil {
		return nil
	}
	c := *p
	if p.Failure != nil {
		f := *p.Failure
		c.Failure = &f
	}
	if p.Metadata != nil {
		c.Metadata = make(map[string]string, len(p.Metadata))
		for k, v := range p.Metadata {
			c.Metadata[k] = v
		}
	}
	c.NextSyncAt = cloneTime(p.NextSyncAt)
	return &c
}

// EventType names what happened.
type EventType string

// Event types. Every state change produces exactly one of them.
const (
	EventPaymentCreated           EventType = "payment.created"
	EventPaymentRequiresAction    EventType = "payment.requires_action"
	EventPaymentProcessing        EventType = "payment.processing"
	EventPaymentAuthorized        EventType = "payment.authorized"
	EventPaymentSucceeded         EventType = "payment.succeeded"
	EventPaymentSucceededLate     EventType = "payment.succeeded_late"
	EventPaymentFailed            EventType = "payment.failed"
	EventPaymentCanceled          EventType = "payment.canceled"
	EventPaymentExpired           EventType = "payment.expired"
	EventPaymentPartiallyRefunded EventType = "payment.partially_refunded"
	EventPaymentRefunded          EventType = "payment.refunded"
	EventPaymentFlagged           EventType = "payment.flagged"
	EventRefundCreated            EventType = "refund.created"
	EventRefundSucceeded          EventType = "refund.succeeded"
	EventRefundFailed             EventType = "refund.failed"
	EventPayoutCreated            EventType = "payout.created"
	EventPayoutProcessing         EventType = "payout.processing"
	EventPayoutSucceeded          EventType = "payout.succeeded"
	EventPayoutFailed             EventType = "payout.failed"
	EventPayoutCanceled           EventType = "payout.canceled"
	// EventIgnored is audit only: a provider event that changed nothing
	// (stale, backwards or conflicting). It is never notified.
	EventIgnored EventType = "event.ignored"
)

// Event is an append-only audit record of a state change (or of a provider
// event that was ignored). Events other than EventIgnored are also
// notifications: each is delivered at least once to the subscribers and to
// every webhook endpoint whose filter selects it.
type Event struct {
	// Object is always "event" in JSON.
	Object string `json:"object"`
	// ID is "evt_" followed by a sortable random id. Subscribers
	// deduplicate on it.
	ID string `json:"id"`
	// Type says what happened.
	Type EventType `json:"type"`
	// ObjectID is the payment, refund or payout the event is about.
	ObjectID string `json:"object_id"`
	// PaymentID is the payment the event belongs to (for refund events, the
	// refunded payment); empty for payout events.
	PaymentID string `json:"payment_id,omitempty"`
	// From is the status before; empty for a creation.
	From string `json:"from,omitempty"`
	// To is the status after.
	To string `json:"to,omitempty"`
	// Source says what caused it: api, webhook, sync or reconcile.
	Source Source `json:"source"`
	// ProviderEventID is the provider's event key, for webhook events.
	ProviderEventID string `json:"provider_event_id,omitempty"`
	// Reason explains ignored events and flags.
	Reason string `json:"reason,omitempty"`
	// Data is the object as it was after the change, in its API JSON form.
	Data json.RawMessage `json:"data,omitempty"`
	// CreatedAt is when it happened.
	CreatedAt time.Time `json:"created_at"`
	// Destinations are who the event is to be delivered to ("subscribers",
	// "endpoint:<id>"), in order. The Service sets it when it appends the
	// event; the Store writes one outbox message per destination and does
	// not keep the list: events read back have none.
	Destinations []string `json:"-"`
	// Inbox is the provider message (a webhook) this event applies, when
	// the Service records that message in the same write as the event. The
	// Store inserts it with the event, atomically (see Store), and does not
	// keep it on the event: events read back have none.
	Inbox *InboxMessage `json:"-"`
	// Lease, when the Service sets it, asks the Store to write the event's
	// outbox message for Lease.Destination already leased, so that the
	// Service can deliver it right after the write without claiming it
	// (see Store). The Store reports in Lease.Granted whether it did, and
	// does not keep the request: events read back have none.
	Lease *OutboxLease `json:"-"`
}

// OutboxLease asks a Store to write an event's outbox message for
// Destination leased to Owner until Until (see Store), and carries the
// answer back in Granted.
type OutboxLease struct {
	// Destination is the message's destination.
	Destination string
	// Owner is who holds the lease.
	Owner string
	// Until is when the lease ends.
	Until time.Time
	// Granted is set by the Store when the message was written leased.
	Granted bool
}

// Stream returns the key events are ordered by for notification: the
// payment id, or the payout id for payout events.
func (e *Event) Stream() string {
	if e.PaymentID != "" {
		return e.PaymentID
	}
	return e.ObjectID
}

// Notifies reports whether the event is delivered to subscribers.
func (e *Event) Notifies() bool { return e.Type != EventIgnored }
