package payplus

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/paykit/paykit/payment"
)

// Deposit types as Pay-Plus spells them.
const (
	TypeQR           = "QR"
	TypeBankTransfer = "BANK_TRANSFER"
)

// Vendor order statuses.
const (
	StatusPending    = "pending"
	StatusProcessing = "processing"
	StatusCompleted  = "completed"
	StatusFailed     = "failed"
	StatusExpired    = "expired"
	StatusCancelled  = "cancelled"
)

// FailureFailed is the Failure code of a deposit or withdrawal Pay-Plus
// reports failed.
const FailureFailed = "payplus_failed"

// depositData is the data of a deposit answer.
type depositData struct {
	MerchantID        flexString `json:"merchantId"`
	ReferenceID       flexString `json:"referenceId"`
	TransactionID     flexString `json:"transactionId"`
	Status            string     `json:"status"`
	Amount            decimal    `json:"amount"`
	DepositAmount     decimal    `json:"depositAmount"`
	QRCode            string     `json:"qrcode"`
	BankAccountNumber flexString `json:"bankAccountNumber"`
	BankAccountName   string     `json:"bankAccountName"`
	BankName          string     `json:"bankName"`
	PromptPayNumber   flexString `json:"promptpayNumber"`
	ExpireDate        string     `json:"expireDate"`
}

// orderData is the data of an order query answer. The deposit details are
// read when Pay-Plus repeats them (the documented answer does not).
type orderData struct {
	OrderNo        flexString `json:"order_no"`
	AgentOrderNo   flexString `json:"agent_order_no"`
	Type           string     `json:"type"`
	Status         string     `json:"status"`
	Amount         decimal    `json:"amount"`
	Fee            decimal    `json:"fee"`
	TransferAmount decimal    `json:"transfer_amount"`
	ActualAmount   decimal    `json:"actual_amount"`
	CreatedAt      string     `json:"created_at"`
	CompletedAt    string     `json:"completed_at"`

	DepositAmount   decimal    `json:"depositAmount"`
	QRCode          string     `json:"qrcode"`
	PromptPayNumber flexString `json:"promptpayNumber"`
	ExpireDate      string     `json:"expireDate"`
}

// ValidateCheckout checks a deposit against Pay-Plus's rules before
// anything is recorded: method qr or bank_transfer, THB, a positive amount,
// and the payer's bank account (customer.bank_account: bank code, number,
// holder name), which Pay-Plus matches the incoming transfer against.
func (p *Provider) ValidateCheckout(req *payment.StartRequest) error {
	if req == nil || req.Payment == nil {
		return payment.MissingField("payment")
	}
	pay := req.Payment
	if _, err := depositType(pay.Method); err != nil {
		return err
	}
	if pay.Currency != Currency {
		return payment.InvalidField("currency", "must be THB for payplus")
	}
	if err := p.checkAmount("amount", pay.Amount); err != nil {
		return err
	}
	if err := checkReference("id", pay.ID); err != nil {
		return err
	}
	if pay.Customer == nil || pay.Customer.BankAccount == nil {
		return payment.MissingField("customer.bank_account")
	}
	if err := checkBankAccount("customer.bank_account", pay.Customer.BankAccount); err != nil {
		return err
	}
	if req.NotifyURL != "" {
		if err := checkCallbackURL(req.NotifyURL); err != nil {
			return payment.InvalidField("notify_url", "must be an absolute http(s) URL")
		}
	}
	return nil
}

func depositType(m payment.Method) (string, error) {
	switch m {
	case payment.MethodQR:
		return TypeQR, nil
	case payment.MethodBankTransfer:
		return TypeBankTransfer, nil
	case payment.MethodCard, payment.MethodWeChat, payment.MethodEWallet:
		return "", payment.InvalidField("method", "is not supported by payplus (qr, bank_transfer)")
	default:
		return "", payment.InvalidField("method", "is not supported by payplus (qr, bank_transfer)")
	}
}

func (p *Provider) checkAmount(field string, minor int64) error {
	if minor <= 0 {
		return payment.InvalidField(field, "must be positive")
	}
	if _, err := jsNumber(payment.FormatShortest(minor, p.exponent)); err != nil {
		return payment.InvalidField(field, "is too large for payplus")
	}
	return nil
}

// checkReference checks an id sent as transactionId or agent_order_no.
func checkReference(field, id string) error {
	if id == "" {
		return payment.MissingField(field)
	}
	if len(id) > 64 {
		return payment.InvalidField(field, "is longer than 64 characters")
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return payment.InvalidField(field, "must be printable ASCII")
		}
	}
	return nil
}

