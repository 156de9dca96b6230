package payplussim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/payplus"
)

// Order kinds.
const (
	KindDeposit    = "deposit"
	KindWithdrawal = "withdrawal"
)

// order is the simulator's record of a deposit or a withdrawal.
type order struct {
	kind        string
	merchantID  string
	apiKey      string
	orderNo     string
	agentNo     string
	payType     string
	status      string
	amount      int64
	fee         int64
	transfer    int64 // depositAmount for deposits, transfer_amount for withdrawals
	actual      int64
	callbackURL string
	account     payment.BankAccount // the payer's, or the withdrawal's destination
	qrPayload   string
	createdAt   time.Time
	completedAt time.Time
	expiresAt   time.Time
}

// Order is a snapshot of an order, for tests and demos.
type Order struct {
	Kind            string // KindDeposit or KindWithdrawal
	MerchantID      string
	OrderNo         string // Pay-Plus's reference: DP... or WD...
	AgentOrderNo    string // the merchant's transactionId / agent_order_no
	Type            string // QR or BANK_TRANSFER, for deposits
	Status          string // pending, completed, failed, expired
	Amount          int64  // satang
	Fee             int64
	TransferAmount  int64 // what the payer must transfer (deposits), what the bank pays (withdrawals)
	ActualAmount    int64 // what moved
	CallbackURL     string
	Account         payment.BankAccount
	QRPayload       string // the PromptPay payload in the deposit's QR code
	PromptPayNumber string
	CreatedAt       time.Time
	CompletedAt     time.Time
	ExpiresAt       time.Time
}

func (s *Server) snapshot(o *order) Order {
	return Order{
		Kind: o.kind, MerchantID: o.merchantID, OrderNo: o.orderNo, AgentOrderNo: o.agentNo,
		Type: o.payType, Status: o.status, Amount: o.amount, Fee: o.fee, TransferAmount: o.transfer,
		ActualAmount: o.actual, CallbackURL: o.callbackURL, Account: o.account, QRPayload: o.qrPayload,
		PromptPayNumber: s.cfg.promptpay, CreatedAt: o.createdAt, CompletedAt: o.completedAt, ExpiresAt: o.expiresAt,
	}
}

// bankList returns the banks the simulator knows.
func bankList() []payplus.Bank {
	return []payplus.Bank{
		{Code: "KBANK", Name: "Kasikorn Bank", NameTH: "ธนาคารกสิกรไทย", Active: true},
		{Code: "SCB", Name: "Siam Commercial Bank", NameTH: "ธนาคารไทยพาณิชย์", Active: true},
		{Code: "BBL", Name: "Bangkok Bank", NameTH: "ธนาคารกรุงเทพ", Active: true},
		{Code: "KTB", Name: "Krungthai Bank", NameTH: "ธนาคารกรุงไทย", Active: true},
		{Code: "BAY", Name: "Bank of Ayudhya (Krungsri)", NameTH: "ธนาคารกรุงศรีอยุธยา", Active: true},
		{Code: "TTB", Name: "TMBThanachart Bank", NameTH: "ธนาคารทหารไทยธนชาต", Active: true},
		{Code: "GSB", Name: "Government Savings Bank", NameTH: "ธนาคารออมสิน", Active: true},
		{Code: "UOB", Name: "United Overseas Bank (Thai)", NameTH: "ธนาคารยูโอบี", Active: false},
	}
}

func knownBank(code string) bool {
	for _, b := range bankList() {
		if b.Code == code && b.Active {
			return true
		}
	}
	return false
}

func str(params map[string]any, key string) (string, bool) {
	v, ok := params[key].(string)
	return strings.TrimSpace(v), ok && strings.TrimSpace(v) != ""
}

// amount reads a JSON number in THB with at most two decimals.
func amount(params map[string]any, key string) (int64, bool) {
	n, ok := params[key].(json.Number)
	if !ok {
		return 0, false
	}
	v, err := payment.ParseDecimal(string(n), 2)
	if err != nil || v <= 0 {
		return 0, false
	}
	return v, true
}

