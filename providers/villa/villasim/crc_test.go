package villasim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/internal/emvqr"
)

func TestThaiQR(t *testing.T) {
	t.Parallel()
	o := &order{id: "pay_01JD3ABC", kbankID: "order_test_222110adff3affb5844c497fa9c22366b5bc6", amount: 123456, method: "qr"}
	qr := thaiQR(o)
	fields, err := emvqr.Parse(qr)
	require.NoError(t, err, "a well-formed payload with its CRC")
	require.Equal(t, "01", fields["00"])
	require.Equal(t, "764", fields["53"])
	require.Equal(t, "1234.56", fields["54"])
	require.Equal(t, "TH", fields["58"])
	merchant, err := emvqr.ParseFields(fields["30"])
	require.NoError(t, err)
	require.Equal(t, "PAY01JD3ABC", merchant["02"])
	require.NotContains(t, fields, "62", "no WeChat tag on a QR order")
	o.method = "wechat"
	fields, err = emvqr.Parse(thaiQR(o))
	require.NoError(t, err)
	require.Equal(t, "0506WECHAT", fields["62"])
	o.method = "card"
	require.Empty(t, thaiQR(o))
}
