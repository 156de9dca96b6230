package appotapaysim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/paykit/paykit/internal/emvqr"
)

const (
	minAmount = 1_000
	maxAmount = 500_000_000
)

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// decode reads a JSON body into v; a body that is not JSON, or whose fields
// have the wrong types, is error 1.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, 1, "Invalid Params", fieldErr{"body", "must be a JSON object with the documented types"})
		return false
	}
	return true
}

// amountOf checks a JSON amount: an integer literal (not a string, no
// fraction or exponent) from min to max. It returns the digits as sent,
// which the signature covers.
func amountOf(raw json.RawMessage, field string, lo, hi int64) (digits string, v int64, code int, fe *fieldErr) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || s == "null" {
		return "", 0, 1, &fieldErr{field, "Field amount is required"}
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", 0, 1, &fieldErr{field, "Field amount must be an integer"}
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return "", 0, 32, &fieldErr{field, "Số tiền không hợp lệ"}
	}
	return s, n, 0, nil
}

func textRule(v *string, field string, required bool, maxLen int) *fieldErr {
	if v == nil || *v == "" {
		if required {
			return &fieldErr{field, "Field " + field + " is required"}
		}
		return nil
	}
	if !utf8.ValidString(*v) || utf8.RuneCountInString(*v) > maxLen {
		return &fieldErr{field, "max:" + strconv.Itoa(maxLen)}
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *Server) walletFor(r *http.Request) (token string, w *Wallet, code int) {
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		return "", nil, 401
	}
	w, found := s.wallets[token]
	if !found {
		return "", nil, 65
	}
	if !w.ExpiresAt.IsZero() && !s.set.clock().Before(w.ExpiresAt) {
		return "", nil, 401
	}
	return token, w, 0
}

type ewalletPaymentReq struct {
	OrderID   *string         `json:"orderId"`
	OrderInfo *string         `json:"orderInfo"`
	ExtraData *string         `json:"extraData"`
	Amount    json.RawMessage `json:"amount"`
	Currency  *string         `json:"currency"`
	Signature *string         `json:"signature"`
}

func (s *Server) handleEWalletPayment(w http.ResponseWriter, r *http.Request) {
	var req ewalletPaymentReq
	if !decode(w, r, &req) {
		return
	}
	for _, fe := range []*fieldErr{
		textRule(req.OrderID, "orderId", true, 50),
		textRule(req.OrderInfo, "orderInfo", true, 150),
		textRule(req.ExtraData, "extraData", false, 1000),
		textRule(req.Currency, "currency", true, 3),
		textRule(req.Signature, "signature", true, 64),
	} {
		if fe != nil {
			writeError(w, http.StatusBadRequest, 1, "Invalid Params", *fe)
			return
		}
	}
	if !alnum(*req.OrderID) {
		writeError(w, http.StatusBadRequest, 1, "Invalid Params", fieldErr{"orderId", "alphanumeric"})
		return
	}
	if *req.Currency != "VND" {
		writeError(w, http.StatusBadRequest, 1, "Invalid Params", fieldErr{"currency", "in:VND"})
		return
	}
	digits, amount, code, fe := amountOf(req.Amount, "amount", minAmount, maxAmount)
	if fe != nil {
		writeError(w, statusFor(code), code, "Invalid Params", *fe)
		return
	}
	signed := "amount=" + digits + "&currency=" + *req.Currency + "&extraData=" + deref(req.ExtraData) +
		"&orderId=" + *req.OrderID + "&orderInfo=" + *req.OrderInfo
	if !s.verify(signed, *req.Signature) {
		writeError(w, http.StatusBadRequest, 2, "Tham số signature không chính xác")
		return
	}

	s.mu.Lock()
	token, wallet, code := s.walletFor(r)
	if code != 0 {
		s.mu.Unlock()
		msg := "Lỗi xác thực"
		if code == 65 {
			msg = "Tài khoản không hợp lệ"
		}
		writeError(w, statusFor(code), code, msg)
		return
	}
	if _, dup := s.txns[*req.OrderID]; dup {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, 30, "Mã đơn hàng đã bị trùng, vui lòng thực hiện lại giao dịch")
		return
	}
	now := s.now()
	t := &txn{
		kind: "ewallet", orderID: *req.OrderID, transactionID: s.newTransactionID(now),
		info: *req.OrderInfo, extraData: deref(req.ExtraData), amount: amount, currency: "VND",
		method: "EWALLET", action: "PAY", accessToken: token, verification: "NONE",
		createdAt: now, updatedAt: now,
	}
	switch {
	case wallet.Balance < amount:
		t.status, t.errorCode, t.errorMessage = "error", 75, "Số tiền không đủ để thanh toán"
		t.verification = ""
	case wallet.RequireOTP:
		t.status, t.verification = "pending", "OTP"
		t.otp, t.otpExpires = s.set.otp, s.set.clock().Add(s.set.otpTTL)
	case wallet.Processing:
		t.status, t.errorCode, t.errorMessage = "processing", 34, "Giao dịch đang được xử lý, vui lòng kiểm tra lại sau"
	default:
		wallet.Balance -= amount
		t.status = "success"
		t.reconID = t.transactionID
	}
	s.txns[t.orderID] = t
	s.byTxID[t.transactionID] = t
	s.charges[t.orderID]++
	body := map[string]any{"transaction": s.ewalletView(t)}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// ewalletView is the e-wallet API's transaction object; s.mu must be held.
