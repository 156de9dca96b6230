package villasim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCRC16(t *testing.T) {
	t.Parallel()
	// CRC-16/CCITT-FALSE check value.
	require.Equal(t, uint16(0x29B1), crc16("123456789"))
	require.Equal(t, uint16(0xFFFF), crc16(""))
}

func TestThaiQR(t *testing.T) {
	t.Parallel()
	o := &order{id: "pay_01JD3ABC", kbankID: "order_test_222110adff3affb5844c497fa9c22366b5bc6", amount: 123456, method: "qr"}
	qr := thaiQR(o)
	require.Equal(t, "000201", qr[:6])
	require.Contains(t, qr, "5303764")
	require.Contains(t, qr, "54071234.56")
	require.Contains(t, qr, "5802TH")
	body, crc := qr[:len(qr)-4], qr[len(qr)-4:]
	require.Equal(t, "6304", body[len(body)-4:])
	require.Len(t, crc, 4)
	require.Equal(t, crc, func() string { return upperHex(crc16(body)) }())
	o.method = "card"
	require.Empty(t, thaiQR(o))
}

func upperHex(v uint16) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[v>>12], digits[v>>8&15], digits[v>>4&15], digits[v&15]})
}
