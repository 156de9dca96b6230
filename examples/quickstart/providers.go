package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/sandbox"
)

// customer is the customer's side of a provider: the sandbox and every
// vendor simulator have it, so /sandbox/payments/{id}/pay drives whichever
// provider the payment uses.
type customer interface {
	Pay(ctx context.Context, paymentID string) error
	Decline(ctx context.Context, paymentID string) error
	Expire(ctx context.Context, paymentID string) error
}

// bank settles payouts, for providers that send money out.
type bank interface {
	CompletePayout(ctx context.Context, payoutID string) error
	FailPayout(ctx context.Context, payoutID string) error
}

// registry holds the providers and their customer sides.
type registry struct {
	providers []payment.Provider
	customers map[string]customer
	banks     map[string]bank
	closers   []func()
}

func (r *registry) add(p payment.Provider, c customer) {
	r.providers = append(r.providers, p)
	if c != nil {
		r.customers[p.Name()] = c
	}
	if b, ok := c.(bank); ok {
		r.banks[p.Name()] = b
	}
}

func (r *registry) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// newRegistry builds the sandbox and every vendor provider. A vendor talks
// to its in-process simulator unless PAYKIT_<VENDOR>_BASE_URL names a real
// server (then the customer's side is the vendor's own, and /sandbox/
// cannot drive it).
func newRegistry(baseURL string, logger *zap.Logger) (*registry, error) {
	r := &registry{customers: map[string]customer{}, banks: map[string]bank{}}
	sb, err := sandbox.New(sandbox.WithLogger(logger), sandbox.WithOpeningBalance("THB", 10_000_000_00))
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, func() { _ = sb.Close() })
	r.add(sb, sb)
	for _, addVendor := range []func(*registry, string, *zap.Logger) error{addVilla, addAppotaPay, addPayPlus, addVepara} {
		if err := addVendor(r, baseURL, logger); err != nil {
			r.close()
			return nil, err
		}
	}
	return r, nil
}

// actionsHandler serves the customer's side:
//
//	POST /payments/{id}/pay | decline | expire
//	POST /payouts/{id}/complete | fail
func (r *registry) actionsHandler(svc *payment.Service) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /payments/{id}/{action}", func(w http.ResponseWriter, req *http.Request) {
		p, err := svc.GetPayment(req.Context(), req.PathValue("id"))
		if err != nil {
			writeError(w, http.StatusNotFound, err)
			return
		}
		c, ok := r.customers[p.Provider]
		if !ok {
			writeError(w, http.StatusBadRequest, fmt.Errorf("provider %s has no simulated customer here", p.Provider))
			return
		}
		var do func(context.Context, string) error
		switch req.PathValue("action") {
		case "pay":
			do = c.Pay
		case "decline":
			do = c.Decline
		case "expire":
			do = c.Expire
		default:
			writeError(w, http.StatusNotFound, errors.New("actions: pay, decline, expire"))
			return
		}
		if err := do(req.Context(), p.ID); err != nil {
			writeError(w, http.StatusConflict, err)
			return
		}
		// The simulator's callback has been sent; show what paykit recorded.
		if p, err = svc.GetPayment(req.Context(), p.ID); err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("POST /payouts/{id}/{action}", func(w http.ResponseWriter, req *http.Request) {
		po, err := svc.GetPayout(req.Context(), req.PathValue("id"))
		if err != nil {
			writeError(w, http.StatusNotFound, err)
			return
		}
		b, ok := r.banks[po.Provider]
		if !ok {
			writeError(w, http.StatusBadRequest, fmt.Errorf("provider %s has no simulated bank here", po.Provider))
			return
		}
		var do func(context.Context, string) error
		switch req.PathValue("action") {
		case "complete":
			do = b.CompletePayout
		case "fail":
			do = b.FailPayout
		default:
			writeError(w, http.StatusNotFound, errors.New("actions: complete, fail"))
			return
		}
		if err := do(req.Context(), po.ID); err != nil {
			writeError(w, http.StatusConflict, err)
			return
		}
		if po, err = svc.GetPayout(req.Context(), po.ID); err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, po)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"message": err.Error()}})
}
