package vepara

import (
	"context"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"

	"github.com/paykit/paykit/payment"
)

// SubMerchant is a marketplace sub-merchant, as the platform's sub-merchant
// API (/api/sub-merchant/...) describes it. Empty fields are not sent.
type SubMerchant struct {
	// ID is the platform's sub_merchant_id ("98950-90-7111155889"); it is
	// what Item.SubMerchantID names.
	ID                      string
	TerminalNo              string
	Name                    string
	Email                   string
	Phone                   string
	IdentityNumber          string
	Description             string
	FullCompanyName         string
	AuthorizedPersonName    string
	AuthorizedPersonSurname string
	AuthorizedPersonPhone   string
	AuthorizedPersonEmail   string
	ContactPersonPhone      string
	BusinessArea            string
	// ZipCode has 5 digits.
	ZipCode string
	// IBAN is a Turkish IBAN (TR and 24 digits).
	IBAN             string
	SettlementID     string
	AutoApprovalDays int
	// AutoWithdrawal turns automatic withdrawal on or off, when set.
	AutoWithdrawal *bool
	// AutoWithdrawalConfig configures it.
	AutoWithdrawalConfig *AutoWithdrawal
}

// AutoWithdrawal is a sub-merchant's automatic withdrawal configuration.
type AutoWithdrawal struct {
	Currency     string
	SettlementID string
	// RemainAmount is what stays in the balance, in minor units of Currency.
	RemainAmount int64
}

