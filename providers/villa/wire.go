package villa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/paykit/paykit/payment"
)

// bangkok is Asia/Bangkok. Thailand keeps UTC+7 all year, so a fixed zone
// is exact and needs no time zone database.
var bangkok = time.FixedZone("ICT", 7*60*60)

// kbankTimeLayout is the first 14 digits of KBank's YYYYMMDDHHmmssSSS.
const kbankTimeLayout = "20060102150405"

// ParseKBankTime parses KBank's "created" timestamp, YYYYMMDDHHmmssSSS in
// Asia/Bangkok local time ("20250530205658833"); the milliseconds may be
// missing. The result is in UTC.
func ParseKBankTime(s string) (time.Time, error) {
	if (len(s) != 17 && len(s) != 14) || !allDigits(s) {
		return time.Time{}, fmt.Errorf("villa: %q is not a YYYYMMDDHHmmssSSS time", s)
	}
	t, err := time.ParseInLocation(kbankTimeLayout, s[:14], bangkok)
	if err != nil {
		return time.Time{}, fmt.Errorf("villa: %q is not a YYYYMMDDHHmmssSSS time: %w", s, err)
	}
	if len(s) == 17 {
		ms, _ := strconv.Atoi(s[14:])
		t = t.Add(time.Duration(ms) * time.Millisecond)
	}
	return t.UTC(), nil
}

// FormatKBankTime formats t as KBank's YYYYMMDDHHmmssSSS in Asia/Bangkok.
func FormatKBankTime(t time.Time) string {
	t = t.In(bangkok)
	return t.Format(kbankTimeLayout) + fmt.Sprintf("%03d", t.Nanosecond()/int(time.Millisecond))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// FormatAmount formats minor units of currency as Villa's decimal amount with
// two decimal places ("1000.00").
func FormatAmount(m payment.Money) (string, error) {
	exp, err := payment.CurrencyExponent(m.Currency)
	if err != nil {
		return "", err
	}
	return payment.FormatDecimal(m.Amount, exp, 2), nil
}

// ParseAmount parses a Villa or KBank amount (a JSON number or string such
// as 300.0, 1000.00 or "1000") in currency, exactly.
func ParseAmount(raw json.RawMessage, currency string) (payment.Money, error) {
	s, ok := rawDecimal(raw)
	if !ok {
		return payment.Money{}, fmt.Errorf("%w: amount %s is not a number", payment.ErrInvalidAmount, truncate(string(raw), 40))
	}
	return payment.ParseMoney(s, currency)
}

// rawDecimal returns the decimal text of a JSON number or numeric string.
func rawDecimal(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return strings.TrimSpace(s), s != ""
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", false
	}
	return n.String(), true
}

// rawString returns a JSON string, number or boolean as text; null and
// anything else are "".
func rawString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case 't', 'f':
		return string(raw)
	default:
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String()
		}
	}
	return ""
}

// rawBool reads true, false, "true" or "false" (KBank sometimes sends
// livemode as a string).
func rawBool(raw json.RawMessage) bool {
	return strings.EqualFold(rawString(raw), "true")
}

