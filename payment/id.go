package payment

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// Object id prefixes.
const (
	PrefixPayment = "pay_"
	PrefixRefund  = "re_"
	PrefixPayout  = "po_"
	PrefixEvent   = "evt_"
)

// crockford is Crockford's base32 alphabet: sortable, no I, L, O or U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idSource makes ULID-style ids: 48 bits of milliseconds then 80 random
// bits, 26 characters, so ids sort by creation time. Within one millisecond
// the random part is incremented, so ids from one process stay ordered.
type idSource struct {
	mu     sync.Mutex
	lastMS uint64
	last   [10]byte
}

func (s *idSource) newID(prefix string, now time.Time) string {
	ms := uint64(now.UnixMilli())
	s.mu.Lock()
	var r [10]byte
	if ms <= s.lastMS {
		// Same (or an earlier) millisecond: keep order by incrementing.
		ms = s.lastMS
		r = s.last
		for i := len(r) - 1; i >= 0; i-- {
			r[i]++
			if r[i] != 0 {
				break
			}
		}
	} else {
		_, _ = rand.Read(r[:])
	}
	s.lastMS, s.last = ms, r
	s.mu.Unlock()

	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], ms<<16)
	copy(b[6:], r[:])
	return prefix + encodeCrockford(b)
}

// encodeCrockford encodes 128 bits as 26 base32 characters.
func encodeCrockford(b [16]byte) string {
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
