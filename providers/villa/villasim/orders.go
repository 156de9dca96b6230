package villasim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paykit/paykit/internal/emvqr"
	"github.com/paykit/paykit/payment"
)

// maxAmount is KBank's Decimal(12,2) ceiling in satang.
const maxAmount = 999_999_999_999

// Order statuses the simulator reports in checkstatus and callbacks.
const (
	StatusPending   = "pending"
	StatusPaid      = "paid"
	StatusFailed    = "failed"
	StatusExpired   = "expired"
	StatusCancelled = "cancelled"
)

// order is one Villa order and its current KBank order or charge.
type order struct {
	id, userID, customerID, description string
	amount                              int64
	currency                            string
	method                              string // card, qr, wechat
	status                              string
	kbankID                             string
	referenceOrder                      string
	charges                             int
	transactionState                    string
	approvalCode                        string
	failureCode, failureMessage         string
	created, updated                    time.Time
	expireSeconds                       int64
	callback                            string
	redirectURL                         string
	token                               string
	stale                               []outgoing
}

// OrderInfo is what the simulator knows about an order, for tests.
type OrderInfo struct {
	OrderID          string
	UserID           string
	Method           string
	Status           string
	TransactionState string
	// KBankID is the current KBank order ("order_test_...") or charge
	// ("chrg_test_...") id.
	KBankID string
	// Amount is in satang.
	Amount   int64
	Currency string
	// Charges counts the KBank orders and charges created for the order.
	Charges     int
	CallbackURL string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Order returns what the simulator knows about an order (paykit's payment
// id).
func (s *Server) Order(orderID string) (OrderInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[orderID]
	if o == nil {
		return OrderInfo{}, false
	}
	s.expireIfDue(o)
	return OrderInfo{
		OrderID: o.id, UserID: o.userID, Method: o.method, Status: o.status, TransactionState: o.transactionState,
		KBankID: o.kbankID, Amount: o.amount, Currency: o.currency, Charges: o.charges, CallbackURL: o.callback,
		CreatedAt: o.created, UpdatedAt: o.updated,
	}, true
}

// Charges returns how many KBank orders and charges were created for an
// order: 1 for a payment started once, however often it was retried.
func (s *Server) Charges(orderID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.orders[orderID]; o != nil {
		return o.charges
	}
	return 0
}

// expireIfDue expires a pending order whose time ran out. s.mu is held.
func (s *Server) expireIfDue(o *order) {
	if o.status != StatusPending || o.expireSeconds <= 0 {
		return
	}
	if now := s.now(); !now.Before(o.created.Add(time.Duration(o.expireSeconds) * time.Second)) {
		o.status, o.transactionState, o.updated = StatusExpired, "Expired", now
	}
}

// CardOutcome says how the simulator treats a card token.
type CardOutcome string

// Card outcomes, chosen by the token's prefix.
const (
	// Card3DS waits for 3-D Secure: the customer finishes with Pay or
	// Decline. Tokens without a known prefix behave like this.
	Card3DS CardOutcome = "3ds"
	// CardFrictionless is charged at once.
	CardFrictionless CardOutcome = "ok"
	// CardDeclined is declined at once.
	CardDeclined CardOutcome = "declined"
	// CardInsufficientFunds is declined at once for insufficient funds.
	CardInsufficientFunds CardOutcome = "nsf"
)

// CardToken returns a fresh single-use KBank-style card token
// ("tokn_test_<outcome>_<random>") with the given outcome, as KPay.js would
// hand the merchant's page.
func CardToken(outcome CardOutcome) string {
	return "tokn_test_" + string(outcome) + "_" + randomHex(24)
}

func outcomeOf(token string) CardOutcome {
	for _, oc := range []CardOutcome{CardFrictionless, CardDeclined, CardInsufficientFunds} {
		if strings.HasPrefix(token, "tokn_test_"+string(oc)) {
			return oc
		}
	}
	return Card3DS
}

// --- request parsing ---

func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

type jsonBody map[string]json.RawMessage

func decodeJSON(r *http.Request) (jsonBody, *apiError) {
	if mediaType(r) != "application/json" {
		return nil, errInvalid("", "Content-Type must be application/json")
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return nil, errInvalid("", "unreadable body")
	}
	var m jsonBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errInvalid("", "body must be a JSON object")
	}
	return m, nil
}

// str returns the first present key's value as text.
func (m jsonBody) str(keys ...string) string {
	for _, k := range keys {
		raw := bytes.TrimSpace(m[k])
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		if raw[0] == '"' {
			var s string
			if json.Unmarshal(raw, &s) == nil && s != "" {
				return s
			}
			continue
		}
		return string(raw)
	}
	return ""
}

func (m jsonBody) has(key string) bool {
	raw := bytes.TrimSpace(m[key])
	return len(raw) > 0 && string(raw) != "null"
}

// parseAmount reads a THB amount in major units, exactly: "1000.00",
// "1000" or "300.5"; more than two decimals, zero, negative and
// out-of-range amounts are refused.
func parseAmount(v string) (int64, *apiError) {
	if v == "" {
		return 0, errMissing("amount")
	}
	n, err := payment.ParseDecimal(v, 2)
	if err != nil {
		return 0, errInvalid("amount", "amount must be a decimal number with at most 2 decimal places")
	}
	if n <= 0 || n > maxAmount {
		return 0, errInvalid("amount", "amount must be between 0.01 and 9999999999.99")
	}
	return n, nil
}

func validOrderID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !strings.ContainsRune(orderIDChars, rune(c)) {
			return false
		}
	}
	return true
}

