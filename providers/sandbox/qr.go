package sandbox

import (
	"encoding/base64"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/paykit/paykit/internal/emvqr"
	"github.com/paykit/paykit/payment"
)

// currencyNumeric holds the ISO 4217 numeric codes the EMVCo payload needs
// for the default currencies; other currencies use 999 ("no currency"), as
// the payload is only for show.
var currencyNumeric = map[string]string{
	"THB": "764", "VND": "704", "TRY": "949", "USD": "840", "EUR": "978",
}

// promptPayAID is the application id of PromptPay merchant-presented QR
// codes.
const promptPayAID = "A000000677010111"

// qrAction builds the display_qr next action for a qr or bank_transfer
// charge.
func (p *Provider) qrAction(c *charge, expires time.Time) *payment.NextAction {
	payload := p.emvPayload(c)
	na := &payment.NextAction{
		Type:      payment.NextActionDisplayQR,
		QRCode:    payload,
		ExpiresAt: &expires,
	}
	if c.currency == "THB" {
		na.PromptPayID = p.cfg.promptPayID
	}
	if c.method == payment.MethodBankTransfer {
		acct := p.cfg.account
		na.BankAccount = &acct
	}
	if p.cfg.qrImage {
		if png, err := qrcode.Encode(payload, qrcode.Medium, 256); err == nil {
			na.QRImage = "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
		}
	}
	return na
}

// emvPayload returns an EMVCo merchant-presented QR payload for the charge:
// a PromptPay payload for THB, a generic one under the sandbox's own
// merchant template otherwise, ending with its CRC16.
func (p *Provider) emvPayload(c *charge) string {
	var q emvqr.Payload
	q.Add("00", "01").Add("01", "12") // dynamic: one payment
	if c.currency == "THB" {
		q.AddTemplate("29", emvqr.Fields("00", promptPayAID, "01", "0066"+p.cfg.promptPayID[1:]))
	} else {
		q.AddTemplate("26", emvqr.Fields("00", "COM.PAYKIT.SANDBOX", "01", "SANDBOX"))
	}
	num, ok := currencyNumeric[c.currency]
	if !ok {
		num = "999"
	}
	q.Add("53", num)
	if exp, err := payment.CurrencyExponent(c.currency); err == nil {
		if amt := payment.FormatDecimal(c.amount, exp, exp); len(amt) <= 13 {
			q.Add("54", amt)
		}
	}
	q.Add("58", "TH").Add("59", "PAYKIT SANDBOX").Add("60", "BANGKOK")
	label := strings.TrimPrefix(c.ref, chargeRefPrefix)
	if len(label) > 25 {
		label = label[len(label)-25:]
	}
	q.AddTemplate("62", emvqr.Fields("05", label))
	payload, err := q.Encode()
	if err != nil {
		// Every field above is bounded; a payload is only for show.
		return ""
	}
	return payload
}
