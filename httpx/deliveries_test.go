package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
)

// TestFailedDeliveriesRoutes: an endpoint that answers 410 has its
// deliveries failed; GET /events?delivery=failed lists them and
// POST /events/{id}/redeliver queues them again.
func TestFailedDeliveriesRoutes(t *testing.T) {
	t.Parallel()
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) }))
	t.Cleanup(gone.Close)
	e := setup(t, withPayment(payment.WithWebhookEndpoint(gone.URL, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		payment.EndpointAllowPrivate(), payment.EndpointID("shop"))))
	e.checkout(qrCheckout("ord-deliv", 1000))
	_, err := e.svc.Dispatch(t.Context())
	require.NoError(t, err)

	r := e.do(req{method: "GET", path: "/events?delivery=failed"})
	require.Equal(t, http.StatusOK, r.Status)
	var ds struct {
		Object string                   `json:"object"`
		Data   []payment.FailedDelivery `json:"data"`
	}
	r.decode(t, &ds)
	require.Equal(t, "list", ds.Object)
	require.Len(t, ds.Data, 2, "created and requires_action")
	require.Equal(t, "endpoint:shop", ds.Data[0].Destination)
	require.Equal(t, "delivery", ds.Data[0].Object)

	r = e.do(req{method: "POST", path: "/events/" + ds.Data[0].EventID + "/redeliver"})
	require.Equal(t, http.StatusOK, r.Status)
	require.JSONEq(t, `{"object":"redelivery","event_id":"`+ds.Data[0].EventID+`","redelivered":1}`, string(r.Body))

	e.do(req{method: "POST", path: "/events/evt_unknown/redeliver"}).requireError(t, http.StatusNotFound, "NOT_FOUND", "")
	e.do(req{method: "GET", path: "/events"}).requireError(t, http.StatusBadRequest, "INVALID_INPUT", "delivery")
	e.do(req{method: "GET", path: "/events?delivery=failed&limit=0"}).requireError(t, http.StatusBadRequest, "INVALID_INPUT", "limit")
	e.do(req{method: "GET", path: "/events?delivery=failed", noKey: true}).requireError(t, http.StatusUnauthorized, "UNAUTHORIZED", "")
}
