package storetest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

// ictZone is a non-UTC zone: the suite passes times in it to check that a
// store hands them back in UTC.
var ictZone = time.FixedZone("ICT", 7*60*60)

// farFuture is where the suite parks leftovers of earlier runs (leases and
// sync times), well after any time a test uses.
var farFuture = time.Date(2150, 1, 1, 0, 0, 0, 0, time.UTC)

// randText returns 26 random base32 characters (A-Z, 2-7).
func randText() string { return rand.Text() }

// newID returns a fresh id with prefix, unique across tests and runs.
func newID(prefix string) string { return prefix + randText() }

// newProvider returns a provider name unique to one test, so tests sharing
// a database never see each other's payments.
func newProvider() string { return "st" + strings.ToLower(randText()[:12]) }

// newOrderID returns an order id unique to one test.
func newOrderID() string { return "ord_" + randText() }

// now returns the current time truncated to microseconds (the precision a
// Store may keep), in a non-UTC zone.
func now() time.Time { return time.Now().Truncate(time.Microsecond).In(ictZone) }

// pastWindow returns the start of a day in the 1990s. Tests of store-wide
// queues (outbox, sweeper, expired keys) work inside such a day, far from the
// real time at which other tests write, and first clear leftovers of earlier
// runs from it (see drainOutbox and friends).
func pastWindow() time.Time {
	day := mrand.IntN(3650) //nolint:gosec // a test window, not a secret
	return time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day).In(ictZone)
}

// windowEnd is the end of the window starting at base: every time a test of
// store-wide queues uses lies before it.
func windowEnd(base time.Time) time.Time { return base.Add(48 * time.Hour) }

// newPayment returns a minimal valid pending payment with a fresh id.
func newPayment(provider, orderID string, at time.Time) *payment.Payment {
	return &payment.Payment{
		Object:        "payment",
		ID:            newID(payment.PrefixPayment),
		Provider:      provider,
		Method:        payment.MethodCard,
		OrderID:       orderID,
		Amount:        10000,
		Currency:      "THB",
		Status:        payment.StatusPending,
		CaptureMethod: payment.CaptureAutomatic,
		CreatedAt:     at,
		UpdatedAt:     at,
	}
}

// fullPayment returns a payment with every field set, including large and
// unicode values.
func fullPayment(provider, orderID string, at time.Time) *payment.Payment {
	p := newPayment(provider, orderID, at)
	exp := at.Add(15 * time.Minute)
	naExp := at.Add(10 * time.Minute)
	sync := at.Add(365 * 24 * time.Hour * 100) // a century on: never due for other tests
	p.Method = payment.MethodQR
	p.Amount = 1<<63 - 1
	p.Currency = "VND"
	p.AmountCaptured = 1<<63 - 1
	p.AmountRefunded = 1<<62 + 12345
	p.AmountRefundPending = 987654321
	p.Status = payment.StatusRequiresAction
	p.CaptureMethod = payment.CaptureManual
	p.ProviderReference = "ref-" + randText() + "-ผู้ขาย"
	p.NextAction = &payment.NextAction{
		Type:        payment.NextActionDisplayQR,
		QRCode:      "00020101021230" + strings.Repeat("5802TH", 40),
		QRImage:     "data:image/png;base64," + strings.Repeat("iVBORw0KGgo=", 2000),
		URL:         "https://pay.example.com/qr?id=" + randText() + "&lang=th",
		AmountToPay: 1<<63 - 2,
		BankAccount: &payment.BankAccount{BankCode: "KBANK", Number: "123-4-56789-0", Name: "บริษัท ตัวอย่าง จำกัด"},
		PromptPayID: "0812345678",
		ExpiresAt:   &naExp,
	}
	p.Failure = &payment.Failure{Code: payment.FailureInsufficientFunds, Message: "Số dư không đủ — 残高不足 🙅"}
	p.Card = &payment.CardSummary{Brand: "visa", Last4: "4242"}
	p.Customer = &payment.Customer{
		ID:          "cus_" + randText(),
		Name:        "Nguyễn Thị Minh Khai 🌸",
		Email:       "minh.khai@example.com",
		Phone:       "+84 90 123 4567",
		BankAccount: &payment.BankAccount{BankCode: "VCB", Number: "0011004455667", Name: "NGUYEN THI MINH KHAI"},
	}
	p.Description = strings.Repeat("ชำระค่าสินค้า 🛒 Thanh toán đơn hàng. ", 200)
	p.Items = []payment.Item{
		{ID: "sku-1", Name: "กาแฟ ☕", Price: 1<<63 - 1, Quantity: 1, SubMerchantID: "sub_1", SubMerchantShare: 1<<62 + 7},
		{ID: "sku-2", Name: "Bánh mì", Price: 25000, Quantity: 3},
		{Name: "no id", Price: 1, Quantity: 1<<63 - 1},
	}
	p.Metadata = map[string]string{
		"cart":    "c_123",
		"note":    strings.Repeat("長い値 ", 300),
		"emoji 🎉": "yes ✅",
		"empty":   "",
	}
	p.ReturnURL = "https://shop.example.com/return?order=" + orderID + "&" + strings.Repeat("x=1&", 400)
	p.Flags = []string{payment.FlagUnderpaid, payment.FlagAmountMismatch}
	p.ExpiresAt = &exp
	p.UpdatedAt = at.Add(time.Second)
	p.NextSyncAt = &sync
	return p
}

