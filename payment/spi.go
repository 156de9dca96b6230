package payment

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// This file holds the two interfaces paykit is extended through: Store (where
// payments live) and Provider (who moves the money), with the types their
// methods take. They are public API: adding a method to either breaks every
// implementation, so new behaviour comes as a new optional interface.

// Store keeps payments, refunds, payouts, events, idempotency keys and the
// webhook inbox and notification outbox.
//
// Wherever a method "appends events", every event is kept for ListEvents,
// and every event also gets one outbox message per entry of its
// Destinations, in that order: ID Event.ID+"/"+destination, Stream from the
// event, that Destination, first due at the event's CreatedAt. The messages
// one call writes are newer than every message stored before, in the order
// of the events, so each stream reaches each destination in the order its
// events were appended. An event that carries an Inbox message also has
// that message inserted, as RecordInbox would insert it, in the same step;
// when a message with its Provider and EventKey is stored already, the call
// fails with ErrAlreadyExists and writes nothing (a compare-and-set that
// misses is ErrConflict or ErrNotFound first). This is how a webhook's
// event is applied and recorded as processed with one write. An event with
// a Lease has its message for Lease.Destination (if it has one) written
// leased to Lease.Owner until Lease.Until, and Lease.Granted set, when
// every pending message of that Destination and Stream stored before it
// (by an earlier call, or for an earlier event of the same call) is leased
// to Lease.Owner; otherwise the message is written as any other, and
// Granted stays false. A Store may also ignore Lease in any method (and an
// older Store knows nothing of it): granting saves a claim, and a message
// written as any other is still delivered. This is how the Service delivers a new
// message itself right after the write, in order, without claiming it: a
// stream that another claimer holds, or that waits for a retry, keeps its
// order through ClaimOutbox. Every method
// is atomic: it applies all of its writes or none. Implementations must be
// safe for concurrent use.
//
// Errors wrap ErrNotFound, ErrAlreadyExists or ErrConflict where the
// contract says so, and ErrUnavailable when the backend cannot be reached.
// Times are stored and returned in UTC; a backend may truncate them to
// microseconds. Values passed in are owned by the caller and values returned
// are owned by the caller: a Store never keeps or hands out shared pointers.
//
// store/storetest checks every contract below; run it with
// storetest.Run(t, newStore).
type Store interface {
	// CreatePayment inserts p with Version 1 (it sets p.Version) and
	// appends events. It fails with
	// ErrAlreadyExists when a payment with p.ID exists, or when another
	// payment for the same Provider and OrderID holds the order. A payment
	// holds its order from creation until it first reaches failed, canceled
	// or expired; it never holds it again, even after a late success.
	CreatePayment(ctx context.Context, p *Payment, events []Event) error
	// GetPayment returns the payment or ErrNotFound.
	GetPayment(ctx context.Context, id string) (*Payment, error)
	// GetPaymentByReference returns the payment of that provider with that
	// ProviderReference, or ErrNotFound.
	GetPaymentByReference(ctx context.Context, provider, reference string) (*Payment, error)
	// FindPayments returns the payments for an order id, oldest first. An
	// empty provider matches every provider. No match is an empty, non-nil
	// slice.
	FindPayments(ctx context.Context, provider, orderID string) ([]*Payment, error)
	// UpdatePayment is a compare-and-set: it replaces the stored payment
	// p.ID with p only if the stored Version equals p.Version, then sets
	// p.Version to Version+1, and appends events.
	// A different stored Version is ErrConflict (nothing written); a missing
	// payment is ErrNotFound.
	UpdatePayment(ctx context.Context, p *Payment, events []Event) error

	// CreateRefund inserts r and updates p exactly as UpdatePayment does,
	// with events, in one atomic step: ErrConflict when p's Version is
	// stale, ErrAlreadyExists when r.ID exists.
	CreateRefund(ctx context.Context, r *Refund, p *Payment, events []Event) error
	// UpdateRefund replaces the stored refund r.ID with r and updates p as
	// UpdatePayment does, with events, atomically. ErrNotFound when either
	// is missing, ErrConflict when p's Version is stale.
	UpdateRefund(ctx context.Context, r *Refund, p *Payment, events []Event) error
	// GetRefund returns the refund or ErrNotFound.
	GetRefund(ctx context.Context, id string) (*Refund, error)
	// ListRefunds returns a payment's refunds, oldest first.
	ListRefunds(ctx context.Context, paymentID string) ([]*Refund, error)

	// CreatePayout inserts p with Version 1 and appends events. ErrAlreadyExists when p.ID exists or a payout with the same
	// Provider and OrderID exists.
	CreatePayout(ctx context.Context, p *Payout, events []Event) error
	// GetPayout returns the payout or ErrNotFound.
	GetPayout(ctx context.Context, id string) (*Payout, error)
	// GetPayoutByReference returns the payout of that provider with that
	// ProviderReference, or ErrNotFound.
	GetPayoutByReference(ctx context.Context, provider, reference string) (*Payout, error)
	// UpdatePayout is the compare-and-set of UpdatePayment, for payouts.
	UpdatePayout(ctx context.Context, p *Payout, events []Event) error

	// AppendEvents appends audit-only events, such as EventIgnored: they
	// get no outbox messages, whatever their Destinations (an Inbox message
	// they carry is inserted, as by every method that appends events).
	AppendEvents(ctx context.Context, events []Event) error
	// ListEvents returns the events whose ObjectID or PaymentID is id, in
	// the order they were appended.
	ListEvents(ctx context.Context, id string) ([]Event, error)

	// AcquireIdempotencyKey claims rec.Key for a request, atomically:
	//   - no record for the key, or one past its ExpiresAt: rec is stored
	//     as given and returned with acquired true;
	//   - a record with a different Fingerprint, a completed record, or an
	//     in-progress record whose LockedUntil is after now: the stored
	//     record is returned with acquired false, and nothing changes;
	//   - an in-progress record with the same Fingerprint whose LockedUntil
	//     is not after now (its request died): its LockedUntil becomes
	//     rec.LockedUntil and it is returned with acquired true, keeping its
	//     ResourceID so the new request resumes the old one's work.
	AcquireIdempotencyKey(ctx context.Context, rec *IdempotencyRecord, now time.Time) (stored *IdempotencyRecord, acquired bool, err error)
	// CompleteIdempotencyKey marks the key completed with the response to
	// replay. ErrNotFound when the key has no record.
	CompleteIdempotencyKey(ctx context.Context, key string, response []byte) error
	// ReleaseIdempotencyKey deletes an in-progress record, so a corrected
	// retry may use the key. Releasing a missing or completed key does
	// nothing.
	ReleaseIdempotencyKey(ctx context.Context, key string) error
	// DeleteExpiredIdempotencyKeys deletes records whose ExpiresAt is not
	// after now, and returns how many.
	DeleteExpiredIdempotencyKeys(ctx context.Context, now time.Time) (int, error)

	// RecordInbox stores a provider event once per (Provider, EventKey). It
	// returns the stored message and true when m was inserted, or the
	// message stored earlier and false.
	RecordInbox(ctx context.Context, m *InboxMessage) (stored *InboxMessage, inserted bool, err error)
	// GetInbox returns the message stored for (provider, eventKey), or
	// ErrNotFound.
	GetInbox(ctx context.Context, provider, eventKey string) (*InboxMessage, error)
	// UpdateInbox replaces the Status, ObjectID, Error and ProcessedAt of the
	// stored message (Provider, EventKey). ErrNotFound when it is missing.
	UpdateInbox(ctx context.Context, m *InboxMessage) error
	// ListInbox returns inbox messages with the given status, oldest first,
	// at most limit.
	ListInbox(ctx context.Context, status InboxStatus, limit int) ([]*InboxMessage, error)

	// ClaimOutbox leases up to limit outbox messages to owner until
	// now+lease and returns them, oldest first. A message is claimable when
	// it is neither delivered nor failed, its NextAttemptAt is not after
	// now, its lease (if any) has ended, and no older message of the same
	// Destination and Stream is still pending (neither delivered nor
	// failed), so each stream reaches each destination in order. Two
	// claimers never hold the same message at once.
	ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*OutboxMessage, error)
	// FailOutbox ends owner's lease and marks the message failed at now
	// with lastErr, counting the attempt: it is not claimable and no longer
	// holds back its stream. ErrConflict when owner no longer holds the
	// lease.
	FailOutbox(ctx context.Context, id, owner, lastErr string, now time.Time) error
	// ListFailedOutbox returns failed messages, oldest failure first, at
	// most limit.
	ListFailedOutbox(ctx context.Context, limit int) ([]*OutboxMessage, error)
	// RedeliverOutbox makes every failed message whose Event.ID is eventID
	// pending again, due at now with Attempts reset, and returns how many.
	RedeliverOutbox(ctx context.Context, eventID string, now time.Time) (int, error)
	// AckOutbox records as delivered at now each message of ids that owner
	// still holds, in one atomic step, and returns how many it recorded. A
	// delivered message is done: it is never claimed, listed or redelivered
	// again, so a store may delete it (memstore and bunstore do). A
	// message owner no longer holds (its lease ended and another claimer
	// took it, or it is already delivered or failed) or that does not exist
	// is left as it is and not counted.
	AckOutbox(ctx context.Context, owner string, ids []string, now time.Time) (int, error)
	// RetryOutbox ends owner's lease, counts the attempt, records lastErr
	// and schedules the message for next. ErrConflict when owner no longer
	// holds the lease.
	RetryOutbox(ctx context.Context, id, owner string, next time.Time, lastErr string) error
	// ReleaseOutbox ends owner's lease on each message of ids that owner
	// still holds, making it claimable again at next, in one atomic step,
	// and returns how many it released. It is for messages owner took but
	// did not try to deliver: it counts no attempt and leaves LastError as
	// it is. A message owner no longer holds, or that does not exist, is
	// left as it is and not counted.
	ReleaseOutbox(ctx context.Context, owner string, ids []string, next time.Time) (int, error)

	// ClaimDuePayments returns up to limit payments whose NextSyncAt is not
	// after now, oldest NextSyncAt first, and moves their NextSyncAt to
	// now+lease (without changing Version), so concurrent sweepers never
	// get the same payment during the lease.
	ClaimDuePayments(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Payment, error)
	// ClaimDuePayouts is ClaimDuePayments for payouts.
	ClaimDuePayouts(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Payout, error)
}

