package appotapay_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/appotapay"
	"github.com/paykit/paykit/providers/appotapay/appotapaysim"
	"github.com/paykit/paykit/providers/providertest"
)

// The provider against an in-process simulator: a linked wallet that asks
// for an OTP, confirmed with the code the simulator "sent".
func Example_simulator() {
	sim := appotapaysim.New()
	defer sim.Close()
	srv := httptest.NewServer(sim)
	defer srv.Close()

	partner, apiKey, secret := sim.Credentials()
	p, err := appotapay.New(appotapay.Config{PartnerCode: partner, APIKey: apiKey, SecretKey: secret},
		appotapay.WithBaseURL(srv.URL), appotapay.WithEWalletBaseURL(srv.URL))
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	req := providertest.NewStartRequest(p.Name(), payment.MethodEWallet, 120_000, "VND")
	req.PaymentToken = appotapaysim.WalletTokenOTP
	st, err := p.Start(ctx, req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(st.Status, st.NextAction.Type)

	req.Payment.Status, req.Payment.NextAction = st.Status, st.NextAction
	otp, _ := sim.OTP(req.Payment.ID)
	st, err = p.Confirm(ctx, req.Payment, &payment.Confirmation{OTP: otp})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(st.Status, st.Amount)
	// Output:
	// requires_action otp
	// succeeded 120000 VND
}
