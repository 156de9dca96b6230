package sandbox_test

import (
	"testing"
	"time"

	"github.com/paykit/paykit/providers/providertest"
	"github.com/paykit/paykit/providers/sandbox"
)

// FuzzParseWebhook feeds ParseWebhook arbitrary bodies under a genuine
// callback's headers: it must never panic.
func FuzzParseWebhook(f *testing.F) {
	clock := newClock()
	sb, err := sandbox.New(sandbox.WithClock(clock))
	if err != nil {
		f.Fatal(err)
	}
	seed := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, clock.Now(), []byte(testBody))
	providertest.FuzzParseWebhook(f, sb, seed)
}

// FuzzParseSignedWebhook signs every fuzzed body, so the decoding behind
// the signature check is fuzzed too: no panics, and whatever parses is a
// well-formed event.
func FuzzParseSignedWebhook(f *testing.F) {
	clock := newClock()
	sb, err := sandbox.New(sandbox.WithClock(clock))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(testBody))
	f.Add([]byte(`{"id":"e","data":{"object":"payout","id":"po_1","status":"failed","fee":1,"failure":{"code":"x"}}}`))
	f.Add([]byte(`{"id":"e","data":{"object":"payment","id":"pay_1","status":"succeeded","amount":-1,"amount_captured":5}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"id":"e","created":-99999999999,"data":{"object":"payment","id":"p","status":"failed"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		wr := sandbox.SignWebhook(sandbox.DefaultWebhookSecret, clock.Now().Add(-time.Second), body)
		res, err := sb.ParseWebhook(t.Context(), wr)
		if err != nil {
			return
		}
		if len(res.Events) != 1 || res.Events[0].Key == "" {
			t.Fatalf("a parsed callback is one event with a key, got %+v", res)
		}
		ev := res.Events[0]
		if (ev.Payment == nil) == (ev.Payout == nil) {
			t.Fatalf("exactly one of Payment and Payout, got %+v", ev)
		}
		if ev.Payment != nil && !ev.Payment.Status.Valid() {
			t.Fatalf("invalid status %q", ev.Payment.Status)
		}
	})
}
