package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

func idempotencyTests() []test {
	return []test{
		{name: "a new key is stored as given and acquired", run: testIdemNew},
		{name: "a key past its ExpiresAt is replaced and acquired", run: testIdemExpired},
		{name: "a key with another Fingerprint is not acquired and nothing changes", run: testIdemMismatch},
		{name: "a completed key is not acquired and returns the stored response", run: testIdemCompleted},
		{name: "an in-progress key whose lock has not ended is not acquired", run: testIdemLocked},
		{name: "an in-progress key whose lock ended is re-acquired, keeping its ResourceID", run: testIdemLockExpired},
		{name: "CompleteIdempotencyKey of a missing key is ErrNotFound", run: testIdemCompleteMissing},
		{name: "ReleaseIdempotencyKey deletes an in-progress key", run: testIdemReleaseInProgress},
		{name: "ReleaseIdempotencyKey leaves a completed key alone, and a missing key is no error", run: testIdemReleaseCompleted},
		{name: "returned records are copies", run: testIdemCopies},
		{name: "DeleteExpiredIdempotencyKeys deletes records whose ExpiresAt is not after now and counts them", serial: true, run: testIdemDeleteExpired},
	}
}

// newIdem returns an in-progress record for a fresh key, locked for a
// minute after at and kept for a day.
func newIdem(at time.Time) *payment.IdempotencyRecord {
	return &payment.IdempotencyRecord{
		Key:         "idem-" + randText() + "-" + randText(),
		Fingerprint: "fp-" + randText(),
		ResourceID:  newID(payment.PrefixPayment),
		Status:      payment.IdempotencyInProgress,
		LockedUntil: at.Add(time.Minute),
		CreatedAt:   at,
		ExpiresAt:   at.Add(24 * time.Hour),
	}
}

func utcIdem(r *payment.IdempotencyRecord) *payment.IdempotencyRecord {
	c := *r
	c.LockedUntil = c.LockedUntil.UTC()
	c.CreatedAt = c.CreatedAt.UTC()
	c.ExpiresAt = c.ExpiresAt.UTC()
	if len(c.Response) == 0 {
		c.Response = nil
	} else {
		c.Response = append([]byte(nil), c.Response...)
	}
	return &c
}

func requireIdemEqual(t *testing.T, want, got *payment.IdempotencyRecord, contract string) {
	t.Helper()
	require.NotNil(t, got, contract+": the stored record is returned")
	requireUTC(t, got, contract)
	require.Equal(t, utcIdem(want), utcIdem(got), contract)
}

// acquire calls AcquireIdempotencyKey and checks the acquired flag.
func acquire(t *testing.T, s payment.Store, rec *payment.IdempotencyRecord, at time.Time, wantAcquired bool, contract string) *payment.IdempotencyRecord {
	t.Helper()
	stored, acquired, err := s.AcquireIdempotencyKey(t.Context(), rec, at)
	require.NoError(t, err, contract)
	require.Equal(t, wantAcquired, acquired, contract+": acquired")
	require.NotNil(t, stored, contract+": the stored record is returned")
	return stored
}

// otherRequest returns rec as another request with the same key and
// fingerprint would send it: a new ResourceID and lock.
func otherRequest(rec *payment.IdempotencyRecord, at time.Time) *payment.IdempotencyRecord {
	o := *rec
	o.ResourceID = newID(payment.PrefixPayment)
	o.LockedUntil = at.Add(2 * time.Minute)
	o.CreatedAt = at
	o.ExpiresAt = at.Add(24 * time.Hour)
	o.Response = nil
	o.Status = payment.IdempotencyInProgress
	return &o
}

func testIdemNew(t *testing.T, s payment.Store) {
	const c = "AcquireIdempotencyKey with no record for the key stores rec as given and returns it with acquired true"
	at := now()
	rec := newIdem(at)
	requireIdemEqual(t, rec, acquire(t, s, rec, at, true, c), c)
	// The record is stored: the next request sees it.
	requireIdemEqual(t, rec, acquire(t, s, otherRequest(rec, at), at, false, c+": then a second request is not acquired"), c+": the first record is stored")
}

