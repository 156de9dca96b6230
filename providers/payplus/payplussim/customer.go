package payplussim

import (
	"context"
	"fmt"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/payplus"
)

// The customer side: the payer and the bank, played from Go. paymentID
// and payoutID are paykit's ids, which the provider sends as transactionId
// and agent_order_no. Each method changes the order, then sends the signed
// callback (the first attempt before it returns; failed deliveries are
// retried in the background) and returns nil even when the callback could
// not be delivered: see Callbacks.

// Pay plays the payer transferring exactly what the deposit asked for
// (depositAmount): the deposit completes.
func (s *Server) Pay(ctx context.Context, paymentID string) error {
	return s.pay(ctx, paymentID, func(o *order) (int64, error) { return o.transfer, nil })
}

// PayAmount plays the payer transferring amount satang, more or less than
// was asked: the deposit completes with that actual_amount.
func (s *Server) PayAmount(ctx context.Context, paymentID string, amount int64) error {
	if amount <= 0 {
		return fmt.Errorf("payplussim: pay %s: %w: amount must be positive", paymentID, payment.ErrInvalidInput)
	}
	return s.pay(ctx, paymentID, func(*order) (int64, error) { return amount, nil })
}

// PayLess plays the payer transferring short satang less than was asked.
func (s *Server) PayLess(ctx context.Context, paymentID string, short int64) error {
	return s.pay(ctx, paymentID, func(o *order) (int64, error) {
		if short <= 0 || short >= o.transfer {
			return 0, fmt.Errorf("payplussim: pay %s: %w: shortfall must be between 0 and %d", paymentID, payment.ErrInvalidInput, o.transfer)
		}
		return o.transfer - short, nil
	})
}

// Decline fails the deposit. A bank transfer cannot be declined as a card
// can; this plays Pay-Plus rejecting the transfer (status failed).
func (s *Server) Decline(ctx context.Context, paymentID string) error {
	return s.finish(ctx, paymentID, KindDeposit, payplus.StatusFailed, nil)
}

// Expire lets the deposit expire unpaid (status expired), whatever its
// expiry time.
func (s *Server) Expire(ctx context.Context, paymentID string) error {
	return s.finish(ctx, paymentID, KindDeposit, payplus.StatusExpired, nil)
}

// CompletePayout plays the bank paying the withdrawal: completed, with the
// transfer amount as actual_amount.
func (s *Server) CompletePayout(ctx context.Context, payoutID string) error {
	return s.finish(ctx, payoutID, KindWithdrawal, payplus.StatusCompleted,
		func(o *order) (int64, error) { return o.transfer, nil })
}

// FailPayout plays the bank refusing the withdrawal: failed, and the
// amount goes back to the merchant's balance.
func (s *Server) FailPayout(ctx context.Context, payoutID string) error {
	return s.finish(ctx, payoutID, KindWithdrawal, payplus.StatusFailed, nil)
}

func (s *Server) pay(ctx context.Context, id string, actual func(*order) (int64, error)) error {
	return s.finish(ctx, id, KindDeposit, payplus.StatusCompleted, actual)
}

// finish moves a pending order to status and sends its callback.
func (s *Server) finish(ctx context.Context, id, kind, status string, actual func(*order) (int64, error)) error {
	s.mu.Lock()
	o := s.find(id, kind)
	if o == nil {
		s.mu.Unlock()
		return fmt.Errorf("payplussim: %s %s: %w", kind, id, ErrNotFound)
	}
	if s.expireIfDue(o) {
		snap := *o
		s.mu.Unlock()
		s.notify(ctx, &snap)
		if status == payplus.StatusExpired {
			return nil
		}
		return fmt.Errorf("payplussim: %s %s expired: %w", kind, id, ErrNotPending)
	}
	if o.status != payplus.StatusPending {
		s.mu.Unlock()
		return fmt.Errorf("payplussim: %s %s is %s: %w", kind, id, o.status, ErrNotPending)
	}
	if actual != nil {
		a, err := actual(o)
		if err != nil {
			s.mu.Unlock()
			return err
		}
		o.actual = a
	}
	o.status = status
	o.completedAt = s.now()
	if m := s.merchants[o.apiKey]; m != nil {
		switch {
		case kind == KindDeposit && status == payplus.StatusCompleted:
			m.balance += o.actual
		case kind == KindWithdrawal && status != payplus.StatusCompleted:
			m.balance += o.amount
		}
	}
	snap := *o
	s.mu.Unlock()
	s.notify(ctx, &snap)
	return nil
}

// find returns the order of that kind with that agent order number. The
// caller holds s.mu.
func (s *Server) find(agent, kind string) *order {
	for _, o := range s.byAgent {
		if o.agentNo == agent && (kind == "" || o.kind == kind) {
			return o
		}
	}
	return nil
}

// expireIfDue expires a pending deposit past its expiry. The caller holds
// s.mu and sends the callback when it returns true.
func (s *Server) expireIfDue(o *order) bool {
	if o.kind != KindDeposit || o.status != payplus.StatusPending || o.expiresAt.IsZero() {
		return false
	}
	if !s.now().After(o.expiresAt) {
		return false
	}
	o.status = payplus.StatusExpired
	o.completedAt = s.now()
	return true
}

// ExpireDue expires every pending deposit past its expiry time, sends the
// callbacks, and returns how many expired. Deposits also expire lazily
// when they are queried or paid.
func (s *Server) ExpireDue(ctx context.Context) int {
	s.mu.Lock()
	var due []order
	for _, o := range s.byAgent {
		if s.expireIfDue(o) {
			due = append(due, *o)
		}
	}
	s.mu.Unlock()
	for i := range due {
		s.notify(ctx, &due[i])
	}
	return len(due)
}

// Order returns a snapshot of the deposit or withdrawal with that agent
// order number (paykit's payment or payout id).
func (s *Server) Order(id string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.find(id, "")
	if o == nil {
		return Order{}, false
	}
	return s.snapshot(o), true
}

// Charges returns how many orders were created for the agent order number:
// more than one would be a double charge (the simulator refuses reused ids,
// so it is 0 or 1).
func (s *Server) Charges(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created[id]
}

// Balance returns a merchant's balance in satang.
func (s *Server) Balance(merchantID string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.merchants {
		if m.id == merchantID {
			return m.balance, true
		}
	}
	return 0, false
}

// SetBalance sets a merchant's balance in satang.
func (s *Server) SetBalance(merchantID string, minor int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.merchants {
		if m.id == merchantID {
			m.balance = minor
			return true
		}
	}
	return false
}
