package payment

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// A payment is encoded on every API response, in every event's snapshot and
// in every webhook. AppendJSON writes it without reflection, byte for byte
// what encoding/json writes for its json tags (payment/json_test.go holds
// the two together, for every field). It is not a MarshalJSON method:
// encoding/json checks and copies what a MarshalJSON returns, which costs
// more than its own reflection.

// AppendJSON appends the payment's JSON form (the HTTP API's) to b and
// returns the extended buffer, in about a fifth of json.Marshal's time and
// without its allocations. With escapeHTML it writes what json.Marshal
// writes; without, what a json.Encoder with SetEscapeHTML(false) writes
// (<, > and & as they are). It fails where they fail: on a time outside
// the years 0 to 9999.
func (p *Payment) AppendJSON(b []byte, escapeHTML bool) ([]byte, error) {
	e := jsonAppender{html: escapeHTML}
	b = append(b, `{"object":`...)
	b = e.str(b, p.Object)
	b = e.field(b, "id", p.ID)
	b = e.field(b, "provider", p.Provider)
	b = e.field(b, "method", string(p.Method))
	b = e.field(b, "order_id", p.OrderID)
	b = appendIntField(b, "amount", p.Amount)
	b = e.field(b, "currency", p.Currency)
	b = appendIntField(b, "amount_captured", p.AmountCaptured)
	b = appendIntField(b, "amount_refunded", p.AmountRefunded)
	b = appendIntField(b, "amount_refund_pending", p.AmountRefundPending)
	b = e.field(b, "status", string(p.Status))
	b = e.field(b, "capture_method", string(p.CaptureMethod))
	b = e.field(b, "provider_reference", p.ProviderReference)
	b = append(b, `,"next_action":`...)
	var err error
	if b, err = p.NextAction.appendJSON(e, b); err != nil {
		return nil, err
	}
	b = append(b, `,"failure":`...)
	b = p.Failure.appendJSON(e, b)
	if p.Card != nil {
		b = append(b, `,"card":{"brand":`...)
		b = e.str(b, p.Card.Brand)
		b = e.field(b, "last4", p.Card.Last4)
		b = append(b, '}')
	}
	if p.Customer != nil {
		b = append(b, `,"customer":`...)
		b = p.Customer.appendJSON(e, b)
	}
	if p.Description != "" {
		b = e.field(b, "description", p.Description)
	}
	if len(p.Items) > 0 {
		b = append(b, `,"items":[`...)
		for i := range p.Items {
			if i > 0 {
				b = append(b, ',')
			}
			b = p.Items[i].appendJSON(e, b)
		}
		b = append(b, ']')
	}
	if len(p.Metadata) > 0 {
		b = append(b, `,"metadata":`...)
		b = e.stringMap(b, p.Metadata)
	}
	if p.ReturnURL != "" {
		b = e.field(b, "return_url", p.ReturnURL)
	}
	if len(p.Flags) > 0 {
		b = append(b, `,"flags":[`...)
		for i, f := range p.Flags {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.str(b, f)
		}
		b = append(b, ']')
	}
	b = append(b, `,"expires_at":`...)
	if p.ExpiresAt == nil {
		b = append(b, "null"...)
	} else if b, err = appendJSONTime(b, *p.ExpiresAt); err != nil {
		return nil, err
	}
	b = append(b, `,"created_at":`...)
	if b, err = appendJSONTime(b, p.CreatedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = appendJSONTime(b, p.UpdatedAt); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

func (a *NextAction) appendJSON(e jsonAppender, b []byte) ([]byte, error) {
	if a == nil {
		return append(b, "null"...), nil
	}
	b = append(b, `{"type":`...)
	b = e.str(b, a.Type)
	if a.QRCode != "" {
		b = e.field(b, "qr_code", a.QRCode)
	}
	if a.QRImage != "" {
		b = e.field(b, "qr_image", a.QRImage)
	}
	if a.URL != "" {
		b = e.field(b, "url", a.URL)
	}
	if a.AmountToPay != 0 {
		b = appendIntField(b, "amount_to_pay", a.AmountToPay)
	}
	if a.BankAccount != nil {
		b = append(b, `,"bank_account":`...)
		b = a.BankAccount.appendJSON(e, b)
	}
	if a.PromptPayID != "" {
		b = e.field(b, "promptpay_id", a.PromptPayID)
	}
	if a.ExpiresAt != nil {
		b = append(b, `,"expires_at":`...)
		var err error
		if b, err = appendJSONTime(b, *a.ExpiresAt); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func (f *Failure) appendJSON(e jsonAppender, b []byte) []byte {
	if f == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"code":`...)
	b = e.str(b, f.Code)
	b = e.field(b, "message", f.Message)
	return append(b, '}')
}

func (c *Customer) appendJSON(e jsonAppender, b []byte) []byte {
	b = append(b, '{')
	n := len(b)
	for _, f := range [...]struct{ name, v string }{{"id", c.ID}, {"name", c.Name}, {"email", c.Email}, {"phone", c.Phone}} {
		if f.v != "" {
			b = appendKey(b, len(b) > n, f.name)
			b = e.str(b, f.v)
		}
	}
	if c.BankAccount != nil {
		b = appendKey(b, len(b) > n, "bank_account")
		b = c.BankAccount.appendJSON(e, b)
	}
	return append(b, '}')
}

func (a *BankAccount) appendJSON(e jsonAppender, b []byte) []byte {
	b = append(b, `{"bank_code":`...)
	b = e.str(b, a.BankCode)
	b = e.field(b, "number", a.Number)
	b = e.field(b, "name", a.Name)
	return append(b, '}')
}

func (it *Item) appendJSON(e jsonAppender, b []byte) []byte {
	b = append(b, '{')
	if it.ID != "" {
		b = append(b, `"id":`...)
		b = e.str(b, it.ID)
		b = append(b, ',')
	}
	b = append(b, `"name":`...)
	b = e.str(b, it.Name)
	b = appendIntField(b, "price", it.Price)
	b = appendIntField(b, "quantity", it.Quantity)
	if it.SubMerchantID != "" {
		b = e.field(b, "sub_merchant_id", it.SubMerchantID)
	}
	if it.SubMerchantShare != 0 {
		b = appendIntField(b, "sub_merchant_share", it.SubMerchantShare)
	}
	return append(b, '}')
}

// appendKey appends `"name":`, after a comma unless first.
func appendKey(b []byte, comma bool, name string) []byte {
	if comma {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// field appends `,"name":` and v, quoted.
func (e jsonAppender) field(b []byte, name, v string) []byte {
	return e.str(appendKey(b, true, name), v)
}

// appendIntField appends `,"name":` and v.
func appendIntField(b []byte, name string, v int64) []byte {
	return strconv.AppendInt(appendKey(b, true, name), v, 10)
}

// stringMap appends m as a JSON object with its keys sorted, as
// encoding/json does.
func (e jsonAppender) stringMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.str(b, k)
		b = append(b, ':')
		b = e.str(b, m[k])
	}
	return append(b, '}')
}

// appendJSONTime appends t as time.Time.MarshalJSON does: RFC 3339 with
// nanoseconds, quoted. Times it would refuse go through it, for its error.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y >= 0 && y <= 9999 {
		if _, offset := t.Zone(); offset%60 == 0 {
			b = append(b, '"')
			b = t.AppendFormat(b, time.RFC3339Nano)
			return append(b, '"'), nil
		}
	}
	j, err := t.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

const hexDigits = "0123456789abcdef"

// jsonAppender writes JSON values; html escapes <, > and & as
// json.Marshal does.
type jsonAppender struct{ html bool }

// str appends s quoted as encoding/json quotes strings: the two-character
// escapes where JSON has them, \u00XX for other control characters and,
// with html, for <, > and & (safe inside HTML), \ufffd for each byte of
// invalid UTF-8, and \u2028 and \u2029 escaped (safe inside JavaScript).
func (e jsonAppender) str(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!e.html || (c != '<' && c != '>' && c != '&')) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
