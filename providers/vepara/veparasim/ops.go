package veparasim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// serverHash is the hash_key the platform puts in answers and webhooks:
// status|total|invoice_id|order_id|currency_code, status 1 or 0. Under s.mu.
func (s *Server) serverHash(inv *invoice) string {
	status := "0"
	if inv.status != StatusFailed && inv.status != StatusPending && inv.status != StatusCancelled {
		status = "1"
	}
	return makeHashKey(s.cfg.appSecret, status, formatAmount(inv.total, exponent(inv.currency)),
		inv.id, strconv.FormatInt(inv.orderID, 10), inv.currency)
}

// statusAnswer is checkstatus's flat answer, under s.mu.
func (s *Server) statusAnswer(inv *invoice, includePending, refunds bool) (int, string, map[string]any) {
	exp := exponent(inv.currency)
	code, desc := 100, "Successfully fetched the transaction"
	switch inv.status {
	case StatusFailed:
		code, desc = inv.failCode, "Order failed"
		if code == 0 || code == 100 {
			code = 41
		}
		if inv.bankMessage != "" {
			desc += ": " + inv.bankMessage
		}
	case StatusPending:
		if !includePending {
			code, desc = 69, "Order not processed yet"
		}
	}
	body := map[string]any{
		"transaction_status":              inv.status,
		"order_id":                        inv.orderID,
		"transaction_id":                  inv.transactionID,
		"message":                         desc,
		"reason":                          inv.bankMessage,
		"bank_status_code":                inv.bankCode,
		"bank_status_description":         inv.bankMessage,
		"invoice_id":                      inv.id,
		"total_refunded_amount":           number(inv.refunded(), exp),
		"product_price":                   formatAmount(inv.total, exp),
		"transaction_amount":              number(inv.payable, exp),
		"ref_number":                      "",
		"transaction_type":                inv.txType,
		"original_bank_error_code":        inv.bankCode,
		"original_bank_error_description": inv.bankMessage,
		"payment_reason_code":             "",
		"payment_reason_code_detail":      "",
		"merchant_commission":             format2(inv.merchantComm, exp),
		"user_commission":                 format2(inv.userComm, exp),
		"settlement_date":                 inv.createdAt.In(istanbul).AddDate(0, 0, 1).Format(time.DateOnly),
		"cc_no":                           inv.maskedCard,
		"installment":                     inv.installments,
		"card_type":                       "CREDIT CARD",
	}
	if refunds {
		info := make([]map[string]any, 0, len(inv.refunds))
		for _, r := range inv.refunds {
			info = append(info, map[string]any{
				"refund_transaction_id": r.id,
				"amount":                format2(r.amount, exp),
				"status":                r.status,
				"ref_no":                r.refNo,
				"created_at":            r.createdAt.In(istanbul).Format(time.DateTime),
			})
		}
		body["refund_info"] = info
	}
	return code, desc, body
}

func (s *Server) handleCheckStatus(w http.ResponseWriter, r *http.Request) {
	in := s.guard(w, r)
	if in == nil {
		return
	}
	v := validation{}
	if !in.present("merchant_key") {
		v.add("merchant_key", "The merchant key field is required.")
	}
	if !in.present("invoice_id") {
		v.add("invoice_id", "The invoice id field is required.")
	}
	if v.write(w) || !s.merchantOK(w, in) {
		return
	}
	invoiceID := in.str("invoice_id")
	// The Vepara doc lists no hash_key here; when one is sent it must be
	// invoice_id|merchant_key.
	if hk := in.str("hash_key"); hk != "" {
		parts, err := OpenHashKey(s.cfg.appSecret, hk)
		if err != nil || len(parts) != 2 || parts[0] != invoiceID || parts[1] != s.cfg.merchantKey {
			writeCode(w, 90, "Invalid hash key", nil)
			return
		}
	}
	s.mu.Lock()
	inv, ok := s.invoices[invoiceID]
	if !ok {
		s.mu.Unlock()
		writeCode(w, 31, "Transaction not found", nil)
		return
	}
	code, desc, body := s.statusAnswer(inv, truthy(in.str("include_pending_status")), strings.EqualFold(in.str("show_refund_info"), "Y"))
	s.mu.Unlock()
	writeCode(w, code, desc, body)
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "y", "yes":
		return true
	default:
		return false
	}
}