func validCallback(u string) bool {
	if u == "" {
		return true
	}
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}

func validSource(s string) bool { return s == "qr" || s == "wechat" }

// newOrder makes an order with a fresh KBank id. s.mu is held.
func (s *Server) newOrder(id, userID string, amount int64, method, callback string) *order {
	now := s.now()
	o := &order{
		id: id, userID: userID, amount: amount, currency: "THB", method: method, status: StatusPending,
		created: now, updated: now, expireSeconds: int64(s.expiry / time.Second), callback: callback,
		description: "Order " + id,
	}
	s.newKBank(o)
	s.orders[id] = o
	if s.cbFaults.Reorder {
		o.stale = append(o.stale, s.statusUpdate(o, StatusPending, o.callback)...)
	}
	return o
}

// newKBank gives o a new KBank order or charge, as a new attempt. s.mu is
// held.
func (s *Server) newKBank(o *order) {
	now := s.now()
	if o.method == "card" {
		o.kbankID = "chrg_test_" + randomHex(32)
	} else {
		o.kbankID = "order_test_" + randomHex(37)
	}
	o.charges++
	o.created = now
	// Villa makes KBank's reference unique per attempt: the order id and
	// a Unix time with microseconds.
	o.referenceOrder = fmt.Sprintf("%s%d.%06d", o.id, now.Unix(), now.Nanosecond()/1000)
	s.byKBankID[o.kbankID] = o
}

// --- wire objects ---

// kbankAmount formats satang as KBank prints amounts (300.0, 300.5,
// 300.55).
func kbankAmount(n int64) json.Number { return json.Number(payment.FormatDecimal(n, 2, 1)) }

// villaAmount formats satang as Villa prints amounts (1000.00).
func villaAmount(n int64) json.Number { return json.Number(payment.FormatDecimal(n, 2, 2)) }

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func kbankTime(t time.Time) string {
	b := t.In(time.FixedZone("ICT", 7*3600))
	return b.Format("20060102150405") + fmt.Sprintf("%03d", b.Nanosecond()/1e6)
}

type additionalData struct {
	Term       *string `json:"term"`
	MID        *string `json:"mid"`
	TID        *string `json:"tid"`
	SmartpayID *string `json:"smartpay_id"`
	CampaignID *string `json:"campaign_id"`
}

