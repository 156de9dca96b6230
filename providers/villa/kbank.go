package villa

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/paykit/paykit/payment"
)

// OrderRequest registers an order with Villa and KBank (POST
// /kbank/createorder). The body's field names beyond orderId, userId and
// amount are not documented; see the package documentation.
type OrderRequest struct {
	// OrderID is Villa's order id: 1 to 64 of A-Za-z0-9_-.
	OrderID string
	// UserID is Villa's user id.
	UserID string
	// Amount is the order's amount (THB).
	Amount payment.Money
	// Description is shown to the customer.
	Description string
	// SourceType is qr, wechat or card.
	SourceType string
	// Callback is where Villa sends the order's callbacks.
	Callback string
}

type createOrderBody struct {
	OrderID     string      `json:"orderId"`
	UserID      string      `json:"userId,omitempty"`
	Amount      json.Number `json:"amount"`
	Currency    string      `json:"currency"`
	Description string      `json:"description,omitempty"`
	SourceType  string      `json:"source_type,omitempty"`
	Callback    string      `json:"callback,omitempty"`
}

func (p *Provider) sendCreateOrder(ctx context.Context, op string, req *OrderRequest) (*result, error) {
	if req == nil || !validOrderID(req.OrderID) {
		return nil, fmt.Errorf("villa: create order: %w", payment.InvalidField("orderId", "must be 1 to 64 of A-Za-z0-9_-."))
	}
	if req.Amount.Amount <= 0 || req.Amount.Amount > maxAmount {
		return nil, fmt.Errorf("villa: create order: %w", payment.InvalidField("amount", "must be positive and within KBank's limit"))
	}
	amount, err := FormatAmount(req.Amount)
	if err != nil {
		return nil, fmt.Errorf("villa: create order: %w", err)
	}
	return p.send(ctx, &call{
		op: op, method: "POST", path: "/kbank/createorder", retrySafe: true, secrets: []string{p.apiKey},
		body: createOrderBody{
			OrderID: req.OrderID, UserID: req.UserID, Amount: json.Number(amount), Currency: req.Amount.Currency,
			Description: req.Description, SourceType: req.SourceType, Callback: req.Callback,
		},
	})
}

// CreateKBankOrder registers an order (POST /kbank/createorder) and returns
// KBank's order object. Its status "success" means created, not paid. The
// call is retried safely (it carries the order id); an order id that
// exists already is an error wrapping payment.ErrInvalidInput with Code
// DUPLICATE_ORDER or INVALID_INPUT.
func (p *Provider) CreateKBankOrder(ctx context.Context, req *OrderRequest) (*KBankOrder, error) {
	res, err := p.sendCreateOrder(ctx, "create_order", req)
	if err != nil {
		return nil, err
	}
	if res.apiErr != nil {
		return nil, res.apiErr.providerError("create_order", p.apiKey)
	}
	var o KBankOrder
	if err := o.UnmarshalJSON(res.payload); err != nil {
		return nil, transportError("create_order", err)
	}
	return &o, nil
}

