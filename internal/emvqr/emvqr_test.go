package emvqr_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/internal/emvqr"
)

func TestCRC16CCITTFalse(t *testing.T) {
	t.Parallel()
	require.Equal(t, uint16(0x29B1), emvqr.CRC16("123456789"), "the CRC-16/CCITT-FALSE check value")
	require.Equal(t, uint16(0x29B1), emvqr.CRC16([]byte("123456789")))
	require.Equal(t, uint16(0xFFFF), emvqr.CRC16(""), "the initial value")
	// The PromptPay sample for mobile 000-000-0000 without an amount, as
	// published with the PromptPay QR libraries (CRC "8956").
	require.Equal(t, uint16(0x8956), emvqr.CRC16("00020101021129370016A000000677010111011300660000000005802TH53037646304"))
}

// The vector is a PromptPay payload from the promptpay-qr library's tests
// (a phone number and 4.22 baht).
func TestEncodePromptPayVector(t *testing.T) {
	t.Parallel()
	var p emvqr.Payload
	p.Add("00", "01").Add("01", "12").
		AddTemplate("29", emvqr.Fields("00", "A000000677010111", "01", "0066000000000")).
		Add("58", "TH").Add("53", "764").Add("54", "4.22")
	got, err := p.Encode()
	require.NoError(t, err)
	require.Equal(t, "00020101021229370016A000000677010111011300660000000005802TH530376454044.226304E469", got)

	fields, err := emvqr.Parse(got)
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		"00": "01", "01": "12", "29": "0016A00000067701011101130066000000000",
		"58": "TH", "53": "764", "54": "4.22", "63": "E469",
	}, fields)
	merchant, err := emvqr.ParseFields(fields["29"])
	require.NoError(t, err)
	require.Equal(t, map[string]string{"00": "A000000677010111", "01": "0066000000000"}, merchant)
}

func TestEncodeRejectsFieldsThatDoNotFit(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100)
	for name, p := range map[string]*emvqr.Payload{
		"value of 100 bytes":  new(emvqr.Payload).Add("00", "01").Add("62", long),
		"one-character id":    new(emvqr.Payload).Add("0", "01"),
		"template too long":   new(emvqr.Payload).AddTemplate("29", emvqr.Fields("00", long[:60], "01", long[:40])),
		"template with error": new(emvqr.Payload).AddTemplate("29", emvqr.Fields("00", long)),
		"id without value":    new(emvqr.Payload).AddTemplate("29", emvqr.Fields("00")),
	} {
		_, err := p.Encode()
		require.Error(t, err, name)
	}
	_, err := new(emvqr.Payload).Add("62", long[:99]).Encode()
	require.NoError(t, err, "99 bytes fit")
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	good, err := new(emvqr.Payload).Add("00", "01").Add("58", "TH").Encode()
	require.NoError(t, err)
	_, err = emvqr.Parse(good)
	require.NoError(t, err)
	for name, payload := range map[string]string{
		"short":           "6304",
		"no CRC field":    strings.Replace(good, "6304", "6404", 1),
		"wrong CRC":       good[:len(good)-1] + string(good[len(good)-1]^1),
		"non-hex CRC":     good[:len(good)-4] + "ZZZZ",
		"bad length":      fixCRC(t, "0002015899TH"),
		"truncated field": fixCRC(t, "000201585"),
	} {
		_, err := emvqr.Parse(payload)
		require.Error(t, err, name)
	}
	lower := good[:len(good)-4] + strings.ToLower(good[len(good)-4:])
	_, err = emvqr.Parse(lower)
	require.NoError(t, err, "the CRC's hex digits in lower case")
}

// fixCRC returns body with a correct CRC field, whatever its fields.
func fixCRC(t *testing.T, body string) string {
	t.Helper()
	s := body + "6304"
	const hex = "0123456789ABCDEF"
	crc := emvqr.CRC16(s)
	return s + string([]byte{hex[crc>>12&0xF], hex[crc>>8&0xF], hex[crc>>4&0xF], hex[crc&0xF]})
}

func BenchmarkEncode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var p emvqr.Payload
		p.Add("00", "01").Add("01", "12").
			AddTemplate("29", emvqr.Fields("00", "A000000677010111", "01", "0066812345678")).
			Add("53", "764").Add("54", "1234.50").Add("58", "TH").Add("59", "PAYKIT SANDBOX").
			Add("60", "BANGKOK").AddTemplate("62", emvqr.Fields("05", "0123456789abcdef0123456"))
		if _, err := p.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}