type kbankOrderJSON struct {
	ID                string         `json:"id"`
	Object            string         `json:"object"`
	Created           string         `json:"created"`
	Livemode          bool           `json:"livemode"`
	Amount            json.Number    `json:"amount"`
	Currency          string         `json:"currency"`
	Customer          *string        `json:"customer"`
	Description       string         `json:"description"`
	Metadata          *string        `json:"metadata"`
	Status            string         `json:"status"`
	ReferenceOrder    string         `json:"reference_order"`
	SourceType        string         `json:"source_type"`
	AdditionalData    additionalData `json:"additional_data"`
	FailureCode       *string        `json:"failure_code"`
	FailureMessage    *string        `json:"failure_message"`
	ExpireTimeSeconds int64          `json:"expire_time_seconds"`
	QRCode            string         `json:"qr_code,omitempty"`
}

func (s *Server) orderJSON(o *order) kbankOrderJSON {
	return kbankOrderJSON{
		ID: o.kbankID, Object: "order", Created: kbankTime(o.created), Amount: kbankAmount(o.amount),
		Currency: o.currency, Description: o.description, Status: "success", ReferenceOrder: o.referenceOrder,
		SourceType: o.method, ExpireTimeSeconds: o.expireSeconds, QRCode: thaiQR(o),
	}
}

type cardSourceJSON struct {
	ID          string `json:"id"`
	Object      string `json:"object"`
	Brand       string `json:"brand"`
	CardMasking string `json:"card_masking"`
	IssuerBank  string `json:"issuer_bank"`
}

type chargeJSON struct {
	ID               string         `json:"id"`
	Object           string         `json:"object"`
	Amount           json.Number    `json:"amount"`
	Currency         string         `json:"currency"`
	Description      string         `json:"description"`
	Source           cardSourceJSON `json:"source"`
	Created          string         `json:"created"`
	Status           string         `json:"status"`
	Livemode         bool           `json:"livemode"`
	TransactionState string         `json:"transaction_state"`
	ApprovalCode     *string        `json:"approval_code"`
	FailureCode      *string        `json:"failure_code"`
	FailureMessage   *string        `json:"failure_message"`
	RedirectURL      *string        `json:"redirect_url"`
	ReferenceOrder   string         `json:"reference_order"`
	Metadata         *string        `json:"metadata"`
}

func cardSource(o *order) cardSourceJSON {
	return cardSourceJSON{
		ID: "card_test_" + o.kbankID[len("chrg_test_"):len("chrg_test_")+16], Object: "card",
		Brand: "VISA", CardMasking: "411111XXXXXX1111", IssuerBank: "KASIKORNBANK",
	}
}

func (s *Server) chargeJSON(o *order) chargeJSON {
	status := "success"
	if o.failureCode != "" {
		status = "error"
	}
	return chargeJSON{
		ID: o.kbankID, Object: "charge", Amount: kbankAmount(o.amount), Currency: o.currency,
		Description: o.description, Source: cardSource(o), Created: kbankTime(o.created), Status: status,
		TransactionState: o.transactionState, ApprovalCode: nullable(o.approvalCode),
		FailureCode: nullable(o.failureCode), FailureMessage: nullable(o.failureMessage),
		RedirectURL: nullable(o.redirectURL), ReferenceOrder: o.referenceOrder,
	}
}

type statusJSON struct {
	OrderID           string          `json:"orderId"`
	Status            string          `json:"status"`
	Amount            json.Number     `json:"amount"`
	Currency          string          `json:"currency"`
	SourceType        string          `json:"source_type"`
	ChargeID          string          `json:"chargeId,omitempty"`
	KBankOrderID      string          `json:"kbankOrderId,omitempty"`
	TransactionState  string          `json:"transaction_state,omitempty"`
	FailureCode       *string         `json:"failure_code"`
	FailureMessage    *string         `json:"failure_message"`
	Created           string          `json:"created"`
	ExpireTimeSeconds int64           `json:"expire_time_seconds"`
	RedirectURL       string          `json:"redirect_url,omitempty"`
	QRCode            string          `json:"qr_code,omitempty"`
	Source            *cardSourceJSON `json:"source,omitempty"`
	UpdatedAt         string          `json:"updated_at"`
}

