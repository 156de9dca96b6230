package veparasim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// SubMerchant is a sub-merchant the simulator knows.
type SubMerchant struct {
	ID          string
	Name        string
	Email       string
	Phone       string
	IBAN        string
	ZipCode     string
	Description string
	// Fields holds every other field as sent.
	Fields map[string]string
}

// SubMerchants returns the known sub-merchants, by id.
func (s *Server) SubMerchants() []SubMerchant {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SubMerchant, 0, len(s.subs))
	for _, sm := range s.subs {
		c := *sm
		c.Fields = make(map[string]string, len(sm.Fields))
		for k, v := range sm.Fields {
			c.Fields[k] = v
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b SubMerchant) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// validIBAN checks a Turkish IBAN: TR, 24 digits, mod 97 = 1.
func validIBAN(s string) bool {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	if len(s) != 26 || s[:2] != "TR" || !digits(s[2:]) {
		return false
	}
	rearranged := s[4:] + "2927" + s[2:4] // T=29, R=27
	rem := 0
	for i := 0; i < len(rearranged); i++ {
		rem = (rem*10 + int(rearranged[i]-'0')) % 97
	}
	return rem == 1
}

// applySubMerchant copies fields from in onto sm and validates them.
func applySubMerchant(sm *SubMerchant, in input, v validation, prefix string) {
	if sm.Fields == nil {
		sm.Fields = map[string]string{}
	}
	for k, raw := range in {
		val := scalar(raw)
		switch k {
		case "merchant_key", "sub_merchant_id", "change_data":
			continue
		case "sub_merchant_name":
			sm.Name = val
		case "sub_merchant_email":
			if !strings.Contains(val, "@") {
				v.add(prefix+k, "The sub merchant email must be a valid email address.")
			}
			sm.Email = val
		case "sub_merchant_phone":
			sm.Phone = val
		case "iban_no":
			if !validIBAN(val) {
				v.add(prefix+k, "The iban no must be a valid TR IBAN.")
			}
			sm.IBAN = val
		case "zip_code":
			if len(val) != 5 || !digits(val) {
				v.add(prefix+k, "The zip code must be 5 digits.")
			}
			sm.ZipCode = val
		case "sub_merchant_description":
			sm.Description = val
		default:
			if val != "" {
				sm.Fields[k] = val
			}
		}
	}
}

func (s *Server) handleSubMerchantAdd(w http.ResponseWriter, r *http.Request) {
	in := s.guard(w, r)
	if in == nil {
		return
	}
	v := validation{}
	for _, f := range []string{"merchant_key", "sub_merchant_name", "sub_merchant_email", "iban_no"} {
		if !in.present(f) {
			v.add(f, "The "+strings.ReplaceAll(f, "_", " ")+" field is required.")
		}
	}
	sm := &SubMerchant{}
	applySubMerchant(sm, in, v, "")
	if v.write(w) || !s.merchantOK(w, in) {
		return
	}
	s.mu.Lock()
	s.nextSub++
	sm.ID = fmt.Sprintf("98950-%02d-%d", 10+len(s.subs)%90, s.nextSub)
	s.subs[sm.ID] = sm
	s.mu.Unlock()
	writeCode(w, 100, "Sub merchant created successfully", map[string]any{
		"data": map[string]any{"sub_merchant_id": sm.ID},
	})
}

func (s *Server) handleSubMerchantEdit(w http.ResponseWriter, r *http.Request) {
	in := s.guard(w, r)
	if in == nil {
		return
	}
	v := validation{}
	if !in.present("sub_merchant_id") {
		v.add("sub_merchant_id", "The sub merchant id field is required.")
	}
	change, ok := in["change_data"].(map[string]any)
	if !ok {
		v.add("change_data", "The change data must be an object.")
	}
	if v.write(w) || !s.merchantOK(w, in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sm, ok := s.subs[in.str("sub_merchant_id")]
	if !ok {
		writeCode(w, 80, "Sub merchant not found", nil)
		return
	}
	edited := *sm
	edited.Fields = map[string]string{}
	for k, val := range sm.Fields {
		edited.Fields[k] = val
	}
	applySubMerchant(&edited, input(change), v, "change_data.")
	if v.write(w) {
		return
	}
	*sm = edited
	writeCode(w, 100, "Sub merchant updated successfully", nil)
}

func (s *Server) handleSubMerchantDelete(w http.ResponseWriter, r *http.Request) {
	in := s.guard(w, r)
	if in == nil {
		return
	}
	v := validation{}
	if !in.present("sub_merchant_id") {
		v.add("sub_merchant_id", "The sub merchant id field is required.")
	}
	if v.write(w) || !s.merchantOK(w, in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := in.str("sub_merchant_id")
	if _, ok := s.subs[id]; !ok {
		writeCode(w, 80, "Sub merchant not found", nil)
		return
	}
	delete(s.subs, id)
	writeCode(w, 100, "Sub merchant deleted successfully", nil)
}

func (s *Server) handleSubMerchantList(w http.ResponseWriter, r *http.Request) {
	in := s.guard(w, r)
	if in == nil || !s.merchantOK(w, in) {
		return
	}
	list := s.SubMerchants()
	data := make([]map[string]any, 0, len(list))
	for _, sm := range list {
		e := map[string]any{
			"sub_merchant_id": sm.ID, "sub_merchant_name": sm.Name, "sub_merchant_email": sm.Email,
			"sub_merchant_phone": sm.Phone, "iban_no": sm.IBAN, "zip_code": sm.ZipCode,
			"sub_merchant_description": sm.Description,
		}
		for k, val := range sm.Fields {
			e[k] = val
		}
		data = append(data, e)
	}
	writeCode(w, 100, "Sub merchants fetched successfully", map[string]any{"data": data})
}