// rawInt reads a JSON integer or numeric string.
func rawInt(raw json.RawMessage) (int64, bool) {
	s := rawString(raw)
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// object is a JSON object with its values kept raw.
type object map[string]json.RawMessage

func decodeObject(b []byte) (object, error) {
	var o object
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&o); err != nil {
		return nil, err
	}
	if o == nil {
		return nil, errors.New("not a JSON object")
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	return o, nil
}

// str returns the first of keys that holds a non-empty value, as text.
func (o object) str(keys ...string) string {
	for _, k := range keys {
		if s := rawString(o[k]); s != "" {
			return s
		}
	}
	return ""
}

// raw returns the first of keys that is present and not null.
func (o object) raw(keys ...string) json.RawMessage {
	for _, k := range keys {
		if v, ok := o[k]; ok && string(bytes.TrimSpace(v)) != "null" {
			return v
		}
	}
	return nil
}

func (o object) obj(key string) object {
	v := o.raw(key)
	if len(v) == 0 || bytes.TrimSpace(v)[0] != '{' {
		return nil
	}
	sub, err := decodeObject(v)
	if err != nil {
		return nil
	}
	return sub
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// KBankOrder is the KBank K-Payment Gateway order object Villa returns for
// QR and WeChat payments and for order creation. Status "success" means the
// order was created, not that it was paid.
type KBankOrder struct {
	// ID is KBank's order id ("order_test_..." or "order_prod_...").
	ID string
	// Object is "order".
	Object string
	// Created is when KBank created it (sent as YYYYMMDDHHmmssSSS in
	// Asia/Bangkok), in UTC.
	Created time.Time
	// Livemode is false for test orders.
	Livemode bool
	// Amount is the order's amount, parsed exactly.
	Amount payment.Money
	// Customer and Metadata are passed through raw (usually null).
	Customer json.RawMessage
	Metadata json.RawMessage
	// Description is the order's description.
	Description string
	// Status is "success" when the order was created, "error" otherwise.
	Status string
	// ReferenceOrder is Villa's order id followed by a Unix timestamp
	// ("4925000046321748613417.737979"), unique per attempt.
	ReferenceOrder string
	// SourceType is "qr" or "wechat" (or "card").
	SourceType string
	// AdditionalData holds SmartPay installment parameters.
	AdditionalData KBankAdditionalData
	// FailureCode and FailureMessage say why creating it failed.
	FailureCode    string
	FailureMessage string
	// ExpireTimeSeconds is how long the customer has to pay.
	ExpireTimeSeconds int64
	// QRCode and QRImage are the QR payload and image, when Villa's answer
	// carries them (fields qr_code and qr_image; not in the documented
	// object).
	QRCode  string
	QRImage string
}

// KBankAdditionalData is an order's SmartPay (installment) parameters.
type KBankAdditionalData struct {
	Term       string
	MID        string
	TID        string
	SmartpayID string
	CampaignID string
}

// ExpiresAt returns when the order expires, or nil when it does not say.
func (o *KBankOrder) ExpiresAt() *time.Time {
	if o.Created.IsZero() || o.ExpireTimeSeconds <= 0 {
		return nil
	}
	t := o.Created.Add(time.Duration(o.ExpireTimeSeconds) * time.Second)
	return &t
}

// UnmarshalJSON parses the order object exactly: the amount without
// float64, created as Bangkok time, livemode as a boolean or a string.
func (o *KBankOrder) UnmarshalJSON(b []byte) error {
	obj, err := decodeObject(b)
	if err != nil {
		return fmt.Errorf("villa: KBank order: %w", err)
	}
	return o.fromObject(obj)
}

func (o *KBankOrder) fromObject(obj object) error {
	*o = KBankOrder{
		ID:             obj.str("id"),
		Object:         obj.str("object"),
		Livemode:       rawBool(obj["livemode"]),
		Customer:       obj.raw("customer"),
		Metadata:       obj.raw("metadata"),
		Description:    obj.str("description"),
		Status:         obj.str("status"),
		ReferenceOrder: obj.str("reference_order"),
		SourceType:     obj.str("source_type"),
		FailureCode:    obj.str("failure_code"),
		FailureMessage: obj.str("failure_message"),
		QRCode:         obj.str("qr_code", "qrCode", "qr"),
		QRImage:        obj.str("qr_image", "qrImage"),
	}
	if ad := obj.obj("additional_data"); ad != nil {
		o.AdditionalData = KBankAdditionalData{
			Term:       ad.str("term"),
			MID:        ad.str("mid"),
			TID:        ad.str("tid"),
			SmartpayID: ad.str("smartpay_id"),
			CampaignID: ad.str("campaign_id"),
		}
	}
	if s := obj.str("created"); s != "" {
		t, err := ParseKBankTime(s)
		if err != nil {
			return err
		}
		o.Created = t
	}
	if n, ok := rawInt(obj["expire_time_seconds"]); ok {
		o.ExpireTimeSeconds = n
	}
	cur := obj.str("currency")
	if cur == "" {
		cur = "THB"
	}
	if raw := obj.raw("amount"); raw != nil {
		m, err := ParseAmount(raw, strings.ToUpper(cur))
		if err != nil {
			return fmt.Errorf("villa: KBank order %s: %w", o.ID, err)
		}
		o.Amount = m
	} else {
		o.Amount = payment.Money{Currency: strings.ToUpper(cur)}
	}
	return nil
}

// Failed reports whether the object says the order was not created.
func (o *KBankOrder) Failed() bool {
	return o.Object == "error" || strings.EqualFold(o.Status, "error") || o.FailureCode != "" || o.FailureMessage != ""
}

// KBankCharge is the KBank card charge object Villa returns for card
// payments (and KBank sends to its notify URL).
type KBankCharge struct {
	// ID is KBank's charge id ("chrg_test_...").
	ID string
	// Object is "charge", or "error" when the charge failed.
	Object string
	// Amount is the charge's amount, parsed exactly.
	Amount payment.Money
	// TransactionState is Authorized (charged), Pre-Authorized (waiting for
	// 3-D Secure), Declined or Settled.
	TransactionState string
	// Status is "success" or "error".
	Status string
	// Source describes the card.
	Source KBankCardSource
	// Created is when the charge was made, in UTC.
	Created  time.Time
	Livemode bool
	// ApprovalCode is the issuer's approval code.
	ApprovalCode string
	// FailureCode and FailureMessage say why the charge failed; Code and
	// Message are set instead on an "error" object.
	FailureCode    string
	FailureMessage string
	Code           string
	Message        string
	// RedirectURL is the 3-D Secure page, for Pre-Authorized.
	RedirectURL    string
	ReferenceOrder string
	Description    string
	// Checksum is KBank's notify checksum (see KBankChecksum).
	Checksum string
}

// KBankCardSource describes the card of a charge, masked.
type KBankCardSource struct {
	ID          string
	Brand       string
	CardMasking string
	IssuerBank  string
}

// UnmarshalJSON parses the charge object exactly.
func (c *KBankCharge) UnmarshalJSON(b []byte) error {
	obj, err := decodeObject(b)
	if err != nil {
		return fmt.Errorf("villa: KBank charge: %w", err)
	}
	return c.fromObject(obj)
}

func (c *KBankCharge) fromObject(obj object) error {
	*c = KBankCharge{
		ID:               obj.str("id"),
		Object:           obj.str("object"),
		TransactionState: obj.str("transaction_state"),
		Status:           obj.str("status"),
		Livemode:         rawBool(obj["livemode"]),
		ApprovalCode:     obj.str("approval_code"),
		FailureCode:      obj.str("failure_code"),
		FailureMessage:   obj.str("failure_message"),
		Code:             obj.str("code"),
		Message:          obj.str("message"),
		RedirectURL:      obj.str("redirect_url"),
		ReferenceOrder:   obj.str("reference_order"),
		Description:      obj.str("description"),
		Checksum:         obj.str("checksum"),
	}
	if src := obj.obj("source"); src != nil {
		c.Source = KBankCardSource{
			ID:          src.str("id"),
			Brand:       src.str("brand"),
			CardMasking: src.str("card_masking"),
			IssuerBank:  src.str("issuer_bank"),
		}
	}
	if s := obj.str("created"); s != "" {
		t, err := ParseKBankTime(s)
		if err != nil {
			return err
		}
		c.Created = t
	}
	cur := strings.ToUpper(obj.str("currency"))
	if cur == "" {
		cur = "THB"
	}
	c.Amount = payment.Money{Currency: cur}
	if raw := obj.raw("amount"); raw != nil {
		m, err := ParseAmount(raw, cur)
		if err != nil {
			return fmt.Errorf("villa: KBank charge %s: %w", c.ID, err)
		}
		c.Amount = m
	}
	return nil
}

// Failed reports whether KBank considers the charge an error: no object,
// object "error", or a failure code or message (as KBank's own plugins
// check).
func (c *KBankCharge) Failed() bool {
	return c.Object == "" || c.Object == "error" || c.FailureCode != "" || c.FailureMessage != ""
}