func checkBankAccount(field string, ba *payment.BankAccount) error {
	code := strings.TrimSpace(ba.BankCode)
	switch {
	case code == "":
		return payment.MissingField(field + ".bank_code")
	case len(code) > 32 || strings.ContainsFunc(code, func(r rune) bool {
		return (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' && r != '-'
	}):
		return payment.InvalidField(field+".bank_code", "must be a bank code such as KBANK or SCB")
	}
	digits := accountDigits(ba.Number)
	switch {
	case strings.TrimSpace(ba.Number) == "":
		return payment.MissingField(field + ".number")
	case len(digits) < 6 || len(digits) > 20 || !allDigits(digits):
		return payment.InvalidField(field+".number", "must be 6 to 20 digits")
	}
	name := strings.TrimSpace(ba.Name)
	switch {
	case name == "":
		return payment.MissingField(field + ".name")
	case len(name) > 255 || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
		return payment.InvalidField(field+".name", "must be a printable name of at most 255 bytes")
	}
	return nil
}

// accountDigits drops the dashes and spaces people write account numbers
// with.
func accountDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

func normBankCode(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

func trimName(s string) string { return strings.TrimSpace(s) }

func (p *Provider) notifyURL(given string) (string, error) {
	if given == "" {
		given = p.callbackURL
	}
	if given == "" {
		return "", payment.MissingField("notify_url")
	}
	if err := checkCallbackURL(given); err != nil {
		return "", payment.InvalidField("notify_url", "must be an absolute http(s) URL")
	}
	return given, nil
}

// Start creates the deposit (POST /deposit) with the payment id as
// transactionId and returns requires_action with a display_qr next action:
// the QR image Pay-Plus sends, a PromptPay payload for the amount to
// transfer, that amount (depositAmount, which may differ from the payment's
// amount), the PromptPay number, the account to transfer to and the expiry.
// A "transactionId already exists" answer is resolved by querying the
// order.
func (p *Provider) Start(ctx context.Context, req *payment.StartRequest) (*payment.PaymentState, error) {
	if err := p.ValidateCheckout(req); err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "start", Err: err}
	}
	cb, err := p.notifyURL(req.NotifyURL)
	if err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "start", Err: err}
	}
	pay := req.Payment
	typ, _ := depositType(pay.Method)
	ba := pay.Customer.BankAccount
	params := Params{
		"merchantId":        p.cfg.MerchantID,
		"transactionId":     pay.ID,
		"bankAccountNumber": accountDigits(ba.Number),
		"bankName":          normBankCode(ba.BankCode),
		"name":              trimName(ba.Name),
		"amount":            p.amount(pay.Amount),
		"callbackUrl":       cb,
		"type":              typ,
		"timestamp":         json.Number(strconv.FormatInt(p.timestamp(), 10)),
	}
	data, err := p.call(ctx, "start", http.MethodPost, p.paths.Deposit, params)
	if err != nil {
		if errors.Is(err, ErrDuplicate) {
			return p.recoverDeposit(ctx, pay, err)
		}
		return nil, fmt.Errorf("payplus: start %s: %w", pay.ID, err)
	}
	var d depositData
	if err := decodeData(data, &d); err != nil {
		return nil, &payment.ProviderError{
			Provider: Name, Op: "start", Retryable: true,
			Message: "unreadable deposit answer", Err: err,
		}
	}
	if d.TransactionID != "" && string(d.TransactionID) != pay.ID {
		return nil, &payment.ProviderError{
			Provider: Name, Op: "start", Retryable: true,
			Message: "deposit answer is for another transaction",
		}
	}
	st, err := p.depositState(&d)
	if err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "start", Retryable: true, Err: err}
	}
	return st, nil
}

// recoverDeposit answers a duplicate transactionId with the order's state.
func (p *Provider) recoverDeposit(ctx context.Context, pay *payment.Payment, dup error) (*payment.PaymentState, error) {
	od, err := p.query(ctx, "start", "", pay.ID)
	if err != nil {
		return nil, &payment.ProviderError{
			Provider: Name, Op: "start", Retryable: true,
			Message: "duplicate transaction id; querying the order failed", Err: errors.Join(dup, err),
		}
	}
	st, err := p.orderState(od, pay)
	if err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "start", Retryable: true, Err: err}
	}
	return st, nil
}

