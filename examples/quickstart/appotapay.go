package main

import (
	"net/http/httptest"
	"os"

	"go.uber.org/zap"

	"github.com/paykit/paykit/providers/appotapay"
	"github.com/paykit/paykit/providers/appotapay/appotapaysim"
)

// addAppotaPay registers appotapay: against PAYKIT_APPOTAPAY_BASE_URL when
// set (with PAYKIT_APPOTAPAY_PARTNER_CODE, PAYKIT_APPOTAPAY_API_KEY and
// PAYKIT_APPOTAPAY_SECRET_KEY), otherwise against an in-process simulator.
// Demo wallet tokens for ewallet checkouts: appotapaysim.WalletToken pays at
// once, appotapaysim.WalletTokenOTP asks for the OTP 123456.
func addAppotaPay(r *registry, baseURL string, logger *zap.Logger) error {
	opts := []appotapay.Option{
		appotapay.WithLogger(logger),
		appotapay.WithDefaultReturnURL(baseURL + "/"),
	}
	if base := os.Getenv("PAYKIT_APPOTAPAY_BASE_URL"); base != "" {
		p, err := appotapay.New(appotapay.Config{
			PartnerCode: os.Getenv("PAYKIT_APPOTAPAY_PARTNER_CODE"),
			APIKey:      os.Getenv("PAYKIT_APPOTAPAY_API_KEY"),
			SecretKey:   os.Getenv("PAYKIT_APPOTAPAY_SECRET_KEY"),
		}, append(opts, appotapay.WithBaseURL(base))...)
		if err != nil {
			return err
		}
		r.add(p, nil)
		return nil
	}
	sim := appotapaysim.New()
	srv := httptest.NewServer(sim)
	r.closers = append(r.closers, srv.Close, sim.Close)
	partner, key, secret := sim.Credentials()
	p, err := appotapay.New(appotapay.Config{PartnerCode: partner, APIKey: key, SecretKey: secret},
		append(opts, appotapay.WithBaseURL(srv.URL), appotapay.WithEWalletBaseURL(srv.URL))...)
	if err != nil {
		return err
	}
	r.add(p, sim)
	return nil
}
