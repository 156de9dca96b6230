// Package payment is the core of paykit: the domain model (Money, Payment,
// Refund, Payout, Event), the payment state machine, the Store and Provider
// interfaces, and Service, the only thing that changes state.
//
// # Getting started
//
// A host wires a Store and one or more Providers into a Service, runs its
// background loop, and mounts the HTTP handler of package httpx (or calls
// the Service from Go):
//
//	sb, _ := sandbox.New()
//	svc, err := payment.New(memstore.New(),
//		payment.WithProvider(sb),
//		payment.WithLogger(logger),
//		payment.WithSubscriber(func(ctx context.Context, e payment.Event) error {
//			return orders.Apply(ctx, e) // deduplicate on e.ID
//		}),
//	)
//	go svc.Run(ctx) // the sweeper and the notification dispatcher
//	p, err := svc.Checkout(ctx, &payment.CheckoutParams{
//		Provider: "sandbox", Method: payment.MethodQR, OrderID: "482500007436",
//		Amount: 100000, Currency: "THB", IdempotencyKey: "chk-482500007436",
//	})
//
// # Money
//
// Amounts are int64 minor units plus an ISO 4217 code (THB 1,000.00 is
// 100000; VND 120,000 is 120000). Exponents come from CLDR through
// golang.org/x/text/currency. Providers format and parse their wire amounts
// with FormatDecimal and ParseDecimal, exactly; nothing passes through
// float64.
//
// # State machine
//
//	pending ──> requires_action ──> processing ──> authorized ──> succeeded ──> partially_refunded ──> refunded
//	   │              │                 │              │             └──────────────────────────────────^
//	   └──────────────┴─────────────────┴──────────────┴──> failed | canceled | expired
//
// The table of allowed moves lives in one place (CanTransition). States only
// move forward: a late or duplicated provider event that would move a payment
// backwards is recorded as an "event.ignored" audit event and changes
// nothing. A success after a failure, or a failure after success, never flips
// a payment: it is flagged conflicting_outcome. The one exception is money
// that really moved: a provider-confirmed success after a local expired or
// canceled is recorded as succeeded with a payment.succeeded_late event, so
// the host can refund or fulfil. A success reported for another amount or
// currency never moves a payment: it is flagged amount_mismatch.
//
// Every change, its event and its notification are written in one atomic
// Store call, conditional on the version that was read (compare-and-set);
// a writer that loses re-reads and decides again.
//
// # Errors
//
// Errors wrap one sentinel (ErrNotFound, ErrAlreadyExists, ErrConflict,
// ErrInvalidInput, ErrInvalidState, ErrInvalidTransition, ErrUnsupported,
// ErrUnavailable, ErrUnknownProvider, ErrIdempotencyMismatch,
// ErrIdempotencyInProgress, ErrRefundExceedsCaptured, ErrInvalidSignature,
// ErrProvider); typed errors carry detail: *ValidationError names the field,
// *TransitionError the statuses, *ProviderError the vendor's code and
// whether the outcome is unknown (Retryable). Check with errors.Is and
// errors.As. Messages never contain card data or secrets.
//
// # Idempotency
//
// Checkout, Refund and CreatePayout take an IdempotencyKey. The first
// request with a key reserves it (with the id of the object it will create)
// in the Store; the same key with the same request replays the stored
// result (Replayed is set) for WithIdempotencyTTL (24 h by default); the
// same key with a different request is ErrIdempotencyMismatch; the same key
// while the first request runs is ErrIdempotencyInProgress. A request
// rejected by validation, or refused definitely, releases its key, so a
// corrected retry proceeds. A request that dies mid-way (a crash, the store
// failing) keeps its key locked for WithIdempotencyLockTimeout; a retry after
// that resumes the same payment with the same provider idempotency key (the
// payment id), so the customer is charged at most once.
//
// # Webhooks, sync and the sweeper
//
// HandleWebhook lets the provider verify and normalise a callback, keeps each
// event once in the inbox (deduplicated on the provider's event key), and
// applies it. A new event is applied and recorded in the inbox in one atomic
// write (Event.Inbox); a duplicate costs one read. An event that could not
// be applied is kept as received, and the provider's retry applies it. Sync asks the provider directly. The sweeper (Run, or Sweep
// from a job engine) asks the provider about payments that stay pending,
// processing or requires_action past their due time, with growing
// intervals, and expires abandoned payments only after the provider
// confirms they were not paid. A provider that times out never fails a
// payment: unknown is processing until one of these resolves it.
//
// # Notifications
//
// Every state change writes one outbox message in the same atomic call. The
// dispatcher (Run, or Dispatch) delivers each at least once to every
// subscriber, in order per payment, retrying failures with exponential
// backoff and jitter. Subscribers deduplicate on Event.ID.
//
// While Run runs, a payment's messages to the subscribers usually skip the
// dispatcher's claim: the write itself takes their lease (Event.Lease) when
// this process already holds everything pending of that payment's stream,
// and a worker delivers them as soon as the write returns. Anything else
// (another instance holds the stream, a delivery waits for its retry, a
// write through WithStore, webhook endpoints) is claimed as before, and a
// failure on the direct path hands the stream back to the claims, in order.
//
// # Implementing a Store
//
// A Store implements the interface in spi.go; each method's doc comment is
// its contract. Run the conformance suite from a test:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) payment.Store { return mystore.New(db) })
//	}
//
// # Implementing a Provider
//
// A Provider implements Provider (name, methods, currencies, Start,
// ParseWebhook) and any of the optional capability interfaces (Syncer,
// Refunder, RefundSyncer, Canceler, Capturer, Confirmer, Payouter,
// BalanceReader, Quoter, CheckoutValidator, PayoutValidator). Start must be
// idempotent on the request's IdempotencyKey; unknown outcomes are a
// *ProviderError with Retryable set, never a failure; ParseWebhook verifies
// in constant time and returns errors wrapping ErrInvalidSignature. Ship a
// simulator of the vendor's API and run providertest.Run against it.
package payment