// depositState maps a deposit answer.
func (p *Provider) depositState(d *depositData) (*payment.PaymentState, error) {
	status := strings.ToLower(strings.TrimSpace(d.Status))
	if status != "" && status != StatusPending {
		return p.outcome(string(d.ReferenceID), status, amounts{amount: d.Amount, transfer: d.DepositAmount}, nil)
	}
	na, err := p.nextAction(d.Amount, d.DepositAmount, d.QRCode, string(d.PromptPayNumber), d.ExpireDate)
	if err != nil {
		return nil, err
	}
	if d.BankAccountNumber != "" {
		na.BankAccount = &payment.BankAccount{
			BankCode: d.BankName,
			Number:   string(d.BankAccountNumber),
			Name:     d.BankAccountName,
		}
	}
	return &payment.PaymentState{
		Status:            payment.StatusRequiresAction,
		ProviderReference: string(d.ReferenceID),
		NextAction:        na,
		ExpiresAt:         cloneTime(na.ExpiresAt),
	}, nil
}

// nextAction builds the display_qr action of a pending deposit.
func (p *Provider) nextAction(amount, depositAmount decimal, qrcode, promptpay, expire string) (*payment.NextAction, error) {
	due := depositAmount
	if !due.set {
		due = amount
	}
	toPay, err := due.minor(p.exponent)
	if err != nil {
		return nil, fmt.Errorf("payplus: deposit amount: %w", err)
	}
	na := &payment.NextAction{
		Type:        payment.NextActionDisplayQR,
		AmountToPay: toPay,
		PromptPayID: promptpay,
	}
	if expire != "" {
		if t, err := time.Parse(time.RFC3339Nano, expire); err == nil {
			t = t.UTC()
			na.ExpiresAt = &t
		}
	}
	qr := strings.TrimSpace(qrcode)
	switch {
	case strings.HasPrefix(qr, "data:image/"):
		na.QRImage = qr
	case strings.HasPrefix(qr, "000201"):
		na.QRCode = qr // the vendor sent the payload itself
	case isBase64PNG(qr):
		na.QRImage = "data:image/png;base64," + qr
	}
	if na.QRCode == "" && promptpay != "" {
		if payload, err := PromptPayPayload(promptpay, toPay); err == nil {
			na.QRCode = payload
		} else {
			na.QRCode = promptpay
		}
	}
	if na.QRCode == "" && na.QRImage == "" {
		return nil, errors.New("payplus: deposit answer carries no QR code and no PromptPay number")
	}
	return na, nil
}

const pngMagic = "\x89PNG\r\n\x1a\n"

func isBase64PNG(s string) bool {
	if len(s) < 12 {
		return false
	}
	head, err := base64.StdEncoding.DecodeString(s[:12])
	return err == nil && bytes.HasPrefix(head, []byte(pngMagic))
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// amounts are the money fields of a query answer or a callback.
type amounts struct {
	amount, fee, transfer, actual decimal
}

// outcome maps a deposit status that is not pending. current is the
// payment's record, when known (Sync), for a pending answer.
func (p *Provider) outcome(ref, status string, a amounts, current *payment.Payment) (*payment.PaymentState, error) {
	st := &payment.PaymentState{ProviderReference: ref}
	switch normStatus(status) {
	case StatusPending:
		// Nothing changed. Keep the action the customer already has, or
		// say processing when there is none to show.
		if current != nil && current.Status == payment.StatusRequiresAction && current.NextAction != nil {
			na := *current.NextAction
			na.ExpiresAt = cloneTime(na.ExpiresAt)
			st.Status = payment.StatusRequiresAction
			st.NextAction = &na
			st.ExpiresAt = cloneTime(na.ExpiresAt)
		} else {
			st.Status = payment.StatusProcessing
		}
	case StatusProcessing:
		st.Status = payment.StatusProcessing
	case StatusCompleted:
		st.Status = payment.StatusSucceeded
		paid, flags, err := p.paidAmount(a)
		if err != nil {
			return nil, err
		}
		st.Amount = &payment.Money{Amount: paid, Currency: Currency}
		st.Flags = flags
	case StatusFailed:
		st.Status = payment.StatusFailed
		st.Failure = &payment.Failure{Code: FailureFailed, Message: "Pay-Plus reported the deposit failed"}
	case StatusExpired:
		st.Status = payment.StatusExpired
		st.Failure = &payment.Failure{Code: payment.FailureExpired, Message: "the payer did not transfer in time"}
	case StatusCancelled:
		st.Status = payment.StatusCanceled
		st.Failure = &payment.Failure{Code: payment.FailureCanceled, Message: "Pay-Plus canceled the deposit"}
	default:
		return nil, fmt.Errorf("payplus: unknown deposit status %q", truncate(status, 32))
	}
	return st, nil
}

// normStatus folds the spellings of a status onto the documented ones.
func normStatus(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "pending", "waiting", "created", "new":
		return StatusPending
	case "processing", "in_progress":
		return StatusProcessing
	case "completed", "complete", "success", "successful", "paid":
		return StatusCompleted
	case "failed", "fail", "rejected", "error":
		return StatusFailed
	case "expired", "timeout":
		return StatusExpired
	case "cancelled", "canceled":
		return StatusCancelled
	default:
		return s
	}
}

