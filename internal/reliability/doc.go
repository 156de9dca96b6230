// Package reliability holds paykit's fault tests: the scenarios of the
// reliability design (what paykit promises under load, faults and bad
// input) run end to end, through httpx, the payment.Service, a Store and a
// provider, against memstore and against bunstore on PostgreSQL, under
// -race. The package has no code of its own; its tests prove that paykit
// keeps its promises when things go wrong, and log their figures (what was
// injected, how often, and what was lost or doubled: the bar is 0) with
// t.Log (run with -v to see them):
//
//   - Crashes and timeouts around the provider call
//     (TestCrashesAroundTheProviderCall, 300 iterations on memstore and 100
//     on PostgreSQL): a Store that fails a random call of the checkout with
//     payment.ErrUnavailable, before or after doing it (a commit whose
//     answer was lost), then 10% of all calls while webhooks, the sweeper
//     and the dispatcher run; a provider that times out before or after
//     charging; clients that retry with their idempotency key, at once or
//     after the lock timeout, or give up; customers that pay, decline or
//     walk away; lost and resent webhooks; a subscriber that fails now and
//     then. Every payment ends final and consistent with the provider,
//     with at most one charge per payment and per order, a gap-free chain
//     of status events, and every event notified, once, in order.
//     TestVendorTimeouts does the same through each vendor provider with
//     its simulator's own faults (villasim, appotapaysim, payplussim,
//     veparasim): charged then no answer, or no answer before anything
//     happened.
//   - Idempotency (TestIdempotency): 100 sequential retries, 200
//     concurrent requests with one key, a key reused for another amount,
//     currency or route, rejections (malformed body, wrong API key, core
//     validation, rate limit) that leave the key free, a crash between the
//     provider's answer and the commit, a provider timeout after charging.
//   - The store going away (TestStoreGoesAway, PostgreSQL): the store's
//     backends terminated with pg_terminate_backend every 15 ms during a
//     stream of checkouts and webhooks, and the database unreachable behind
//     a TCP proxy then back: 503s while it is away (never a 500), nothing
//     half written, every retried checkout and redelivered webhook applied
//     exactly once after.
//   - Webhooks: 1,000 concurrent duplicates of one event make one
//     transition, one event, one inbox row and one notification
//     (TestWebhookStorm); stale and conflicting events in random orders,
//     sequential and concurrent, never move a payment backwards or flip an
//     outcome (TestStaleAndConflictingWebhooks); a 1-bit change in the body,
//     the signature or a signed field, a missing signature and the wrong
//     key are 401 with 0 Store writes for every provider's scheme
//     (TestTamperedWebhooks); replays outside the time window are refused
//     (TestReplayedWebhooks); another amount or currency never succeeds and
//     an unknown payment's event is kept as an orphan
//     (TestWebhookAmountMismatchAndOrphan); a 1 MiB body is 413 at once and
//     memory stays flat (TestOversizedWebhook); a body that trickles in
//     times out with 408 (TestTricklingWebhook).
//   - Money and races: 50 concurrent refunds of 30.00 on 100.00 never
//     exceed it and call the provider once per refund
//     (TestConcurrentRefunds); capture and cancel racing, on one instance
//     or two, have exactly one winner (TestCaptureCancelRace).
//   - Many instances (TestThreeInstancesOnePostgres, PostgreSQL): three
//     Services running Run on one database query each stuck payment once
//     per sweep round and resolve it once, deliver every notification
//     through exactly one instance in order per payment, and take over the
//     leases of an instance that dies.
//   - A soak (TestSoak): 100 goroutines (20 on PostgreSQL) of mixed
//     operations through httpx while Run works, then invariants over every
//     payment. PAYKIT_SOAK_WORKERS and PAYKIT_SOAK_OPS set its size (the
//     full 100 x 1,000: PAYKIT_SOAK_OPS=1000); -short makes it smaller.
//
// TestPendingRefundIsReconciled, TestAbandonedPaymentPaidDuringCancel and
// TestSlowBatchOutlivesItsLease are the regression tests of three bugs this
// suite found in the Service. PAYKIT_RELIABILITY_SEED replays a randomized
// test's seed (each logs it).
//
// The PostgreSQL tests use PAYKIT_TEST_DATABASE_URL, or
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable, and create a
// fresh database per test (dropped after); without a server they skip, or
// fail when CI is set.
package reliability