// feeOf is amount*bps/10000, rounded half up.
func feeOf(amount, bps int64) (int64, bool) {
	p, ok := payment.MulInt64(amount, bps)
	if !ok {
		return 0, false
	}
	return (p + 5000) / 10000, true
}

func num(minor int64) json.Number { return json.Number(payment.FormatShortest(minor, 2)) }

func agentKey(merchantID, agent string) string { return merchantID + "\x00" + agent }

// depositAnswer is the data of a deposit answer, in the documented order.
type depositAnswer struct {
	MerchantID        string       `json:"merchantId"`
	ReferenceID       string       `json:"referenceId"`
	TransactionID     string       `json:"transactionId"`
	Status            string       `json:"status"`
	Amount            json.Number  `json:"amount"`
	DepositAmount     json.Number  `json:"depositAmount"`
	QRCode            string       `json:"qrcode"`
	BankAccountNumber string       `json:"bankAccountNumber"`
	BankAccountName   string       `json:"bankAccountName"`
	BankName          string       `json:"bankName"`
	PromptPayNumber   string       `json:"promptpayNumber"`
	ExpireDate        string       `json:"expireDate"`
	CustomerData      customerData `json:"customerData"`
}

type customerData struct {
	BankAccountNumber string `json:"bankAccountNumber"`
	BankName          string `json:"bankName"`
	Name              string `json:"name"`
}

func (s *Server) deposit(w http.ResponseWriter, _ *http.Request, c *call) {
	p := c.params
	if _, ok := p["merchantId"]; !ok {
		writeError(w, http.StatusBadRequest, "merchantId is required")
		return
	}
	txID, ok := str(p, "transactionId")
	if !ok {
		writeError(w, http.StatusBadRequest, "transactionId is required")
		return
	}
	acct, ok1 := str(p, "bankAccountNumber")
	bank, ok2 := str(p, "bankName")
	name, ok3 := str(p, "name")
	cb, ok4 := str(p, "callbackUrl")
	typ, ok5 := str(p, "type")
	switch {
	case !ok1:
		writeError(w, http.StatusBadRequest, "bankAccountNumber is required")
		return
	case !ok2:
		writeError(w, http.StatusBadRequest, "bankName is required")
		return
	case !ok3:
		writeError(w, http.StatusBadRequest, "name is required")
		return
	case !ok4 || !validCallbackURL(cb):
		writeError(w, http.StatusBadRequest, "Invalid callbackUrl")
		return
	case !ok5 || (typ != payplus.TypeQR && typ != payplus.TypeBankTransfer):
		writeError(w, http.StatusBadRequest, "Invalid type")
		return
	case !knownBank(bank):
		writeError(w, http.StatusBadRequest, "Invalid bankName")
		return
	case !isDigits(acct):
		writeError(w, http.StatusBadRequest, "Invalid bankAccountNumber")
		return
	}
	amt, ok := amount(p, "amount")
	if !ok {
		writeError(w, http.StatusBadRequest, "Invalid amount")
		return
	}
	fee, ok := feeOf(amt, s.cfg.depositFee)
	if !ok || fee >= amt {
		writeError(w, http.StatusBadRequest, "Invalid amount")
		return
	}
	due := amt - fee
	payload, err := payplus.PromptPayPayload(s.cfg.promptpay, due)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal server error")
		return
	}
	png, err := qrcode.Encode(payload, qrcode.Medium, s.cfg.qrSize)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal server error")
		return
	}
	now := s.now()
	o := &order{
		kind: KindDeposit, merchantID: c.merchant.id, apiKey: c.merchant.apiKey,
		orderNo: "DP" + strconv.FormatInt(now.Unix(), 10) + randomRef(6), agentNo: txID,
		payType: typ, status: payplus.StatusPending, amount: amt, fee: fee, transfer: due,
		callbackURL: cb, account: payment.BankAccount{BankCode: bank, Number: acct, Name: name},
		qrPayload: payload, createdAt: now, expiresAt: now.Add(s.cfg.depositTTL),
	}
	s.mu.Lock()
	if _, dup := s.byAgent[agentKey(o.merchantID, txID)]; dup {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "transactionId already exists")
		return
	}
	s.orders[o.orderNo] = o
	s.byAgent[agentKey(o.merchantID, txID)] = o
	s.created[txID]++
	s.mu.Unlock()

	writeJSON(w, http.StatusOK, map[string]any{
		"status":  "success",
		"message": "Create Success",
		"data": depositAnswer{
			MerchantID: o.merchantID, ReferenceID: o.orderNo, TransactionID: txID, Status: o.status,
			Amount: num(amt), DepositAmount: num(due),
			QRCode:            "data:image/png;base64," + base64.StdEncoding.EncodeToString(png),
			BankAccountNumber: s.cfg.platform.Number, BankAccountName: s.cfg.platform.Name,
			BankName: s.cfg.platform.BankCode, PromptPayNumber: s.cfg.promptpay,
			ExpireDate:   isoTime(o.expiresAt),
			CustomerData: customerData{BankAccountNumber: acct, BankName: bank, Name: name},
		},
	})
}

