package payplus

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The vectors are those of the widely used promptpay-qr library's tests.
func TestPromptPayPayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		id     string
		amount int64
		want   string
	}{
		{"local phone number", "0801234567", 0, "00020101021129370016A000000677010111011300668012345675802TH530376463046197"},
		{"dashed local phone number", "080-123-4567", 0, "00020101021129370016A000000677010111011300668012345675802TH530376463046197"},
		{"international phone number", "+66-89-123-4567", 0, "00020101021129370016A000000677010111011300668912345675802TH5303764630429C1"},
		{"national id", "1111111111111", 0, "00020101021129370016A000000677010111021311111111111115802TH530376463047B5A"},
		{"dashed national id", "1-1111-11111-11-1", 0, "00020101021129370016A000000677010111021311111111111115802TH530376463047B5A"},
		{"tax id", "0123456789012", 0, "00020101021129370016A000000677010111021301234567890125802TH530376463040CBD"},
		{"amount", "000-000-0000", 422, "00020101021229370016A000000677010111011300660000000005802TH530376454044.226304E469"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := PromptPayPayload(tt.id, tt.amount)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			fields, err := ParseEMV(got)
			require.NoError(t, err)
			require.Equal(t, "TH", fields["58"])
			require.Equal(t, "764", fields["53"])
		})
	}
}

func TestPromptPayPayloadAmountAndEWallet(t *testing.T) {
	t.Parallel()
	got, err := PromptPayPayload("0812345678", 99500)
	require.NoError(t, err)
	fields, err := ParseEMV(got)
	require.NoError(t, err)
	require.Equal(t, "12", fields["01"], "a code with an amount is dynamic")
	require.Equal(t, "995.00", fields["54"])
	require.Equal(t, "0016A00000067701011101130066812345678", fields["29"])

	wallet, err := PromptPayPayload("123456789012345", 0)
	require.NoError(t, err)
	fields, err = ParseEMV(wallet)
	require.NoError(t, err)
	require.Equal(t, "0016A0000006770101110315123456789012345", fields["29"])
}

func TestPromptPayPayloadRejects(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", "12345", "08123456789012", "0812x45678", "1812345678"} {
		_, err := PromptPayPayload(id, 100)
		require.ErrorIs(t, err, ErrPromptPayID, "id %q", id)
	}
	_, err := PromptPayPayload("0812345678", -1)
	require.Error(t, err)
}

func TestParseEMVRejectsBadCRC(t *testing.T) {
	t.Parallel()
	good, err := PromptPayPayload("0812345678", 100)
	require.NoError(t, err)
	bad := good[:len(good)-1] + "0"
	if bad == good {
		bad = good[:len(good)-1] + "1"
	}
	_, err = ParseEMV(bad)
	require.Error(t, err)
	_, err = ParseEMV("short")
	require.Error(t, err)
}
