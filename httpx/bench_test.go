package httpx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/httpx"
	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/sandbox"
	"github.com/paykit/paykit/store/memstore"
)

// The benchmarks call the handler in process (no network), so what they
// compare is the work of the handlers: BenchmarkHTTPCheckout and
// BenchmarkHTTPGet run the whole stack (API key check, request id, JSON
// decoding and checks, the Service with memstore and the sandbox, JSON
// encoding, the request log); BenchmarkBareJSONHandler decodes and encodes
// the same JSON with nothing else.

func checkoutBody(order string) []byte {
	return []byte(`{"provider":"sandbox","method":"qr","order_id":"` + order +
		`","amount":100000,"currency":"THB","description":"Order ` + order +
		`","customer":{"id":"customer-123","name":"John Doe","email":"john@example.com","phone":"+66812345678"},` +
		`"return_url":"https://shop.example/return","metadata":{"cart":"c_991"}}`)
}

func benchHandler(b *testing.B) http.Handler {
	b.Helper()
	sbx, err := sandbox.New(sandbox.WithQRImage(false))
	require.NoError(b, err)
	b.Cleanup(func() { _ = sbx.Close() })
	svc, err := payment.New(memstore.New(), payment.WithProvider(sbx))
	require.NoError(b, err)
	h, err := httpx.NewHandler(svc, httpx.WithAPIKeys(testKey))
	require.NoError(b, err)
	return h
}

func serve(h http.Handler, method, path string, body []byte) *httptest.ResponseRecorder {
	var r *http.Request
	if body != nil {
		r = httptest.NewRequestWithContext(context.Background(), method, path, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequestWithContext(context.Background(), method, path, nil)
	}
	r.Header.Set("X-API-Key", testKey)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func BenchmarkHTTPCheckout(b *testing.B) {
	h := benchHandler(b)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		w := serve(h, http.MethodPost, "/checkout", checkoutBody("bench-"+strconv.Itoa(i)))
		if w.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

func BenchmarkHTTPGet(b *testing.B) {
	h := benchHandler(b)
	w := serve(h, http.MethodPost, "/checkout", checkoutBody("bench-get"))
	require.Equal(b, http.StatusCreated, w.Code)
	var p payment.Payment
	require.NoError(b, json.Unmarshal(w.Body.Bytes(), &p))
	path := "/payments/" + p.ID
	b.ReportAllocs()
	for b.Loop() {
		w := serve(h, http.MethodGet, path, nil)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkBareJSONHandler is the floor: net/http handlers that decode the
// checkout body into the same params and encode the same payment JSON.
func BenchmarkBareJSONHandler(b *testing.B) {
	h := benchHandler(b)
	w := serve(h, http.MethodPost, "/checkout", checkoutBody("bench-bare"))
	require.Equal(b, http.StatusCreated, w.Code)
	var tmpl payment.Payment
	require.NoError(b, json.Unmarshal(w.Body.Bytes(), &tmpl))

	mux := http.NewServeMux()
	mux.HandleFunc("POST /checkout", func(w http.ResponseWriter, r *http.Request) {
		var params payment.CheckoutParams
		if err := json.NewDecoder(r.Body).Decode(&params); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p := tmpl
		p.OrderID = params.OrderID
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(&p)
	})
	mux.HandleFunc("GET /payments/{id}", func(w http.ResponseWriter, r *http.Request) {
		p := tmpl
		p.ID = r.PathValue("id")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&p)
	})

	b.Run("checkout", func(b *testing.B) {
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			i++
			w := serve(mux, http.MethodPost, "/checkout", checkoutBody("bench-"+strconv.Itoa(i)))
			if w.Code != http.StatusCreated {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
	b.Run("get", func(b *testing.B) {
		path := "/payments/" + tmpl.ID
		b.ReportAllocs()
		for b.Loop() {
			if w := serve(mux, http.MethodGet, path, nil); w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}