func testIdemExpired(t *testing.T, s payment.Store) {
	const c = "AcquireIdempotencyKey with a record past its ExpiresAt stores rec as given and returns it with acquired true"
	at := now()
	// An expired completed record and an expired in-progress one with
	// another fingerprint: both are replaced.
	done := newIdem(at.Add(-48 * time.Hour))
	acquire(t, s, done, at.Add(-48*time.Hour), true, c)
	require.NoError(t, s.CompleteIdempotencyKey(t.Context(), done.Key, []byte(`{"old":true}`)), c)
	fresh := otherRequest(done, at)
	fresh.Fingerprint = "fp-" + randText()
	requireIdemEqual(t, fresh, acquire(t, s, fresh, at, true, c+" (completed)"), c+" (completed): the new record replaces it")

	locked := newIdem(at.Add(-48 * time.Hour))
	locked.LockedUntil = at.Add(time.Hour) // even a lock that has not ended
	acquire(t, s, locked, at.Add(-48*time.Hour), true, c)
	fresh2 := otherRequest(locked, at)
	requireIdemEqual(t, fresh2, acquire(t, s, fresh2, at, true, c+" (in progress)"), c+" (in progress): the new record replaces it")
	requireIdemEqual(t, fresh2, acquire(t, s, otherRequest(locked, at), at, false, c), c+": the new record is stored")
}

func testIdemMismatch(t *testing.T, s payment.Store) {
	const c = "AcquireIdempotencyKey with a record of another Fingerprint returns the stored record, acquired false, and changes nothing"
	at := now()
	rec := newIdem(at)
	acquire(t, s, rec, at, true, c)
	other := otherRequest(rec, at)
	other.Fingerprint = "fp-" + randText()
	requireIdemEqual(t, rec, acquire(t, s, other, at, false, c+" (locked)"), c+" (locked)")
	// Even after the lock ended.
	later := at.Add(time.Hour)
	other.LockedUntil = later.Add(time.Minute)
	requireIdemEqual(t, rec, acquire(t, s, other, later, false, c+" (lock ended)"), c+" (lock ended)")
	// And completed.
	require.NoError(t, s.CompleteIdempotencyKey(t.Context(), rec.Key, []byte("{}")), c)
	got := acquire(t, s, other, later, false, c+" (completed)")
	require.Equal(t, rec.Fingerprint, got.Fingerprint, c+" (completed)")
	require.Equal(t, rec.ResourceID, got.ResourceID, c+" (completed)")
}

func testIdemCompleted(t *testing.T, s payment.Store) {
	const c = "CompleteIdempotencyKey marks the key completed with the response; AcquireIdempotencyKey then returns it, acquired false"
	at := now()
	rec := newIdem(at)
	acquire(t, s, rec, at, true, c)
	resp := []byte(`{"id":"` + rec.ResourceID + `","object":"payment","amount":9223372036854775807,"note":"ไทย 🎉"}`)
	require.NoError(t, s.CompleteIdempotencyKey(t.Context(), rec.Key, resp), c)
	want := *rec
	want.Status = payment.IdempotencyCompleted
	want.Response = resp
	// Same fingerprint, before and after the lock would have ended.
	requireIdemEqual(t, &want, acquire(t, s, otherRequest(rec, at), at, false, c), c)
	later := at.Add(time.Hour)
	requireIdemEqual(t, &want, acquire(t, s, otherRequest(rec, later), later, false, c+" (after the lock)"), c+" (after the lock)")
}

func testIdemLocked(t *testing.T, s payment.Store) {
	const c = "AcquireIdempotencyKey with an in-progress record whose LockedUntil is after now returns it, acquired false, and changes nothing"
	at := now()
	rec := newIdem(at)
	acquire(t, s, rec, at, true, c)
	requireIdemEqual(t, rec, acquire(t, s, otherRequest(rec, at), at, false, c), c)
	almost := rec.LockedUntil.Add(-time.Microsecond)
	requireIdemEqual(t, rec, acquire(t, s, otherRequest(rec, almost), almost, false, c+" (a microsecond before the lock ends)"), c)
}

func testIdemLockExpired(t *testing.T, s payment.Store) {
	const c = "AcquireIdempotencyKey with an in-progress record of the same Fingerprint whose LockedUntil is not after now sets its LockedUntil to rec.LockedUntil, keeps its ResourceID, and returns it acquired"
	at := now()
	for _, name := range []string{"at LockedUntil", "after LockedUntil"} {
		rec := newIdem(at)
		acquire(t, s, rec, at, true, c)
		when := rec.LockedUntil
		if name == "after LockedUntil" {
			when = when.Add(time.Hour)
		}
		retry := otherRequest(rec, when)
		want := *rec
		want.LockedUntil = retry.LockedUntil
		got := acquire(t, s, retry, when, true, c+" ("+name+")")
		require.Equal(t, rec.ResourceID, got.ResourceID, c+" ("+name+"): the ResourceID is kept so the new request resumes the old one's work")
		requireIdemEqual(t, &want, got, c+" ("+name+")")
		// The new request now holds the lock.
		requireIdemEqual(t, &want, acquire(t, s, otherRequest(rec, when), when, false, c+" ("+name+"): the re-acquired key is locked again"), c)
	}
}

