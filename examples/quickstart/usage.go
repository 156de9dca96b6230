package main

import (
	"fmt"
	"io"
	"strings"
)

// printUsage tells a new user what is running and how to use it.
func printUsage(w io.Writer, base string, cfg config, providers []string) {
	key := cfg.apiKey
	fmt.Fprintf(w, `
paykit quickstart is listening on %[1]s
  store:      %[3]s
  providers:  %[4]s
  API:        %[1]s/pay/   (header X-API-Key: %[2]s)
  customer:   %[1]s/sandbox/payments/{id}/pay | decline | expire, /sandbox/payouts/{id}/complete | fail

Try it (bash):

  PAY=$(curl -s -X POST %[1]s/pay/checkout -H 'X-API-Key: %[2]s' -H 'Content-Type: application/json' \
    -H 'Idempotency-Key: demo-1' \
    -d '{"provider":"sandbox","method":"qr","order_id":"demo-1","amount":100000,"currency":"THB"}' \
    | grep -o '"id":"pay_[^"]*"' | head -1 | cut -d'"' -f4); echo "$PAY"
  curl -s -X POST %[1]s/sandbox/payments/$PAY/pay
  curl -s %[1]s/pay/payments/$PAY -H 'X-API-Key: %[2]s'
  curl -s -X POST %[1]s/pay/payments/$PAY/refunds -H 'X-API-Key: %[2]s' -H 'Content-Type: application/json' \
    -d '{"amount":25000,"reason":"one item returned"}'
  curl -s %[1]s/pay/payments/$PAY/events -H 'X-API-Key: %[2]s'

Stop with Ctrl-C.
`, base, key, cfg.db, strings.Join(providers, ", "))
}
