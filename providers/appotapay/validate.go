package appotapay

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/paykit/paykit/payment"
)

// Gateway payment methods (transaction.paymentMethod).
const (
	GatewayATM         = "ATM"
	GatewayCreditCard  = "CC"
	GatewayEWallet     = "EWALLET"
	GatewayVA          = "VA"
	GatewayMobileMoney = "MM"
	GatewayInstallment = "ISTM"
	GatewayAll         = "ALL"
)

// Metadata keys a checkout may set to steer a gateway payment.
const (
	// MetadataPaymentMethod overrides the gateway paymentMethod for one
	// checkout (ATM, CC, EWALLET, VA, MM, ISTM or ALL).
	MetadataPaymentMethod = "appotapay_payment_method"
	// MetadataBankCode sets the gateway bankCode (VCB, VISA, ZALOPAY, ...),
	// which skips AppotaPay's bank list.
	MetadataBankCode = "appotapay_bank_code"
)

func validGatewayMethod(m string) bool {
	switch m {
	case GatewayATM, GatewayCreditCard, GatewayEWallet, GatewayVA, GatewayMobileMoney, GatewayInstallment, GatewayAll:
		return true
	default:
		return false
	}
}

// OrderID returns the AppotaPay orderId for a paykit payment id: the id
// without its underscore ("pay_01JD3..." -> "pay01JD3..."), which keeps it
// alphanumeric, unique and at most 29 characters.
func OrderID(paymentID string) string { return strings.Replace(paymentID, "_", "", 1) }

// RefundRefID returns the AppotaPay partnerRefId for a paykit refund id
// ("re_01JD3..." -> "re01JD3...").
func RefundRefID(refundID string) string { return strings.Replace(refundID, "_", "", 1) }

// PaymentIDFromOrderID reverses OrderID: "pay01JD3..." -> "pay_01JD3...". It
// returns false for an orderId paykit did not make.
func PaymentIDFromOrderID(orderID string) (string, bool) {
	rest, ok := strings.CutPrefix(orderID, "pay")
	if !ok || rest == "" || len(orderID) > MaxOrderIDLength || !isAlphanumeric(rest) {
		return "", false
	}
	return payment.PrefixPayment + rest, true
}

func isAlphanumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// orderInfo is what the customer sees: the description, or the merchant's
// order id.
func orderInfo(p *payment.Payment) string {
	if d := strings.TrimSpace(p.Description); d != "" {
		return d
	}
	return "Order " + p.OrderID
}

// validText reports whether s is valid UTF-8 of at most maxLen characters
// without control characters (they would break the signed string).
func validText(s string, maxLen int) (reason string, ok bool) {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8", false
	}
	if utf8.RuneCountInString(s) > maxLen {
		return "must be at most " + strconv.Itoa(maxLen) + " characters", false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "must not contain control characters", false
		}
	}
	return "", true
}

// gatewayMethod returns the AppotaPay paymentMethod for a checkout without
// a wallet token.
func (p *Provider) gatewayMethod(pay *payment.Payment) string {
	if m := pay.Metadata[MetadataPaymentMethod]; m != "" {
		return m
	}
	if m, ok := p.c.methodMap[pay.Method]; ok {
		return m
	}
	switch pay.Method {
	case payment.MethodCard:
		return GatewayCreditCard
	case payment.MethodQR, payment.MethodBankTransfer:
		return GatewayVA
	case payment.MethodEWallet:
		return GatewayEWallet
	case payment.MethodWeChat:
		return ""
	default:
		return ""
	}
}

// ValidateCheckout checks a checkout against AppotaPay's field rules before
// anything is recorded or sent: VND only, an integer amount from 1,000 to
// 500,000,000, a method it takes, orderId (derived from the payment id) at
// most 50 alphanumerics, orderInfo at most 150 characters, no raw card data,
// no manual capture. Errors are *payment.ValidationError naming the field.
func (p *Provider) ValidateCheckout(req *payment.StartRequest) error {
	if req == nil || req.Payment == nil {
		return payment.MissingField("payment")
	}
	pay := req.Payment
	if pay.Currency != Currency {
		return payment.InvalidField("currency", "must be VND: AppotaPay takes only VND")
	}
	if pay.Amount < MinAmount || pay.Amount > MaxAmount {
		return payment.InvalidField("amount", "must be an integer from 1000 to 500000000 VND")
	}
	switch pay.Method {
	case payment.MethodEWallet, payment.MethodCard, payment.MethodQR, payment.MethodBankTransfer:
	case payment.MethodWeChat:
		return payment.InvalidField("method", "wechat is not offered by AppotaPay")
	default:
		return payment.InvalidField("method", "is not offered by AppotaPay")
	}
	if pay.ID != "" {
		oid := OrderID(pay.ID)
		if oid == "" || len(oid) > MaxOrderIDLength || !isAlphanumeric(oid) {
			return payment.InvalidField("id", "must give an AppotaPay orderId of at most 50 alphanumeric characters")
		}
	}
	if reason, ok := validText(orderInfo(pay), MaxOrderInfoLength); !ok {
		return payment.InvalidField("description", reason+" (AppotaPay orderInfo)")
	}
	if req.Card != nil {
		return payment.InvalidField("card", "is not accepted: AppotaPay takes card details on its hosted page")
	}
	if pay.CaptureMethod == payment.CaptureManual {
		return payment.InvalidField("capture_method", "manual capture is not offered by AppotaPay")
	}
	if req.PaymentToken != "" {
		if pay.Method != payment.MethodEWallet {
			return payment.InvalidField("payment_token", "is only accepted for ewallet (a linked AppotaPay wallet's access token)")
		}
		if len(req.PaymentToken) > 4096 || strings.ContainsAny(req.PaymentToken, " \t\r\n") {
			return payment.InvalidField("payment_token", "is not a wallet access token")
		}
		return nil
	}
	method := p.gatewayMethod(pay)
	if !validGatewayMethod(method) {
		return payment.InvalidField("metadata."+MetadataPaymentMethod, "must be one of ATM, CC, EWALLET, VA, MM, ISTM, ALL")
	}
	if bc := pay.Metadata[MetadataBankCode]; bc != "" && (len(bc) > 32 || !isAlphanumeric(bc)) {
		return payment.InvalidField("metadata."+MetadataBankCode, "must be an AppotaPay bank code")
	}
	returnURL := pay.ReturnURL
	if returnURL == "" {
		returnURL = p.c.defaultReturnURL
	}
	if returnURL == "" {
		return payment.MissingField("return_url")
	}
	if len(returnURL) > 500 {
		return payment.InvalidField("return_url", "must be at most 500 characters (AppotaPay redirectUrl)")
	}
	return nil
}