func (s *Server) handleConfirm(w http.ResponseWriter, r *http.Request) {
	in := s.guard(w, r)
	if in == nil {
		return
	}
	v := validation{}
	for _, f := range []string{"merchant_key", "invoice_id", "hash_key"} {
		if !in.present(f) {
			v.add(f, "The "+strings.ReplaceAll(f, "_", " ")+" field is required.")
		}
	}
	status, ok := in.integer("status")
	if !ok || (status != 1 && status != 2) {
		v.add("status", "The selected status is invalid.")
	}
	if v.write(w) || !s.merchantOK(w, in) {
		return
	}
	invoiceID := in.str("invoice_id")
	parts, err := OpenHashKey(s.cfg.appSecret, in.str("hash_key"))
	if err != nil || len(parts) != 3 || parts[0] != s.cfg.merchantKey || parts[1] != invoiceID || parts[2] != strconv.Itoa(status) {
		writeCode(w, 90, "Invalid hash key", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.invoices[invoiceID]
	if !ok || inv.status != StatusPreAuth {
		writeCode(w, 113, "There is no pre auth transaction found for this operation", map[string]any{
			"transaction_status": "Unknown", "invoice_id": invoiceID,
		})
		return
	}
	exp := exponent(inv.currency)
	if status == 1 {
		amount := inv.total
		if t := in.str("total"); t != "" {
			n, ok := parseAmount(t, exp)
			if !ok || n > inv.total {
				v.add("total", "The total may not be greater than the authorized amount.")
				v.write(w)
				return
			}
			if n > 0 {
				amount = n
			}
		}
		inv.captured = amount
		inv.status = StatusCompleted
		inv.txType = TypePostAuth
	} else {
		inv.status = StatusCancelled
	}
	writeCode(w, 100, "Transaction confirmed successfully", map[string]any{
		"transaction_status": inv.status,
		"invoice_id":         inv.id,
		"order_id":           inv.orderID,
		"total":              number(inv.captured, exp),
	})
}

func (s *Server) handleRefund(w http.ResponseWriter, r *http.Request) {
	in := s.guard(w, r)
	if in == nil {
		return
	}
	v := validation{}
	for _, f := range []string{"invoice_id", "merchant_key", "app_id", "app_secret", "hash_key"} {
		if !in.present(f) {
			v.add(f, "The "+strings.ReplaceAll(f, "_", " ")+" field is required.")
		}
	}
	if a := in.str("amount"); a != "" {
		if _, ok := parseAmount(a, 2); !ok {
			v.add("amount", "The amount must be a number.")
		}
	}
	if v.write(w) {
		return
	}
	if in.str("app_id") != s.cfg.appID || in.str("app_secret") != s.cfg.appSecret {
		writeCode(w, 30, "Invalid credentials", nil)
		return
	}
	if !s.merchantOK(w, in) {
		return
	}
	invoiceID := in.str("invoice_id")
	parts, err := OpenHashKey(s.cfg.appSecret, in.str("hash_key"))
	if err != nil || len(parts) != 3 || parts[1] != invoiceID || parts[2] != s.cfg.merchantKey {
		writeCode(w, 90, "Invalid hash key", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.invoices[invoiceID]
	if !ok {
		writeCode(w, 31, "Transaction not found", nil)
		return
	}
	exp := exponent(inv.currency)
	amount, _ := parseAmount(in.str("amount"), exp)
	hashAmount, _ := parseAmount(parts[0], exp)
	if hashAmount != amount {
		writeCode(w, 68, "Hash key and amount mismatch", nil)
		return
	}
	txID := in.str("refund_transaction_id")
	if txID != "" {
		if _, used := s.refundIDs[txID]; used {
			writeCode(w, 104, "Refund transaction id is not unique", nil)
			return
		}
	}
	if inv.status != StatusCompleted && inv.status != StatusPartialRefunded {
		writeCode(w, 49, "Refund failed: the transaction is not refundable", nil)
		return
	}
	remaining := inv.captured - inv.refunded()
	if amount == 0 {
		amount = remaining
	}
	if amount > remaining {
		writeCode(w, 49, "Refund failed: the amount exceeds the refundable amount", nil)
		return
	}
	if amount < inv.captured && !s.cfg.partialRefunds {
		writeCode(w, 110, "Partial refund is not allowed", nil)
		return
	}
	if txID == "" {
		txID = "R" + randomHex(12)
	}
	s.nextRef++
	rf := &refund{
		id: txID, invoiceID: inv.id, amount: amount, status: StatusCompleted,
		refNo: strconv.FormatInt(s.nextRef, 10), createdAt: s.cfg.now(),
	}
	code, desc := 100, "Refund completed successfully"
	if s.manualRefunds {
		rf.status, code, desc = StatusPending, 101, "Refund request created"
	}
	inv.refunds = append(inv.refunds, rf)
	s.refundIDs[txID] = rf
	s.updateRefundStatus(inv)
	writeCode(w, code, desc, map[string]any{
		"order_no":   strconv.FormatInt(inv.orderID, 10),
		"invoice_id": inv.id,
		"ref_no":     rf.refNo,
		"ref_number": rf.refNo,
	})
}

// updateRefundStatus sets Refunded / Partial Refunded from the completed
// refunds, under s.mu.
func (s *Server) updateRefundStatus(inv *invoice) {
	var done int64
	for _, r := range inv.refunds {
		if r.status == StatusCompleted {
			done += r.amount
		}
	}
	switch {
	case done == 0:
		if inv.status == StatusPartialRefunded || inv.status == StatusRefunded {
			inv.status = StatusCompleted
		}
	case done >= inv.captured:
		inv.status = StatusRefunded
	default:
		inv.status = StatusPartialRefunded
	}
}

func (s *Server) handleInstallments(w http.ResponseWriter, r *http.Request) {
	in := s.guard(w, r)
	if in == nil || !s.merchantOK(w, in) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status_code":  100,
		"message":      "Merchant Active Installment",
		"installments": s.cfg.installments,
	})
}

func (s *Server) handleGetPos(w http.ResponseWriter, r *http.Request) {
	in := s.guard(w, r)
	if in == nil {
		return
	}
	v := validation{}
	if cc := in.str("credit_card"); !digits(cc) || len(cc) < 6 || len(cc) > 20 {
		v.add("credit_card", "The credit card must be at least 6 digits.")
	}
	if _, ok := parseAmount(in.str("amount"), 2); !ok {
		v.add("amount", "The amount must be a number.")
	}
	if !in.present("currency_code") {
		v.add("currency_code", "The currency code field is required.")
	}
	if v.write(w) || !s.merchantOK(w, in) {
		return
	}
	cur := strings.ToUpper(in.str("currency_code"))
	if !slices.Contains(s.cfg.currencies, cur) {
		writeCode(w, 12, "Invalid currency code", nil)
		return
	}
	exp := exponent(cur)
	amount, _ := parseAmount(in.str("amount"), exp)
	bin := in.str("credit_card")[:6]
	scheme, program := "VISA", "BANKKART_COMBO"
	switch bin[0] {
	case '5', '2':
		scheme, program = "MASTERCARD", "WORLD"
	case '9':
		scheme, program = "TROY", "PARAF"
	}
	counts := slices.Clone(s.cfg.installments)
	slices.Sort(counts)
	data := make([]map[string]any, 0, len(counts))
	for _, n := range counts {
		user := roundDiv(amount, int64(n-1)*userRatePerInstBP, basisPointsPerUnit)
		title := "Peşin"
		if n > 1 {
			title = strconv.Itoa(n) + " Taksit"
		}
		data = append(data, map[string]any{
			"pos_id": 1, "campaign_id": 1, "allocation_id": 1,
			"installments_number": n,
			"card_type":           "CREDIT CARD", "card_program": program, "card_scheme": scheme,
			"is_commercial":     0,
			"payable_amount":    number(amount+user, exp),
			"amount_to_be_paid": number(amount+user, exp),
			"currency_code":     cur, "currency_id": map[string]int{"TRY": 949, "USD": 840, "EUR": 978}[cur],
			"title": title, "card_bank": "Simulated Bank", "bank_code": "0046",
			"maturity_period": 0, "payment_frequency": 0,
		})
	}
	writeCode(w, 100, "Successfully fetched POS", map[string]any{"data": data})
}
