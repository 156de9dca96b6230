package payplus

import (
	"errors"
	"fmt"
	"strings"

	"github.com/paykit/paykit/internal/emvqr"
	"github.com/paykit/paykit/payment"
)

// PromptPay is Thailand's national instant-payment scheme. Its QR codes are
// EMVCo merchant-presented payloads (the Bank of Thailand's "Thai QR
// Payment" standard): tag-length-value fields ending in a CRC-16.

// promptPayAID is the application id of PromptPay credit transfers.
const promptPayAID = "A000000677010111"

// ErrPromptPayID is returned for a PromptPay id that is neither a mobile
// number, a 13-digit national or tax id, nor a 15-digit e-wallet id.
var ErrPromptPayID = errors.New("payplus: not a PromptPay id")

// PromptPayPayload returns the PromptPay QR payload for a credit transfer to
// id (a Thai mobile number such as "081-234-5678" or "+66812345678", a
// 13-digit national or tax id, or a 15-digit e-wallet id) of amount satang.
// An amount of zero gives a static code that lets the payer type the
// amount; otherwise the code is dynamic and carries the amount with two
// decimals.
func PromptPayPayload(id string, amount int64) (string, error) {
	if amount < 0 {
		return "", fmt.Errorf("%w: negative amount", payment.ErrInvalidAmount)
	}
	tag, target, err := promptPayTarget(id)
	if err != nil {
		return "", err
	}
	var q emvqr.Payload
	q.Add("00", "01")
	if amount > 0 {
		q.Add("01", "12") // dynamic: used for one payment
	} else {
		q.Add("01", "11") // static: reusable
	}
	q.AddTemplate("29", emvqr.Fields("00", promptPayAID, tag, target))
	q.Add("58", "TH").Add("53", "764") // ISO 4217 numeric for THB
	if amount > 0 {
		q.Add("54", payment.FormatDecimal(amount, 2, 2))
	}
	payload, err := q.Encode()
	if err != nil {
		return "", fmt.Errorf("payplus: %w", err)
	}
	return payload, nil
}

// promptPayTarget returns the sub-tag and value that name the receiver.
func promptPayTarget(id string) (tag, target string, err error) {
	var d strings.Builder
	for _, r := range id {
		switch {
		case r >= '0' && r <= '9':
			d.WriteRune(r)
		case r == '-' || r == ' ' || r == '+':
		default:
			return "", "", fmt.Errorf("%w: unexpected character", ErrPromptPayID)
		}
	}
	digits := d.String()
	switch {
	case len(digits) == 10 && digits[0] == '0':
		return "01", "0066" + digits[1:], nil // mobile, local form
	case len(digits) == 11 && strings.HasPrefix(digits, "66"):
		return "01", "00" + digits, nil // mobile, +66 form
	case len(digits) == 13:
		return "02", digits, nil // national id or tax id
	case len(digits) == 15:
		return "03", digits, nil // e-wallet id
	default:
		return "", "", fmt.Errorf("%w: %d digits", ErrPromptPayID, len(digits))
	}
}

// ParseEMV splits an EMVCo QR payload into its top-level tags and checks
// its CRC. It is the inverse of PromptPayPayload, for tests and for
// reading a vendor's payload.
func ParseEMV(payload string) (map[string]string, error) {
	fields, err := emvqr.Parse(payload)
	if err != nil {
		return nil, fmt.Errorf("payplus: %w", err)
	}
	return fields, nil
}
