package payplussim

import (
	"context"
	"net/http"
	"time"
)

// Fault makes API requests misbehave. A fault with Status or
// AfterProcessing answers with an error; one with only Delay adds latency;
// Hang never answers.
type Fault struct {
	// Op is the operation it hits: "deposit", "withdraw", "balance",
	// "query", "banks", "health" or "sign"; "" hits every operation.
	Op string
	// Status is the HTTP status of the error answer (the body is the
	// vendor's error format). With AfterProcessing, zero means 500.
	Status int
	// Message is the error message; default "Internal server error".
	Message string
	// AfterProcessing does the work first (the order is created), then
	// answers with the error: the caller cannot tell that it happened.
	AfterProcessing bool
	// Delay waits this long before answering.
	Delay time.Duration
	// Hang never answers, until the client gives up or the server closes.
	Hang bool
	// Times is how many requests it hits; zero means one.
	Times int
}

// InjectFault adds a fault. Faults hit matching requests in the order
// they were added.
func (s *Server) InjectFault(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the first fault for op, counting one hit.
func (s *Server) takeFault(op string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Op != "" && f.Op != op {
			continue
		}
		f.Times--
		c := *f
		if f.Times <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return &c
	}
	return nil
}

// wait applies the fault's delay or hang; false when the request should
// get no answer.
func (f *Fault) wait(req, closing context.Context) bool {
	if f.Hang {
		select {
		case <-req.Done():
		case <-closing.Done():
		}
		return false
	}
	if f.Delay <= 0 {
		return true
	}
	t := time.NewTimer(f.Delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-req.Done():
		return false
	case <-closing.Done():
		return false
	}
}

func (f *Fault) status() int {
	if f.Status == 0 {
		return http.StatusInternalServerError
	}
	return f.Status
}

func (f *Fault) message() string {
	if f.Message == "" {
		return "Internal server error"
	}
	return f.Message
}
