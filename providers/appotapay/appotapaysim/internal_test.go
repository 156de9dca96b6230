package appotapaysim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCRC16CheckValue(t *testing.T) {
	t.Parallel()
	// CRC-16/CCITT-FALSE's published check value.
	require.Equal(t, "29B1", crc16("123456789"))
}

func TestVietQRCarriesAmountAndOrder(t *testing.T) {
	t.Parallel()
	qr := vietQR(&txn{transactionID: "AP260301000007", orderID: "pay01ABC", amount: 150000})
	require.Contains(t, qr, "5406150000")
	require.Contains(t, qr, "0808pay01ABC")
	require.Equal(t, crc16(qr[:len(qr)-4]), qr[len(qr)-4:])
}

func TestPHPJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		want string
	}{
		{map[string]string{"m": "Thành công"}, `{"m":"Th\u00e0nh c\u00f4ng"}`},
		{map[string]string{"u": "https://a.b/c?d=1&e=<f>"}, `{"u":"https:\/\/a.b\/c?d=1&e=<f>"}`},
		{map[string]string{"e": "😀"}, `{"e":"\ud83d\ude00"}`},
		{map[string]string{"q": `a"b\c/`}, `{"q":"a\"b\\c\/"}`},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, string(phpJSON(tt.in)))
	}
}
