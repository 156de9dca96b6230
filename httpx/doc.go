// Package httpx serves paykit's HTTP API (checkout, payments, refunds,
// payouts, providers and inbound provider webhooks) on top of a
// *payment.Service, with the standard library's ServeMux.
//
// # Getting started
//
// Build the handler with an authentication decision and mount it under any
// prefix:
//
//	h, err := httpx.NewHandler(svc, httpx.WithAPIKeys("sk_live_..."),
//		httpx.WithRateLimit(httpx.RateLimit{}), httpx.WithLogger(logger))
//	if err != nil { ... }
//	mux.Handle("/pay/", http.StripPrefix("/pay", h))
//
// Paths below are relative to that prefix.
//
// # Routes
//
//	POST /checkout                          201 payment (200 + Idempotent-Replayed: true on replay)
//	GET  /payments/{id}[?sync=true]         200 payment
//	GET  /payments?order_id=&provider=      200 list of payments (order_id required)
//	GET  /payments/{id}/events              200 list of events
//	POST /payments/{id}/refunds             201 refund {"amount", "reason"} both optional
//	POST /payments/{id}/cancel              200 payment (no body)
//	POST /payments/{id}/capture             200 payment {"amount"} optional: all when absent
//	POST /payments/{id}/confirm             200 payment {"otp": "123456"}
//	POST /payouts                           201 payout (200 + Idempotent-Replayed: true on replay)
//	GET  /payouts/{id}[?sync=true]          200 payout
//	GET  /providers                         200 list of providers
//	GET  /providers/{name}/balance          200 balance (see BalanceResponse)
//	GET  /providers/{name}/quote?amount=&currency=&method=   200 quote (see QuoteResponse)
//	POST /webhooks/{provider}               the provider's own acknowledgement
//
// Lists are {"object":"list","data":[...],"has_more":false}. Amounts are
// integers in the currency's minor units, in bodies and in query strings.
// An unknown path is 404 NOT_FOUND; a known path with another method is
// 405 with an Allow header and the code INVALID_INPUT (the API's table has
// no separate code for it).
//
// # Authentication
//
// Every route except POST /webhooks/{provider} needs authentication:
// WithAPIKeys compares the X-API-Key header with each configured key in
// constant time; WithAuthenticator runs the host's own check; WithoutAuth
// leaves it to the host's middleware. NewHandler refuses to build without
// one of them. A missing or wrong key is 401 UNAUTHORIZED; an authenticator
// error wrapping ErrForbidden is 403 FORBIDDEN. Webhooks are authenticated
// by the provider's own signature scheme: one that does not verify is 401
// and writes nothing.
//
// # Rate limiting
//
// WithRateLimit gives each authenticated caller a token bucket (see
// RateLimit): by default it holds 100 tokens and refills at 1000 per
// minute, so a caller may send a burst of 100 requests in one second and
// 1000 per minute on average. Limited responses carry X-RateLimit-Limit
// (the requests per window) and X-RateLimit-Remaining (whole tokens left);
// a 429 RATE_LIMITED adds Retry-After in seconds. Requests that fail
// authentication are rejected before they are counted, so they neither
// spend a caller's budget nor create buckets.
//
// # Requests
//
// Bodies are limited to 64 KiB (webhooks 256 KiB; WithMaxBodyBytes,
// WithMaxWebhookBodyBytes): a larger one is 413 PAYLOAD_TOO_LARGE. A body
// must arrive within 10 s (WithBodyReadTimeout): one that trickles in
// slower is 408 INVALID_INPUT and the connection is closed. Where a
// JSON body is expected the Content-Type must be application/json (any
// parameters, charset UTF-8 if given), else 415 UNSUPPORTED_MEDIA_TYPE.
// The body must be one JSON object without unknown fields; a field of the
// wrong type, such as an amount of 1.5, "100" or 1e3, is 400 INVALID_INPUT
// with details.field naming it, and a required field that is absent is 400
// MISSING_FIELD. The Idempotency-Key header (POST /checkout, POST
// /payments/{id}/refunds, POST /payouts; other routes ignore it) must be 1
// to 255 printable ASCII characters. A request rejected by any of these
// checks, by authentication or by the rate limit never reaches the
// Service, so its idempotency key stays free for the corrected retry.
//
// # Errors
//
// Every error is {"error":{"code":...,"message":...,"details":{...}}}; the
// one function that maps the core's errors to statuses and codes follows
// the table of http-api.md (INVALID_INPUT and MISSING_FIELD 400,
// UNAUTHORIZED 401, FORBIDDEN 403, NOT_FOUND 404, CONFLICT, INVALID_STATE
// and IDEMPOTENCY_IN_PROGRESS 409 (with Retry-After), PAYLOAD_TOO_LARGE 413,
// UNSUPPORTED_MEDIA_TYPE 415, IDEMPOTENCY_MISMATCH and
// REFUND_EXCEEDS_CAPTURED 422, RATE_LIMITED 429, INTERNAL_ERROR 500,
// PROVIDER_ERROR 502, SERVICE_UNAVAILABLE 503). A provider that cannot do
// what was asked (no refunds, no capture) is 400 INVALID_INPUT; a provider
// error names the provider and its code in details; a provider error whose
// outcome is unknown, or a store that cannot be reached, is 503. Server
// errors say nothing internal: the log has the detail under the request id.
// Panics are recovered into 500 INTERNAL_ERROR.
//
// # Request ids and logging
//
// Every response carries X-Request-Id: the request's own when it is 1 to
// 128 of A-Za-z0-9 and -_.:+=/, otherwise a new one. With WithLogger each
// request is logged once, with method, route pattern, status, duration,
// request id and, for errors, the code and the core's error text (which
// names ids, statuses and amounts, never secrets). Bodies, headers, paths, query strings, card data,
// tokens, API keys and signatures are never logged.
package httpx
