package payment_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

// requireSameJSON checks that Payment.AppendJSON writes what json.Marshal
// writes for p (with escapeHTML), or a json.Encoder without HTML escaping,
// after what the buffer held.
func requireSameJSON(t testing.TB, p *payment.Payment) {
	t.Helper()
	want, wantErr := json.Marshal(p)
	got, err := p.AppendJSON([]byte("prefix"), true)
	if wantErr != nil {
		require.Error(t, err, "a payment json.Marshal refuses is refused")
		return
	}
	require.NoError(t, err)
	require.Equal(t, "prefix"+string(want), string(got))

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(p))
	got, err = p.AppendJSON(nil, false)
	require.NoError(t, err)
	require.Equal(t, strings.TrimSuffix(buf.String(), "\n"), string(got))
}

// fill sets every field of v, recursively, to a value that is not zero and
// that depends on seed: a field added to Payment, or to a type it holds, is
// set here without anyone listing it, so the comparison covers it.
func fill(v reflect.Value, seed *int) {
	*seed++
	switch v.Kind() {
	case reflect.String:
		v.SetString("v" + strconv.Itoa(*seed) + " <&> \"é\" \u2028")
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(*seed) * 1_000_003)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), seed)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		fill(s.Index(0), seed)
		fill(s.Index(1), seed)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range 3 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, seed)
			fill(e, seed)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 21, 12, 0, *seed, *seed*1001, time.FixedZone("ICT", 7*3600))))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), seed)
			}
		}
	default:
		panic("fill: no value for " + v.Type().String())
	}
}

func TestPaymentJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	var full payment.Payment
	seed := 0
	fill(reflect.ValueOf(&full).Elem(), &seed)
	requireSameJSON(t, &full)
	requireSameJSON(t, &payment.Payment{})

	now := time.Date(2026, 11, 21, 5, 4, 3, 999_000, time.UTC)
	exp := now.Add(15 * time.Minute)
	typical := &payment.Payment{
		Object: "payment", ID: "pay_01M803JC77MNPM621622QRGB08", Provider: "sandbox", Method: payment.MethodQR,
		OrderID: "ord-0", Amount: 100000, Currency: "THB", Status: payment.StatusRequiresAction,
		CaptureMethod: payment.CaptureAutomatic, ProviderReference: "sbx_ch_01",
		NextAction: &payment.NextAction{Type: payment.NextActionDisplayQR, QRCode: "000201010212", PromptPayID: "0812345678", ExpiresAt: &exp},
		Customer:   &payment.Customer{Name: "John Doe", Email: "john@example.com"},
		Items:      []payment.Item{{Name: "tea", Price: 50000, Quantity: 2}},
		Metadata:   map[string]string{"z": "1", "a": "2", "ไทย": "3"}, ExpiresAt: &exp, CreatedAt: now, UpdatedAt: now,
		Failure: &payment.Failure{Code: payment.FailureExpired, Message: "expired"},
	}
	requireSameJSON(t, typical)
	typical.Customer = &payment.Customer{BankAccount: &payment.BankAccount{BankCode: "SCB"}}
	typical.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // encoding/json refuses it
	requireSameJSON(t, typical)
}

func FuzzPaymentJSON(f *testing.F) {
	f.Add("Order <1> & \"2\"", "k\x00", "v\xff\xfe", int64(-5), int64(1700000000123456789), 25200)
	f.Add("\u2028\u2029\t\n\r\b\f\\/", "", "ok", int64(0), int64(0), 0)
	f.Fuzz(func(t *testing.T, s, k, v string, n, unixNano int64, offset int) {
		at := time.Unix(0, unixNano).In(time.FixedZone("z", offset%(18*3600)))
		p := &payment.Payment{
			Object: s, ID: k, OrderID: v, Amount: n, Description: s, ReturnURL: v, Flags: []string{s, k},
			Metadata: map[string]string{k: v, s: k}, Customer: &payment.Customer{Phone: s},
			NextAction: &payment.NextAction{Type: v, URL: s, AmountToPay: n, ExpiresAt: &at},
			Items:      []payment.Item{{ID: k, Name: s, SubMerchantShare: n}}, CreatedAt: at, UpdatedAt: at,
		}
		requireSameJSON(t, p)
	})
}

// BenchmarkPaymentJSON compares AppendJSON with json.Marshal on a QR
// checkout's payment.
func BenchmarkPaymentJSON(b *testing.B) {
	now := time.Now().UTC()
	exp := now.Add(15 * time.Minute)
	p := &payment.Payment{
		Object: "payment", ID: "pay_01M803JC77MNPM621622QRGB08", Provider: "sandbox", Method: payment.MethodQR, OrderID: "ord-0",
		Amount: 100000, Currency: "THB", Status: payment.StatusRequiresAction, CaptureMethod: payment.CaptureAutomatic,
		ProviderReference: "sbx_ch_01M803JC77MNPM621622QRGB08",
		NextAction: &payment.NextAction{
			Type: payment.NextActionDisplayQR, PromptPayID: "0812345678", ExpiresAt: &exp,
			QRCode: "00020101021229370016A00000067701011101130066812345678530376454071000.005802TH5914PAYKIT SANDBOX6007BANGKOK6229",
		},
		Customer:    &payment.Customer{ID: "customer-123", Name: "John Doe", Email: "john@example.com", Phone: "+66812345678"},
		Description: "Order ord-0", Metadata: map[string]string{"cart": "c_991"}, ReturnURL: "https://shop.example/return",
		ExpiresAt: &exp, CreatedAt: now, UpdatedAt: now,
	}
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 2048)
		for b.Loop() {
			buf, _ = p.AppendJSON(buf[:0], true)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(p)
		}
	})
}
