package payplus

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	var b strings.Builder
	b.WriteString(tlv("00", "01"))
	if amount > 0 {
		b.WriteString(tlv("01", "12")) // dynamic: used for one payment
	} else {
		b.WriteString(tlv("01", "11")) // static: reusable
	}
	b.WriteString(tlv("29", tlv("00", promptPayAID)+tlv(tag, target)))
	b.WriteString(tlv("58", "TH"))
	b.WriteString(tlv("53", "764")) // ISO 4217 numeric for THB
	if amount > 0 {
		b.WriteString(tlv("54", payment.FormatDecimal(amount, 2, 2)))
	}
	b.WriteString("6304")
	crc := crc16(b.String())
	return b.String() + fmt.Sprintf("%04X", crc), nil
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

func tlv(tag, value string) string {
	return tag + fmt.Sprintf("%02d", len(value)) + value
}

// crc16 is CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF),
// the checksum EMVCo QR payloads end with.
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

// ParseEMV splits an EMVCo QR payload into its top-level tags and checks
// its CRC. It is the inverse of PromptPayPayload, for tests and for
// reading a vendor's payload.
func ParseEMV(payload string) (map[string]string, error) {
	if len(payload) < 8 || payload[len(payload)-8:len(payload)-4] != "6304" {
		return nil, errors.New("payplus: EMV payload without a CRC")
	}
	if !strings.EqualFold(payload[len(payload)-4:], fmt.Sprintf("%04X", crc16(payload[:len(payload)-4]))) {
		return nil, errors.New("payplus: EMV payload CRC mismatch")
	}
	out := map[string]string{}
	for rest := payload; rest != ""; {
		if len(rest) < 4 {
			return nil, errors.New("payplus: truncated EMV field")
		}
		n, err := strconv.Atoi(rest[2:4])
		if err != nil || len(rest) < 4+n {
			return nil, errors.New("payplus: bad EMV field length")
		}
		out[rest[:2]] = rest[4 : 4+n]
		rest = rest[4+n:]
	}
	return out, nil
}