// subscribers is the destination the suite's events are addressed to unless
// a test says otherwise.
const subscribers = "subscribers"

// newEvent returns an event about objectID (of paymentID, which may be empty
// for payouts) at at, addressed to the subscribers only: appended by a write
// other than AppendEvents, it gets one outbox message.
func newEvent(typ payment.EventType, objectID, paymentID string, at time.Time) payment.Event {
	id := newID(payment.PrefixEvent)
	return payment.Event{
		Object:       "event",
		ID:           id,
		Type:         typ,
		ObjectID:     objectID,
		PaymentID:    paymentID,
		From:         string(payment.StatusPending),
		To:           string(payment.StatusProcessing),
		Source:       payment.SourceAPI,
		Reason:       "storetest ✓",
		Data:         json.RawMessage(fmt.Sprintf(`{"id":%q,"event":%q,"amount":9223372036854775807,"note":"ไทย"}`, objectID, id)),
		CreatedAt:    at,
		Destinations: []string{subscribers},
	}
}

// to returns ev addressed to destinations instead, in that order (none:
// ev gets no outbox message).
func to(ev payment.Event, destinations ...string) payment.Event {
	ev.Destinations = destinations
	return ev
}

// paymentEvent returns an event about payment p at at, addressed to the
// subscribers only.
func paymentEvent(p *payment.Payment, at time.Time) payment.Event {
	return newEvent(payment.EventPaymentProcessing, p.ID, p.ID, at)
}

// newRefund returns a pending refund of amount on p.
func newRefund(p *payment.Payment, amount int64, at time.Time) *payment.Refund {
	return &payment.Refund{
		Object:    "refund",
		ID:        newID(payment.PrefixRefund),
		PaymentID: p.ID,
		Amount:    amount,
		Currency:  p.Currency,
		Status:    payment.RefundPending,
		Reason:    "khách đổi ý — 顧客都合",
		CreatedAt: at,
		UpdatedAt: at,
	}
}

// newPayout returns a pending payout with a fresh id.
func newPayout(provider, orderID string, at time.Time) *payment.Payout {
	return &payment.Payout{
		Object:      "payout",
		ID:          newID(payment.PrefixPayout),
		Provider:    provider,
		OrderID:     orderID,
		Amount:      500000,
		Currency:    "THB",
		BankAccount: payment.BankAccount{BankCode: "SCB", Number: "111-2-33333-4", Name: "สมชาย ใจดี"},
		Status:      payment.PayoutPending,
		CreatedAt:   at,
		UpdatedAt:   at,
	}
}

// captured turns p into a succeeded payment with amount captured.
func captured(p *payment.Payment, amount int64) *payment.Payment {
	p.Amount = amount
	p.AmountCaptured = amount
	p.Status = payment.StatusSucceeded
	return p
}

// mustCreatePayment creates p with events, failing the test otherwise.
func mustCreatePayment(t testing.TB, s payment.Store, p *payment.Payment, events ...payment.Event) {
	t.Helper()
	require.NoError(t, s.CreatePayment(t.Context(), p, events), "CreatePayment: a new payment is inserted")
}

