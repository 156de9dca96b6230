// Package payplussim simulates the Pay-Plus payment gateway: a stateful
// http.Handler that speaks its API, checks requests like the vendor, sends
// signed callbacks, and lets Go code play the payer and the bank.
//
// # Serving it
//
//	sim := payplussim.New()                 // one merchant: DefaultMerchantID / DefaultAPIKey
//	srv := httptest.NewServer(sim)          // or mount sim on any mux
//	defer srv.Close()
//	defer sim.Close()                       // stops callback retries
//	p, err := payplus.New(payplus.Config{
//		BaseURL:    srv.URL + payplussim.DefaultPrefix, // "/api/v1"
//		MerchantID: payplussim.DefaultMerchantID,
//		APIKey:     payplussim.DefaultAPIKey,
//	})
//
// Without a network, sim.Client() is an *http.Client that calls the handler
// in process: payplus.WithHTTPClient(sim.Client()) with any base URL ending
// in the prefix ("http://payplus.sim/api/v1").
//
// # What it checks
//
// Like the vendor: the x-api-key (401 "Invalid API key"), the IP whitelist
// (WithIPWhitelist; 403 "IP not in whitelist"), the signature by re-signing
// the sorted parameters with the key exactly as jsonwebtoken would and
// comparing in constant time (400 "Invalid signature"; WithLenientSignatures
// also accepts any HS256 JWT whose claims equal the parameters), the
// timestamp, in seconds or milliseconds, number or string, within 5 minutes
// (400 "Invalid timestamp"), merchantId against the key's merchant (403
// "merchantId does not match API key"), each operation's required fields,
// bank codes (GET /banks lists them), amounts (positive THB, at most two
// decimals), and reused transaction ids per merchant (400 "transactionId
// already exists"). Errors have the form {"status":"error","code":N,
// "message":"..."} with HTTP status N.
//
// It serves the provider's default paths, the variants /withdrawal and
// /query, GET and POST /balance, and any paths given with WithPaths.
//
// # Money
//
// A deposit asks the payer for the amount less a fee (depositAmount; 0.5% by
// default, so 1000 asks 995 as in the documentation, WithDepositFee). The
// answer carries a real PromptPay EMVCo payload for that amount to the
// PromptPay number (WithPromptPayNumber) as a PNG data URL, the platform
// account, and the expiry (5 minutes, WithDepositTTL). A withdrawal takes a
// fee from the amount (1.5%: 1000 transfers 985, WithWithdrawalFee) and holds
// the amount from the balance (WithBalance; "Insufficient balance" when it
// does not cover it); a failed withdrawal gives it back. Completed deposits
// credit the actual amount.
//
// # Playing the customer
//
// With paykit's ids (the provider sends them as transactionId and
// agent_order_no): Pay (the exact amount), PayAmount and PayLess (another
// amount: completed with that actual_amount, which the provider flags as
// underpaid when short), Decline (Pay-Plus rejects the transfer: failed),
// Expire (expired; deposits also expire on the simulator's clock, lazily
// or with ExpireDue), CompletePayout and FailPayout. Each sends the signed
// callback before returning (failed deliveries are retried in the
// background with doubling waits, WithCallbackRetry, each attempt re-signed
// with a fresh timestamp; a delivery counts when the merchant answers HTTP
// 200 with {"code":200,...}). Callbacks, Order, Charges and Balance show what
// happened. Errors wrap ErrNotFound (payment.ErrNotFound) and ErrNotPending
// (payment.ErrInvalidState).
//
// # Faults
//
// InjectFault makes requests fail (a status and message), fail after doing
// the work (AfterProcessing: the caller cannot know the order exists), wait
// (Delay) or never answer (Hang), for one or more requests of one operation
// or all. SetCallbackFaults drops, duplicates, corrupts (BadSignature),
// delays, or follows with a stale out-of-order pending copy, every callback.
package payplussim