func (s *Server) ewalletView(t *txn) map[string]any {
	v := map[string]any{
		"orderId":       t.orderID,
		"partnerCode":   s.set.partnerCode,
		"transactionId": t.transactionID,
		"status":        t.status,
		"amount":        t.amount,
		"currency":      t.currency,
		"orderVersion":  "1.0",
		"createdAt":     formatTime(t.createdAt),
		"updatedAt":     formatTime(t.updatedAt),
	}
	if t.status != "success" && t.errorCode != 0 {
		v["errorCode"] = t.errorCode
		v["errorMessage"] = t.errorMessage
	}
	if t.status != "error" && t.verification != "" {
		v["verificationMethod"] = t.verification
	}
	return v
}

type confirmReq struct {
	OrderID            *string `json:"orderId"`
	VerificationMethod *string `json:"verificationMethod"`
	VerificationCode   *string `json:"verificationCode"`
	Signature          *string `json:"signature"`
}

func (s *Server) handleEWalletConfirm(w http.ResponseWriter, r *http.Request) {
	var req confirmReq
	if !decode(w, r, &req) {
		return
	}
	for _, fe := range []*fieldErr{
		textRule(req.OrderID, "orderId", true, 50),
		textRule(req.VerificationMethod, "verificationMethod", true, 4),
		textRule(req.VerificationCode, "verificationCode", true, 10),
		textRule(req.Signature, "signature", true, 64),
	} {
		if fe != nil {
			writeError(w, http.StatusBadRequest, 1, "Invalid Params", *fe)
			return
		}
	}
	if m := *req.VerificationMethod; m != "OTP" && m != "NONE" {
		writeError(w, http.StatusBadRequest, 1, "Invalid Params", fieldErr{"verificationMethod", "in:OTP,NONE"})
		return
	}
	if !s.verify("orderId="+*req.OrderID+"&verificationCode="+*req.VerificationCode, *req.Signature) {
		writeError(w, http.StatusBadRequest, 2, "Tham số signature không chính xác")
		return
	}
	s.mu.Lock()
	token, _, code := s.walletFor(r)
	if code != 0 {
		s.mu.Unlock()
		writeError(w, statusFor(code), code, "Lỗi xác thực")
		return
	}
	t, ok := s.txns[*req.OrderID]
	if !ok || t.kind != "ewallet" {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, 36, "Giao dịch không tồn tại")
		return
	}
	if t.accessToken != token {
		s.mu.Unlock()
		writeError(w, http.StatusUnauthorized, 401, "Lỗi xác thực")
		return
	}
	switch t.status {
	case "success":
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, 41, "Giao dịch đã thành công trước đó")
		return
	case "error":
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, 33, "Giao dịch thất bại")
		return
	}
	now := s.now()
	if t.verification != "OTP" {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, 1, "Invalid Params", fieldErr{"verificationMethod", "the transaction needs no verification"})
		return
	}
	if !s.set.clock().Before(t.otpExpires) {
		t.status, t.errorCode, t.errorMessage, t.updatedAt = "error", 22, "Mã OTP đã hết hạn xác thực, vui lòng thực hiện lại giao dịch", now
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, 22, "Mã OTP đã hết hạn xác thực, vui lòng thực hiện lại giao dịch")
		return
	}
	if subtle.ConstantTimeCompare([]byte(*req.VerificationCode), []byte(t.otp)) != 1 {
		t.otpAttempts++
		if t.otpAttempts >= 3 {
			t.status, t.errorCode, t.errorMessage, t.updatedAt = "error", 39, "Người dùng nhập sai mã OTP quá số lần quy định", now
			s.mu.Unlock()
			writeError(w, http.StatusBadRequest, 39, "Người dùng nhập sai mã OTP quá số lần quy định")
			return
		}
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, 21, "Mã OTP không đúng")
		return
	}
	wallet := s.wallets[token]
	if wallet.Balance < t.amount {
		t.status, t.errorCode, t.errorMessage = "error", 75, "Số tiền không đủ để thanh toán"
	} else {
		wallet.Balance -= t.amount
		t.status, t.errorCode, t.errorMessage = "success", 0, ""
		t.reconID = t.transactionID
	}
	t.updatedAt = now
	view := s.ewalletView(t)
	delete(view, "verificationMethod")
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"transaction": view})
}