// IdempotencyStatus is the state of an idempotency key.
type IdempotencyStatus string

// Idempotency key states.
const (
	IdempotencyInProgress IdempotencyStatus = "in_progress"
	IdempotencyCompleted  IdempotencyStatus = "completed"
)

// IdempotencyRecord is what a Store keeps for an idempotency key.
type IdempotencyRecord struct {
	// Key is the caller's key: 1 to 255 printable ASCII characters.
	Key string
	// Fingerprint identifies the operation and request; a reuse of the key
	// with another fingerprint is a mismatch.
	Fingerprint string
	// ResourceID is the id reserved for the object the request creates.
	// A resumed request finds its work by it.
	ResourceID string
	// Status is in_progress or completed.
	Status IdempotencyStatus
	// Response is the result to replay, once completed.
	Response []byte
	// LockedUntil is when an in-progress request is presumed dead.
	LockedUntil time.Time
	// CreatedAt is when the key was first used.
	CreatedAt time.Time
	// ExpiresAt is when the record may be forgotten.
	ExpiresAt time.Time
}

// InboxStatus is the state of an inbound provider event.
type InboxStatus string

// Inbox states.
const (
	// InboxReceived: stored, not yet applied (or applying failed).
	InboxReceived InboxStatus = "received"
	// InboxProcessed: applied (which may have changed nothing).
	InboxProcessed InboxStatus = "processed"
	// InboxOrphan: no payment or payout matches it; kept for an operator.
	InboxOrphan InboxStatus = "orphan"
)