// mustUpdatePayment updates p with events, failing the test otherwise.
func mustUpdatePayment(t testing.TB, s payment.Store, p *payment.Payment, events ...payment.Event) {
	t.Helper()
	require.NoError(t, s.UpdatePayment(t.Context(), p, events), "UpdatePayment: an update at the stored Version succeeds")
}

// mustGetPayment reads payment id, failing the test otherwise.
func mustGetPayment(t testing.TB, s payment.Store, id string) *payment.Payment {
	t.Helper()
	p, err := s.GetPayment(t.Context(), id)
	require.NoError(t, err, "GetPayment: an existing payment is returned")
	require.NotNil(t, p, "GetPayment: an existing payment is returned")
	return p
}

// utcPayment returns a copy of p with its times in UTC and empty slices and
// maps as nil, as a Store may return it.
func utcPayment(p *payment.Payment) *payment.Payment {
	c := p.Clone()
	if c.NextAction != nil && c.NextAction.BankAccount != nil {
		ba := *c.NextAction.BankAccount
		c.NextAction.BankAccount = &ba
	}
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	c.ExpiresAt = utcPtr(c.ExpiresAt)
	c.NextSyncAt = utcPtr(c.NextSyncAt)
	if c.NextAction != nil {
		c.NextAction.ExpiresAt = utcPtr(c.NextAction.ExpiresAt)
	}
	if len(c.Items) == 0 {
		c.Items = nil
	}
	if len(c.Metadata) == 0 {
		c.Metadata = nil
	}
	if len(c.Flags) == 0 {
		c.Flags = nil
	}
	c.Replayed = false
	return c
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// requirePaymentEqual checks that got is want as stored: every field equal,
// times in UTC.
func requirePaymentEqual(t testing.TB, want, got *payment.Payment, contract string) {
	t.Helper()
	require.NotNil(t, got, contract)
	requireUTC(t, got, contract)
	require.Equal(t, utcPayment(want), utcPayment(got), contract)
}

func utcRefund(r *payment.Refund) *payment.Refund {
	c := r.Clone()
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	c.Replayed = false
	return c
}

// requireRefundEqual checks that got is want as stored.
func requireRefundEqual(t testing.TB, want, got *payment.Refund, contract string) {
	t.Helper()
	require.NotNil(t, got, contract)
	requireUTC(t, got, contract)
	require.Equal(t, utcRefund(want), utcRefund(got), contract)
}

func utcPayout(p *payment.Payout) *payment.Payout {
	c := p.Clone()
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	c.NextSyncAt = utcPtr(c.NextSyncAt)
	if len(c.Metadata) == 0 {
		c.Metadata = nil
	}
	c.Replayed = false
	return c
}

// requirePayoutEqual checks that got is want as stored.
func requirePayoutEqual(t testing.TB, want, got *payment.Payout, contract string) {
	t.Helper()
	require.NotNil(t, got, contract)
	requireUTC(t, got, contract)
	require.Equal(t, utcPayout(want), utcPayout(got), contract)
}

// jsonEqual compares two raw JSON values by meaning (a backend may store JSON
// reformatted); nil, empty and null are the same.
func jsonEqual(a, b json.RawMessage) bool {
	na, nb := isNullJSON(a), isNullJSON(b)
	if na || nb {
		return na && nb
	}
	var va, vb any
	da := json.NewDecoder(bytes.NewReader(a))
	da.UseNumber()
	db := json.NewDecoder(bytes.NewReader(b))
	db.UseNumber()
	if da.Decode(&va) != nil || db.Decode(&vb) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(va, vb)
}

func isNullJSON(m json.RawMessage) bool {
	s := strings.TrimSpace(string(m))
	return s == "" || s == "null"
}

// requireEventEqual checks that got is want as stored: every field equal,
// times in UTC, Data equal as JSON, and no Destinations (a Store does not
// keep them).
func requireEventEqual(t testing.TB, want, got payment.Event, contract string) {
	t.Helper()
	requireUTC(t, got, contract)
	require.Truef(t, jsonEqual(want.Data, got.Data), "%s: event %s Data %s, want %s", contract, want.ID, got.Data, want.Data)
	require.Nilf(t, got.Destinations, "%s: a Store does not keep an event's Destinations: events read back have none (event %s has %q)",
		contract, want.ID, got.Destinations)
	require.Nilf(t, got.Lease, "%s: a Store does not keep an event's Lease: events read back have none (event %s)", contract, want.ID)
	w, g := want, got
	w.Data, g.Data = nil, nil
	w.Destinations, w.Lease = nil, nil
	w.CreatedAt = w.CreatedAt.UTC()
	require.Equal(t, w, g, contract)
}

// requireEvents checks that got are want, in order.
func requireEvents(t testing.TB, want, got []payment.Event, contract string) {
	t.Helper()
	require.Equalf(t, eventIDs(want), eventIDs(got), "%s: events (by id, in order)", contract)
	for i := range want {
		requireEventEqual(t, want[i], got[i], contract)
	}
}

// eventIDs returns the ids of events, in order.
func eventIDs(events []payment.Event) []string {
	ids := make([]string, 0, len(events))
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	return ids
}

// requireUTC fails when any time.Time reachable from v is not in UTC.
func requireUTC(t testing.TB, v any, contract string) {
	t.Helper()
	var bad []string
	walkTimes(reflect.ValueOf(v), "", &bad)
	require.Emptyf(t, bad, "%s: times are returned in UTC; these are not", contract)
}

var timeType = reflect.TypeFor[time.Time]()

func walkTimes(v reflect.Value, path string, bad *[]string) {
	if !v.IsValid() {
		return
	}
	if v.Type() == timeType {
		if tm, ok := v.Interface().(time.Time); ok && tm.Location() != time.UTC {
			*bad = append(*bad, fmt.Sprintf("%s=%s", path, tm))
		}
		return
	}
	switch v.Kind() { //nolint:exhaustive // only containers can hold times
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkTimes(v.Elem(), path, bad)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				walkTimes(v.Field(i), path+"."+v.Type().Field(i).Name, bad)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkTimes(v.Index(i), fmt.Sprintf("%s[%d]", path, i), bad)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			walkTimes(v.MapIndex(k), fmt.Sprintf("%s[%v]", path, k), bad)
		}
	}
}

