// Package emvqr builds and reads EMVCo merchant-presented QR payloads, the
// format of PromptPay (Thai QR Payment), VietQR and the other national QR
// schemes: tag-length-value fields (a two-digit id, a two-digit length, the
// value), ending with a CRC field, 63, over everything before its value.
//
// The sandbox provider, Pay-Plus and the vendor simulators all build their
// payloads here.
package emvqr

import (
	"errors"
	"fmt"
	"strconv"
)

// maxValue is the longest value a field can carry: its length has two
// digits.
const maxValue = 99

// crcField is the id and length of the CRC field, which the CRC covers.
const crcField = "6304"

// Payload builds a payload field by field. The zero value is an empty
// payload, ready to use.
type Payload struct {
	b   []byte
	err error
}

// Add appends the field id (two digits) with value, at most 99 bytes
// long; a longer value or a malformed id makes Encode fail.
func (p *Payload) Add(id, value string) *Payload {
	if p.err != nil {
		return p
	}
	if len(id) != 2 || len(value) > maxValue {
		p.err = fmt.Errorf("emvqr: field %q: id must have 2 characters and the value at most %d bytes, it has %d", id, maxValue, len(value))
		return p
	}
	if p.b == nil {
		p.b = make([]byte, 0, 160)
	}
	p.b = append(p.b, id...)
	p.b = append(p.b, byte('0'+len(value)/10), byte('0'+len(value)%10))
	p.b = append(p.b, value...)
	return p
}

// Encode returns the payload with its CRC field appended, or the first
// error of Add.
func (p *Payload) Encode() (string, error) {
	if p.err != nil {
		return "", p.err
	}
	b := append(p.b, crcField...)
	crc := CRC16(b)
	const hex = "0123456789ABCDEF"
	b = append(b, hex[crc>>12&0xF], hex[crc>>8&0xF], hex[crc>>4&0xF], hex[crc&0xF])
	return string(b), nil
}

// AddTemplate appends the field id whose value is the fields of t (such as
// 29, PromptPay's merchant account); an error of t's becomes p's.
func (p *Payload) AddTemplate(id string, t *Payload) *Payload {
	if p.err == nil && t.err != nil {
		p.err = t.err
	}
	return p.Add(id, string(t.b))
}

// Fields returns a payload of the fields given as ids and values in turn,
// to be a template's value.
func Fields(idsAndValues ...string) *Payload {
	p := &Payload{}
	if len(idsAndValues)%2 != 0 {
		p.err = errors.New("emvqr: an id without a value")
		return p
	}
	for i := 0; i < len(idsAndValues); i += 2 {
		p.Add(idsAndValues[i], idsAndValues[i+1])
	}
	return p
}

// crcTable holds CRC-16/CCITT-FALSE's remainder of every byte.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// CRC16 is CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF,
// no reflection, no final XOR), the checksum EMVCo payloads end with.
func CRC16[T string | []byte](s T) uint16 {
	crc := uint16(0xFFFF)
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^s[i]]
	}
	return crc
}

// Parse checks a payload's CRC and splits it into its top-level fields, by
// id; a template's value can be parsed again with ParseFields.
func Parse(payload string) (map[string]string, error) {
	if len(payload) < 8 || payload[len(payload)-8:len(payload)-4] != crcField {
		return nil, errors.New("emvqr: payload without a CRC field")
	}
	want, err := strconv.ParseUint(payload[len(payload)-4:], 16, 16)
	if err != nil || uint16(want) != CRC16(payload[:len(payload)-4]) {
		return nil, errors.New("emvqr: payload CRC mismatch")
	}
	return ParseFields(payload)
}

// ParseFields splits a sequence of fields, such as a template's value, by
// id. It does not check a CRC.
func ParseFields(s string) (map[string]string, error) {
	out := map[string]string{}
	for rest := s; rest != ""; {
		if len(rest) < 4 {
			return nil, errors.New("emvqr: truncated field")
		}
		n, err := strconv.Atoi(rest[2:4])
		if err != nil || n < 0 || len(rest) < 4+n {
			return nil, fmt.Errorf("emvqr: field %q: bad length", rest[:2])
		}
		out[rest[:2]] = rest[4 : 4+n]
		rest = rest[4+n:]
	}
	return out, nil
}
