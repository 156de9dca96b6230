package sandbox

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

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
	var b strings.Builder
	b.WriteString(tlv("00", "01"))
	b.WriteString(tlv("01", "12")) // dynamic: one payment
	if c.currency == "THB" {
		b.WriteString(tlv("29", tlv("00", promptPayAID)+tlv("01", "0066"+p.cfg.promptPayID[1:])))
	} else {
		b.WriteString(tlv("26", tlv("00", "COM.PAYKIT.SANDBOX")+tlv("01", "SANDBOX")))
	}
	num, ok := currencyNumeric[c.currency]
	if !ok {
		num = "999"
	}
	b.WriteString(tlv("53", num))
	if exp, err := payment.CurrencyExponent(c.currency); err == nil {
		if amt := payment.FormatDecimal(c.amount, exp, exp); len(amt) <= 13 {
			b.WriteString(tlv("54", amt))
		}
	}
	b.WriteString(tlv("58", "TH"))
	b.WriteString(tlv("59", "PAYKIT SANDBOX"))
	b.WriteString(tlv("60", "BANGKOK"))
	label := strings.TrimPrefix(c.ref, "sbx_ch_")
	if len(label) > 25 {
		label = label[len(label)-25:]
	}
	b.WriteString(tlv("62", tlv("05", label)))
	b.WriteString("6304")
	return b.String() + fmt.Sprintf("%04X", crc16(b.String()))
}

// tlv encodes one EMVCo data object: id, two-digit length, value.
func tlv(id, value string) string {
	return fmt.Sprintf("%s%02d%s", id, len(value), value)
}

// crc16 is CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF), as
// EMVCo QR payloads use.
func crc16(s string) uint16 {
	crc := uint16(0xFFFF)
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