// UserRequest creates a KBank user through Villa.
type UserRequest struct {
	Email     string `json:"email"`
	Phone     string `json:"phone,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
}

// User is a KBank user as Villa reports it.
type User struct {
	ID        string
	Email     string
	Phone     string
	FirstName string
	LastName  string
	// CreatedAt is when the user was created, when Villa says.
	CreatedAt time.Time
}

// CreateUser creates a KBank user: POST /kbank/createuser (main API) or
// POST /kbank/user (payment3api). It is not retried after an unknown
// outcome, since nothing makes it idempotent.
func (p *Provider) CreateUser(ctx context.Context, req *UserRequest) (*User, error) {
	if req == nil || req.Email == "" {
		return nil, fmt.Errorf("villa: create user: %w", payment.MissingField("email"))
	}
	path := "/kbank/createuser"
	if p.flavor == FlavorPayment3 {
		path = "/kbank/user"
	}
	payload, err := p.do(ctx, &call{op: "create_user", method: "POST", path: path, body: req, secrets: []string{p.apiKey}})
	if err != nil {
		return nil, err
	}
	u, err := parseUser(payload)
	if err != nil {
		return nil, transportError("create_user", err)
	}
	if u.Email == "" {
		u.Email, u.Phone, u.FirstName, u.LastName = req.Email, req.Phone, req.FirstName, req.LastName
	}
	return u, nil
}

// GetUser reads a KBank user: GET /kbank/user/{userId}. An unknown user is
// an error wrapping payment.ErrNotFound.
func (p *Provider) GetUser(ctx context.Context, userID string) (*User, error) {
	if userID == "" || len(userID) > 255 {
		return nil, fmt.Errorf("villa: get user: %w", payment.InvalidField("userId", "must be 1 to 255 characters"))
	}
	payload, err := p.do(ctx, &call{
		op: "get_user", method: "GET", path: "/kbank/user/" + url.PathEscape(userID), retrySafe: true,
		secrets: []string{p.apiKey},
	})
	if err != nil {
		return nil, err
	}
	u, err := parseUser(payload)
	if err != nil {
		return nil, transportError("get_user", err)
	}
	return u, nil
}

func parseUser(b []byte) (*User, error) {
	obj, err := decodeObject(b)
	if err != nil {
		return nil, fmt.Errorf("villa: user: %w", err)
	}
	if inner := obj.obj("user"); inner != nil {
		obj = inner
	}
	u := &User{
		ID:        obj.str("user_id", "userId", "id"),
		Email:     obj.str("email"),
		Phone:     obj.str("phone"),
		FirstName: obj.str("first_name", "firstName"),
		LastName:  obj.str("last_name", "lastName"),
	}
	if u.ID == "" {
		return nil, fmt.Errorf("villa: user: %w", errMalformed)
	}
	if s := obj.str("created_at", "createdAt", "created"); s != "" {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			u.CreatedAt = t.UTC()
		} else if t, err := ParseKBankTime(s); err == nil {
			u.CreatedAt = t
		}
	}
	return u, nil
}

type costRequest struct {
	Amount        json.Number `json:"amount"`
	Currency      string      `json:"currency"`
	PaymentMethod string      `json:"paymentMethod"`
}

// Quote asks Villa what a payment would cost: POST /calculate-cost with
// {amount, currency, paymentMethod}. It reads amount, fee, total and
// installments [{term, total, amountPerTerm}] from the answer, exactly.
func (p *Provider) Quote(ctx context.Context, req *payment.QuoteRequest) (*payment.Quote, error) {
	if req == nil {
		return nil, fmt.Errorf("villa: quote: %w", payment.MissingField("amount"))
	}
	if req.Amount.Currency != "THB" {
		return nil, fmt.Errorf("villa: quote: %w", payment.InvalidField("currency", "must be THB for villa"))
	}
	if req.Amount.Amount <= 0 || req.Amount.Amount > maxAmount {
		return nil, fmt.Errorf("villa: quote: %w", payment.InvalidField("amount", "must be positive and within KBank's limit"))
	}
	method := req.Method
	if method == "" {
		method = payment.MethodQR
	}
	switch method {
	case payment.MethodCard, payment.MethodQR, payment.MethodWeChat:
	case payment.MethodEWallet, payment.MethodBankTransfer:
		return nil, fmt.Errorf("villa: quote: %w", payment.InvalidField("method", "must be card, qr or wechat for villa"))
	default:
		return nil, fmt.Errorf("villa: quote: %w", payment.InvalidField("method", "must be card, qr or wechat for villa"))
	}
	amount, err := FormatAmount(req.Amount)
	if err != nil {
		return nil, fmt.Errorf("villa: quote: %w", err)
	}
	payload, err := p.do(ctx, &call{
		op: "quote", method: "POST", path: "/calculate-cost", retrySafe: true, secrets: []string{p.apiKey},
		body: costRequest{Amount: json.Number(amount), Currency: req.Amount.Currency, PaymentMethod: string(method)},
	})
	if err != nil {
		return nil, err
	}
	q, err := parseQuote(payload, req.Amount)
	if err != nil {
		return nil, transportError("quote", err)
	}
	return q, nil
}

func parseQuote(b []byte, asked payment.Money) (*payment.Quote, error) {
	obj, err := decodeObject(b)
	if err != nil {
		return nil, fmt.Errorf("villa: quote: %w", err)
	}
	cur := asked.Currency
	// read sets *dst from the first of keys present, exactly.
	read := func(dst *int64, keys ...string) error {
		raw := obj.raw(keys...)
		if raw == nil {
			return nil
		}
		m, err := ParseAmount(raw, cur)
		if err != nil {
			return fmt.Errorf("villa: quote: %s: %w", keys[0], err)
		}
		*dst = m.Amount
		return nil
	}
	q := &payment.Quote{Amount: asked.Amount, Currency: cur}
	if err := read(&q.Amount, "amount", "subtotal"); err != nil {
		return nil, err
	}
	if err := read(&q.Fee, "fee", "fees", "cost"); err != nil {
		return nil, err
	}
	q.CustomerPays = q.Amount
	if err := read(&q.CustomerPays, "total", "totalAmount", "total_amount"); err != nil {
		return nil, err
	}
	var plans []json.RawMessage
	if raw := obj.raw("installments"); raw != nil {
		if err := json.Unmarshal(raw, &plans); err != nil {
			return nil, fmt.Errorf("villa: quote: installments: %w", err)
		}
	}
	for _, pr := range plans {
		po, err := decodeObject(pr)
		if err != nil {
			return nil, fmt.Errorf("villa: quote: installment: %w", err)
		}
		term, ok := rawInt(po.raw("term", "months", "count"))
		if !ok || term <= 0 || term > 120 {
			return nil, fmt.Errorf("villa: quote: installment term: %w", errMalformed)
		}
		in := payment.Installment{Count: int(term)}
		if raw := po.raw("total"); raw != nil {
			m, err := ParseAmount(raw, cur)
			if err != nil {
				return nil, fmt.Errorf("villa: quote: installment total: %w", err)
			}
			in.Total = m.Amount
		} else {
			in.Total = q.CustomerPays
		}
		if raw := po.raw("amountPerTerm", "amount_per_term", "monthly"); raw != nil {
			m, err := ParseAmount(raw, cur)
			if err != nil {
				return nil, fmt.Errorf("villa: quote: installment amount: %w", err)
			}
			in.PerInstallment = m.Amount
		} else {
			in.PerInstallment = in.Total / term
		}
		q.Installments = append(q.Installments, in)
	}
	return q, nil
}
