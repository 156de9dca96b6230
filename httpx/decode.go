package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paykit/paykit/payment"
)

// tooLarge is the 413 for a body over limit bytes.
func tooLarge(limit int64) *apiError {
	return &apiError{
		status: http.StatusRequestEntityTooLarge, code: CodePayloadTooLarge,
		message: "the body is larger than " + strconv.FormatInt(limit, 10) + " bytes",
	}
}

// readBody reads the request body into buf, at most limit bytes, within
// timeout. A body announced or found to be larger is a 413; one that does
// not arrive in time (a client trickling it in) is a 408.
func readBody(rw *respWriter, r *http.Request, limit int64, timeout time.Duration, buf *bytes.Buffer) error {
	if r.ContentLength > limit {
		return tooLarge(limit)
	}
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	if r.ContentLength > 0 && r.ContentLength <= limit {
		buf.Grow(int(r.ContentLength))
	}
	setBodyDeadline(rw, r, timeout)
	// The server's own writer, so that it closes the connection after an
	// oversized body instead of draining it.
	body := http.MaxBytesReader(rw.ResponseWriter, r.Body, limit)
	if _, err := buf.ReadFrom(body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(limit)
		}
		var ne net.Error
		if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			rw.Header().Set("Connection", "close")
			return &apiError{
				status: http.StatusRequestTimeout, code: CodeInvalidInput, field: "body",
				message: "the body did not arrive within " + timeout.String(),
			}
		}
		return errInput("body", "the body could not be read")
	}
	return nil
}

// setBodyDeadline makes reads of the request body fail once timeout has
// passed, so a client that sends its body a byte at a time cannot hold the
// handler. A shorter ReadTimeout of the server is left to apply. When the
// writer cannot set deadlines (a host middleware that hides it), nothing
// changes.
func setBodyDeadline(rw *respWriter, r *http.Request, timeout time.Duration) {
	if timeout <= 0 {
		return
	}
	if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok && srv.ReadTimeout > 0 && srv.ReadTimeout <= timeout {
		return
	}
	_ = http.NewResponseController(rw.ResponseWriter).SetReadDeadline(time.Now().Add(timeout))
}

// readJSON reads a JSON body into buf. Without a body it returns nil, or,
// when the body is required, a 400. A body that is not JSON is a 415.
func readJSON(rw *respWriter, r *http.Request, limit int64, timeout time.Duration, required bool, buf *bytes.Buffer) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	if r.ContentLength != 0 && !isJSON(r.Header.Get("Content-Type")) {
		return nil, &apiError{
			status: http.StatusUnsupportedMediaType, code: CodeUnsupportedMediaType,
			message: "the body must be JSON, sent with Content-Type: application/json",
		}
	}
	if err := readBody(rw, r, limit, timeout, buf); err != nil {
		return nil, err
	}
	if buf.Len() == 0 {
		if required {
			return nil, errInput("body", "a JSON body is required")
		}
		return nil, nil
	}
	return buf.Bytes(), nil
}

// isJSON reports whether a Content-Type is application/json, with any
// parameters, and UTF-8 if it names a charset.
func isJSON(ct string) bool {
	if ct == "application/json" {
		return true
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// decodeJSON decodes body, one JSON object, into v. Unknown fields and
// values of the wrong type (1.5, "100" or 1e3 for an integer) are 400
// INVALID_INPUT naming the field. Error messages never quote a value, so
// a card number sent as a JSON number is not echoed back.
func decodeJSON(body []byte, v any) error {
	if i := firstNonSpace(body); i < 0 || body[i] != '{' {
		return errInput("body", "the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, body, v)
	}
	if firstNonSpace(body[dec.InputOffset():]) >= 0 {
		return errInput("body", "the body must hold exactly one JSON object")
	}
	return nil
}

func firstNonSpace(b []byte) int {
	for i, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return i
		}
	}
	return -1
}

const unknownFieldPrefix = `json: unknown field "`

// jsonError turns a decoding error into a 400 naming the field.
func jsonError(err error, body []byte, v any) error {
	var se *json.SyntaxError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return errInput("body", "malformed JSON at byte "+strconv.FormatInt(se.Offset, 10))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errInput("body", "malformed JSON: the body ends early")
	case errors.As(err, &ute):
		if ute.Field == "" {
			return errInput("body", "the body must be a JSON object")
		}
		if ft := fieldType(reflect.TypeOf(v), ute.Field); ft != nil && ft.Kind() == reflect.Map && ft != ute.Type {
			return errInput(ute.Field, ute.Field+": each value "+typeReason(ute.Type))
		}
		return errInput(ute.Field, ute.Field+" "+typeReason(ute.Type))
	case strings.HasPrefix(err.Error(), unknownFieldPrefix):
		leaf, uerr := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		if uerr != nil {
			leaf = ""
		}
		path := unknownFieldPath(body, reflect.TypeOf(v), leaf)
		if path == "" || strings.HasSuffix(path, ".") {
			return errInput("body", "the body has a member with an empty name")
		}
		return errInput(path, "unknown field "+strconv.Quote(path))
	default:
		return errInput("body", "the body is not valid JSON for this route")
	}
}