// InboxMessage is an inbound provider event, kept once per
// (Provider, EventKey).
type InboxMessage struct {
	// Provider is the provider's name.
	Provider string `json:"provider"`
	// EventKey is the provider's unique key for the event.
	EventKey string `json:"event_key"`
	// Status is received, processed or orphan.
	Status InboxStatus `json:"status"`
	// ObjectID is the payment or payout the event applied to.
	ObjectID string `json:"object_id,omitempty"`
	// Payload is the raw body as received.
	Payload []byte `json:"-"`
	// Error is why applying it failed, if it did.
	Error string `json:"error,omitempty"`
	// ReceivedAt is when it was first stored.
	ReceivedAt time.Time `json:"received_at"`
	// ProcessedAt is when it was applied.
	ProcessedAt *time.Time `json:"processed_at,omitempty"`
}

// NewOutboxMessage returns the message a Store writes for event e and
// destination (see Store): ID e.ID+"/"+destination, e's Stream, due at
// e.CreatedAt, not leased. Its Event is e without the write-time
// Destinations, Inbox and Lease.
func NewOutboxMessage(e Event, destination string) *OutboxMessage {
	id, stream, at := e.ID+"/"+destination, e.Stream(), e.CreatedAt
	e.Destinations, e.Inbox, e.Lease = nil, nil, nil
	return &OutboxMessage{ID: id, Stream: stream, Destination: destination, Event: e, NextAttemptAt: at}
}

