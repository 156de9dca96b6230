// Package storetest is the conformance suite every payment.Store must pass.
//
// A backend runs it with one call from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) payment.Store { return memstore.New() })
//	}
//
// The suite checks every contract written in the doc comments of
// payment.Store, method by method, including concurrency (run it with
// -race). Each subtest's name states the contract it checks, and each
// failure message names the contract that was broken.
//
// newStore is called once per subtest. It may return a fresh store or the
// same one (a SQL store's subtests may share one database): the suite never
// assumes a store is empty. Every test uses its own ids, order ids, provider
// names and outbox streams. Tests of store-wide queues (the outbox, due
// payments and payouts, expired idempotency keys, the inbox listing) run one
// at a time and work with times in the 1990s, far from the real time at
// which other code writes; before they start, they lease leftovers of earlier
// runs found there until the year 2150 (tests of failed outbox messages first
// redeliver every failed leftover, so that ListFailedOutbox shows only their
// own). Do not point the suite at a database that holds data you care about.
//
// Inputs are truncated to microseconds, the precision a Store may keep.
package storetest

import (
	"testing"

	"github.com/paykit/paykit/payment"
)

// test is one contract check.
type test struct {
	// name states the contract.
	name string
	// serial marks tests of store-wide queues: they do not run in parallel
	// with other tests of their group.
	serial bool
	run    func(t *testing.T, s payment.Store)
}

// group is a set of tests about one part of the Store.
type group struct {
	name  string
	tests []test
}

// Run runs the conformance suite against the stores newStore returns. See
// the package documentation for what it expects of newStore.
func Run(t *testing.T, newStore func(t *testing.T) payment.Store) {
	t.Helper()
	groups := []group{
		{"Payments", paymentTests()},
		{"OrderHolding", orderTests()},
		{"Refunds", refundTests()},
		{"Payouts", payoutTests()},
		{"Events", eventTests()},
		{"Idempotency", idempotencyTests()},
		{"Inbox", inboxTests()},
		{"Outbox", outboxTests()},
		{"Sweeper", sweeperTests()},
		{"Concurrency", concurrencyTests()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			// Serial tests run first, one at a time; the parallel ones of
			// the group then run together once this function returns.
			for _, tc := range g.tests {
				if !tc.serial {
					continue
				}
				t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
			}
			for _, tc := range g.tests {
				if tc.serial {
					continue
				}
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, newStore(t))
				})
			}
		})
	}
}
