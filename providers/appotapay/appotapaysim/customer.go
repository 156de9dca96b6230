package appotapaysim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf16"
)

// Pay plays the customer paying a pending payment (by paykit payment id):
// on the hosted page or QR for a gateway payment, in the wallet app for an
// e-wallet payment waiting for its OTP or processing. A gateway payment's
// IPN is sent to its notifyUrl before Pay returns (retries follow in the
// background); the delivery is in Callbacks.
func (s *Server) Pay(ctx context.Context, paymentID string) error {
	return s.finish(ctx, paymentID, "success", 0, "Thành công")
}

// Decline plays the customer's bank or wallet refusing a pending payment:
// status error, code 33.
func (s *Server) Decline(ctx context.Context, paymentID string) error {
	return s.finish(ctx, paymentID, "error", 33, "Giao dịch thất bại")
}

// Expire lets a pending payment run out: status error, code 22 (the OTP or
// payment session expired).
func (s *Server) Expire(ctx context.Context, paymentID string) error {
	return s.finish(ctx, paymentID, "error", 22, "Giao dịch đã hết hạn")
}

// OTP returns the OTP the wallet of a payment waiting for one was sent.
func (s *Server) OTP(paymentID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.txns[orderIDOf(paymentID)]
	if !ok {
		return "", fmt.Errorf("appotapaysim: otp %s: %w", paymentID, ErrUnknownPayment)
	}
	if t.verification != "OTP" || t.status != "pending" {
		return "", fmt.Errorf("appotapaysim: otp %s: %w", paymentID, ErrNotPending)
	}
	return t.otp, nil
}

func (s *Server) finish(ctx context.Context, paymentID, status string, code int, msg string) error {
	s.mu.Lock()
	t, ok := s.txns[orderIDOf(paymentID)]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("appotapaysim: %s: %w", paymentID, ErrUnknownPayment)
	}
	if t.status != "pending" && t.status != "processing" {
		s.mu.Unlock()
		return fmt.Errorf("appotapaysim: %s is %s: %w", paymentID, t.status, ErrNotPending)
	}
	if status == "success" && t.kind == "ewallet" {
		w := s.wallets[t.accessToken]
		if w == nil || w.Balance < t.amount {
			status, code, msg = "error", 75, "Số tiền không đủ để thanh toán"
		} else {
			w.Balance -= t.amount
		}
	}
	t.status, t.errorCode, t.errorMessage, t.updatedAt = status, code, msg, s.now()
	if status == "success" {
		t.reconID = t.transactionID
	}
	var env []byte
	notify := t.kind == "gateway" && t.notifyURL != "" && (status == "success" || s.set.ipnOnFailure)
	if notify {
		env = s.ipnEnvelope(t)
	}
	url := t.notifyURL
	s.mu.Unlock()
	if notify {
		s.deliver(ctx, paymentID, url, env)
	}
	return nil
}

// Callback is one IPN delivery attempt.
type Callback struct {
	// PaymentID is paykit's payment id.
	PaymentID string
	// URL is the notifyUrl.
	URL string
	// Body is the JSON sent: {"data","signature","time"}.
	Body []byte
	// Attempt counts from 1.
	Attempt int
	// StatusCode is the merchant's answer (0 when it could not be reached).
	StatusCode int
	// Acked is true when the answer was 200 with status "ok".
	Acked bool
	// Err is the delivery error, if any.
	Err string
	// At is when it was sent.
	At time.Time
}

// Callbacks returns every IPN delivery attempt so far, oldest first.
func (s *Server) Callbacks() []Callback {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Callback, len(s.callbacks))
	for i, c := range s.callbacks {
		c.Body = bytes.Clone(c.Body)
		out[i] = c
	}
	return out
}

// LastCallback returns the latest IPN delivery attempt for a payment.
func (s *Server) LastCallback(paymentID string) (Callback, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.callbacks) - 1; i >= 0; i-- {
		if c := s.callbacks[i]; c.PaymentID == paymentID {
			c.Body = bytes.Clone(c.Body)
			return c, true
		}
	}
	return Callback{}, false
}

// deliver sends an IPN now and, until it is acknowledged, up to ipnRetries
// more times in the background.
func (s *Server) deliver(ctx context.Context, paymentID, url string, body []byte) {
	acked := s.send(ctx, paymentID, url, body, 1)
	if s.set.duplicateIPN {
		s.send(ctx, paymentID, url, body, 1)
	}
	if acked || s.set.ipnRetries <= 0 {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for attempt := 2; attempt <= s.set.ipnRetries+1; attempt++ {
			t := time.NewTimer(s.set.ipnInterval)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if s.send(s.ctx, paymentID, url, body, attempt) {
				return
			}
		}
	}()
}

