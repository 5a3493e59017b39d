package localcloud

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

type appKey struct{ tenant, client string }

type app struct {
	secret    string
	expired   bool
	cert      *x509.Certificate     // certificate credential (AddCertApp)
	federated []federatedCredential // workload identity federation (AddFederatedApp)
}

// tokenInfo is what Entra would have put in the JWT; the token itself is an
// opaque random string that only this process can resolve.
type tokenInfo struct {
	tenant, client, audience string
	expires                  time.Time
}

// tokenLifetime matches what Entra hands out for client credentials.
const tokenLifetime = 3599 * time.Second

// loginHost describes one Entra front door.
type loginHost struct {
	instance string // cloud_instance_name; empty for a host that is not a login host
	graph    string // msgraph_host
	region   string // tenant_region_scope
}

func loginHostInfo(host string) loginHost {
	switch host {
	case "login.microsoftonline.com":
		return loginHost{instance: "microsoftonline.com", graph: "graph.microsoft.com", region: "EU"}
	case "login.chinacloudapi.cn":
		return loginHost{instance: "partner.microsoftonline.cn", graph: "microsoftgraph.chinacloudapi.cn", region: "AS"}
	case "login.microsoftonline.us":
		return loginHost{instance: "microsoftonline.us", graph: "graph.microsoft.us", region: "USGov"}
	}
	return loginHost{}
}

// instanceMetadata is the alias table Entra's instance discovery returns
// (the same list for every caller).
func instanceMetadata() []map[string]any {
	entry := func(network, cache string, aliases ...string) map[string]any {
		return map[string]any{"preferred_network": network, "preferred_cache": cache, "aliases": aliases}
	}
	return []map[string]any{
		entry("login.microsoftonline.com", "login.windows.net", "login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"),
		entry("login.partner.microsoftonline.cn", "login.partner.microsoftonline.cn", "login.partner.microsoftonline.cn", "login.chinacloudapi.cn"),
		entry("login.microsoftonline.de", "login.microsoftonline.de", "login.microsoftonline.de"),
		entry("login.microsoftonline.us", "login.microsoftonline.us", "login.microsoftonline.us", "login.usgovcloudapi.net"),
		entry("login-us.microsoftonline.com", "login-us.microsoftonline.com", "login-us.microsoftonline.com"),
	}
}

func knownAuthorityAlias(host string) bool {
	for _, md := range instanceMetadata() {
		for _, a := range md["aliases"].([]string) {
			if strings.EqualFold(a, host) {
				return true
			}
		}
	}
	return false
}

// AddApp registers a service principal with a client secret. Its tenant
// becomes known. Adding the same app again replaces its secret and clears an
// expiry.
func (c *Cloud) AddApp(tenantID, clientID, clientSecret string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := strings.ToLower(tenantID)
	c.tenants[t] = true
	c.apps[appKey{t, strings.ToLower(clientID)}] = &app{secret: clientSecret}
}

// ExpireSecret makes the app's secret expired: the next token requests with
// it get AADSTS7000222.
func (c *Cloud) ExpireSecret(tenantID, clientID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.apps[appKey{strings.ToLower(tenantID), strings.ToLower(clientID)}]; a != nil {
		a.expired = true
	}
}

func (c *Cloud) serveEntra(w http.ResponseWriter, r *http.Request, host string) {
	rw := &statusWriter{ResponseWriter: w}
	defer func() { c.logf("localcloud entra: %s https://%s%s -> %d", r.Method, host, r.URL.Path, rw.status) }()
	w = rw

	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(segs) == 3 && strings.EqualFold(segs[0], "common") && segs[1] == "discovery" && segs[2] == "instance" && r.Method == http.MethodGet:
		c.instanceDiscovery(w, r, host)
	case len(segs) == 4 && segs[1] == "v2.0" && segs[2] == ".well-known" && segs[3] == "openid-configuration" && r.Method == http.MethodGet:
		c.openIDConfiguration(w, r, host, segs[0])
	case len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token":
		if r.Method != http.MethodPost {
			entraError(w, r, host, http.StatusBadRequest, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a "+r.Method+" request.")
			return
		}
		c.token(w, r, host, segs[0])
	default:
		http.NotFound(w, r)
	}
}