// withdrawAnswer is the data of a withdrawal answer.
type withdrawAnswer struct {
	OrderNo        string      `json:"order_no"`
	AgentOrderNo   string      `json:"agent_order_no"`
	Amount         json.Number `json:"amount"`
	Fee            json.Number `json:"fee"`
	TransferAmount json.Number `json:"transfer_amount"`
	Status         string      `json:"status"`
}

type okBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data"`
}

func writeOK(w http.ResponseWriter, data any) {
	writeJSON(w, http.StatusOK, okBody{Code: http.StatusOK, Message: "Success", Data: data})
}

func (s *Server) withdraw(w http.ResponseWriter, _ *http.Request, c *call) {
	p := c.params
	agent, ok := str(p, "agent_order_no")
	if !ok {
		writeError(w, http.StatusBadRequest, "agent_order_no is required")
		return
	}
	bank, ok1 := str(p, "bank_code")
	acct, ok2 := str(p, "account_no")
	name, ok3 := str(p, "account_name")
	cb, ok4 := str(p, "callback_url")
	switch {
	case !ok1 || !knownBank(bank):
		writeError(w, http.StatusBadRequest, "Invalid bank_code")
		return
	case !ok2 || !isDigits(acct):
		writeError(w, http.StatusBadRequest, "Invalid account_no")
		return
	case !ok3:
		writeError(w, http.StatusBadRequest, "account_name is required")
		return
	case !ok4 || !validCallbackURL(cb):
		writeError(w, http.StatusBadRequest, "Invalid callback_url")
		return
	}
	amt, ok := amount(p, "amount")
	if !ok {
		writeError(w, http.StatusBadRequest, "Invalid amount")
		return
	}
	fee, ok := feeOf(amt, s.cfg.withdrawalFee)
	if !ok || fee >= amt {
		writeError(w, http.StatusBadRequest, "Invalid amount")
		return
	}
	now := s.now()
	o := &order{
		kind: KindWithdrawal, merchantID: c.merchant.id, apiKey: c.merchant.apiKey,
		orderNo: "WD" + strconv.FormatInt(now.Unix(), 10) + randomRef(6), agentNo: agent,
		status: payplus.StatusPending, amount: amt, fee: fee, transfer: amt - fee,
		callbackURL: cb, account: payment.BankAccount{BankCode: bank, Number: acct, Name: name},
		createdAt: now,
	}
	s.mu.Lock()
	if _, dup := s.byAgent[agentKey(o.merchantID, agent)]; dup {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "transactionId already exists")
		return
	}
	if c.merchant.balance < amt {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "Insufficient balance")
		return
	}
	c.merchant.balance -= amt
	s.orders[o.orderNo] = o
	s.byAgent[agentKey(o.merchantID, agent)] = o
	s.created[agent]++
	s.mu.Unlock()

	writeOK(w, withdrawAnswer{
		OrderNo: o.orderNo, AgentOrderNo: agent, Amount: num(amt), Fee: num(fee),
		TransferAmount: num(o.transfer), Status: o.status,
	})
}

