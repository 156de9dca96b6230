package httpx_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/httpx"
	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/store/memstore"
)

// trickle sends a request whose body of n bytes arrives one byte every
// gap, and returns the response's status and how long it took to come.
func trickle(t *testing.T, addr, path string, header http.Header, n int, gap time.Duration) (int, time.Duration) {
	t.Helper()
	var d net.Dialer
	conn, err := d.DialContext(t.Context(), "tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	var head strings.Builder
	fmt.Fprintf(&head, "POST /pay%s HTTP/1.1\r\nHost: paykit.test\r\nContent-Length: %d\r\n", path, n)
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	began := time.Now()
	_, err = conn.Write([]byte(head.String()))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		for i := 0; i < n; i++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(gap):
			}
			if _, err := conn.Write([]byte{'{'}); err != nil {
				return
			}
		}
	}()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the server must answer, not hold the connection")
	defer resp.Body.Close()
	return resp.StatusCode, time.Since(began)
}

// A body that trickles in a byte at a time is cut off after the body read
// timeout with 408, on the webhook route and on API routes; the connection
// is closed and the handler returns.
func TestBodyReadTimeout(t *testing.T) {
	t.Parallel()
	e := setup(t, withHTTP(httpx.WithBodyReadTimeout(300*time.Millisecond)))

	status, took := trickle(t, e.srv.Listener.Addr().String(), "/webhooks/sandbox", hdr("Content-Type", "application/json"), 100, 100*time.Millisecond)
	require.Equal(t, http.StatusRequestTimeout, status)
	require.Less(t, took, 3*time.Second, "cut off near the timeout, not after the 10 s the body would take")

	status, took = trickle(t, e.srv.Listener.Addr().String(), "/checkout", hdr("Content-Type", "application/json", "X-API-Key", testKey), 100, 100*time.Millisecond)
	require.Equal(t, http.StatusRequestTimeout, status)
	require.Less(t, took, 3*time.Second)

	// A body that arrives in time goes through, and so does processing
	// that takes longer than the read timeout once the body is in.
	r := e.do(req{method: "POST", path: "/checkout", body: qrCheckout("trickle-ok", 1000)})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	p := r.payment(t)
	slow := setup(t, withHTTP(httpx.WithBodyReadTimeout(100*time.Millisecond)),
		withStore(func(s payment.Store) payment.Store { return &slowStore{Store: s, delay: 400 * time.Millisecond} }))
	r = slow.do(req{method: "POST", path: "/checkout", body: qrCheckout("slow-ok", 1000)})
	require.Equal(t, http.StatusCreated, r.Status, "a slow store after a quick body is not a timeout: %s", r.Body)
	require.NotEmpty(t, p.ID)
}

func TestBodyReadTimeoutOption(t *testing.T) {
	t.Parallel()
	require.Equal(t, 10*time.Second, httpx.DefaultBodyReadTimeout)
	svc, err := payment.New(memstore.New())
	require.NoError(t, err)
	for _, d := range []time.Duration{0, -time.Second} {
		_, err := httpx.NewHandler(svc, httpx.WithoutAuth(), httpx.WithBodyReadTimeout(d))
		require.Error(t, err, "%s", d)
	}
	_, err = httpx.NewHandler(svc, httpx.WithoutAuth(), httpx.WithBodyReadTimeout(time.Second))
	require.NoError(t, err)
}

// A server ReadTimeout shorter than the body read timeout still applies.
func TestBodyReadTimeoutKeepsShorterServerTimeout(t *testing.T) {
	t.Parallel()
	e := setup(t, withHTTP(httpx.WithBodyReadTimeout(time.Minute)))
	mux := http.NewServeMux()
	mux.Handle("/pay/", e.h)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	status, took := trickle(t, srv.Listener.Addr().String(), "/webhooks/sandbox", hdr("Content-Type", "application/json"), 100, 100*time.Millisecond)
	require.Equal(t, http.StatusRequestTimeout, status)
	require.Less(t, took, 5*time.Second, "the server's 300 ms, not the handler's minute")
}

// slowStore delays payment writes.
type slowStore struct {
	payment.Store
	delay time.Duration
}

func (s *slowStore) CreatePayment(ctx context.Context, p *payment.Payment, evs []payment.Event) error {
	time.Sleep(s.delay)
	return s.Store.CreatePayment(ctx, p, evs)
}
