package main

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/paykit/paykit/payment"
)

// maxOrderBody bounds the body of POST /orders.
const maxOrderBody = 16 << 10

// POST /orders
func (a *app) postOrder(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOrderBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "the body is too large", nil)
		return
	}
	var req orderRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			writeError(w, http.StatusBadRequest, "INVALID_INPUT", te.Field+" has the wrong type",
				map[string]string{"field": te.Field})
			return
		}
		writeError(w, http.StatusBadRequest, "INVALID_INPUT",
			`the body must be one JSON object: {"amount": 25000, "currency": "THB", "method": "qr"}`, nil)
		return
	}
	if err := req.validate(); err != nil {
		a.fail(w, r, err)
		return
	}
	o, err := a.createOrder(r.Context(), &req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, o)
}

// GET /orders/{id}
func (a *app) getOrder(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		a.fail(w, r, errOrderNotFound)
		return
	}
	o, err := a.readOrder(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// fail answers err in paykit's error envelope. Client errors say what was
// wrong; server errors say nothing internal and are logged.
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ve *payment.ValidationError
	switch {
	case errors.As(err, &ve):
		code := "INVALID_INPUT"
		if ve.Missing {
			code = "MISSING_FIELD"
		}
		writeError(w, http.StatusBadRequest, code, ve.Error(), map[string]string{"field": ve.Field})
	case errors.Is(err, payment.ErrInvalidInput), errors.Is(err, payment.ErrUnknownProvider):
		writeError(w, http.StatusBadRequest, "INVALID_INPUT", "the order cannot be paid this way", nil)
	case errors.Is(err, payment.ErrNotFound):
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such order", nil)
	case errors.Is(err, payment.ErrAlreadyExists), errors.Is(err, payment.ErrConflict):
		writeError(w, http.StatusConflict, "CONFLICT", "the order conflicts with another one", nil)
	case unavailable(err):
		a.log.Warn("database unavailable", zap.String("path", r.URL.Path), zap.Error(err))
		writeError(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "try again later", nil)
	case errors.Is(err, payment.ErrProvider):
		a.log.Warn("provider refused", zap.String("path", r.URL.Path), zap.Error(err))
		writeError(w, http.StatusBadGateway, "PROVIDER_ERROR", "the payment provider refused the payment", nil)
	default:
		a.log.Error("request failed", zap.String("path", r.URL.Path), zap.Error(err))
		writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "internal error", nil)
	}
}

// unavailable reports whether err says the database could not be reached
// or the connection broke: paykit's Store says so with ErrUnavailable, the
// shop's own queries with the driver's and the network's errors.
func unavailable(err error) bool {
	var ne net.Error
	return errors.Is(err, payment.ErrUnavailable) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody is paykit's error envelope, so that clients of /orders and of
// /pay/ read errors the same way.
type errorBody struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Details map[string]string `json:"details,omitempty"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, message string, details map[string]string) {
	var b errorBody
	b.Error.Code, b.Error.Message, b.Error.Details = code, message, details
	writeJSON(w, status, b)
}