// fields returns the non-empty fields under the platform's names.
func (p *Provider) subMerchantFields(s *SubMerchant) (map[string]any, error) {
	m := map[string]any{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("terminal_no", s.TerminalNo)
	put("sub_merchant_name", s.Name)
	put("sub_merchant_email", s.Email)
	put("sub_merchant_phone", s.Phone)
	put("identity_number", s.IdentityNumber)
	put("sub_merchant_description", s.Description)
	put("full_company_name", s.FullCompanyName)
	put("authorized_person_name", s.AuthorizedPersonName)
	put("authorized_person_surname", s.AuthorizedPersonSurname)
	put("authorized_person_phone", s.AuthorizedPersonPhone)
	put("authorized_person_email", s.AuthorizedPersonEmail)
	put("contact_person_phone", s.ContactPersonPhone)
	put("business_area", s.BusinessArea)
	put("zip_code", s.ZipCode)
	put("iban_no", strings.ReplaceAll(s.IBAN, " ", ""))
	put("settlement_id", s.SettlementID)
	if s.AutoApprovalDays > 0 {
		m["auto_approval_days"] = s.AutoApprovalDays
	}
	if s.AutoWithdrawal != nil {
		v := 0
		if *s.AutoWithdrawal {
			v = 1
		}
		m["is_enable_auto_widrawal"] = v // sic: the platform's spelling
	}
	if c := s.AutoWithdrawalConfig; c != nil {
		remain, err := p.formatAmount(c.RemainAmount, c.Currency)
		if err != nil {
			return nil, payment.InvalidField("automatic_withdrawal_configuration.currency_code", "is not a currency")
		}
		m["automatic_withdrawal_configuration"] = map[string]any{
			"currency_code":                 c.Currency,
			"auto_withdrawal_settlement_id": c.SettlementID,
			"auto_withdrawal_remain_amount": json.Number(remain),
		}
	}
	return m, nil
}

// validateSubMerchant checks the formats the platform enforces.
func validateSubMerchant(s *SubMerchant, add bool) error {
	if s == nil {
		return payment.MissingField("sub_merchant")
	}
	if add && strings.TrimSpace(s.Name) == "" {
		return payment.MissingField("sub_merchant_name")
	}
	if s.ZipCode != "" && (len(s.ZipCode) != 5 || !allDigits(s.ZipCode)) {
		return payment.InvalidField("zip_code", "must be 5 digits")
	}
	if s.IBAN != "" && !ValidTurkishIBAN(s.IBAN) {
		return payment.InvalidField("iban_no", "must be a valid Turkish IBAN")
	}
	if s.Email != "" && (!strings.Contains(s.Email, "@") || len(s.Email) > 255) {
		return payment.InvalidField("sub_merchant_email", "must be an email address")
	}
	if s.AutoApprovalDays < 0 {
		return payment.InvalidField("auto_approval_days", "must not be negative")
	}
	return nil
}

// ValidTurkishIBAN reports whether s (spaces allowed) is TR, 2 check digits
// and 22 more digits, with a valid ISO 13616 mod-97 checksum.
func ValidTurkishIBAN(s string) bool {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	if len(s) != 26 || !strings.HasPrefix(s, "TR") || !allDigits(s[2:]) {
		return false
	}
	// Move the first 4 characters to the end; T=29, R=27.
	n, ok := new(big.Int).SetString(s[4:]+"2927"+s[2:4], 10)
	if !ok {
		return false
	}
	return new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

// subMerchantResponse is the answer of the sub-merchant endpoints. The id
// of a new sub-merchant comes in data or at the top level.
type subMerchantResponse struct {
	baseResponse
	SubMerchantID flexString      `json:"sub_merchant_id"`
	Data          json.RawMessage `json:"data"`
}

func subMerchantErr(op string, out *subMerchantResponse) error {
	if out.code() == CodeSubMerchantNotFound {
		return providerError(op, "80", out.describe(), false, payment.ErrNotFound)
	}
	return codeError(op, &out.baseResponse)
}

// AddSubMerchant registers a sub-merchant and returns its sub_merchant_id.
func (p *Provider) AddSubMerchant(ctx context.Context, s *SubMerchant) (string, error) {
	const op = "sub_merchant_add"
	if err := validateSubMerchant(s, true); err != nil {
		return "", providerError(op, "invalid_input", "", false, err)
	}
	body, err := p.subMerchantFields(s)
	if err != nil {
		return "", providerError(op, "invalid_input", "", false, err)
	}
	body["merchant_key"] = p.cred.MerchantKey
	var out subMerchantResponse
	if err := p.call(ctx, op, http.MethodPost, "/api/sub-merchant/add", body, &out); err != nil {
		return "", err
	}
	if out.code() != CodeSuccess {
		return "", subMerchantErr(op, &out)
	}
	id := string(out.SubMerchantID)
	if len(out.Data) > 0 && out.Data[0] == '{' {
		var d struct {
			SubMerchantID flexString `json:"sub_merchant_id"`
		}
		if json.Unmarshal(out.Data, &d) == nil && d.SubMerchantID != "" {
			id = string(d.SubMerchantID)
		}
	}
	if id == "" {
		return "", providerError(op, "", "answer without sub_merchant_id", false, nil)
	}
	return id, nil
}

// EditSubMerchant changes the given (non-empty) fields of a sub-merchant.
// An unknown id is an error wrapping payment.ErrNotFound.
func (p *Provider) EditSubMerchant(ctx context.Context, id string, change *SubMerchant) error {
	const op = "sub_merchant_edit"
	if id == "" {
		return providerError(op, "invalid_input", "", false, payment.MissingField("sub_merchant_id"))
	}
	if err := validateSubMerchant(change, false); err != nil {
		return providerError(op, "invalid_input", "", false, err)
	}
	fields, err := p.subMerchantFields(change)
	if err != nil {
		return providerError(op, "invalid_input", "", false, err)
	}
	body := map[string]any{"merchant_key": p.cred.MerchantKey, "sub_merchant_id": id, "change_data": fields}
	var out subMerchantResponse
	if err := p.call(ctx, op, http.MethodPost, "/api/sub-merchant/edit", body, &out); err != nil {
		return err
	}
	if out.code() != CodeSuccess {
		return subMerchantErr(op, &out)
	}
	return nil
}

// DeleteSubMerchant deletes a sub-merchant. An unknown id is an error
// wrapping payment.ErrNotFound.
func (p *Provider) DeleteSubMerchant(ctx context.Context, id string) error {
	const op = "sub_merchant_delete"
	if id == "" {
		return providerError(op, "invalid_input", "", false, payment.MissingField("sub_merchant_id"))
	}
	body := map[string]any{"merchant_key": p.cred.MerchantKey, "sub_merchant_id": id}
	var out subMerchantResponse
	if err := p.call(ctx, op, http.MethodPost, "/api/sub-merchant/delete", body, &out); err != nil {
		return err
	}
	if out.code() != CodeSuccess {
		return subMerchantErr(op, &out)
	}
	return nil
}

// ListSubMerchants lists the merchant's sub-merchants (GET
// /api/sub-merchant/list, which reads a JSON body).
func (p *Provider) ListSubMerchants(ctx context.Context) ([]SubMerchant, error) {
	const op = "sub_merchant_list"
	var out subMerchantResponse
	if err := p.call(ctx, op, http.MethodGet, "/api/sub-merchant/list", map[string]string{"merchant_key": p.cred.MerchantKey}, &out); err != nil {
		return nil, err
	}
	if out.code() != CodeSuccess {
		return nil, subMerchantErr(op, &out)
	}
	raw := out.Data
	if len(raw) > 0 && raw[0] == '{' { // paginated: {"data":[...]} or {"sub_merchants":[...]}
		var page struct {
			Data         json.RawMessage `json:"data"`
			SubMerchants json.RawMessage `json:"sub_merchants"`
		}
		if json.Unmarshal(raw, &page) == nil {
			raw = page.Data
			if len(raw) == 0 {
				raw = page.SubMerchants
			}
		}
	}
	var wire []map[string]flexString
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &wire); err != nil {
			return nil, providerError(op, "", "unreadable sub-merchant list", false, err)
		}
	}
	list := make([]SubMerchant, 0, len(wire))
	for _, w := range wire {
		s := SubMerchant{
			ID: string(w["sub_merchant_id"]), TerminalNo: string(w["terminal_no"]),
			Name: string(w["sub_merchant_name"]), Email: string(w["sub_merchant_email"]),
			Phone: string(w["sub_merchant_phone"]), IdentityNumber: string(w["identity_number"]),
			Description: string(w["sub_merchant_description"]), FullCompanyName: string(w["full_company_name"]),
			AuthorizedPersonName: string(w["authorized_person_name"]), AuthorizedPersonSurname: string(w["authorized_person_surname"]),
			AuthorizedPersonPhone: string(w["authorized_person_phone"]), AuthorizedPersonEmail: string(w["authorized_person_email"]),
			ContactPersonPhone: string(w["contact_person_phone"]), BusinessArea: string(w["business_area"]),
			ZipCode: string(w["zip_code"]), IBAN: string(w["iban_no"]), SettlementID: string(w["settlement_id"]),
		}
		if n, ok := w["auto_approval_days"].Int(); ok {
			s.AutoApprovalDays = n
		}
		list = append(list, s)
	}
	return list, nil
}