func (s *Server) statusJSON(o *order) statusJSON {
	st := statusJSON{
		OrderID: o.id, Status: o.status, Amount: villaAmount(o.amount), Currency: o.currency,
		SourceType: o.method, TransactionState: o.transactionState, FailureCode: nullable(o.failureCode),
		FailureMessage: nullable(o.failureMessage), Created: kbankTime(o.created),
		ExpireTimeSeconds: o.expireSeconds, UpdatedAt: o.updated.UTC().Format(time.RFC3339),
	}
	if o.method == "card" {
		st.ChargeID = o.kbankID
		src := cardSource(o)
		st.Source = &src
		if o.status == StatusPending {
			st.RedirectURL = o.redirectURL
		}
	} else {
		st.KBankOrderID = o.kbankID
		if o.status == StatusPending {
			st.QRCode = thaiQR(o)
		}
	}
	return st
}

// thaiQR returns an EMVCo-style Thai QR payload (bill payment, amount,
// CRC) for a QR order, or "" for cards.
func thaiQR(o *order) string {
	if o.method == "card" {
		return ""
	}
	ref1 := strings.ToUpper(alnum(o.id))
	if len(ref1) > 20 {
		ref1 = ref1[len(ref1)-20:]
	}
	ref2 := strings.ToUpper(alnum(o.kbankID))
	if len(ref2) > 20 {
		ref2 = ref2[len(ref2)-20:]
	}
	var q emvqr.Payload
	q.Add("00", "01").Add("01", "12").
		AddTemplate("30", emvqr.Fields("00", "A000000677010112", "01", "010555600000000", "02", ref1, "03", ref2)).
		Add("53", "764").Add("54", payment.FormatDecimal(o.amount, 2, 2)).Add("58", "TH")
	if o.method == "wechat" {
		q.AddTemplate("62", emvqr.Fields("05", "WECHAT"))
	}
	payload, err := q.Encode()
	if err != nil {
		return "" // every field is bounded above
	}
	return payload
}

