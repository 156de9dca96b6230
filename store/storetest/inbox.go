package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

func inboxTests() []test {
	return append([]test{
		{name: "RecordInbox stores a message once per provider and event key", run: testInboxOnce},
		{name: "the same event key at another provider is another message", run: testInboxOtherProvider},
		{name: "the payload is kept byte for byte", run: testInboxPayload},
		{name: "UpdateInbox replaces Status, ObjectID, Error and ProcessedAt only", run: testInboxUpdate},
		{name: "UpdateInbox of a missing message is ErrNotFound", run: testInboxUpdateMissing},
		{name: "returned messages are copies", run: testInboxCopies},
		{name: "ListInbox returns messages of a status, oldest first, at most limit", serial: true, run: testListInbox},
		{name: "GetInbox of a missing message is ErrNotFound", run: testGetInboxMissing},
		{name: "GetInbox returns the stored message, every field, times in UTC", run: testGetInbox},
		{name: "GetInbox finds a message by provider and event key, both", run: testGetInboxKey},
		{name: "GetInbox returns copies", run: testGetInboxCopies},
	}, inboxWriteTests()...)
}

func newInbox(provider string, at time.Time) *payment.InboxMessage {
	return &payment.InboxMessage{
		Provider:   provider,
		EventKey:   "evk-" + randText(),
		Status:     payment.InboxReceived,
		Payload:    []byte(`{"event":"payment.succeeded","amount":"100.00","note":"ชำระแล้ว ✓"}`),
		ReceivedAt: at,
	}
}

func utcInbox(m *payment.InboxMessage) *payment.InboxMessage {
	c := *m
	c.ReceivedAt = c.ReceivedAt.UTC()
	c.ProcessedAt = utcPtr(c.ProcessedAt)
	if len(c.Payload) == 0 {
		c.Payload = nil
	} else {
		c.Payload = append([]byte(nil), c.Payload...)
	}
	return &c
}

func requireInboxEqual(t *testing.T, want, got *payment.InboxMessage, contract string) {
	t.Helper()
	require.NotNil(t, got, contract+": the stored message is returned")
	requireUTC(t, got, contract)
	require.Equal(t, utcInbox(want), utcInbox(got), contract)
}

func record(t *testing.T, s payment.Store, m *payment.InboxMessage, wantInserted bool, contract string) *payment.InboxMessage {
	t.Helper()
	stored, inserted, err := s.RecordInbox(t.Context(), m)
	require.NoError(t, err, contract)
	require.Equal(t, wantInserted, inserted, contract+": inserted")
	require.NotNil(t, stored, contract+": the stored message is returned")
	return stored
}

// mustGetInbox returns the message stored for (provider, eventKey),
// failing the test when there is none.
func mustGetInbox(t *testing.T, s payment.Store, provider, eventKey, contract string) *payment.InboxMessage {
	t.Helper()
	got, err := s.GetInbox(t.Context(), provider, eventKey)
	require.NoErrorf(t, err, "%s: GetInbox returns the message stored for %s/%s", contract, provider, eventKey)
	require.NotNilf(t, got, "%s: GetInbox returns the message stored for %s/%s", contract, provider, eventKey)
	return got
}

// requireInboxMissing checks that no message is stored for m's Provider and
// EventKey: GetInbox is ErrNotFound.
func requireInboxMissing(t *testing.T, s payment.Store, m *payment.InboxMessage, contract string) {
	t.Helper()
	got, err := s.GetInbox(t.Context(), m.Provider, m.EventKey)
	requireErrorIs(t, err, payment.ErrNotFound, contract)
	require.Nil(t, got, contract)
}

// fullInbox returns a processed message with every field set, its times
// not in UTC and its payload not UTF-8.
func fullInbox(provider, objectID string, at time.Time) *payment.InboxMessage {
	m := newInbox(provider, at)
	m.Status = payment.InboxProcessed
	m.ObjectID = objectID
	m.Payload = append([]byte(`{"event":"charge.succeeded","note":"`), 0xca, 0xc1, 0xaa, 0xd2, 0xc2, 0x00, 0xff, '"', '}')
	m.Error = "first attempt: timeout — hết thời gian chờ"
	done := at.Add(1500 * time.Microsecond)
	m.ProcessedAt = &done
	return m
}

