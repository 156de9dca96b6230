package sandbox

import (
	"slices"

	"github.com/paykit/paykit/payment"
)

// testCards are the card numbers the sandbox accepts.
var testCards = []string{
	CardVisa, CardMastercard, CardAmex, CardDeclined, CardInsufficientFunds, CardTimeout,
}

// ValidateCheckout checks a checkout against the sandbox's rules: a
// supported method and currency, a positive amount; for card, a test card
// (with a valid expiry and CVV) or a test token; for bank_transfer, the
// payer's Customer.BankAccount; manual capture only for cards. Errors are
// *payment.ValidationError naming the field; they never contain the card
// number.
func (p *Provider) ValidateCheckout(req *payment.StartRequest) error {
	if req == nil || req.Payment == nil {
		return payment.MissingField("payment")
	}
	pay := req.Payment
	if pay.ID == "" {
		return payment.MissingField("id")
	}
	if !slices.Contains(p.Methods(), pay.Method) {
		return payment.InvalidField("method", "is not supported by the sandbox (card, qr, bank_transfer)")
	}
	if !slices.Contains(p.cfg.currencies, pay.Currency) {
		return payment.InvalidField("currency", "is not supported by this sandbox")
	}
	if pay.Amount <= 0 {
		return payment.InvalidField("amount", "must be positive")
	}
	switch pay.CaptureMethod {
	case "", payment.CaptureAutomatic:
	case payment.CaptureManual:
		if pay.Method != payment.MethodCard {
			return payment.InvalidField("capture_method", "manual capture is only for cards")
		}
	default:
		return payment.InvalidField("capture_method", "must be automatic or manual")
	}
	switch pay.Method {
	case payment.MethodCard:
		return p.validateCard(req)
	case payment.MethodBankTransfer:
		if pay.Customer == nil || pay.Customer.BankAccount == nil {
			return payment.MissingField("customer.bank_account")
		}
		ba := pay.Customer.BankAccount
		switch {
		case ba.BankCode == "":
			return payment.MissingField("customer.bank_account.bank_code")
		case ba.Number == "":
			return payment.MissingField("customer.bank_account.number")
		case ba.Name == "":
			return payment.MissingField("customer.bank_account.name")
		}
	case payment.MethodQR, payment.MethodWeChat, payment.MethodEWallet:
	}
	return nil
}

func (p *Provider) validateCard(req *payment.StartRequest) error {
	if req.PaymentToken != "" {
		if req.Card != nil {
			return payment.InvalidField("payment_token", "must not be given with card")
		}
		if req.PaymentToken != TokenOTP && req.PaymentToken != TokenVisa {
			return payment.InvalidField("payment_token", "is not a sandbox test token (tok_otp, tok_visa)")
		}
		return nil
	}
	c := req.Card
	if c == nil {
		return payment.MissingField("card")
	}
	if c.Number == "" {
		return payment.MissingField("card.number")
	}
	if !slices.Contains(testCards, c.Number) {
		return payment.InvalidField("card.number",
			"is not a sandbox test card (4111111111111111, 5555555555554444, 378282246310005, 4000000000000002, 4000000000009995, 4000000000000119)")
	}
	if c.ExpiryMonth < 1 || c.ExpiryMonth > 12 {
		return payment.InvalidField("card.expiry_month", "must be 1 to 12")
	}
	now := p.now()
	year := c.ExpiryYear
	if year >= 0 && year < 100 {
		year += 2000
	}
	if year < now.Year() || (year == now.Year() && c.ExpiryMonth < int(now.Month())) {
		return payment.InvalidField("card.expiry_year", "the card has expired")
	}
	want := 3
	if c.Brand() == "amex" {
		want = 4
	}
	if c.CVV == "" {
		return payment.MissingField("card.cvv")
	}
	if len(c.CVV) != want || !allDigits(c.CVV) {
		return payment.InvalidField("card.cvv", "must be 3 digits (4 for amex)")
	}
	return nil
}

// ValidatePayout checks a payout: a supported currency, a positive amount
// and a complete bank account.
func (p *Provider) ValidatePayout(req *payment.PayoutRequest) error {
	if req == nil || req.Payout == nil {
		return payment.MissingField("payout")
	}
	po := req.Payout
	if po.ID == "" {
		return payment.MissingField("id")
	}
	if !slices.Contains(p.cfg.currencies, po.Currency) {
		return payment.InvalidField("currency", "is not supported by this sandbox")
	}
	if po.Amount <= 0 {
		return payment.InvalidField("amount", "must be positive")
	}
	switch {
	case po.BankAccount.BankCode == "":
		return payment.MissingField("bank_account.bank_code")
	case po.BankAccount.Number == "":
		return payment.MissingField("bank_account.number")
	case po.BankAccount.Name == "":
		return payment.MissingField("bank_account.name")
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
