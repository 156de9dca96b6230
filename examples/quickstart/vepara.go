package main

import (
	"net/http/httptest"
	"os"

	"go.uber.org/zap"

	"github.com/paykit/paykit/providers/vepara"
	"github.com/paykit/paykit/providers/vepara/veparasim"
)

// veparaWebhookKey names, in the merchant panel, the URL Vepara posts sale
// webhooks to.
const veparaWebhookKey = "paykit"

// addVepara registers vepara: against PAYKIT_VEPARA_BASE_URL when set (with
// PAYKIT_VEPARA_APP_ID, PAYKIT_VEPARA_APP_SECRET and
// PAYKIT_VEPARA_MERCHANT_KEY), otherwise against an in-process simulator
// whose "merchant panel" points the sale webhook at this server.
func addVepara(r *registry, baseURL string, logger *zap.Logger) error {
	opts := []vepara.Option{vepara.WithLogger(logger), vepara.WithSaleWebhookKey(veparaWebhookKey)}
	if base := os.Getenv("PAYKIT_VEPARA_BASE_URL"); base != "" {
		p, err := vepara.New(vepara.Config{
			AppID:       os.Getenv("PAYKIT_VEPARA_APP_ID"),
			AppSecret:   os.Getenv("PAYKIT_VEPARA_APP_SECRET"),
			MerchantKey: os.Getenv("PAYKIT_VEPARA_MERCHANT_KEY"),
		}, append(opts, vepara.WithBaseURL(base))...)
		if err != nil {
			return err
		}
		r.add(p, nil)
		return nil
	}
	sim := veparasim.New()
	srv := httptest.NewServer(sim)
	r.closers = append(r.closers, srv.Close, sim.Close)
	sim.SetWebhookURL(veparaWebhookKey, baseURL+"/pay/webhooks/vepara")
	p, err := vepara.New(vepara.Config{AppID: sim.AppID(), AppSecret: sim.AppSecret(), MerchantKey: sim.MerchantKey()},
		append(opts, vepara.WithBaseURL(srv.URL))...)
	if err != nil {
		return err
	}
	r.add(p, sim)
	return nil
}