func testInboxOnce(t *testing.T, s payment.Store) {
	const c = "RecordInbox stores a provider event once per (Provider, EventKey): the first is inserted, later ones return it"
	m := newInbox(newProvider(), now())
	requireInboxEqual(t, m, record(t, s, m, true, c), c)
	again := *m
	again.Payload = []byte(`{"event":"redelivered"}`)
	again.ReceivedAt = m.ReceivedAt.Add(time.Minute)
	again.Status = payment.InboxOrphan
	requireInboxEqual(t, m, record(t, s, &again, false, c+": a redelivery"), c+": the message stored earlier is returned, unchanged")
}

func testInboxOtherProvider(t *testing.T, s payment.Store) {
	const c = "RecordInbox keys messages by (Provider, EventKey): the same key at another provider is inserted"
	m := newInbox(newProvider(), now())
	record(t, s, m, true, c)
	o := *m
	o.Provider = newProvider()
	o.Payload = []byte("other")
	requireInboxEqual(t, &o, record(t, s, &o, true, c), c)
	requireInboxEqual(t, m, record(t, s, m, false, c), c+": the first provider's message is unchanged")
}

func testInboxPayload(t *testing.T, s payment.Store) {
	const c = "InboxMessage.Payload is the raw body as received, kept byte for byte"
	for name, payload := range map[string][]byte{
		"TIS-620 form body": append([]byte("status=paid&name="), 0xca, 0xc1, 0xaa, 0xd2, 0xc2), // "สมชาย" in TIS-620, not UTF-8
		"binary":            {0x00, 0xff, 0xfe, 0x80, 0x00, '\n', 0x1b},
		"large JSON":        []byte(`{"a":"` + randText() + `","pad":"` + string(slices.Repeat([]byte("x"), 200000)) + `"}`),
	} {
		m := newInbox(newProvider(), now())
		m.Payload = payload
		requireInboxEqual(t, m, record(t, s, m, true, c+" ("+name+")"), c+" ("+name+")")
		requireInboxEqual(t, m, record(t, s, m, false, c+" ("+name+")"), c+" ("+name+"): as read back")
	}
}

func testInboxUpdate(t *testing.T, s payment.Store) {
	const c = "UpdateInbox replaces the Status, ObjectID, Error and ProcessedAt of the stored message, and nothing else"
	at := now()
	m := newInbox(newProvider(), at)
	record(t, s, m, true, c)

	upd := *m
	upd.Status = payment.InboxProcessed
	upd.ObjectID = newID(payment.PrefixPayment)
	upd.Error = "apply: conflict — thử lại"
	done := at.Add(1500 * time.Microsecond)
	upd.ProcessedAt = &done
	upd.Payload = []byte("not replaced")
	upd.ReceivedAt = at.Add(time.Hour)
	require.NoError(t, s.UpdateInbox(t.Context(), &upd), c)

	want := *m
	want.Status, want.ObjectID, want.Error, want.ProcessedAt = upd.Status, upd.ObjectID, upd.Error, upd.ProcessedAt
	requireInboxEqual(t, &want, record(t, s, m, false, c), c)

	// And back: cleared error and processed time.
	upd.Status = payment.InboxOrphan
	upd.ObjectID = ""
	upd.Error = ""
	upd.ProcessedAt = nil
	require.NoError(t, s.UpdateInbox(t.Context(), &upd), c)
	want.Status, want.ObjectID, want.Error, want.ProcessedAt = upd.Status, "", "", nil
	requireInboxEqual(t, &want, record(t, s, m, false, c), c+" (fields cleared)")
}

