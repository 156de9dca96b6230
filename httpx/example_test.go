package httpx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/paykit/paykit/httpx"
	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/sandbox"
	"github.com/paykit/paykit/store/memstore"
)

// Mount the API under /pay/ in a standard library mux, then create a QR
// checkout through it.
func ExampleNewHandler() {
	sbx, err := sandbox.New()
	if err != nil {
		log.Fatal(err)
	}
	defer sbx.Close()
	svc, err := payment.New(memstore.New(), payment.WithProvider(sbx))
	if err != nil {
		log.Fatal(err)
	}
	api, err := httpx.NewHandler(svc, httpx.WithAPIKeys("sk_test_example"))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/pay/", http.StripPrefix("/pay", api))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	body := `{"provider": "sandbox", "method": "qr", "order_id": "482500007436", "amount": 100000, "currency": "THB"}`
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/pay/checkout", strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", "sk_test_example")
	req.Header.Set("Idempotency-Key", "checkout-482500007436")
	resp, err := srv.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var p payment.Payment
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, p.Status, p.NextAction.Type, p.Amount, p.Currency)
	// Output: 201 requires_action display_qr 100000 THB
}
