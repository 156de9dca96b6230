package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

func inboxTests() []test {
	return []test{
		{name: "RecordInbox stores a message once per provider and event key", run: testInboxOnce},
		{name: "the same event key at another provider is another message", run: testInboxOtherProvider},
		{name: "the payload is kept byte for byte", run: testInboxPayload},
		{name: "UpdateInbox replaces Status, ObjectID, Error and ProcessedAt only", run: testInboxUpdate},
		{name: "UpdateInbox of a missing message is ErrNotFound", run: testInboxUpdateMissing},
		{name: "returned messages are copies", run: testInboxCopies},
		{name: "ListInbox returns messages of a status, oldest first, at most limit", serial: true, run: testListInbox},
	}
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