func testInboxUpdateMissing(t *testing.T, s payment.Store) {
	const c = "UpdateInbox returns ErrNotFound when the message is missing"
	m := newInbox(newProvider(), now())
	m.Status = payment.InboxProcessed
	requireErrorIs(t, s.UpdateInbox(t.Context(), m), payment.ErrNotFound, c)
	// Not even when the key exists at another provider.
	record(t, s, m, true, c)
	o := *m
	o.Provider = newProvider()
	requireErrorIs(t, s.UpdateInbox(t.Context(), &o), payment.ErrNotFound, c+" (the key exists at another provider)")
}

func testInboxCopies(t *testing.T, s payment.Store) {
	const c = "a Store never keeps or hands out shared pointers: inbox messages passed in and returned are the caller's"
	m := newInbox(newProvider(), now())
	want := utcInbox(m)
	got := record(t, s, m, true, c)
	copy(m.Payload, "XXXX")
	copy(got.Payload, "YYYY")
	requireInboxEqual(t, want, record(t, s, want, false, c), c)
}

func testListInbox(t *testing.T, s payment.Store) {
	const c = "ListInbox returns inbox messages with the given status, oldest first, at most limit"
	base := pastWindow()
	prov := newProvider()
	// Received at decreasing times, so insertion order is not the answer.
	var mine []*payment.InboxMessage
	for i := range 4 {
		m := newInbox(prov, base.Add(time.Duration(4-i)*time.Second))
		record(t, s, m, true, c)
		mine = append(mine, m)
	}
	// mine[1] is processed.
	processedAt := base.Add(time.Hour)
	upd := *mine[1]
	upd.Status = payment.InboxProcessed
	upd.ProcessedAt = &processedAt
	require.NoError(t, s.UpdateInbox(t.Context(), &upd), c)
	mine[1] = &upd
	wantReceived := []*payment.InboxMessage{mine[3], mine[2], mine[0]}

	// The store may hold messages of other tests: mine are in the 1990s,
	// before anything written at the real time.
	const big = 5000
	all, err := s.ListInbox(t.Context(), payment.InboxReceived, big)
	require.NoError(t, err, c)
	require.LessOrEqual(t, len(all), big, c+": at most limit")
	for i, m := range all {
		require.Equal(t, payment.InboxReceived, m.Status, c+": only the status asked for")
		requireUTC(t, m, c)
		if i > 0 {
			require.False(t, m.ReceivedAt.Before(all[i-1].ReceivedAt), "%s: oldest first: %s listed after %s", c, m.ReceivedAt, all[i-1].ReceivedAt)
		}
	}
	var got []*payment.InboxMessage
	for _, m := range all {
		if m.Provider == prov {
			got = append(got, m)
		}
	}
	require.Len(t, got, len(wantReceived), c+": every received message of the test, and not the processed one")
	for i := range wantReceived {
		requireInboxEqual(t, wantReceived[i], got[i], c)
	}

	// limit: a shorter list is the start of the longer one.
	for _, limit := range []int{1, 2} {
		head, err := s.ListInbox(t.Context(), payment.InboxReceived, limit)
		require.NoError(t, err, c)
		require.Len(t, head, min(limit, len(all)), c+": exactly limit when there are more")
		for i := range head {
			require.Equal(t, all[i].Provider+"/"+all[i].EventKey, head[i].Provider+"/"+head[i].EventKey, c+": the oldest ones")
		}
	}

	processed, err := s.ListInbox(t.Context(), payment.InboxProcessed, big)
	require.NoError(t, err, c)
	var gotProcessed []*payment.InboxMessage
	for _, m := range processed {
		require.Equal(t, payment.InboxProcessed, m.Status, c+": only the status asked for")
		if m.Provider == prov {
			gotProcessed = append(gotProcessed, m)
		}
	}
	require.Len(t, gotProcessed, 1, c+": the processed message is listed as processed")
	requireInboxEqual(t, mine[1], gotProcessed[0], c)

	// Leave the window clean for later runs on the same database.
	for _, m := range wantReceived {
		done := *m
		done.Status = payment.InboxProcessed
		require.NoError(t, s.UpdateInbox(t.Context(), &done), c)
	}
}

