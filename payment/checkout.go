package payment

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"go.uber.org/zap"
)

// CheckoutParams is a request to create a payment and start it with a
// provider. The JSON form is the body of POST /checkout.
type CheckoutParams struct {
	// Provider is the configured provider's name.
	Provider string `json:"provider" validate:"required,max=64"`
	// Method is how the customer pays.
	Method Method `json:"method" validate:"required,oneof=card qr wechat ewallet bank_transfer"`
	// OrderID is the merchant's reference: 1 to 50 of A-Za-z0-9_-.
	OrderID string `json:"order_id" validate:"required,orderid"`
	// Amount is in minor units of Currency, and positive.
	Amount int64 `json:"amount" validate:"gt=0"`
	// Currency is an upper-case ISO 4217 code.
	Currency string `json:"currency" validate:"required,currency"`
	// Description is shown to the customer where the provider supports it.
	Description string `json:"description,omitempty" validate:"max=255"`
	// Customer is who pays.
	Customer *Customer `json:"customer,omitempty"`
	// Card is raw card data, for providers that take it server-side. It is
	// passed to the provider and never stored.
	Card *Card `json:"card,omitempty"`
	// PaymentToken is an opaque instrument token (a KBank card token, a
	// linked-wallet access token). Passed to the provider, never stored.
	PaymentToken string `json:"payment_token,omitempty" validate:"max=4096"`
	// CaptureMethod is automatic (default) or manual (authorize only).
	CaptureMethod CaptureMethod `json:"capture_method,omitempty" validate:"omitempty,oneof=automatic manual"`
	// Items are order lines for marketplace splits; they must add up to
	// Amount.
	Items []Item `json:"items,omitempty" validate:"max=100,dive"`
	// ReturnURL is where the provider sends the customer back to.
	ReturnURL string `json:"return_url,omitempty" validate:"omitempty,url,max=2048"`
	// Metadata is the merchant's own data, returned as given.
	Metadata map[string]string `json:"metadata,omitempty" validate:"max=50,dive,keys,max=64,endkeys,max=1024"`
	// IdempotencyKey makes retries safe: the same key with the same params
	// returns the first result; with other params, ErrIdempotencyMismatch.
	IdempotencyKey string `json:"-" validate:"omitempty,idemkey"`
	// ClientIP is the paying customer's IP address, when known.
	ClientIP string `json:"-"`
}

// cardParams is what a card contributes to a fingerprint: nothing secret.
type cardParams struct {
	Brand, Last4            string
	ExpiryMonth, ExpiryYear int
}

// fingerprint identifies the request without its secrets.
func (p *CheckoutParams) fingerprint() string {
	c := *p
	var card *cardParams
	if p.Card != nil {
		card = &cardParams{p.Card.Brand(), p.Card.Last4(), p.Card.ExpiryMonth, p.Card.ExpiryYear}
	}
	c.Card, c.PaymentToken, c.IdempotencyKey, c.ClientIP = nil, "", "", ""
	return fingerprint("checkout", struct {
		Params *CheckoutParams
		Card   *cardParams
		Token  bool
	}{&c, card, p.PaymentToken != ""})
}

// Checkout creates a payment and starts it with the provider.
//
// The payment is recorded as pending before the provider is called, with a
// provider idempotency key derived from its id, and the provider's answer is
// recorded after. A declined card is not an error: the payment comes back
// failed with a Failure. A provider that times out or fails in an unknown
// way leaves the payment processing; a webhook, Sync or the sweeper resolves
// it, never by charging twice. A provider that definitely refused (not a
// decline) fails the payment and returns a *ProviderError.
//
// With an IdempotencyKey, a retry returns the first result (with Replayed
// set); a retry while the first request runs gets ErrIdempotencyInProgress;
// a retry after the first request died resumes its work. Invalid params
// return a *ValidationError and write nothing. Without a key, a second
// checkout for an order that has a live payment is ErrAlreadyExists.
func (s *Service) Checkout(ctx context.Context, params *CheckoutParams) (*Payment, error) {
	prov, p, err := s.prepareCheckout(params)
	if err != nil {
		return nil, err
	}
	req := &StartRequest{
		Card:         params.Card,
		PaymentToken: params.PaymentToken,
		NotifyURL:    s.notifyURL(prov.Name()),
		ClientIP:     params.ClientIP,
	}
	var fp string
	if params.IdempotencyKey != "" {
		fp = params.fingerprint()
	}
	h, err := s.begin(ctx, params.IdempotencyKey, fp, p.ID)
	if err != nil {
		return nil, err
	}
	if h.replay != nil {
		out, err := decodeReplay[Payment](h.replay)
		if err != nil {
			return nil, err
		}
		out.Replayed = true
		return out, nil
	}
	p.ID = h.resourceID
	out, err := s.checkout(ctx, prov, p, req, h.resumed)
	s.settle(ctx, h, out, err)
	return out, err
}

