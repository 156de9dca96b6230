package payment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"go.uber.org/zap"
)

// idempotent is one request's hold on an idempotency key. A request without
// a key gets a fresh resource id and no record.
type idempotent struct {
	key        string
	resourceID string
	replay     []byte
	// resumed is true when the request took over the key of one that
	// died: its work may exist already under resourceID.
	resumed bool
}

// begin claims key for the operation whose fingerprint is fp, reserving id
// for the object the request creates. It returns the stored
// response when the key completed before, ErrIdempotencyMismatch when it was
// used for another request, and ErrIdempotencyInProgress while another
// request holds it. A request whose holder died resumes: it gets the dead
// request's resource id back.
func (s *Service) begin(ctx context.Context, key, fp, id string) (*idempotent, error) {
	now := s.now()
	if key == "" {
		return &idempotent{resourceID: id}, nil
	}
	rec := &IdempotencyRecord{
		Key:         key,
		Fingerprint: fp,
		ResourceID:  id,
		Status:      IdempotencyInProgress,
		LockedUntil: now.Add(s.cfg.idempotencyLock),
		CreatedAt:   now,
		ExpiresAt:   now.Add(s.cfg.idempotencyTTL),
	}
	stored, acquired, err := s.store.AcquireIdempotencyKey(ctx, rec, now)
	if err != nil {
		return nil, fmt.Errorf("payment: idempotency key: %w", err)
	}
	switch {
	case stored.Fingerprint != fp:
		return nil, ErrIdempotencyMismatch
	case stored.Status == IdempotencyCompleted:
		return &idempotent{key: key, resourceID: stored.ResourceID, replay: stored.Response}, nil
	case !acquired:
		return nil, ErrIdempotencyInProgress
	default:
		return &idempotent{key: key, resourceID: stored.ResourceID, resumed: stored.ResourceID != id}, nil
	}
}

// complete stores the result to replay. A failure to store it is logged,
// not returned: the work is done, and a retry would resume and complete it.
func (s *Service) complete(ctx context.Context, h *idempotent, result any) {
	if h.key == "" {
		return
	}
	b, err := json.Marshal(result)
	if err == nil {
		err = s.store.CompleteIdempotencyKey(ctx, h.key, b)
	}
	if err != nil {
		s.log.Warn("idempotency key not completed; a retry will resume", zap.Error(err))
	}
}

// release gives the key back after a request that changed nothing lasting
// (a validation error, a definite refusal), so a corrected retry proceeds.
func (s *Service) release(ctx context.Context, h *idempotent) {
	if h.key == "" {
		return
	}
	if err := s.store.ReleaseIdempotencyKey(ctx, h.key); err != nil {
		s.log.Warn("idempotency key not released", zap.Error(err))
	}
}

// settle completes or releases the key depending on how the request ended:
// a result is completed; a definite refusal releases; an unknown outcome (the
// store or provider unreachable) keeps the key locked, so a retry after the
// lock timeout resumes the same work instead of starting new work.
func (s *Service) settle(ctx context.Context, h *idempotent, result any, err error) {
	switch {
	case err == nil:
		s.complete(ctx, h, result)
	case definite(err):
		s.release(ctx, h)
	}
}

// definite reports whether err means nothing happened that a retry must
// resume.
func definite(err error) bool {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *ProviderError
	if errors.As(err, &pe) {
		return !pe.Retryable
	}
	return errors.Is(err, ErrInvalidInput) || errors.Is(err, ErrInvalidState) ||
		errors.Is(err, ErrRefundExceedsCaptured) || errors.Is(err, ErrUnsupported) ||
		errors.Is(err, ErrAlreadyExists) || errors.Is(err, ErrNotFound) ||
		errors.Is(err, ErrUnknownProvider) || errors.Is(err, ErrInvalidTransition)
}

// fingerprint hashes the operation and its request. Secrets are left out
// of what is hashed (card number, CVV, payment token): the card enters as
// brand, last four digits and expiry only, so a key reused with another
// amount, currency, order or route is a mismatch while nothing secret is
// derivable from the stored hash.
func fingerprint(op string, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf("%v", err))
	}
	sum := sha256.Sum256(append([]byte(op+"\x00"), b...))
	return hex.EncodeToString(sum[:])
}

// decodeReplay decodes a stored response.
func decodeReplay[T any](b []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("payment: stored idempotent response: %w", err)
	}
	return v, nil
}