func testGetInboxMissing(t *testing.T, s payment.Store) {
	const c = "GetInbox returns ErrNotFound when no message is stored for (provider, eventKey)"
	requireInboxMissing(t, s, newInbox(newProvider(), now()), c)
}

func testGetInbox(t *testing.T, s payment.Store) {
	const c = "GetInbox returns the message stored for (provider, eventKey): every field as stored, times in UTC, the payload byte for byte"
	full := fullInbox(newProvider(), newID(payment.PrefixPayment), now())
	record(t, s, full, true, c)
	got := mustGetInbox(t, s, full.Provider, full.EventKey, c)
	requireInboxEqual(t, full, got, c+" (every field set)")
	require.Equal(t, full.Payload, got.Payload, c+": the payload byte for byte")

	bare := newInbox(full.Provider, now())
	bare.Payload = nil
	record(t, s, bare, true, c)
	requireInboxEqual(t, bare, mustGetInbox(t, s, bare.Provider, bare.EventKey, c), c+" (received, no payload, no ProcessedAt)")

	upd := *bare
	upd.Status = payment.InboxOrphan
	upd.ObjectID = newID(payment.PrefixPayout)
	upd.Error = "no payout matches — không khớp"
	done := now().Add(time.Minute)
	upd.ProcessedAt = &done
	require.NoError(t, s.UpdateInbox(t.Context(), &upd), c)
	requireInboxEqual(t, &upd, mustGetInbox(t, s, bare.Provider, bare.EventKey, c), c+" (after UpdateInbox)")
	requireInboxEqual(t, full, mustGetInbox(t, s, full.Provider, full.EventKey, c), c+" (another message of the provider is unchanged)")
}

func testGetInboxKey(t *testing.T, s payment.Store) {
	const c = "GetInbox keys messages by (Provider, EventKey): the key at another provider, or another key at the provider, is another message"
	m := newInbox(newProvider(), now())
	record(t, s, m, true, c)
	requireInboxMissing(t, s, &payment.InboxMessage{Provider: newProvider(), EventKey: m.EventKey}, c+": the key at another provider is ErrNotFound")
	requireInboxMissing(t, s, &payment.InboxMessage{Provider: m.Provider, EventKey: m.EventKey + "x"}, c+": another key at the provider is ErrNotFound")
	requireInboxMissing(t, s, &payment.InboxMessage{Provider: m.Provider, EventKey: ""}, c+": the empty key is ErrNotFound")

	o := fullInbox(newProvider(), newID(payment.PrefixPayment), now())
	o.EventKey = m.EventKey
	record(t, s, o, true, c)
	requireInboxEqual(t, o, mustGetInbox(t, s, o.Provider, o.EventKey, c), c+": the other provider's message")
	requireInboxEqual(t, m, mustGetInbox(t, s, m.Provider, m.EventKey, c), c+": the first provider's message")
}

func testGetInboxCopies(t *testing.T, s payment.Store) {
	const c = "a Store never keeps or hands out shared pointers: messages GetInbox returns are the caller's"
	m := fullInbox(newProvider(), newID(payment.PrefixPayment), now())
	want := utcInbox(m)
	record(t, s, m, true, c)
	got := mustGetInbox(t, s, m.Provider, m.EventKey, c)
	copy(got.Payload, "XXXX")
	got.Status = payment.InboxOrphan
	got.ObjectID = "changed"
	got.Error = "changed"
	*got.ProcessedAt = got.ProcessedAt.Add(time.Hour)
	got.ReceivedAt = got.ReceivedAt.Add(time.Hour)
	again := mustGetInbox(t, s, m.Provider, m.EventKey, c)
	requireInboxEqual(t, want, again, c+": changing a message returned")
	copy(again.Payload, "YYYY")
	requireInboxEqual(t, want, mustGetInbox(t, s, m.Provider, m.EventKey, c), c+": changing a message returned")
	copy(m.Payload, "ZZZZ")
	*m.ProcessedAt = m.ProcessedAt.Add(time.Hour)
	requireInboxEqual(t, want, mustGetInbox(t, s, m.Provider, m.EventKey, c), c+": changing the message passed to RecordInbox")
}
