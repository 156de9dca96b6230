package httpx

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  string
		field string // "" means no error
	}{
		{"valid", `{"provider":"sandbox","amount":100,"currency":"THB"}`, ""},
		{"whitespace around", " \n{\"amount\":1}\n ", ""},
		{"fraction", `{"amount":1.5}`, "amount"},
		{"string", `{"amount":"100"}`, "amount"},
		{"exponent", `{"amount":1e3}`, "amount"},
		{"too big", `{"amount":99999999999999999999}`, "amount"},
		{"negative fraction", `{"amount":-0.5}`, "amount"},
		{"unknown top-level", `{"amount":1,"amout":2}`, "amout"},
		{"unknown nested", `{"customer":{"name":"J","nickname":"x"}}`, "customer.nickname"},
		{"unknown in an array", `{"items":[{"name":"a","price":1,"quantity":1},{"name":"b","colour":"red"}]}`, "items[1].colour"},
		{"unknown in a card", `{"card":{"number":"4111111111111111","pin":"1234"}}`, "card.pin"},
		{"wrong nested type", `{"card":{"expiry_month":"12"}}`, "card.expiry_month"},
		{"object for string", `{"provider":{}}`, "provider"},
		{"array body", `[1,2]`, "body"},
		{"null body", `null`, "body"},
		{"trailing object", `{"amount":1}{"amount":2}`, "body"},
		{"trailing garbage", `{"amount":1} x`, "body"},
		{"syntax", `{"amount":1,}`, "body"},
		{"truncated", `{"amount":1`, "body"},
		{"metadata value type", `{"metadata":{"a":1}}`, "metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p payment.CheckoutParams
			err := decodeJSON([]byte(tt.body), &p)
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var ae *apiError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, http.StatusBadRequest, ae.status)
			require.Equal(t, CodeInvalidInput, ae.code)
			require.Equal(t, tt.field, ae.field)
		})
	}
}

func TestDecodeErrorsNeverEchoValues(t *testing.T) {
	t.Parallel()
	// A card number sent as a JSON number must not come back in the
	// message (encoding/json's own error text would quote it).
	var p payment.CheckoutParams
	err := decodeJSON([]byte(`{"card":{"number":4111111111111111}}`), &p)
	var ae *apiError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "card.number", ae.field)
	require.NotContains(t, ae.message, "4111")
	require.NoError(t, ae.cause)

	err = decodeJSON([]byte(`{"card":{"number":"4111111111111111",cvv:"123"}}`), &p)
	require.ErrorAs(t, err, &ae)
	require.NotContains(t, ae.message, "4111")
	require.NotContains(t, ae.message, "cvv")
}

func TestRefineMissing(t *testing.T) {
	t.Parallel()
	invalid := payment.InvalidField("amount", "must be a positive integer")
	var ve *payment.ValidationError

	err := refineMissing(invalid, []byte(`{"currency":"THB"}`))
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Missing, "absent amount is missing")

	err = refineMissing(invalid, []byte(`{"amount":null}`))
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Missing, "null amount is missing")

	err = refineMissing(invalid, []byte(`{"amount":0}`))
	require.ErrorAs(t, err, &ve)
	require.False(t, ve.Missing, "a zero amount is present and invalid")

	nested := payment.InvalidField("customer.email", "must be an email address")
	require.Equal(t, nested, refineMissing(nested, []byte(`{}`)))

	other := errors.New("x")
	require.Equal(t, other, refineMissing(other, []byte(`{}`)))
}

func TestIsJSON(t *testing.T) {
	t.Parallel()
	for ct, want := range map[string]bool{
		"application/json":                  true,
		"application/json; charset=utf-8":   true,
		"Application/JSON; charset=UTF-8":   true,
		"application/json;charset=latin1":   false,
		"text/plain":                        false,
		"application/x-www-form-urlencoded": false,
		"":                                  false,
		"application/jsonx":                 false,
		"application/json; =":               false,
	} {
		require.Equal(t, want, isJSON(ct), ct)
	}
}

func TestSaneRequestID(t *testing.T) {
	t.Parallel()
	require.True(t, saneRequestID("req_abc-123.4:5"))
	require.True(t, saneRequestID("0f8fad5b-d9cb-469f-a165-70867728950e"))
	require.False(t, saneRequestID("has space"))
	require.False(t, saneRequestID("new\nline"))
	require.False(t, saneRequestID(string(make([]byte, 129))))
}

func TestParseAmount(t *testing.T) {
	t.Parallel()
	n, err := parseAmount("100000")
	require.NoError(t, err)
	require.Equal(t, int64(100000), n)
	for _, bad := range []string{"", "0", "-1", "+1", "1.0", "1e3", " 1", "0x10", "9223372036854775808"} {
		_, err := parseAmount(bad)
		require.Error(t, err, bad)
	}
}

// FuzzDecodeCheckout: the body decoder never panics, and every rejection
// is a 400 naming a field, with a message that quotes no value.
func FuzzDecodeCheckout(f *testing.F) {
	for _, seed := range []string{
		`{"provider":"sandbox","method":"qr","order_id":"482500007436","amount":100000,"currency":"THB"}`,
		`{"card":{"number":"4111111111111111","expiry_month":12,"expiry_year":2030,"cvv":"123"}}`,
		`{"items":[{"name":"a","price":1,"quantity":1,"colour":"x"}]}`,
		`{"amount":1.5}`, `{"amount":"100"}`, `{"amount":1e3}`, `{"customer":{"bank_account":{"x":1}}}`,
		`[]`, `null`, `{`, `{"a":1}{}`, ``, `{"metadata":{"k":[1]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p payment.CheckoutParams
		err := decodeJSON(body, &p)
		if err == nil {
			_ = refineMissing(payment.InvalidField("amount", "must be a positive integer"), body)
			return
		}
		var ae *apiError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, http.StatusBadRequest, ae.status)
		require.NotEmpty(t, ae.field)
		require.NotContains(t, ae.message, "json:")
	})
}
