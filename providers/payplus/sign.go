package payplus

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Params are the parameters of a Pay-Plus request or callback as the vendor
// signs them. Values are string, json.Number (a decimal literal such as
// "1000" or "995.5"), bool or nil; nested objects and arrays are not part of
// the protocol and are refused.
type Params map[string]any

// SignatureField is the parameter that carries the JWT. It is never part of
// the signed payload.
const SignatureField = "signature"

// jwtHeader is base64url({"alg":"HS256","typ":"JWT"}), the header Node's
// jsonwebtoken writes for HS256.
const jwtHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// errNotSignable is wrapped by every error about a value the canonical JSON
// cannot represent exactly.
var errNotSignable = errors.New("payplus: parameter cannot be signed")

// Sign returns the HS256 JWT Pay-Plus expects in the signature field: the
// bytes Node's jsonwebtoken produces for
// jwt.sign(sortedParams, apiKey, {algorithm: "HS256", noTimestamp: true}).
// The payload is [CanonicalJSON] of p without its signature field; no iat is
// added. The key is the API key string.
func Sign(p Params, apiKey string) (string, error) {
	payload, err := CanonicalJSON(p)
	if err != nil {
		return "", err
	}
	return signPayload(payload, apiKey)
}

func signPayload(payload []byte, apiKey string) (string, error) {
	signing := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwt.SigningMethodHS256.Sign(signing, []byte(apiKey))
	if err != nil {
		return "", fmt.Errorf("payplus: sign: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// CanonicalJSON returns JSON.stringify of p with its keys sorted, exactly as
// Node prints it: keys in the order Object.keys(p).sort() gives them (UTF-16
// code-unit order, except that array-index keys such as "2" come first in
// numeric order, as JavaScript objects keep them), numbers in JavaScript's
// shortest form (1000, 995.5), strings escaped only where JSON requires it
// (no HTML escaping: "&", "<" and ">" stay as they are). The signature field
// is left out.
func CanonicalJSON(p Params) ([]byte, error) {
	keys := make([]string, 0, len(p))
	for k := range p {
		if k == SignatureField {
			continue
		}
		if !utf8.ValidString(k) {
			return nil, fmt.Errorf("%w: key is not valid UTF-8", errNotSignable)
		}
		keys = append(keys, k)
	}
	sortKeysJS(keys)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSString(&b, k)
		b.WriteByte(':')
		if err := writeJSValue(&b, p[k]); err != nil {
			return nil, fmt.Errorf("%w (key %q)", err, k)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// encodeBody returns the JSON request body: the parameters and their
// signature, in canonical form.
func encodeBody(p Params, signature string) ([]byte, error) {
	all := make(Params, len(p)+1)
	for k, v := range p {
		all[k] = v
	}
	all[SignatureField] = signature
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sortKeysJS(keys)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSString(&b, k)
		b.WriteByte(':')
		if err := writeJSValue(&b, all[k]); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// sortKeysJS orders keys as a JavaScript object built from
// Object.keys(o).sort() enumerates them.
func sortKeysJS(keys []string) {
	slices.SortFunc(keys, func(a, b string) int {
		ai, aIdx := arrayIndex(a)
		bi, bIdx := arrayIndex(b)
		switch {
		case aIdx && bIdx:
			return compareUint(ai, bi)
		case aIdx:
			return -1
		case bIdx:
			return 1
		default:
			return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
		}
	})
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	default:
		return 0
	}
}

// arrayIndex reports whether k is a JavaScript array index: the canonical
// decimal form of an integer below 2^32-1.
func arrayIndex(k string) (uint64, bool) {
	if k == "" || len(k) > 10 || (len(k) > 1 && k[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(k, 10, 64)
	if err != nil || n >= 1<<32-1 {
		return 0, false
	}
	return n, true
}

func writeJSValue(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		if !utf8.ValidString(x) {
			return fmt.Errorf("%w: string is not valid UTF-8", errNotSignable)
		}
		writeJSString(b, x)
	case json.Number:
		n, err := jsNumber(string(x))
		if err != nil {
			return err
		}
		b.WriteString(n)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	default:
		return fmt.Errorf("%w: unsupported value type %T", errNotSignable, v)
	}
	return nil
}

// writeJSString writes s as JSON.stringify does: quotes, backslash and the
// control characters escaped (\b \t \n \f \r, others as \u00xx in lower-case
// hex), everything else as is.
func writeJSString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

// maxSafeInteger is 2^53, below which every integer is exact in a double.
const maxSafeInteger = 1 << 53

// jsNumber returns the way JavaScript prints the number a JSON literal
// denotes (Number.prototype.toString): "1000.00" is "1000", "995.50" is
// "995.5", "-0" is "0", "1e21" is "1e+21". Only numbers a double holds
// exactly are accepted (at most 15 significant digits, or an integer below
// 2^53), so the result never depends on floating-point rounding.
func jsNumber(lit string) (string, error) {
	bad := func() (string, error) {
		return "", fmt.Errorf("%w: %q is not a JSON number", errNotSignable, lit)
	}
	s := lit
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	mant, expPart, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, hasDot := strings.Cut(mant, ".")
	if intPart == "" || !allDigits(intPart) || (len(intPart) > 1 && intPart[0] == '0') ||
		(hasDot && (frac == "" || !allDigits(frac))) {
		return bad()
	}
	exp := 0
	if hasExp {
		e, eneg := expPart, false
		if e != "" && (e[0] == '+' || e[0] == '-') {
			eneg, e = e[0] == '-', e[1:]
		}
		if e == "" || !allDigits(e) || len(e) > 4 {
			return bad()
		}
		exp, _ = strconv.Atoi(e)
		if eneg {
			exp = -exp
		}
	}
	// value = digits * 10^exp
	digits := strings.TrimLeft(intPart+frac, "0")
	exp -= len(frac)
	if digits == "" {
		return "0", nil // JavaScript prints -0 as 0
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	digits = trimmed
	k := len(digits) // significant digits
	n := k + exp     // position of the decimal point
	if n > 308 || n < -290 {
		return "", fmt.Errorf("%w: %s is out of range", errNotSignable, lit)
	}
	exact := k <= 15
	if !exact && exp >= 0 && n <= 16 {
		v, err := strconv.ParseUint(digits+strings.Repeat("0", exp), 10, 64)
		exact = err == nil && v <= maxSafeInteger
	}
	if !exact {
		return "", fmt.Errorf("%w: %s is not exact as a JavaScript number", errNotSignable, lit)
	}
	var out string
	switch {
	case k <= n && n <= 21:
		out = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		out = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		out = "0." + strings.Repeat("0", -n) + digits
	default:
		e := n - 1
		sign := "+"
		if e < 0 {
			sign, e = "-", -e
		}
		if k == 1 {
			out = digits + "e" + sign + strconv.Itoa(e)
		} else {
			out = digits[:1] + "." + digits[1:] + "e" + sign + strconv.Itoa(e)
		}
	}
	if neg {
		out = "-" + out
	}
	return out, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// sameValue reports whether two decoded JSON values are equal as JavaScript
// sees them: strings byte for byte, numbers by value.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		nx, errx := jsNumber(string(x))
		ny, erry := jsNumber(string(y))
		if errx != nil || erry != nil {
			return string(x) == string(y)
		}
		return nx == ny
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	default:
		return false
	}
}

// decodeObject decodes a JSON object with numbers kept as json.Number. It
// refuses anything that is not exactly one object.
func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON object")
	}
	return m, nil
}

// VerifyToken checks that token is an HS256 JWT signed with apiKey (no other
// algorithm is accepted) and returns its claims, numbers as json.Number.
// It does not compare the claims with anything: callers check that the
// claims equal the parameters they came with.
func VerifyToken(token, apiKey string) (Params, error) {
	if apiKey == "" {
		return nil, errors.New("payplus: verify: empty key")
	}
	parsed, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return []byte(apiKey), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithJSONNumber(),
		jwt.WithoutClaimsValidation())
	if err != nil {
		return nil, fmt.Errorf("payplus: verify: %w", err)
	}
	claims, ok := parsed.Claims.(jwt.MapClaims)
	if !ok || !parsed.Valid {
		return nil, errors.New("payplus: verify: invalid token")
	}
	return Params(claims), nil
}