// fieldType resolves a dotted JSON path ("customer.bank_account") to the
// type of its field, or nil.
func fieldType(t reflect.Type, path string) reflect.Type {
	for _, seg := range strings.Split(path, ".") {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		ft, ok := lookupField(jsonFields(t), seg)
		if !ok {
			return nil
		}
		t = ft
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// typeReason says what type a field must have.
func typeReason(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "must be an integer"
	case reflect.String:
		return "must be a string"
	case reflect.Bool:
		return "must be true or false"
	case reflect.Struct, reflect.Map:
		return "must be an object"
	case reflect.Slice, reflect.Array:
		return "must be an array"
	default:
		return "has the wrong type"
	}
}

// unknownFieldPath finds where in body the unknown field leaf is, as a
// dotted path ("customer.nickname", "items[1].colour"). encoding/json only
// names the key; this runs on that error path only.
func unknownFieldPath(body []byte, t reflect.Type, leaf string) string {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return leaf
	}
	var found []string
	collectUnknown(doc, t, "", &found)
	slices.Sort(found)
	for _, p := range found {
		if p == leaf || strings.HasSuffix(p, "."+leaf) {
			return p
		}
	}
	if len(found) > 0 {
		return found[0]
	}
	return leaf
}

func collectUnknown(v any, t reflect.Type, path string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return
		}
		fields := jsonFields(t)
		for key, val := range obj {
			ft, ok := lookupField(fields, key)
			p := joinPath(path, key)
			if !ok {
				*out = append(*out, p)
				continue
			}
			collectUnknown(val, ft, p, out)
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			return
		}
		for i, e := range arr {
			collectUnknown(e, t.Elem(), path+"["+strconv.Itoa(i)+"]", out)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return
		}
		for key, val := range obj {
			collectUnknown(val, t.Elem(), joinPath(path, key), out)
		}
	default:
	}
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// jsonFields maps a struct's JSON names to their types, as encoding/json
// sees them (embedded structs promoted).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" && !strings.HasPrefix(tag, "-,") {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, dup := out[k]; !dup {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// lookupField matches a key as encoding/json does: exactly, else without
// regard to case.
func lookupField(fields map[string]reflect.Type, k string) (reflect.Type, bool) {
	if t, ok := fields[k]; ok {
		return t, true
	}
	for name, t := range fields {
		if strings.EqualFold(name, k) {
			return t, true
		}
	}
	return nil, false
}

// refineMissing turns the core's "amount must be a positive integer" into
// MISSING_FIELD when the body has no "amount" key at all: the core sees
// only the zero value. It runs on the error path only.
func refineMissing(err error, body []byte) error {
	var ve *payment.ValidationError
	if !errors.As(err, &ve) || ve.Missing || ve.Field == "" || strings.ContainsAny(ve.Field, ".[") {
		return err
	}
	if present(body, ve.Field) {
		return err
	}
	return payment.MissingField(ve.Field)
}

// present reports whether the top-level object in body has a non-null
// member key.
func present(body []byte, key string) bool {
	var top map[string]json.RawMessage
	if len(body) == 0 || json.Unmarshal(body, &top) != nil {
		return false
	}
	for k, v := range top {
		if strings.EqualFold(k, key) && string(v) != "null" {
			return true
		}
	}
	return false
}

// idempotencyKey returns the Idempotency-Key header: absent, or one value
// of 1 to 255 printable ASCII characters.
func idempotencyKey(r *http.Request) (string, error) {
	vals := r.Header.Values(headerIdempotencyKey)
	switch {
	case len(vals) == 0:
		return "", nil
	case len(vals) == 1 && payment.ValidIdempotencyKey(vals[0]):
		return vals[0], nil
	default:
		return "", errInput(headerIdempotencyKey, "the Idempotency-Key header must be one value of 1 to 255 printable ASCII characters")
	}
}

// boolParam reads an optional boolean query parameter.
func boolParam(q map[string][]string, name string) (bool, error) {
	vals := q[name]
	if len(vals) == 0 {
		return false, nil
	}
	b, err := strconv.ParseBool(vals[0])
	if err != nil || len(vals) > 1 {
		return false, errInput(name, name+" must be true or false")
	}
	return b, nil
}