func (s *Server) balance(w http.ResponseWriter, _ *http.Request, c *call) {
	s.mu.Lock()
	bal := c.merchant.balance
	s.mu.Unlock()
	writeOK(w, map[string]any{"balance": num(bal), "currency": "THB"})
}

// queryAnswer is the data of an order query answer, as documented.
type queryAnswer struct {
	OrderNo      string      `json:"order_no"`
	AgentOrderNo string      `json:"agent_order_no"`
	Status       string      `json:"status"`
	Amount       json.Number `json:"amount"`
	Fee          json.Number `json:"fee"`
	ActualAmount json.Number `json:"actual_amount"`
	CreatedAt    string      `json:"created_at"`
	CompletedAt  *string     `json:"completed_at"`
}

func (s *Server) query(w http.ResponseWriter, _ *http.Request, c *call) {
	orderNo, byOrder := str(c.params, "order_no")
	agent, byAgent := str(c.params, "agent_order_no")
	if !byOrder && !byAgent {
		writeError(w, http.StatusBadRequest, "order_no or agent_order_no is required")
		return
	}
	s.mu.Lock()
	var o *order
	if byOrder {
		o = s.orders[orderNo]
	} else {
		o = s.byAgent[agentKey(c.merchant.id, agent)]
	}
	if o == nil || o.merchantID != c.merchant.id {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Order not found")
		return
	}
	expired := s.expireIfDue(o)
	ans := queryAnswer{
		OrderNo: o.orderNo, AgentOrderNo: o.agentNo, Status: o.status, Amount: num(o.amount),
		Fee: num(o.fee), ActualAmount: num(o.actual), CreatedAt: isoTime(o.createdAt),
	}
	if !o.completedAt.IsZero() {
		t := isoTime(o.completedAt)
		ans.CompletedAt = &t
	}
	snap := *o
	s.mu.Unlock()
	if expired {
		s.notifyAsync(&snap)
	}
	writeOK(w, ans)
}

func (s *Server) banks(w http.ResponseWriter, _ *http.Request, _ *call) {
	writeOK(w, map[string]any{"banks": bankList()})
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request, _ *call) {
	now := s.now()
	up := now.Sub(s.started).Milliseconds()
	writeJSON(w, http.StatusOK, map[string]any{
		"code":    http.StatusOK,
		"message": "OK",
		"data": map[string]any{
			"status":    "healthy",
			"timestamp": isoTime(now),
			"uptime":    json.Number(payment.FormatShortest(up, 3)),
		},
	})
}

// sign is the documented helper: it signs params with api_key, or with the
// x-api-key header when api_key is absent.
func (s *Server) sign(w http.ResponseWriter, _ *http.Request, c *call) {
	key, _ := c.params["api_key"].(string)
	if key == "" {
		key = c.header.Get("x-api-key")
	}
	if key == "" {
		writeError(w, http.StatusUnauthorized, "Invalid API key")
		return
	}
	raw, ok := c.params["params"].(map[string]any)
	if !ok {
		writeError(w, http.StatusBadRequest, "params is required")
		return
	}
	params := payplus.Params(raw)
	sig, err := payplus.Sign(params, key)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid params")
		return
	}
	payload, err := payplus.CanonicalJSON(params)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid params")
		return
	}
	writeOK(w, map[string]any{
		"signature": sig,
		"algorithm": "HS256",
		"payload":   json.RawMessage(payload),
	})
}
