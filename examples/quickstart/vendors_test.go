package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/providers/appotapay/appotapaysim"
	"github.com/paykit/paykit/providers/vepara/veparasim"
)

// waitStatus polls the payment until it has the status (callbacks may
// arrive a moment after the customer's action returns).
func (s *server) waitStatus(t *testing.T, path, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, got := s.call(t, "GET", path, "")
		require.Equal(t, http.StatusOK, code, "%v", got)
		if got["status"] == want || time.Now().After(deadline) {
			require.Equal(t, want, got["status"], "%s: %v", path, got)
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) checkout(t *testing.T, body string) map[string]any {
	t.Helper()
	code, p := s.call(t, "POST", "/pay/checkout", body)
	require.Equal(t, http.StatusCreated, code, "checkout %s: %v", body, p)
	return p
}

func (s *server) payByCustomer(t *testing.T, id string) {
	t.Helper()
	code, out := s.call(t, "POST", "/sandbox/payments/"+id+"/pay", "")
	require.Equal(t, http.StatusOK, code, "pay %s: %v", id, out)
}

func TestVillaQRWeChatAndCard(t *testing.T) {
	s := start(t, "memory")
	for i, method := range []string{"qr", "wechat"} {
		p := s.checkout(t, fmt.Sprintf(`{"provider":"villa","method":%q,"order_id":"villa-%d","amount":30000,"currency":"THB"}`, method, i))
		require.Equal(t, "requires_action", p["status"], "%v", p)
		id := p["id"].(string)
		s.payByCustomer(t, id)
		s.waitStatus(t, "/pay/payments/"+id, "succeeded")
		got := s.waitStatus(t, "/pay/payments/"+id+"?sync=true", "succeeded")
		require.Equal(t, "30000", fmt.Sprint(got["amount_captured"]))
	}
	// A card payment with a KBank token that needs 3-D Secure.
	p := s.checkout(t, `{"provider":"villa","method":"card","order_id":"villa-card","amount":12345,"currency":"THB","payment_token":"tokn_test_demo"}`)
	require.Equal(t, "requires_action", p["status"], "%v", p)
	id := p["id"].(string)
	s.payByCustomer(t, id)
	s.waitStatus(t, "/pay/payments/"+id, "succeeded")
	// Villa has no refund endpoint: the API says so, nothing changes.
	code, out := s.call(t, "POST", "/pay/payments/"+id+"/refunds", `{"amount":100}`)
	require.Equal(t, http.StatusBadRequest, code, "%v", out)
}

func TestAppotaPayWalletAndGateway(t *testing.T) {
	s := start(t, "memory")
	// A linked wallet that pays at once.
	p := s.checkout(t, fmt.Sprintf(`{"provider":"appotapay","method":"ewallet","order_id":"ap-1","amount":120000,"currency":"VND","payment_token":%q}`,
		appotapaysim.WalletToken))
	require.Equal(t, "succeeded", p["status"], "%v", p)

	// A wallet that asks for an OTP.
	p = s.checkout(t, fmt.Sprintf(`{"provider":"appotapay","method":"ewallet","order_id":"ap-2","amount":50000,"currency":"VND","payment_token":%q}`,
		appotapaysim.WalletTokenOTP))
	require.Equal(t, "requires_action", p["status"], "%v", p)
	require.Equal(t, "otp", p["next_action"].(map[string]any)["type"])
	id := p["id"].(string)
	code, got := s.call(t, "POST", "/pay/payments/"+id+"/confirm", fmt.Sprintf(`{"otp":%q}`, appotapaysim.DefaultOTP))
	require.Equal(t, http.StatusOK, code, "%v", got)
	require.Equal(t, "succeeded", got["status"])

	// A gateway QR payment: the customer pays, the IPN arrives, sync agrees,
	// then a partial refund.
	p = s.checkout(t, `{"provider":"appotapay","method":"qr","order_id":"ap-3","amount":200000,"currency":"VND"}`)
	require.Equal(t, "requires_action", p["status"], "%v", p)
	id = p["id"].(string)
	s.payByCustomer(t, id)
	s.waitStatus(t, "/pay/payments/"+id, "succeeded")
	s.waitStatus(t, "/pay/payments/"+id+"?sync=true", "succeeded")
	code, r := s.call(t, "POST", "/pay/payments/"+id+"/refunds", `{"amount":50000,"reason":"partial"}`)
	require.Equal(t, http.StatusCreated, code, "%v", r)
	require.NotEqual(t, "failed", r["status"])
}

func TestPayPlusDepositsAndWithdrawal(t *testing.T) {
	s := start(t, "memory")
	payer := `"customer":{"name":"John Doe","bank_account":{"bank_code":"KBANK","number":"1234567890","name":"John Doe"}}`
	for i, method := range []string{"qr", "bank_transfer"} {
		p := s.checkout(t, fmt.Sprintf(`{"provider":"payplus","method":%q,"order_id":"pp-%d","amount":100000,"currency":"THB",%s}`, method, i, payer))
		require.Equal(t, "requires_action", p["status"], "%v", p)
		na := p["next_action"].(map[string]any)
		require.Equal(t, "display_qr", na["type"])
		require.NotEmpty(t, na["amount_to_pay"])
		id := p["id"].(string)
		s.payByCustomer(t, id)
		s.waitStatus(t, "/pay/payments/"+id, "succeeded")
		s.waitStatus(t, "/pay/payments/"+id+"?sync=true", "succeeded")
	}
	code, bal := s.call(t, "GET", "/pay/providers/payplus/balance", "")
	require.Equal(t, http.StatusOK, code, "%v", bal)

	code, po := s.call(t, "POST", "/pay/payouts",
		`{"provider":"payplus","order_id":"wd-1001","amount":100000,"currency":"THB","bank_account":{"bank_code":"KBANK","number":"1234567890","name":"John Doe"}}`)
	require.Equal(t, http.StatusCreated, code, "%v", po)
	id := po["id"].(string)
	code, out := s.call(t, "POST", "/sandbox/payouts/"+id+"/complete", "")
	require.Equal(t, http.StatusOK, code, "%v", out)
	got := s.waitStatus(t, "/pay/payouts/"+id, "succeeded")
	require.Positive(t, got["fee"])
	s.waitStatus(t, "/pay/payouts/"+id+"?sync=true", "succeeded")
}

func TestVeparaSalesPreAuthAndRefunds(t *testing.T) {
	s := start(t, "memory")
	card := `"card":{"number":"4508034508034509","expiry_month":12,"expiry_year":2030,"cvv":"000","holder_name":"John Doe"}`
	subs := veparasim.DefaultSubMerchants()
	items := fmt.Sprintf(`"items":[{"id":"1","name":"Item1","price":10000,"quantity":1,"sub_merchant_id":%q,"sub_merchant_share":8000},`+
		`{"id":"2","name":"Item2","price":5000,"quantity":2,"sub_merchant_id":%q,"sub_merchant_share":8000}]`, subs[0], subs[1])

	// A marketplace sale with sub-merchant items, then two partial refunds.
	p := s.checkout(t, fmt.Sprintf(`{"provider":"vepara","method":"card","order_id":"vp-1","amount":20000,"currency":"TRY",%s,%s}`, card, items))
	require.Equal(t, "succeeded", p["status"], "%v", p)
	id := p["id"].(string)
	for _, amount := range []int{5000, 2500} {
		code, r := s.call(t, "POST", "/pay/payments/"+id+"/refunds", fmt.Sprintf(`{"amount":%d}`, amount))
		require.Equal(t, http.StatusCreated, code, "%v", r)
	}
	got := s.waitStatus(t, "/pay/payments/"+id, "partially_refunded")
	require.Equal(t, "7500", fmt.Sprint(got["amount_refunded"]))

	// A plain 2D sale.
	p = s.checkout(t, fmt.Sprintf(`{"provider":"vepara","method":"card","order_id":"vp-2","amount":10050,"currency":"TRY",%s}`, card))
	require.Equal(t, "succeeded", p["status"], "%v", p)

	// Pre-authorization, then capture; another, then void.
	p = s.checkout(t, fmt.Sprintf(`{"provider":"vepara","method":"card","order_id":"vp-3","amount":30000,"currency":"TRY","capture_method":"manual",%s}`, card))
	require.Equal(t, "authorized", p["status"], "%v", p)
	code, c := s.call(t, "POST", "/pay/payments/"+p["id"].(string)+"/capture", "")
	require.Equal(t, http.StatusOK, code, "%v", c)
	require.Equal(t, "succeeded", c["status"])

	p = s.checkout(t, fmt.Sprintf(`{"provider":"vepara","method":"card","order_id":"vp-4","amount":30000,"currency":"TRY","capture_method":"manual",%s}`, card))
	require.Equal(t, "authorized", p["status"], "%v", p)
	code, v := s.call(t, "POST", "/pay/payments/"+p["id"].(string)+"/cancel", "")
	require.Equal(t, http.StatusOK, code, "%v", v)
	require.Equal(t, "canceled", v["status"])
	require.True(t, strings.HasPrefix(v["id"].(string), "pay_"))
}
