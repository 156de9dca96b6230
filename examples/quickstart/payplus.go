package main

import (
	"os"

	"go.uber.org/zap"

	"github.com/paykit/paykit/providers/payplus"
	"github.com/paykit/paykit/providers/payplus/payplussim"
)

// addPayPlus registers payplus: against PAYKIT_PAYPLUS_BASE_URL when set
// (with PAYKIT_PAYPLUS_MERCHANT_ID and PAYKIT_PAYPLUS_API_KEY), otherwise
// against an in-process simulator that plays the payer and the bank.
func addPayPlus(r *registry, _ string, logger *zap.Logger) error {
	if base := os.Getenv("PAYKIT_PAYPLUS_BASE_URL"); base != "" {
		p, err := payplus.New(payplus.Config{
			BaseURL:    base,
			MerchantID: os.Getenv("PAYKIT_PAYPLUS_MERCHANT_ID"),
			APIKey:     os.Getenv("PAYKIT_PAYPLUS_API_KEY"),
		}, payplus.WithLogger(logger))
		if err != nil {
			return err
		}
		r.add(p, nil)
		return nil
	}
	sim := payplussim.New()
	r.closers = append(r.closers, sim.Close)
	p, err := payplus.New(payplus.Config{
		BaseURL:    "http://payplus.sim" + payplussim.DefaultPrefix,
		MerchantID: payplussim.DefaultMerchantID,
		APIKey:     payplussim.DefaultAPIKey,
	}, payplus.WithHTTPClient(sim.Client()), payplus.WithLogger(logger))
	if err != nil {
		return err
	}
	r.add(p, sim)
	return nil
}