func (s *Server) send(ctx context.Context, paymentID, url string, body []byte, attempt int) bool {
	cb := Callback{PaymentID: paymentID, URL: url, Body: body, Attempt: attempt, At: s.now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		var resp *http.Response
		resp, err = s.set.ipnClient.Do(req)
		if err == nil {
			raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			_ = resp.Body.Close()
			cb.StatusCode = resp.StatusCode
			var ack struct {
				Status string `json:"status"`
			}
			cb.Acked = resp.StatusCode == http.StatusOK && json.Unmarshal(raw, &ack) == nil && ack.Status == "ok"
		}
	}
	if err != nil {
		cb.Err = err.Error()
	}
	s.mu.Lock()
	s.callbacks = append(s.callbacks, cb)
	s.mu.Unlock()
	return cb.Acked
}

// ipnEnvelope builds the signed IPN of a gateway transaction; s.mu must be
// held. The data is PHP json_encode output (unicode and "/" escaped),
// base64-encoded; the signature is HMAC-SHA256 over that base64 string.
func (s *Server) ipnEnvelope(t *txn) []byte {
	type fee struct {
		CustomerFee int64 `json:"customer_fee"`
	}
	type ipnTxn struct {
		TransactionID    string `json:"transactionId"`
		ReconciliationID string `json:"reconciliationId"`
		PartnerCode      string `json:"partnerCode"`
		Status           string `json:"status"`
		ErrorCode        int    `json:"errorCode"`
		ErrorMessage     string `json:"errorMessage"`
		OrderAmount      int64  `json:"orderAmount"`
		Amount           int64  `json:"amount"`
		DiscountAmount   int64  `json:"discountAmount"`
		Currency         string `json:"currency"`
		BankCode         string `json:"bankCode"`
		PaymentMethod    string `json:"paymentMethod"`
		Action           string `json:"action"`
		ClientIP         string `json:"clientIp"`
		Version          string `json:"version"`
		Fee              fee    `json:"fee"`
		CreatedAt        string `json:"createdAt"`
		UpdatedAt        string `json:"updatedAt"`
	}
	type order struct {
		ID        string `json:"id"`
		Info      string `json:"info"`
		ExtraData string `json:"extraData"`
	}
	payload := struct {
		Transaction      ipnTxn `json:"transaction"`
		PartnerReference struct {
			Order order `json:"order"`
		} `json:"partnerReference"`
	}{
		Transaction: ipnTxn{
			TransactionID: t.transactionID, ReconciliationID: t.reconID, PartnerCode: s.set.partnerCode,
			Status: t.status, ErrorCode: t.errorCode, ErrorMessage: t.errorMessage,
			OrderAmount: t.amount, Amount: t.amount, Currency: t.currency, BankCode: t.bankCode,
			PaymentMethod: t.method, Action: t.action, Version: "2.0",
			CreatedAt: formatTime(t.createdAt), UpdatedAt: formatTime(t.updatedAt),
		},
	}
	payload.PartnerReference.Order = order{ID: t.orderID, Info: t.info, ExtraData: t.extraData}
	data := base64.StdEncoding.EncodeToString(phpJSON(payload))
	env := struct {
		Data      string `json:"data"`
		Signature string `json:"signature"`
		Time      int64  `json:"time"`
	}{data, s.sign(data), s.set.clock().Unix()}
	out, _ := json.Marshal(env)
	return out
}

// phpJSON encodes v the way PHP's json_encode does by default: non-ASCII
// as \uXXXX (UTF-16), "/" as "\/".
func phpJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	raw := bytes.TrimRight(buf.Bytes(), "\n")
	var out bytes.Buffer
	for _, r := range string(raw) {
		switch {
		case r == '/':
			out.WriteString(`\/`)
		case r < 0x80:
			out.WriteRune(r)
		default:
			for _, u := range utf16.Encode([]rune{r}) {
				out.WriteString(`\u`)
				h := strconv.FormatUint(uint64(u), 16)
				for len(h) < 4 {
					h = "0" + h
				}
				out.WriteString(h)
			}
		}
	}
	return out.Bytes()
}
