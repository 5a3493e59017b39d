package localcloud

import (
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
)

// RequireProxyAuth makes the proxy demand Basic credentials, like a
// corporate proxy: a CONNECT without them, or with others, gets 407 Proxy
// Authentication Required. An empty user turns the requirement off.
func (c *Cloud) RequireProxyAuth(user, password string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ext.proxyUser, c.ext.proxyPassword = user, password
}

// ProxyAuthFailures counts CONNECTs refused with 407.
func (c *Cloud) ProxyAuthFailures() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ext.proxyAuthFailures
}

// proxyAuthorized checks the CONNECT's Proxy-Authorization and answers 407
// when it does not carry the required credentials.
func (c *Cloud) proxyAuthorized(w http.ResponseWriter, r *http.Request) bool {
	c.mu.Lock()
	user, password := c.ext.proxyUser, c.ext.proxyPassword
	c.mu.Unlock()
	if user == "" {
		return true
	}
	scheme, encoded, _ := strings.Cut(r.Header.Get("Proxy-Authorization"), " ")
	if strings.EqualFold(scheme, "Basic") {
		if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded)); err == nil {
			u, p, _ := strings.Cut(string(raw), ":")
			if subtle.ConstantTimeCompare([]byte(u), []byte(user)) == 1 && subtle.ConstantTimeCompare([]byte(p), []byte(password)) == 1 {
				return true
			}
		}
	}
	c.mu.Lock()
	c.ext.proxyAuthFailures++
	c.mu.Unlock()
	c.logf("localcloud proxy: CONNECT %s -> 407", r.Host)
	w.Header().Set("Proxy-Authenticate", `Basic realm="localcloud"`)
	http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
	return false
}

// RemoveTenant makes Entra forget a tenant that a vault still names, as
// after a typo in a connection whose vault lives in a tenant of another
// cloud, or a deleted directory: token requests for it get AADSTS90002.
func (c *Cloud) RemoveTenant(tenantID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.tenants, strings.ToLower(tenantID))
}

// AccessTokens lists every access token this cloud issued (Entra, AD FS and
// managed identity), for tests that check no token reaches a log.
func (c *Cloud) AccessTokens() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.tokens))
	for t := range c.tokens {
		out = append(out, t)
	}
	return out
}
