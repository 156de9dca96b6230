package payment

import "time"

// Clock tells the time. The Service reads every time through it, so tests
// can move time (see paymenttest.Clock).
type Clock interface {
	Now() time.Time
}

// systemClock is the real clock, in UTC.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now().UTC() }