func alnum(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// --- handlers ---

func (s *Server) cardPayment(rq *request) (any, *apiError) {
	r := rq.r
	if mediaType(r) != "application/x-www-form-urlencoded" {
		return nil, errInvalid("", "Content-Type must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, errInvalid("", "malformed form body")
	}
	f := r.PostForm
	orderID, userID, amountS, token, callback := f.Get("orderId"), f.Get("userId"), f.Get("amount"), f.Get("token"), f.Get("callback")
	for _, req := range [][2]string{{"orderId", orderID}, {"userId", userID}, {"amount", amountS}, {"token", token}} {
		if req[1] == "" {
			return nil, errMissing(req[0])
		}
	}
	if !validOrderID(orderID) {
		return nil, errInvalid("orderId", "orderId must be 1 to 64 of A-Za-z0-9_-.")
	}
	amount, aerr := parseAmount(amountS)
	if aerr != nil {
		return nil, aerr
	}
	if !strings.HasPrefix(token, "tokn_") {
		return nil, errInvalid("token", "token is not a KBank card token")
	}
	if !validCallback(callback) {
		return nil, errInvalid("callback", "callback must be an absolute http(s) URL")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.orders[orderID] != nil {
		return nil, errDuplicate(orderID, "duplicate_order")
	}
	if prev, used := s.usedTokens[token]; used && !s.reusableTokens && prev != orderID {
		return nil, errInvalid("token", "token has expired or was already used")
	}
	s.usedTokens[token] = orderID
	o := s.newOrder(orderID, userID, amount, "card", callback)
	o.token = token
	switch outcomeOf(token) {
	case CardDeclined:
		o.status, o.transactionState = StatusFailed, "Declined"
		o.failureCode, o.failureMessage = "card_declined", "Card declined by issuer"
		o.stale = nil
	case CardInsufficientFunds:
		o.status, o.transactionState = StatusFailed, "Declined"
		o.failureCode, o.failureMessage = "insufficient_funds", "Insufficient funds"
		o.stale = nil
	case CardFrictionless:
		o.status, o.transactionState, o.approvalCode = StatusPaid, "Authorized", approval()
		o.stale = nil
	case Card3DS:
		o.transactionState = "Pre-Authorized"
		o.redirectURL = rq.base + "/kbank/3ds/" + o.kbankID
	}
	return s.chargeJSON(o), nil
}

func approval() string { return strings.ToUpper(randomHex(6)) }

func (s *Server) qrPayment(rq *request) (any, *apiError) {
	m, aerr := decodeJSON(rq.r)
	if aerr != nil {
		return nil, aerr
	}
	if m.has("orderid") && !m.has("amount") {
		return s.qrForOrder(m)
	}
	orderID, userID, amountS := m.str("orderId"), m.str("userId"), m.str("amount")
	for _, req := range [][2]string{{"orderId", orderID}, {"userId", userID}, {"amount", amountS}} {
		if req[1] == "" {
			return nil, errMissing(req[0])
		}
	}
	if !validOrderID(orderID) {
		return nil, errInvalid("orderId", "orderId must be 1 to 64 of A-Za-z0-9_-.")
	}
	amount, aerr := parseAmount(amountS)
	if aerr != nil {
		return nil, aerr
	}
	source := m.str("source")
	if source == "" {
		source = "qr"
	}
	if !validSource(source) {
		return nil, errInvalid("source", "source must be qr or wechat")
	}
	callback := m.str("callback")
	if !validCallback(callback) {
		return nil, errInvalid("callback", "callback must be an absolute http(s) URL")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.orders[orderID] != nil {
		return nil, errDuplicate(orderID, "duplicate_order")
	}
	o := s.newOrder(orderID, userID, amount, source, callback)
	o.customerID = m.str("customerId")
	return s.orderJSON(o), nil
}

// qrForOrder is the payment3 shape {orderid, source}: a QR for an order
// Villa knows. The current KBank order is reused while it is valid for the
// same source; otherwise a new attempt is made.
func (s *Server) qrForOrder(m jsonBody) (any, *apiError) {
	orderID, source := m.str("orderid"), m.str("source")
	if source == "" {
		return nil, errMissing("source")
	}
	if !validSource(source) {
		return nil, errInvalid("source", "source must be qr or wechat")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[orderID]
	if o == nil {
		return nil, errNotFound("order")
	}
	s.expireIfDue(o)
	if o.method == "card" {
		return nil, errInvalid("orderid", "order is a card payment")
	}
	if o.status != StatusPending {
		return nil, errDuplicate(orderID, "order_not_payable")
	}
	if o.method != source {
		o.method = source
		s.newKBank(o)
		o.updated = o.created
	}
	return s.orderJSON(o), nil
}

func (s *Server) createOrder(rq *request) (any, *apiError) {
	m, aerr := decodeJSON(rq.r)
	if aerr != nil {
		return nil, aerr
	}
	orderID, amountS := m.str("orderId", "orderid"), m.str("amount")
	if orderID == "" {
		return nil, errMissing("orderId")
	}
	if !validOrderID(orderID) {
		return nil, errInvalid("orderId", "orderId must be 1 to 64 of A-Za-z0-9_-.")
	}
	amount, aerr := parseAmount(amountS)
	if aerr != nil {
		return nil, aerr
	}
	if c := m.str("currency"); c != "" && c != "THB" {
		return nil, errInvalid("currency", "currency must be THB")
	}
	source := m.str("source_type", "source")
	if source == "" {
		source = "qr"
	}
	if !validSource(source) {
		return nil, errInvalid("source_type", "source_type must be qr or wechat")
	}
	callback := m.str("callback")
	if !validCallback(callback) {
		return nil, errInvalid("callback", "callback must be an absolute http(s) URL")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.orders[orderID] != nil {
		return nil, errDuplicate(orderID, "duplicate_order")
	}
	o := s.newOrder(orderID, m.str("userId", "userid"), amount, source, callback)
	if d := m.str("description"); d != "" {
		o.description = d
	}
	return s.orderJSON(o), nil
}

func (s *Server) checkStatus(rq *request) (any, *apiError) {
	id := rq.r.PathValue("orderId")
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[id]
	if o == nil {
		return nil, errNotFound("order")
	}
	s.expireIfDue(o)
	return s.statusJSON(o), nil
}

// Fees the simulator quotes, in basis points of the amount.
const (
	FeeCardBPS   = 250
	FeeQRBPS     = 80
	FeeWeChatBPS = 150
)

type installmentJSON struct {
	Term          int         `json:"term"`
	Total         json.Number `json:"total"`
	AmountPerTerm json.Number `json:"amountPerTerm"`
}

func (s *Server) calculateCost(rq *request) (any, *apiError) {
	m, aerr := decodeJSON(rq.r)
	if aerr != nil {
		return nil, aerr
	}
	amount, aerr := parseAmount(m.str("amount"))
	if aerr != nil {
		return nil, aerr
	}
	if c := m.str("currency"); c != "" && c != "THB" {
		return nil, errInvalid("currency", "currency must be THB")
	}
	method := m.str("paymentMethod", "method")
	if method == "" {
		method = "qr"
	}
	var bps int64
	switch method {
	case "card":
		bps = FeeCardBPS
	case "qr":
		bps = FeeQRBPS
	case "wechat":
		bps = FeeWeChatBPS
	default:
		return nil, errInvalid("paymentMethod", "paymentMethod must be card, qr or wechat")
	}
	fee := (amount*bps + 5000) / 10000
	out := map[string]any{
		"amount": villaAmount(amount), "currency": "THB", "paymentMethod": method,
		"fee": villaAmount(fee), "total": villaAmount(amount),
	}
	if method == "card" && amount >= 300000 {
		var plans []installmentJSON
		for _, term := range []int{3, 6, 10} {
			plans = append(plans, installmentJSON{
				Term: term, Total: villaAmount(amount), AmountPerTerm: villaAmount(amount / int64(term)),
			})
		}
		out["installments"] = plans
	}
	return out, nil
}

type user struct {
	id, email, phone, first, last string
	created                       time.Time
}

func (s *Server) createUser(rq *request) (any, *apiError) {
	m, aerr := decodeJSON(rq.r)
	if aerr != nil {
		return nil, aerr
	}
	email := m.str("email")
	if email == "" {
		return nil, errMissing("email")
	}
	if !strings.Contains(email, "@") || len(email) > 254 {
		return nil, errInvalid("email", "email is not an email address")
	}
	u := &user{
		email: email, phone: m.str("phone"), first: m.str("first_name", "firstName"),
		last: m.str("last_name", "lastName"), created: s.now(),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		n, err := strconv.ParseUint(randomHex(12), 16, 64)
		if err != nil {
			return nil, &apiError{status: http.StatusInternalServerError, code: "INTERNAL_ERROR", msg: "id"}
		}
		u.id = fmt.Sprintf("usr_%010d", n%10_000_000_000)
		if s.users[u.id] == nil {
			break
		}
	}
	s.users[u.id] = u
	return map[string]string{"message": "User created successfully", "user_id": u.id}, nil
}

func (s *Server) getUser(rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[rq.r.PathValue("userId")]
	if u == nil {
		return nil, errNotFound("user")
	}
	return map[string]string{
		"user_id": u.id, "email": u.email, "phone": u.phone, "first_name": u.first, "last_name": u.last,
		"created_at": u.created.UTC().Format(time.RFC3339),
	}, nil
}

// orderIDChars are the characters an order id may have.
const orderIDChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