// prepareCheckout validates params and builds the payment to record,
// without writing anything.
func (s *Service) prepareCheckout(params *CheckoutParams) (Provider, *Payment, error) {
	if params == nil {
		return nil, nil, InvalidField("body", "is required")
	}
	if err := s.validate.Struct(params); err != nil {
		return nil, nil, err
	}
	prov, err := s.Provider(params.Provider)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnknownProvider, InvalidField("provider", "is not a configured provider"))
	}
	if !slices.Contains(prov.Methods(), params.Method) {
		return nil, nil, InvalidField("method", fmt.Sprintf("%s is not supported by %s", params.Method, prov.Name()))
	}
	if !slices.Contains(prov.Currencies(), params.Currency) {
		return nil, nil, InvalidField("currency", fmt.Sprintf("%s is not supported by %s", params.Currency, prov.Name()))
	}
	if err := s.validateParts(params); err != nil {
		return nil, nil, err
	}
	now := s.now()
	capture := params.CaptureMethod
	if capture == "" {
		capture = CaptureAutomatic
	}
	p := &Payment{
		Object:        "payment",
		ID:            s.ids.newID(PrefixPayment, now),
		Provider:      prov.Name(),
		Method:        params.Method,
		OrderID:       params.OrderID,
		Amount:        params.Amount,
		Currency:      params.Currency,
		Status:        StatusPending,
		CaptureMethod: capture,
		Card:          params.Card.Summary(),
		Customer:      params.Customer.clone(), // copies: the caller's params stay theirs
		Description:   params.Description,
		Items:         append([]Item(nil), params.Items...),
		Metadata:      maps.Clone(params.Metadata),
		ReturnURL:     params.ReturnURL,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if cv, ok := prov.(CheckoutValidator); ok {
		req := &StartRequest{Payment: p, Card: params.Card, PaymentToken: params.PaymentToken, ClientIP: params.ClientIP}
		if err := cv.ValidateCheckout(req); err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				err = fmt.Errorf("%w: %w", ErrInvalidInput, err)
			}
			return nil, nil, err
		}
	}
	return prov, p, nil
}

// validateParts checks what struct tags cannot: the card, and that items
// add up to the amount. (The customer and its bank account are checked with
// the params: validator/v10 goes into nested structs.)
func (s *Service) validateParts(params *CheckoutParams) error {
	if c := params.Card; c != nil {
		if err := validateCard(c); err != nil {
			return err
		}
	}
	if len(params.Items) > 0 {
		var sum int64
		for i, it := range params.Items {
			line, ok := MulInt64(it.Price, it.Quantity)
			if !ok {
				return InvalidField(fmt.Sprintf("items[%d].price", i), "times quantity overflows")
			}
			if it.SubMerchantShare > line {
				return InvalidField(fmt.Sprintf("items[%d].sub_merchant_share", i), "must not exceed price times quantity")
			}
			if sum, ok = AddInt64(sum, line); !ok {
				return InvalidField("items", "sum overflows")
			}
		}
		if sum != params.Amount {
			return InvalidField("items", fmt.Sprintf("must add up to amount (%d), got %d", params.Amount, sum))
		}
	}
	return nil
}

