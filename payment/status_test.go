package payment_test

import (
	"testing"

	"github.com/paykit/paykit/payment"
	"github.com/stretchr/testify/require"
)

// allowed is the state machine of architecture.md, written out pair by pair
// so the table in status.go is checked against an independent copy.
var allowed = map[[2]payment.Status]bool{
	{"pending", "requires_action"}: true, {"pending", "processing"}: true, {"pending", "authorized"}: true,
	{"pending", "succeeded"}: true, {"pending", "failed"}: true, {"pending", "canceled"}: true, {"pending", "expired"}: true,
	{"requires_action", "processing"}: true, {"requires_action", "authorized"}: true, {"requires_action", "succeeded"}: true,
	{"requires_action", "failed"}: true, {"requires_action", "canceled"}: true, {"requires_action", "expired"}: true,
	{"processing", "authorized"}: true, {"processing", "succeeded"}: true, {"processing", "failed"}: true,
	{"processing", "canceled"}: true, {"processing", "expired"}: true,
	{"authorized", "succeeded"}: true, {"authorized", "failed"}: true, {"authorized", "canceled"}: true, {"authorized", "expired"}: true,
	{"succeeded", "partially_refunded"}: true, {"succeeded", "refunded"}: true,
	{"partially_refunded", "refunded"}: true,
	{"canceled", "succeeded"}:          true, {"expired", "succeeded"}: true, // late success
}

func TestTransitionTableEveryPair(t *testing.T) {
	t.Parallel()
	count := 0
	for _, from := range payment.Statuses() {
		for _, to := range payment.Statuses() {
			want := allowed[[2]payment.Status{from, to}]
			require.Equal(t, want, payment.CanTransition(from, to), "%s -> %s", from, to)
			if want {
				count++
			}
		}
	}
	require.Len(t, allowed, count, "every allowed pair is a real status pair")
	require.False(t, payment.CanTransition("bogus", payment.StatusSucceeded))
	require.False(t, payment.CanTransition(payment.StatusPending, "bogus"))
}

func TestStatusProperties(t *testing.T) {
	t.Parallel()
	for _, s := range payment.Statuses() {
		require.True(t, s.Valid(), s)
		if s.Terminal() {
			for _, to := range payment.Statuses() {
				if payment.CanTransition(s, to) {
					require.True(t, payment.IsLateSuccess(s, to), "terminal %s may only move by late success, not to %s", s, to)
				}
			}
		}
	}
	require.True(t, payment.IsLateSuccess(payment.StatusExpired, payment.StatusSucceeded))
	require.False(t, payment.IsLateSuccess(payment.StatusFailed, payment.StatusSucceeded))
	require.True(t, payment.StatusFailed.Final())
	require.False(t, payment.StatusAuthorized.Final())
}

func TestPayoutTransitions(t *testing.T) {
	t.Parallel()
	require.True(t, payment.CanPayoutTransition(payment.PayoutPending, payment.PayoutProcessing))
	require.True(t, payment.CanPayoutTransition(payment.PayoutProcessing, payment.PayoutSucceeded))
	require.False(t, payment.CanPayoutTransition(payment.PayoutSucceeded, payment.PayoutFailed))
	require.False(t, payment.CanPayoutTransition(payment.PayoutProcessing, payment.PayoutPending))
}

func TestCheckTransition(t *testing.T) {
	t.Parallel()
	require.NoError(t, payment.CheckTransition(payment.StatusPending, payment.StatusSucceeded))
	err := payment.CheckTransition(payment.StatusSucceeded, payment.StatusPending)
	require.ErrorIs(t, err, payment.ErrInvalidTransition)
	var te *payment.TransitionError
	require.ErrorAs(t, err, &te)
	require.Equal(t, payment.StatusSucceeded, te.From)
}