type gatewayReq struct {
	Transaction *struct {
		Amount        json.RawMessage `json:"amount"`
		Currency      *string         `json:"currency"`
		BankCode      *string         `json:"bankCode"`
		PaymentMethod *string         `json:"paymentMethod"`
		Action        *string         `json:"action"`
		Token         *string         `json:"token"`
	} `json:"transaction"`
	PartnerReference *struct {
		Order *struct {
			ID        *string `json:"id"`
			Info      *string `json:"info"`
			ExtraData *string `json:"extraData"`
		} `json:"order"`
		NotificationConfig *struct {
			NotifyURL            *string `json:"notifyUrl"`
			RedirectURL          *string `json:"redirectUrl"`
			DeeplinkURL          *string `json:"deeplinkUrl"`
			InstallmentNotifyURL *string `json:"installmentNotifyUrl"`
		} `json:"notificationConfig"`
	} `json:"partnerReference"`
}

func validMethod(m string) bool {
	switch m {
	case "ATM", "CC", "EWALLET", "VA", "MM", "ISTM", "ALL":
		return true
	default:
		return false
	}
}

func absURL(v *string, field string, required bool) *fieldErr {
	if fe := textRule(v, field, required, 500); fe != nil || v == nil || *v == "" {
		return fe
	}
	u, err := url.Parse(*v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &fieldErr{field, "must be an absolute URL"}
	}
	return nil
}