// validateCard checks card data without ever echoing it.
func validateCard(c *Card) error {
	if c.Number == "" {
		return MissingField("card.number")
	}
	if len(c.Number) < 12 || len(c.Number) > 19 || !allDigits(c.Number) {
		return InvalidField("card.number", "must be 12 to 19 digits")
	}
	if c.ExpiryMonth < 1 || c.ExpiryMonth > 12 {
		return InvalidField("card.expiry_month", "must be 1 to 12")
	}
	if c.ExpiryYear < 2000 || c.ExpiryYear > 9999 {
		return InvalidField("card.expiry_year", "must be a 4-digit year")
	}
	if c.CVV != "" && (len(c.CVV) < 3 || len(c.CVV) > 4 || !allDigits(c.CVV)) {
		return InvalidField("card.cvv", "must be 3 or 4 digits")
	}
	if len(c.HolderName) > 255 {
		return InvalidField("card.holder_name", "must be at most 255 characters")
	}
	return nil
}

// checkout records p (or finds it, when a retry resumes) and starts it with
// the provider. A request that did not resume cannot find its payment, so
// it skips the read.
func (s *Service) checkout(ctx context.Context, prov Provider, p *Payment, req *StartRequest, resumed bool) (*Payment, error) {
	existing, err := (*Payment)(nil), error(ErrNotFound)
	if resumed {
		existing, err = s.store.GetPayment(ctx, p.ID)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		ev := s.newEvent(EventPaymentCreated, p, SourceAPI, "", "")
		evs := []Event{ev}
		p.NextSyncAt = s.nextSync(p, p.CreatedAt)
		s.finishEvents(evs, p)
		claim, err := s.writeDirect(evs, func() error { return s.store.CreatePayment(ctx, p, evs) })
		if err != nil {
			if errors.Is(err, ErrAlreadyExists) {
				return nil, fmt.Errorf("payment: order %s already has a live payment at %s: %w", p.OrderID, p.Provider, err)
			}
			return nil, fmt.Errorf("payment: create %s: %w", p.ID, err)
		}
		if claim {
			s.notifyDispatcher()
		}
	case err != nil:
		return nil, fmt.Errorf("payment: get %s: %w", p.ID, err)
	default:
		// A retry resumes a request that died. Only a payment the provider
		// never answered for is started again, with the same key.
		p = existing
		if p.Status != StatusPending {
			return p, nil
		}
	}

	req.Payment = p // read-only for the provider (see StartRequest)
	req.IdempotencyKey = p.ID
	pctx, cancel := s.providerCtx(ctx)
	st, perr := prov.Start(pctx, req)
	cancel()
	req.Card, req.PaymentToken = nil, ""
	if perr != nil {
		st = s.stateForError(p, "start", perr)
	}
	if st == nil {
		st = &PaymentState{Status: StatusProcessing}
	}
	// p is the checkout's own record (the store keeps a copy): the update
	// changes it in place.
	out, err := s.updatePayment(ctx, p.ID, p, true, nil, s.planState(st, SourceAPI, nil))
	if err != nil {
		return nil, err
	}
	if perr != nil && !IsRetryable(perr) {
		return out, perr
	}
	return out, nil
}

// stateForError turns a provider error into the state to record: unknown
// outcomes are processing, definite refusals are failed.
func (s *Service) stateForError(p *Payment, op string, err error) *PaymentState {
	if IsRetryable(err) {
		s.log.Warn("provider outcome unknown; payment left processing",
			zap.String("payment_id", p.ID), zap.String("provider", p.Provider), zap.String("op", op), zap.Error(err))
		return &PaymentState{Status: StatusProcessing}
	}
	s.log.Info("provider refused", zap.String("payment_id", p.ID), zap.String("provider", p.Provider),
		zap.String("op", op), zap.Error(err))
	f := &Failure{Code: FailureProviderError, Message: "the provider refused the payment"}
	var pe *ProviderError
	if errors.As(err, &pe) && pe.Message != "" {
		f.Message = pe.Message
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		f.Code, f.Message = "invalid_request", ve.Error()
	}
	return &PaymentState{Status: StatusFailed, Failure: f}
}