// OutboxMessage is a notification waiting to be delivered: one per event and
// destination.
type OutboxMessage struct {
	// ID is the event's id + "/" + Destination.
	ID string
	// Stream orders delivery: messages of one stream are delivered to a
	// destination one at a time, oldest first.
	Stream string
	// Destination is who the message is for: "subscribers" for the
	// in-process subscribers, "endpoint:<id>" for an HTTP endpoint.
	Destination string
	// Event is what to deliver.
	Event Event
	// Attempts counts failed deliveries.
	Attempts int
	// NextAttemptAt is when to try next.
	NextAttemptAt time.Time
	// LeaseOwner holds the message until LeaseUntil.
	LeaseOwner string
	// LeaseUntil is when the lease ends.
	LeaseUntil time.Time
	// LastError is the last delivery error.
	LastError string
	// DeliveredAt is set once delivered, by a store that keeps delivered
	// messages.
	DeliveredAt *time.Time
	// FailedAt is set when delivery was given up (until redelivered).
	FailedAt *time.Time
}

// Provider moves money through one payment gateway. The Service calls it;
// hosts never call it directly for payments. Optional capabilities (sync,
// refund, cancel, capture, confirm, payouts, balance, quote) are separate
// interfaces, detected by type assertion.
//
// Implementations must be safe for concurrent use, must honour ctx, and must
// never put card data, tokens or secrets in errors or logs.
type Provider interface {
	// Name is the provider's name in routes and records: "sandbox", "villa".
	Name() string
	// Methods lists the payment methods it supports.
	Methods() []Method
	// Currencies lists the ISO 4217 codes it supports.
	Currencies() []string
	// Start starts the payment with the provider and returns its state.
	// It must be idempotent on req.IdempotencyKey: a second call with the
	// same key must not charge again and should return the first call's
	// outcome (query the provider when it reports a duplicate).
	//
	// Errors: a *ProviderError; Retryable when the outcome is unknown (the
	// Service records the payment as processing and resolves it later),
	// otherwise the provider definitely did not take the payment (the
	// Service records it as failed). A declined card is not an error: it is
	// a state with StatusFailed and a Failure.
	Start(ctx context.Context, req *StartRequest) (*PaymentState, error)
	// ParseWebhook authenticates an inbound callback and normalises it into
	// zero or more events. A callback that does not verify returns an error
	// wrapping ErrInvalidSignature and nothing else happens. When the
	// vendor's scheme cannot authenticate the body, ParseWebhook must
	// confirm the state with the vendor's API before returning it.
	ParseWebhook(ctx context.Context, req *WebhookRequest) (*WebhookResult, error)
}

// StartRequest is what the Service asks a provider to start.
type StartRequest struct {
	// Payment is the payment as recorded (status pending). It is the
	// Service's own record, not a copy: providers read it, and neither
	// modify it nor keep it past the call.
	Payment *Payment
	// IdempotencyKey is derived from Payment.ID and is the same on every
	// retry; providers send it (or Payment.ID) as the vendor's unique order
	// or transaction id.
	IdempotencyKey string
	// Card is raw card data for providers that take it server-side. It is
	// never stored; providers must not keep it past the call.
	Card *Card
	// PaymentToken is an opaque instrument token (a KBank card token, an
	// AppotaPay linked-wallet access token). Never stored.
	PaymentToken string
	// NotifyURL is where the provider should send callbacks for this
	// payment, when the host configured a public webhook base URL.
	NotifyURL string
	// ClientIP is the paying customer's IP address, when known.
	ClientIP string
}