func (s *Server) handleGatewayPayment(w http.ResponseWriter, r *http.Request) {
	var req gatewayReq
	if !decode(w, r, &req) {
		return
	}
	if req.Transaction == nil || req.PartnerReference == nil || req.PartnerReference.Order == nil ||
		req.PartnerReference.NotificationConfig == nil {
		writeError(w, http.StatusBadRequest, 1, "Invalid Params", fieldErr{"transaction", "Field transaction and partnerReference are required"})
		return
	}
	tx, ord, nc := req.Transaction, req.PartnerReference.Order, req.PartnerReference.NotificationConfig
	var errs []fieldErr
	for _, fe := range []*fieldErr{
		textRule(tx.Currency, "transaction.currency", true, 3),
		textRule(tx.PaymentMethod, "transaction.paymentMethod", true, 10),
		textRule(tx.Action, "transaction.action", true, 32),
		textRule(tx.BankCode, "transaction.bankCode", false, 32),
		textRule(ord.ID, "partnerReference.order.id", true, 50),
		textRule(ord.Info, "partnerReference.order.info", true, 150),
		textRule(ord.ExtraData, "partnerReference.order.extraData", false, 200),
		absURL(nc.NotifyURL, "partnerReference.notificationConfig.notifyUrl", true),
		absURL(nc.RedirectURL, "partnerReference.notificationConfig.redirectUrl", true),
	} {
		if fe != nil {
			errs = append(errs, *fe)
		}
	}
	if tx.Currency != nil && *tx.Currency != "" && *tx.Currency != "VND" {
		errs = append(errs, fieldErr{"transaction.currency", "in:VND"})
	}
	if tx.PaymentMethod != nil && *tx.PaymentMethod != "" && !validMethod(*tx.PaymentMethod) {
		errs = append(errs, fieldErr{"transaction.paymentMethod", "in:ATM,CC,EWALLET,VA,MM,ISTM,ALL"})
	}
	action := deref(tx.Action)
	if action != "" && action != "PAY" && action != "PAY_WITH_RETURN_TOKEN" && action != "PAY_WITH_TOKEN" {
		errs = append(errs, fieldErr{"transaction.action", "in:PAY,PAY_WITH_RETURN_TOKEN,PAY_WITH_TOKEN"})
	}
	if action == "PAY_WITH_TOKEN" && deref(tx.Token) == "" {
		errs = append(errs, fieldErr{"transaction.token", "required when action is PAY_WITH_TOKEN"})
	}
	if ord.ID != nil && *ord.ID != "" && !alnum(*ord.ID) {
		errs = append(errs, fieldErr{"partnerReference.order.id", "alphanumeric"})
	}
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, 1, "Invalid Params", errs...)
		return
	}
	_, amount, code, fe := amountOf(tx.Amount, "transaction.amount", minAmount, maxAmount)
	if fe != nil {
		writeError(w, statusFor(code), code, "Invalid Params", *fe)
		return
	}
	method := *tx.PaymentMethod
	if s.set.allowedMethods != nil && !s.set.allowedMethods[method] {
		writeError(w, http.StatusBadRequest, 140, "Đối tác không được phép sử dụng phương thức thanh toán này")
		return
	}

	s.mu.Lock()
	if _, dup := s.txns[*ord.ID]; dup {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, 30, "Mã đơn hàng đã bị trùng, vui lòng thực hiện lại giao dịch")
		return
	}
	now := s.now()
	t := &txn{
		kind: "gateway", orderID: *ord.ID, transactionID: s.newTransactionID(now), info: *ord.Info,
		extraData: deref(ord.ExtraData), amount: amount, currency: "VND", status: "pending",
		errorCode: 35, errorMessage: "Giao dịch đang chờ thanh toán", method: method,
		bankCode: deref(tx.BankCode), action: action, notifyURL: *nc.NotifyURL, redirectURL: *nc.RedirectURL,
		createdAt: now, updatedAt: now,
	}
	s.txns[t.orderID] = t
	s.byTxID[t.transactionID] = t
	s.charges[t.orderID]++
	lang := r.Header.Get("X-Language")
	if lang == "" {
		lang = "vi"
	}
	pay := map[string]any{
		"url":         s.set.pageURL + "/v2/bank/payment/process?tran=" + t.transactionID + "&sign=" + s.sign(t.transactionID)[:32] + "&lang=" + lang,
		"qrCode":      nil,
		"deepLinkUrl": "",
	}
	if method == "VA" {
		pay["qrCode"] = map[string]any{
			"url":     s.set.pageURL + "/v2/qr/" + t.transactionID + ".png",
			"content": vietQR(t),
			"expiry":  formatTime(now.Add(15 * time.Minute)),
		}
	}
	body := map[string]any{"transaction": s.gatewayView(t), "payment": pay}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// gatewayView is the v2 transaction object; s.mu must be held.