func (c *Cloud) instanceDiscovery(w http.ResponseWriter, r *http.Request, host string) {
	tenantDiscovery := "https://" + host + "/common/v2.0/.well-known/openid-configuration"
	if ae := r.URL.Query().Get("authorization_endpoint"); ae != "" {
		u, err := url.Parse(ae)
		if err != nil || u.Scheme != "https" || !knownAuthorityAlias(u.Hostname()) {
			entraError(w, r, host, http.StatusBadRequest, "invalid_instance", 50049, "Unknown or invalid instance.")
			return
		}
		tenant := strings.SplitN(strings.TrimPrefix(u.Path, "/"), "/", 2)[0]
		tenantDiscovery = "https://" + u.Host + "/" + tenant + "/v2.0/.well-known/openid-configuration"
	}
	writeJSON(w, http.StatusOK, entraHeaders(r), map[string]any{
		"tenant_discovery_endpoint": tenantDiscovery,
		"api-version":               "1.1",
		"metadata":                  instanceMetadata(),
	})
}

func (c *Cloud) openIDConfiguration(w http.ResponseWriter, r *http.Request, host, tenant string) {
	if !c.tenantKnown(tenant) {
		entraError(w, r, host, http.StatusBadRequest, "invalid_tenant", 90002, tenantNotFound(tenant))
		return
	}
	info := loginHostInfo(host)
	base := "https://" + host + "/" + tenant
	writeJSON(w, http.StatusOK, entraHeaders(r), map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              "https://" + host + "/" + tenant + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     "https://" + info.graph + "/oidc/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"kerberos_endpoint":                     base + "/kerberos",
		"tenant_region_scope":                   info.region,
		"cloud_instance_name":                   info.instance,
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          info.graph,
		"rbac_url":                              "https://pas.windows.net",
	})
}