func testIdemCompleteMissing(t *testing.T, s payment.Store) {
	const c = "CompleteIdempotencyKey returns ErrNotFound when the key has no record"
	requireErrorIs(t, s.CompleteIdempotencyKey(t.Context(), "idem-"+randText(), []byte("{}")), payment.ErrNotFound, c)
}

func testIdemReleaseInProgress(t *testing.T, s payment.Store) {
	const c = "ReleaseIdempotencyKey deletes an in-progress record, so a corrected retry may use the key"
	at := now()
	rec := newIdem(at)
	acquire(t, s, rec, at, true, c)
	require.NoError(t, s.ReleaseIdempotencyKey(t.Context(), rec.Key), c)
	corrected := otherRequest(rec, at)
	corrected.Fingerprint = "fp-" + randText()
	requireIdemEqual(t, corrected, acquire(t, s, corrected, at, true, c), c+": the corrected retry is acquired with its own record")
}

func testIdemReleaseCompleted(t *testing.T, s payment.Store) {
	const c = "ReleaseIdempotencyKey of a completed key does nothing; of a missing key does nothing"
	at := now()
	rec := newIdem(at)
	acquire(t, s, rec, at, true, c)
	require.NoError(t, s.CompleteIdempotencyKey(t.Context(), rec.Key, []byte("done")), c)
	require.NoError(t, s.ReleaseIdempotencyKey(t.Context(), rec.Key), c)
	got := acquire(t, s, otherRequest(rec, at), at, false, c+": the completed key is still there")
	require.Equal(t, payment.IdempotencyCompleted, got.Status, c)
	require.Equal(t, []byte("done"), got.Response, c)
	require.NoError(t, s.ReleaseIdempotencyKey(t.Context(), "idem-"+randText()), c+": a missing key")
}

func testIdemCopies(t *testing.T, s payment.Store) {
	const c = "a Store never keeps or hands out shared pointers: records passed in and returned are the caller's"
	at := now()
	rec := newIdem(at)
	want := *rec
	got := acquire(t, s, rec, at, true, c)
	rec.ResourceID = "changed"
	got.ResourceID = "changed"
	resp := []byte("response")
	require.NoError(t, s.CompleteIdempotencyKey(t.Context(), want.Key, resp), c)
	copy(resp, "CHANGED!")
	want.Status = payment.IdempotencyCompleted
	want.Response = []byte("response")
	got = acquire(t, s, otherRequest(&want, at), at, false, c)
	requireIdemEqual(t, &want, got, c+": changing values passed in")
	copy(got.Response, "CHANGED!")
	requireIdemEqual(t, &want, acquire(t, s, otherRequest(&want, at), at, false, c), c+": changing values returned")
}

func testIdemDeleteExpired(t *testing.T, s payment.Store) {
	const c = "DeleteExpiredIdempotencyKeys deletes records whose ExpiresAt is not after now, and returns how many"
	base := pastWindow()
	// Clear leftovers of earlier runs from the window.
	_, err := s.DeleteExpiredIdempotencyKeys(t.Context(), windowEnd(base))
	require.NoError(t, err, c)

	at := base.Add(time.Hour)
	var expired, kept []*payment.IdempotencyRecord
	for i, exp := range []time.Duration{-time.Hour, -time.Microsecond, 0, time.Microsecond, time.Hour} {
		rec := newIdem(base)
		rec.ExpiresAt = at.Add(exp)
		acquire(t, s, rec, base, true, c)
		if i == 1 {
			require.NoError(t, s.CompleteIdempotencyKey(t.Context(), rec.Key, []byte("{}")), c)
		}
		if exp <= 0 {
			expired = append(expired, rec)
		} else {
			kept = append(kept, rec)
		}
	}
	n, err := s.DeleteExpiredIdempotencyKeys(t.Context(), at)
	require.NoError(t, err, c)
	require.Equal(t, len(expired), n, c+": the count is the number deleted (ExpiresAt equal to now included)")
	n, err = s.DeleteExpiredIdempotencyKeys(t.Context(), at)
	require.NoError(t, err, c)
	require.Zero(t, n, c+": a second call deletes nothing")

	for _, rec := range kept {
		probe := otherRequest(rec, base)
		probe.Fingerprint = "fp-" + randText()
		requireIdemEqual(t, rec, acquire(t, s, probe, base, false, c+": unexpired records are kept"), c)
	}
	for _, rec := range expired {
		// Acquiring at base, when the record would not yet have expired,
		// shows it is gone.
		probe := otherRequest(rec, base)
		probe.Fingerprint = "fp-" + randText()
		acquire(t, s, probe, base, true, c+": expired records are deleted")
	}
}