// PaymentState is what a provider reports about a payment.
type PaymentState struct {
	// Status is the payment's status at the provider.
	Status Status
	// ProviderReference is the provider's id for the payment.
	ProviderReference string
	// NextAction tells the customer what to do (for requires_action).
	NextAction *NextAction
	// Failure says why it failed (for failed).
	Failure *Failure
	// Amount is what the provider says was paid or authorized, in the
	// payment's terms, when it says so. The Service never moves a payment
	// to authorized or succeeded when it differs from the payment's amount
	// or currency; it flags the payment instead.
	Amount *Money
	// AmountCaptured is what was captured, when the provider reports a
	// capture of less than the amount.
	AmountCaptured *int64
	// ExpiresAt is when the customer's chance to pay runs out.
	ExpiresAt *time.Time
	// Card describes the card used.
	Card *CardSummary
	// Flags are anomalies the provider saw ("underpaid").
	Flags []string
}

// WebhookRequest is an inbound callback as received: the raw bytes, so a
// provider can verify a signature over them.
type WebhookRequest struct {
	// Header holds the request headers.
	Header http.Header
	// Query holds the URL query parameters.
	Query url.Values
	// Body is the raw body, already limited in size.
	Body []byte
	// RemoteAddr is the peer's address, for providers that allowlist IPs.
	RemoteAddr string
}

// WebhookResult is a verified callback, normalised.
type WebhookResult struct {
	// Events are the changes the callback reports.
	Events []WebhookEvent
	// Ack is the response the vendor expects; nil means 200 with an empty
	// body.
	Ack *WebhookAck
	// Payload is what the inbox keeps of the callback; nil keeps the raw
	// body. Providers whose callbacks carry tokens or other secrets return
	// a copy without them.
	Payload []byte
}

// WebhookAck is the HTTP response a vendor expects for a callback.
type WebhookAck struct {
	StatusCode  int
	ContentType string
	Body        []byte
}

// WebhookEvent is one change a callback reports. Exactly one of Payment,
// Refund and Payout is set. The Service finds the object by our id first,
// then by ProviderReference, then by OrderID.
type WebhookEvent struct {
	// Key identifies the event uniquely within the provider; the inbox
	// deduplicates on it. Use the vendor's event id, or a digest of the
	// fields that make the event unique.
	Key string
	// PaymentID, RefundID or PayoutID is our id, when the vendor echoes it.
	PaymentID string
	RefundID  string
	PayoutID  string
	// OrderID is the merchant's order id, when that is all the vendor sends.
	OrderID string
	// ProviderReference is the vendor's id for the payment or payout.
	ProviderReference string
	// Payment is the reported payment state.
	Payment *PaymentState
	// Refund is the reported refund state.
	Refund *RefundState
	// Payout is the reported payout state.
	Payout *PayoutState
	// OccurredAt is when the vendor says it happened, if it says.
	OccurredAt time.Time
}

// Syncer asks the provider for a payment's current state.
type Syncer interface {
	Sync(ctx context.Context, p *Payment) (*PaymentState, error)
}

// RefundRequest is a refund to send to the provider.
type RefundRequest struct {
	// Payment is the refunded payment.
	Payment *Payment
	// Refund is the refund as recorded (status pending).
	Refund *Refund
	// IdempotencyKey is derived from Refund.ID and is the same on retries.
	IdempotencyKey string
}

// RefundState is what a provider reports about a refund.
type RefundState struct {
	Status            RefundStatus
	ProviderReference string
	Failure           *Failure
}

// Refunder refunds all or part of a captured payment. Partial refunds that
// the vendor cannot do are an error wrapping ErrUnsupported.
type Refunder interface {
	Refund(ctx context.Context, req *RefundRequest) (*RefundState, error)
}

// RefundSyncer asks the provider for a refund's current state.
type RefundSyncer interface {
	SyncRefund(ctx context.Context, p *Payment, r *Refund) (*RefundState, error)
}

// Canceler cancels a payment that has not succeeded (voids an authorization).
type Canceler interface {
	Cancel(ctx context.Context, p *Payment) (*PaymentState, error)
}

// Capturer captures an authorized payment, all of it or amount minor units.
type Capturer interface {
	Capture(ctx context.Context, p *Payment, amount int64) (*PaymentState, error)
}

