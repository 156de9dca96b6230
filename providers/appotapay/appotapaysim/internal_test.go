package appotapaysim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/internal/emvqr"
)

func TestVietQRCarriesAmountAndOrder(t *testing.T) {
	t.Parallel()
	qr := vietQR(&txn{transactionID: "AP260301000007", orderID: "pay01ABC", amount: 150000})
	fields, err := emvqr.Parse(qr)
	require.NoError(t, err, "a well-formed payload with its CRC")
	require.Equal(t, "150000", fields["54"])
	require.Equal(t, "704", fields["53"])
	require.Equal(t, "0808pay01ABC", fields["62"])
	merchant, err := emvqr.ParseFields(fields["38"])
	require.NoError(t, err)
	bank, err := emvqr.ParseFields(merchant["01"])
	require.NoError(t, err)
	require.Equal(t, map[string]string{"00": "970454", "01": "9260301000007"}, bank)
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