func (c *Cloud) token(w http.ResponseWriter, r *http.Request, host, tenant string) {
	c.record(Event{Kind: TokenRequestEvent})
	c.mu.Lock()
	redirect := c.hostile.tokenRedirect
	c.mu.Unlock()
	if redirect.Status != 0 {
		redirect.write(w)
		return
	}

	if err := r.ParseForm(); err != nil {
		entraError(w, r, host, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	form := r.PostForm
	clientID, clientSecret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok { // client_secret_basic
		clientID, clientSecret = u, p
	}
	if !c.tenantKnown(tenant) {
		entraError(w, r, host, http.StatusBadRequest, "invalid_request", 90002, tenantNotFound(tenant))
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "":
		entraError(w, r, host, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	case "client_credentials":
	default:
		entraError(w, r, host, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+gt+"'.")
		return
	}
	if clientID == "" {
		entraError(w, r, host, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}

	c.mu.Lock()
	a, ok := c.apps[appKey{strings.ToLower(tenant), strings.ToLower(clientID)}]
	var expired bool
	var secret string
	var registered app
	if ok {
		expired, secret = a.expired, a.secret
		registered = *a
	}
	c.mu.Unlock()
	switch {
	case !ok:
		entraError(w, r, host, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf(
			"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
			clientID, tenant))
		return
	case clientSecret == "" && form.Get("client_assertion") == "":
		entraError(w, r, host, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	case clientSecret == "":
		if !c.checkAssertion(w, r, host, clientID, &registered) {
			return
		}
	case clientSecret != secret:
		entraError(w, r, host, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf(
			"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
		return
	case expired:
		entraError(w, r, host, http.StatusUnauthorized, "invalid_client", 7000222, fmt.Sprintf(
			"The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", clientID))
		return
	}

	audience := ""
	for _, s := range strings.Fields(form.Get("scope")) {
		switch s {
		case "openid", "profile", "offline_access", "email":
			continue
		}
		if !strings.HasSuffix(s, "/.default") {
			entraError(w, r, host, http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf(
				"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", s))
			return
		}
		audience = strings.TrimSuffix(s, "/.default")
	}
	if audience == "" {
		entraError(w, r, host, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
		return
	}

	tok := randomToken()
	c.issue(tok, tokenInfo{tenant: strings.ToLower(tenant), client: clientID, audience: audience, expires: time.Now().Add(tokenLifetime)})
	writeJSON(w, http.StatusOK, entraHeaders(r), map[string]any{
		"token_type":     "Bearer",
		"expires_in":     int(tokenLifetime / time.Second),
		"ext_expires_in": int(tokenLifetime / time.Second),
		"access_token":   tok,
	})
}

func (c *Cloud) tenantKnown(tenant string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tenants[strings.ToLower(tenant)]
}

// issue makes tok a token of the cloud's.
func (c *Cloud) issue(tok string, ti tokenInfo) {
	c.mu.Lock()
	c.tokens[tok] = ti
	c.mu.Unlock()
	c.record(Event{Kind: TokenIssuedEvent, Token: IssuedToken{Tenant: ti.tenant, Audience: ti.audience}})
}

// lookupToken resolves a bearer token issued by this cloud.
func (c *Cloud) lookupToken(tok string) (tokenInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ti, ok := c.tokens[tok]
	return ti, ok
}

func tenantNotFound(tenant string) string {
	return fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)
}

// entraError writes Entra's OAuth error body, including the trace footer
// Entra appends to every error_description.
func entraError(w http.ResponseWriter, r *http.Request, host string, status int, code string, aadsts int, desc string) {
	traceID := newUUID()
	corrID := correlationID(r)
	ts := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	h := entraHeaders(r)
	h.Set("x-ms-request-id", traceID)
	body := struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		ErrorCodes       []int  `json:"error_codes"`
		Timestamp        string `json:"timestamp"`
		TraceID          string `json:"trace_id"`
		CorrelationID    string `json:"correlation_id"`
		ErrorURI         string `json:"error_uri"`
	}{
		Error:            code,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, desc, traceID, corrID, ts),
		ErrorCodes:       []int{aadsts},
		Timestamp:        ts,
		TraceID:          traceID,
		CorrelationID:    corrID,
		ErrorURI:         fmt.Sprintf("https://%s/error?code=%d", host, aadsts),
	}
	writeJSON(w, status, h, body)
}

func entraHeaders(r *http.Request) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "-1")
	h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("x-ms-request-id", newUUID())
	h.Set("x-ms-ests-server", "2.1.20000.0 - WEULR1 ProdSlices")
	if id := r.Header.Get("client-request-id"); id != "" && r.Header.Get("return-client-request-id") == "true" {
		h.Set("client-request-id", id)
	}
	return h
}

// correlationID echoes the caller's client-request-id the way Entra does.
func correlationID(r *http.Request) string {
	if id := r.Header.Get("client-request-id"); isUUID(id) {
		return strings.ToLower(id)
	}
	return newUUID()
}

func randomToken() string {
	b := make([]byte, 48)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "lc." + base64.RawURLEncoding.EncodeToString(b)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// stableUUID derives a UUID from parts so the same principal always gets
// the same object id in error messages.
func stableUUID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	var b [16]byte
	copy(b[:], sum[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, h http.Header, v any) {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false) // Azure does not escape <, > and & in values
	if err := enc.Encode(v); err != nil {
		http.Error(w, "encode reply: "+err.Error(), http.StatusInternalServerError)
		return
	}
	body := strings.TrimSuffix(sb.String(), "\n")
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}