// paidAmount returns what a completed deposit paid in the payment's terms,
// and the flags. What was due is transfer_amount when reported, else amount
// minus fee, else amount; an actual amount below it is underpaid: the
// reported amount is then the payment's amount less the shortfall, so it
// differs from the payment's and the Service never treats it as paid in
// full.
func (p *Provider) paidAmount(a amounts) (int64, []string, error) {
	amount, err := a.amount.minor(p.exponent)
	if err != nil {
		return 0, nil, fmt.Errorf("payplus: completed deposit amount: %w", err)
	}
	due := amount
	switch {
	case a.transfer.set:
		if due, err = a.transfer.minor(p.exponent); err != nil {
			return 0, nil, fmt.Errorf("payplus: transfer_amount: %w", err)
		}
	case a.fee.set:
		fee, err := a.fee.minor(p.exponent)
		if err != nil {
			return 0, nil, fmt.Errorf("payplus: fee: %w", err)
		}
		due = amount - fee
	}
	if !a.actual.set {
		return amount, nil, nil
	}
	actual, err := a.actual.minor(p.exponent)
	if err != nil {
		return 0, nil, fmt.Errorf("payplus: actual_amount: %w", err)
	}
	if actual < due {
		return amount - (due - actual), []string{payment.FlagUnderpaid}, nil
	}
	return amount, nil, nil
}

// query asks for an order by order_no or agent_order_no.
func (p *Provider) query(ctx context.Context, op, orderNo, agentOrderNo string) (*orderData, error) {
	params := Params{"timestamp": json.Number(strconv.FormatInt(p.timestamp(), 10))}
	if orderNo != "" {
		params["order_no"] = orderNo
	} else {
		params["agent_order_no"] = agentOrderNo
	}
	data, err := p.call(ctx, op, http.MethodPost, p.paths.Query, params)
	if err != nil {
		return nil, err
	}
	var od orderData
	if err := decodeData(data, &od); err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: op, Retryable: true, Message: "unreadable order answer", Err: err}
	}
	if agentOrderNo != "" && od.AgentOrderNo != "" && string(od.AgentOrderNo) != agentOrderNo {
		return nil, &payment.ProviderError{Provider: Name, Op: op, Message: "order answer is for another order"}
	}
	if orderNo != "" && od.OrderNo != "" && string(od.OrderNo) != orderNo {
		return nil, &payment.ProviderError{Provider: Name, Op: op, Message: "order answer is for another order"}
	}
	return &od, nil
}

// orderState maps an order answer about a deposit.
func (p *Provider) orderState(od *orderData, pay *payment.Payment) (*payment.PaymentState, error) {
	ref := string(od.OrderNo)
	if ref == "" {
		ref = pay.ProviderReference
	}
	if normStatus(od.Status) == StatusPending && od.QRCode != "" {
		d := depositData{
			ReferenceID: flexString(ref), Status: StatusPending, Amount: od.Amount,
			DepositAmount: od.DepositAmount, QRCode: od.QRCode,
			PromptPayNumber: od.PromptPayNumber, ExpireDate: od.ExpireDate,
		}
		return p.depositState(&d)
	}
	return p.outcome(ref, od.Status, amounts{
		amount: od.Amount, fee: od.Fee, transfer: od.TransferAmount, actual: od.ActualAmount,
	}, pay)
}

// Sync queries the deposit (by order_no when known, else by the payment id
// as agent_order_no) and maps its status. An unknown order is an error
// wrapping payment.ErrNotFound.
func (p *Provider) Sync(ctx context.Context, pay *payment.Payment) (*payment.PaymentState, error) {
	if pay == nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "sync", Err: payment.MissingField("payment")}
	}
	od, err := p.query(ctx, "sync", pay.ProviderReference, pay.ID)
	if err != nil {
		return nil, fmt.Errorf("payplus: sync %s: %w", pay.ID, err)
	}
	if od.AgentOrderNo != "" && string(od.AgentOrderNo) != pay.ID {
		return nil, &payment.ProviderError{Provider: Name, Op: "sync", Message: "order answer is for another payment"}
	}
	st, err := p.orderState(od, pay)
	if err != nil {
		return nil, &payment.ProviderError{Provider: Name, Op: "sync", Err: err}
	}
	return st, nil
}