// requireErrorIs checks that err wraps target, naming the contract.
func requireErrorIs(t testing.TB, err, target error, contract string) {
	t.Helper()
	require.Errorf(t, err, "%s: want an error wrapping %v, got nil", contract, target)
	require.ErrorIsf(t, err, target, "%s: want an error wrapping %v, got %v", contract, target, err)
}

// drainOutbox leases every outbox message claimable at windowEnd(base) to a
// drain owner until far in the future, so leftovers of earlier runs in the
// same database do not show up in a test working in that window.
func drainOutbox(t testing.TB, s payment.Store, base time.Time) {
	t.Helper()
	at := windowEnd(base)
	for range 10000 {
		msgs, err := s.ClaimOutbox(t.Context(), "storetest-drain", at, farFuture.Sub(at), 1000)
		require.NoError(t, err, "ClaimOutbox: claiming works")
		if len(msgs) == 0 {
			return
		}
	}
	t.Fatal("ClaimOutbox: could not drain leftovers of earlier runs")
}

// drainDue does for due payments and payouts what drainOutbox does for the
// outbox.
func drainDue(t testing.TB, s payment.Store, base time.Time) {
	t.Helper()
	at := windowEnd(base)
	for range 10000 {
		ps, err := s.ClaimDuePayments(t.Context(), at, farFuture.Sub(at), 1000)
		require.NoError(t, err, "ClaimDuePayments: claiming works")
		pos, err := s.ClaimDuePayouts(t.Context(), at, farFuture.Sub(at), 1000)
		require.NoError(t, err, "ClaimDuePayouts: claiming works")
		if len(ps) == 0 && len(pos) == 0 {
			return
		}
	}
	t.Fatal("ClaimDuePayments: could not drain leftovers of earlier runs")
}

// claimAll claims and acknowledges, at at, every claimable message until
// none is left, and returns them in the order they were handed out.
func claimAll(t testing.TB, s payment.Store, at time.Time) []*payment.OutboxMessage {
	t.Helper()
	var got []*payment.OutboxMessage
	owner := "storetest-" + randText()
	for range 10000 {
		msgs, err := s.ClaimOutbox(t.Context(), owner, at, time.Minute, 100)
		require.NoError(t, err, "ClaimOutbox: claiming works")
		if len(msgs) == 0 {
			return got
		}
		ack(t, s, owner, at, outboxIDs(msgs)...)
		got = append(got, msgs...)
	}
	t.Fatal("ClaimOutbox: messages keep coming back after acknowledgement")
	return nil
}
