package appotapaysim

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// DefaultLinkedBalance is the balance of a wallet linked through OAuth.
const DefaultLinkedBalance = 100_000_000

// handleOAuthLogin plays the login form: the customer approves at once and
// is sent back to redirect_uri with a code and the state.
func (s *Server) handleOAuthLogin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_key") != s.set.apiKey {
		http.Error(w, "invalid client_key", http.StatusBadRequest)
		return
	}
	if q.Get("response_type") != "code" || q.Get("scope") == "" {
		http.Error(w, "invalid response_type or scope", http.StatusBadRequest)
		return
	}
	u, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		http.Error(w, "invalid redirect_uri", http.StatusBadRequest)
		return
	}
	code := "simcode" + randomHex(12)
	token := "simat" + randomHex(16)
	s.mu.Lock()
	s.wallets[token] = &Wallet{Balance: DefaultLinkedBalance, ExpiresAt: s.set.clock().Add(7 * 24 * time.Hour)}
	s.codes[code] = token
	s.mu.Unlock()
	rq := u.Query()
	rq.Set("code", code)
	rq.Set("state", q.Get("state"))
	u.RawQuery = rq.Encode()
	// Sending the customer to the partner's redirect_uri is the OAuth flow.
	http.Redirect(w, r, u.String(), http.StatusFound) //nolint:gosec // the vendor redirects to the caller's redirect_uri by design
}

type oauthReq struct {
	ClientKey    string `json:"client_key"`
	SecretKey    string `json:"secret_key"`
	GrantType    string `json:"grant_type"`
	Code         string `json:"code"`
	RefreshToken string `json:"refresh_token"`
}

func (s *Server) oauthClient(w http.ResponseWriter, r *http.Request) (*oauthReq, bool) {
	var req oauthReq
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "message": "invalid body"})
		return nil, false
	}
	okKey := subtle.ConstantTimeCompare([]byte(req.ClientKey), []byte(s.set.apiKey)) == 1
	okSecret := subtle.ConstantTimeCompare([]byte(req.SecretKey), []byte(s.set.secretKey)) == 1
	if !okKey || !okSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 401, "message": "invalid client"})
		return nil, false
	}
	if req.GrantType != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "message": "invalid grant_type"})
		return nil, false
	}
	return &req, true
}

// issue returns a new token pair for the wallet of access; s.mu must be held.
func (s *Server) issue(access string) map[string]any {
	now := s.set.clock()
	w := s.wallets[access]
	newAccess := "simat" + randomHex(16)
	refresh := "simrt" + randomHex(16)
	w.ExpiresAt = now.Add(7 * 24 * time.Hour)
	// One wallet behind every token it was given: one balance.
	s.wallets[newAccess] = w
	s.refreshes[refresh] = newAccess
	return map[string]any{
		"code":    200,
		"message": "Success",
		"data": map[string]any{
			"access_token":            newAccess,
			"token_type":              "Bearer",
			"refresh_token":           refresh,
			"expiry_in":               w.ExpiresAt.Unix(),
			"refresh_token_expiry_in": now.Add(30 * 24 * time.Hour).Unix(),
		},
	}
}

func (s *Server) handleOAuthToken(w http.ResponseWriter, r *http.Request) {
	req, ok := s.oauthClient(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	access, found := s.codes[req.Code]
	if !found {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "message": "invalid code"})
		return
	}
	delete(s.codes, req.Code)
	body := s.issue(access)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleOAuthRefresh(w http.ResponseWriter, r *http.Request) {
	req, ok := s.oauthClient(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	access, found := s.refreshes[req.RefreshToken]
	if !found {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "message": "invalid refresh_token"})
		return
	}
	delete(s.refreshes, req.RefreshToken)
	body := s.issue(access)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}