func (s *Server) gatewayView(t *txn) map[string]any {
	v := map[string]any{
		"transactionId":  t.transactionID,
		"partnerCode":    s.set.partnerCode,
		"status":         t.status,
		"errorCode":      t.errorCode,
		"errorMessage":   t.errorMessage,
		"orderAmount":    t.amount,
		"amount":         t.amount,
		"discountAmount": 0,
		"currency":       t.currency,
		"bankCode":       t.bankCode,
		"paymentMethod":  t.method,
		"action":         t.action,
		"version":        "2.0",
		"createdAt":      formatTime(t.createdAt),
		"updatedAt":      formatTime(t.updatedAt),
	}
	if t.reconID != "" {
		v["reconciliationId"] = t.reconID
	}
	if t.kind == "ewallet" && t.status != "error" && t.verification != "" {
		v["verificationMethod"] = t.verification
	}
	return v
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("referenceId")
	typ := r.URL.Query().Get("type")
	if ref == "" || !alnum(ref) || len(ref) > 100 {
		writeError(w, http.StatusBadRequest, 1, "Invalid Params", fieldErr{"referenceId", "required, alphanumeric"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var t *txn
	switch typ {
	case "", "TRANSACTION_ID":
		t = s.byTxID[ref]
	case "PARTNER_ORDER_ID":
		t = s.txns[ref]
	default:
		writeError(w, http.StatusBadRequest, 1, "Invalid Params", fieldErr{"type", "in:TRANSACTION_ID,PARTNER_ORDER_ID"})
		return
	}
	if t == nil {
		writeError(w, http.StatusNotFound, 36, "Giao dịch không tồn tại")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"transaction": s.gatewayView(t),
		"partnerReference": map[string]any{
			"order": map[string]any{"id": t.orderID, "info": t.info, "extraData": t.extraData},
		},
	})
}

type refundReq struct {
	PartnerRefID  *string         `json:"partnerRefId"`
	TransactionID *string         `json:"transactionId"`
	Amount        json.RawMessage `json:"amount"`
	Currency      *string         `json:"currency"`
	Reason        *string         `json:"reason"`
}

func (s *Server) handleRefund(w http.ResponseWriter, r *http.Request) {
	var req refundReq
	if !decode(w, r, &req) {
		return
	}
	var errs []fieldErr
	for _, fe := range []*fieldErr{
		textRule(req.PartnerRefID, "partnerRefId", true, 50),
		textRule(req.TransactionID, "transactionId", true, 50),
		textRule(req.Currency, "currency", true, 3),
		textRule(req.Reason, "reason", true, 100),
	} {
		if fe != nil {
			errs = append(errs, *fe)
		}
	}
	if req.PartnerRefID != nil && !alnum(*req.PartnerRefID) {
		errs = append(errs, fieldErr{"partnerRefId", "alphanumeric"})
	}
	if req.TransactionID != nil && !alnum(*req.TransactionID) {
		errs = append(errs, fieldErr{"transactionId", "alphanumeric"})
	}
	if req.Currency != nil && *req.Currency != "" && *req.Currency != "VND" {
		errs = append(errs, fieldErr{"currency", "in:VND"})
	}
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, 1, "Invalid Params", errs...)
		return
	}
	_, amount, _, fe := amountOf(req.Amount, "amount", minAmount, 1<<53)
	if fe != nil {
		writeError(w, http.StatusBadRequest, 1, "Invalid Params", *fe)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.refunds[*req.PartnerRefID]; dup {
		writeError(w, http.StatusBadRequest, 31, "Mã giao dịch bị trùng")
		return
	}
	t := s.byTxID[*req.TransactionID]
	if t == nil {
		writeError(w, http.StatusNotFound, 36, "Giao dịch không tồn tại")
		return
	}
	if t.status != "success" {
		writeError(w, http.StatusBadRequest, 135, "Giao dịch không hỗ trợ hoàn tiền")
		return
	}
	if t.refunded >= t.amount {
		writeError(w, http.StatusBadRequest, 40, "Giao dịch đã được hoàn trả")
		return
	}
	// The Appota wallet refunds only in full, once (no partial refund).
	if t.kind == "ewallet" && (amount != t.amount || t.refundCount > 0) {
		writeError(w, http.StatusBadRequest, 106, "Giao dịch không hỗ trợ refund một phần")
		return
	}
	if amount > t.amount-t.refunded {
		writeError(w, http.StatusBadRequest, 1, "Invalid Params", fieldErr{"amount", "exceeds the refundable amount"})
		return
	}
	now := s.now()
	rf := &refund{
		refundID: newUUID(), transactionID: t.transactionID, partnerRefID: *req.PartnerRefID,
		amount: amount, currency: "VND", reason: *req.Reason, status: "success",
		createdAt: now, refundedAt: now,
	}
	t.refunded += amount
	t.refundCount++
	if wallet, ok := s.wallets[t.accessToken]; ok && t.kind == "ewallet" {
		wallet.Balance += amount
	}
	s.refunds[rf.partnerRefID] = rf
	s.refundByID[rf.refundID] = rf
	writeJSON(w, http.StatusOK, refundView(rf))
}

func refundView(rf *refund) map[string]any {
	return map[string]any{
		"refundId":      rf.refundID,
		"transactionId": rf.transactionID,
		"partnerRefId":  rf.partnerRefID,
		"amount":        rf.amount,
		"currency":      rf.currency,
		"reason":        rf.reason,
		"status":        rf.status,
		"createdAt":     formatTime(rf.createdAt),
		"refundedAt":    formatTime(rf.refundedAt),
	}
}

func (s *Server) handleRefundDetail(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	s.mu.Lock()
	defer s.mu.Unlock()
	var rf *refund
	switch r.URL.Query().Get("type") {
	case "", "TRANSACTION_ID":
		rf = s.refundByID[ref]
	case "PARTNER_ORDER_ID":
		rf = s.refunds[ref]
	default:
		writeError(w, http.StatusBadRequest, 1, "Invalid Params", fieldErr{"type", "in:TRANSACTION_ID,PARTNER_ORDER_ID"})
		return
	}
	if rf == nil {
		writeError(w, http.StatusNotFound, 36, "Giao dịch không tồn tại")
		return
	}
	writeJSON(w, http.StatusOK, refundView(rf))
}

// vietQR builds an EMVCo (VietQR-style) payload for a VA transaction, with
// its CRC.
func vietQR(t *txn) string {
	account := "9" + strings.TrimLeft(strings.TrimPrefix(t.transactionID, "AP"), "0")
	if len(account) > 19 {
		account = account[:19]
	}
	var q emvqr.Payload
	q.Add("00", "01").Add("01", "12").
		AddTemplate("38", new(emvqr.Payload).Add("00", "A000000727").
			AddTemplate("01", emvqr.Fields("00", "970454", "01", account)).Add("02", "QRIBFTTA")).
		Add("53", "704").Add("54", strconv.FormatInt(t.amount, 10)).Add("58", "VN").
		AddTemplate("62", emvqr.Fields("08", t.orderID))
	payload, err := q.Encode()
	if err != nil {
		return "" // an order id too long for the QR: no QR code
	}
	return payload
}
