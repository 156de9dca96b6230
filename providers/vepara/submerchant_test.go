package vepara_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/paykit/paykit/payment"
	"github.com/paykit/paykit/providers/vepara"
)

// validIBAN is a Turkish IBAN with a correct checksum.
const validIBAN = "TR330006100519786457841326"

func TestValidTurkishIBAN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		iban string
		ok   bool
	}{
		{validIBAN, true},
		{"TR33 0006 1005 1978 6457 8413 26", true},
		{"tr330006100519786457841326", true},
		{"TR330006100519786457841327", false}, // checksum
		{"TR34000610051978645784132", false},  // 25 characters
		{"DE89370400440532013000", false},     // not Turkish
		{"TR33000610051978645784132X", false},
		{"", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.ok, vepara.ValidTurkishIBAN(tt.iban), tt.iban)
	}
}

func TestSubMerchantLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := t.Context()
	auto := true
	id, err := e.p.AddSubMerchant(ctx, &vepara.SubMerchant{
		Name: "Kitap Evi", Email: "shop@example.com", Phone: "+905551112233", IBAN: validIBAN, ZipCode: "34000",
		IdentityNumber: "11111111110", BusinessArea: "books", AutoApprovalDays: 3, AutoWithdrawal: &auto,
		AutoWithdrawalConfig: &vepara.AutoWithdrawal{Currency: "TRY", SettlementID: "1", RemainAmount: 150050},
	})
	require.NoError(t, err)
	require.NotEmpty(t, id)
	body := e.last(t, "/api/sub-merchant/add")
	require.Equal(t, e.sim.MerchantKey(), body["merchant_key"])
	require.Equal(t, "Kitap Evi", body["sub_merchant_name"])
	require.Equal(t, json.Number("1"), body["is_enable_auto_widrawal"], "the platform's own spelling")
	require.Equal(t, map[string]any{
		"currency_code": "TRY", "auto_withdrawal_settlement_id": "1",
		"auto_withdrawal_remain_amount": json.Number("1500.5"),
	}, body["automatic_withdrawal_configuration"])
	require.NotContains(t, body, "terminal_no", "empty fields are not sent")

	list, err := e.p.ListSubMerchants(ctx)
	require.NoError(t, err)
	var found *vepara.SubMerchant
	for i := range list {
		if list[i].ID == id {
			found = &list[i]
		}
	}
	require.NotNil(t, found)
	require.Equal(t, "Kitap Evi", found.Name)
	require.Equal(t, validIBAN, found.IBAN)
	require.Equal(t, 3, found.AutoApprovalDays)
	require.Len(t, list, 4, "the three sample sub-merchants and the new one")

	require.NoError(t, e.p.EditSubMerchant(ctx, id, &vepara.SubMerchant{Name: "Kitap Evi 2"}))
	body = e.last(t, "/api/sub-merchant/edit")
	require.Equal(t, map[string]any{"sub_merchant_name": "Kitap Evi 2"}, body["change_data"])
	for _, sm := range e.sim.SubMerchants() {
		if sm.ID == id {
			require.Equal(t, "Kitap Evi 2", sm.Name)
			require.Equal(t, "shop@example.com", sm.Email, "fields not in change_data stay")
		}
	}

	// A marketplace sale may name the new sub-merchant.
	req := marketplaceCheckout()
	req.Payment.Items[0].SubMerchantID = id
	_, st := start(t, e.p, req)
	require.Equal(t, payment.StatusSucceeded, st.Status)

	require.NoError(t, e.p.DeleteSubMerchant(ctx, id))
	err = e.p.DeleteSubMerchant(ctx, id)
	require.ErrorIs(t, err, payment.ErrNotFound)
	require.ErrorIs(t, e.p.EditSubMerchant(ctx, id, &vepara.SubMerchant{Name: "x"}), payment.ErrNotFound)

	req = marketplaceCheckout()
	req.Payment.Items[0].SubMerchantID = id
	_, err = e.p.Start(ctx, req)
	require.ErrorIs(t, err, payment.ErrNotFound, "a deleted sub-merchant cannot sell (80)")
}

func TestSubMerchantValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name  string
		sm    *vepara.SubMerchant
		field string
	}{
		{"nil", nil, "sub_merchant"},
		{"no name", &vepara.SubMerchant{Email: "a@b.c", IBAN: validIBAN}, "sub_merchant_name"},
		{"bad IBAN", &vepara.SubMerchant{Name: "n", Email: "a@b.c", IBAN: "TR330006100519786457841327"}, "iban_no"},
		{"bad zip", &vepara.SubMerchant{Name: "n", Email: "a@b.c", IBAN: validIBAN, ZipCode: "3400"}, "zip_code"},
		{"bad email", &vepara.SubMerchant{Name: "n", Email: "nope", IBAN: validIBAN}, "sub_merchant_email"},
		{"negative days", &vepara.SubMerchant{Name: "n", Email: "a@b.c", IBAN: validIBAN, AutoApprovalDays: -1}, "auto_approval_days"},
		{"unknown currency", &vepara.SubMerchant{
			Name: "n", Email: "a@b.c", IBAN: validIBAN,
			AutoWithdrawalConfig: &vepara.AutoWithdrawal{Currency: "XXZ"},
		}, "automatic_withdrawal_configuration.currency_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.p.AddSubMerchant(t.Context(), tt.sm)
			var ve *payment.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.field, ve.Field)
		})
	}
	require.Equal(t, 0, e.sim.Calls("/api/sub-merchant/add"), "nothing invalid is sent")
	require.ErrorIs(t, e.p.EditSubMerchant(t.Context(), "", &vepara.SubMerchant{}), payment.ErrInvalidInput)
	require.ErrorIs(t, e.p.DeleteSubMerchant(t.Context(), ""), payment.ErrInvalidInput)

	// The platform's own 422 (here: no email, which the provider leaves to it).
	_, err := e.p.AddSubMerchant(t.Context(), &vepara.SubMerchant{Name: "n", IBAN: validIBAN})
	var ve *payment.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "sub_merchant_email", ve.Field)
}