// Confirmation is a step the customer finished outside: a wallet OTP.
type Confirmation struct {
	// OTP is the code the customer received.
	OTP string `json:"otp" validate:"required,max=10"`
	// PaymentToken is the instrument token of the checkout again, for
	// providers whose confirmation must be authorised by it (an AppotaPay
	// linked-wallet access token). Tokens are never stored, so a provider
	// may otherwise only have it from memory. Never stored or logged.
	PaymentToken string `json:"payment_token,omitempty" validate:"max=4096"`
}

// Confirmer finishes a payment that waits for the customer (an OTP).
type Confirmer interface {
	Confirm(ctx context.Context, p *Payment, c *Confirmation) (*PaymentState, error)
}

// PayoutRequest is a payout to send to the provider.
type PayoutRequest struct {
	// Payout is the payout as recorded (status pending).
	Payout *Payout
	// IdempotencyKey is derived from Payout.ID and is the same on retries.
	IdempotencyKey string
	// NotifyURL is where the provider should send callbacks, when known.
	NotifyURL string
}

// PayoutState is what a provider reports about a payout.
type PayoutState struct {
	Status            PayoutStatus
	ProviderReference string
	// Fee and TransferAmount are in the payout's currency, when reported.
	Fee            *int64
	TransferAmount *int64
	Failure        *Failure
}

// Payouter sends money out. StartPayout has the idempotency contract of
// Provider.Start.
type Payouter interface {
	StartPayout(ctx context.Context, req *PayoutRequest) (*PayoutState, error)
	SyncPayout(ctx context.Context, p *Payout) (*PayoutState, error)
}

// Balance is the merchant's money at a provider, in one currency.
type Balance struct {
	Currency  string `json:"currency"`
	Available int64  `json:"available"`
	Pending   int64  `json:"pending"`
}

// BalanceReader reads the merchant's balance at the provider.
type BalanceReader interface {
	Balance(ctx context.Context) ([]Balance, error)
}

// QuoteRequest asks what a payment would cost.
type QuoteRequest struct {
	Amount Money
	Method Method
}

// Quote is what a payment would cost.
type Quote struct {
	// Amount is the price of the order.
	Amount int64 `json:"amount"`
	// Currency is its currency.
	Currency string `json:"currency"`
	// Fee is what the provider charges.
	Fee int64 `json:"fee"`
	// CustomerPays is what the customer pays in one go.
	CustomerPays int64 `json:"customer_pays"`
	// Installments are the instalment plans on offer, if any.
	Installments []Installment `json:"installments,omitempty"`
}

// Installment is one instalment plan.
type Installment struct {
	// Count is the number of instalments.
	Count int `json:"count"`
	// Total is what the customer pays in all.
	Total int64 `json:"total"`
	// PerInstallment is each instalment (the first may carry the rounding
	// remainder: Total - PerInstallment*(Count-1)).
	PerInstallment int64 `json:"per_installment"`
}

// Quoter says what a payment would cost.
type Quoter interface {
	Quote(ctx context.Context, req *QuoteRequest) (*Quote, error)
}

// CheckoutValidator checks a checkout against the provider's own field
// rules before anything is recorded or sent. The request's Payment has its
// id (the one it will be recorded with, unless a retry resumes an earlier
// request, whose id has the same form) and is still pending. Errors wrap ErrInvalidInput,
// as a *ValidationError naming the field.
type CheckoutValidator interface {
	ValidateCheckout(req *StartRequest) error
}

// PayoutValidator is CheckoutValidator for payouts.
type PayoutValidator interface {
	ValidatePayout(req *PayoutRequest) error
}

// Capabilities lists which optional interfaces p implements, by name:
// sync, refund, cancel, capture, confirm, payout, balance, quote.
func Capabilities(p Provider) []string {
	var caps []string
	add := func(ok bool, name string) {
		if ok {
			caps = append(caps, name)
		}
	}
	_, ok := p.(Syncer)
	add(ok, "sync")
	_, ok = p.(Refunder)
	add(ok, "refund")
	_, ok = p.(Canceler)
	add(ok, "cancel")
	_, ok = p.(Capturer)
	add(ok, "capture")
	_, ok = p.(Confirmer)
	add(ok, "confirm")
	_, ok = p.(Payouter)
	add(ok, "payout")
	_, ok = p.(BalanceReader)
	add(ok, "balance")
	_, ok = p.(Quoter)
	add(ok, "quote")
	return caps
}
