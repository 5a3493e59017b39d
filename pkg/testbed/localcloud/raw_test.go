package localcloud_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
)

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, c *localcloud.Cloud, method, rawURL, bearer string, form url.Values) response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", rawURL, err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func tokenFor(t *testing.T, c *localcloud.Cloud, tenant, client, secret, scope string) string {
	t.Helper()
	r := do(t, c, http.MethodPost, "https://login.microsoftonline.com/"+tenant+"/oauth2/v2.0/token", "", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret},
		"scope": {scope + " openid offline_access profile"},
	})
	var tr struct {
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(r.body, &tr); err != nil || r.status != http.StatusOK || tr.AccessToken == "" {
		t.Fatalf("token: %d %s (%v)", r.status, r.body, err)
	}
	if tr.TokenType != "Bearer" || tr.ExpiresIn != 3599 {
		t.Errorf("token reply = %+v", tr)
	}
	return tr.AccessToken
}

// kvErr is the part of a Key Vault error body tests compare exactly.
type kvErr struct {
	Status int
	Code   string
	Inner  string
}

func decodeKVError(t *testing.T, r response) (kvErr, string) {
	t.Helper()
	var b struct {
		Error struct {
			Code       string
			Message    string
			InnerError *struct{ Code string } `json:"innererror"`
		}
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("decode error body %q: %v", r.body, err)
	}
	e := kvErr{Status: r.status, Code: b.Error.Code}
	if b.Error.InnerError != nil {
		e.Inner = b.Error.InnerError.Code
	}
	return e, b.Error.Message
}

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

type fixture struct {
	c     *localcloud.Cloud
	v     *localcloud.Vault
	token string
	base  string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	c := startCloud(t)
	c.AddApp(tenantA, clientA, secretA)
	v := c.AddVault("kv-raw", tenantA)
	return fixture{c, v, tokenFor(t, c, tenantA, clientA, secretA, "https://vault.azure.net/.default"), "https://kv-raw.vault.azure.net"}
}

func TestVaultErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.v.Put(localcloud.Secret{Name: "good", Value: "v"})
	f.v.Put(localcloud.Secret{Name: "off", Value: "v", Disabled: true})
	f.v.Put(localcloud.Secret{Name: "locked", Value: "v"})

	tests := []struct {
		name       string
		faults     localcloud.Faults
		path       string
		want       kvErr
		wantPrefix string
	}{
		{"list AccessDenied", localcloud.Faults{ListDenied: "AccessDenied"}, "/secrets", kvErr{403, "Forbidden", "AccessDenied"},
			"The user, group or application 'appid=" + clientA + ";oid="},
		{"list ForbiddenByRbac", localcloud.Faults{ListDenied: "ForbiddenByRbac"}, "/secrets", kvErr{403, "Forbidden", "ForbiddenByRbac"},
			"Caller is not authorized to perform action on resource.\r\n"},
		{"get ForbiddenByFirewall", localcloud.Faults{GetDenied: "ForbiddenByFirewall"}, "/secrets/good/", kvErr{403, "Forbidden", "ForbiddenByFirewall"},
			"Client address is not authorized and caller is not a trusted service.\r\nClient address: 203.0.113.7"},
		{"get ForbiddenByConnection", localcloud.Faults{GetDenied: "ForbiddenByConnection"}, "/secrets/good", kvErr{403, "Forbidden", "ForbiddenByConnection"},
			"Public network access is disabled and request is not from a trusted service nor via an approved private link."},
		{"get ForbiddenByPolicy", localcloud.Faults{GetDenied: "ForbiddenByPolicy"}, "/secrets/good", kvErr{403, "Forbidden", "ForbiddenByPolicy"}, "Operation get is not allowed by an Azure Policy"},
		{"one secret denied", localcloud.Faults{SecretDenied: map[string]string{"locked": "AccessDenied"}}, "/secrets/LOCKED/", kvErr{403, "Forbidden", "AccessDenied"},
			"The user, group or application"},
		{"disabled", localcloud.Faults{}, "/secrets/off/", kvErr{403, "Forbidden", "SecretDisabled"}, "Operation get is not allowed on a disabled secret."},
		{"missing", localcloud.Faults{}, "/secrets/nope/", kvErr{404, "SecretNotFound", ""}, "A secret with (name/id) nope was not found in this key vault."},
		{"bad version", localcloud.Faults{}, "/secrets/good/0123456789abcdef0123456789abcdef", kvErr{404, "SecretNotFound", ""},
			"A secret with (name/id) good/0123456789abcdef0123456789abcdef was not found"},
		{"invalid name", localcloud.Faults{}, "/secrets/bad_name", kvErr{400, "BadParameter", ""}, "The request URI contains an invalid name: bad_name"},
		{"all 503", localcloud.Faults{Fail503: 1}, "/secrets/good", kvErr{503, "ServiceUnavailable", ""}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.v.SetFaults(tc.faults)
			r := do(t, f.c, http.MethodGet, f.base+tc.path+"?api-version=7.4", f.token, nil)
			got, msg := decodeKVError(t, r)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s\nbody: %s", diff, r.body)
			}
			if !strings.HasPrefix(msg, tc.wantPrefix) {
				t.Errorf("message = %q, want prefix %q", msg, tc.wantPrefix)
			}
			if !guidRE.MatchString(r.header.Get("x-ms-request-id")) || r.header.Get("x-ms-keyvault-service-version") == "" {
				t.Errorf("headers = %v", r.header)
			}
		})
	}
	f.v.SetFaults(localcloud.Faults{})
	r := do(t, f.c, http.MethodGet, f.base+"/secrets/good?api-version=7.4", f.token, nil)
	var bundle map[string]any
	if err := json.Unmarshal(r.body, &bundle); err != nil || r.status != 200 || bundle["value"] != "v" {
		t.Errorf("healthy get after faults cleared = %d %s", r.status, r.body)
	}
}

func TestChallenge(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.c.AddApp(tenantB, "app-b", "pw-b")
	f.c.AddVault("kv-cn.vault.azure.cn", tenantA)
	other := tokenFor(t, f.c, tenantB, "app-b", "pw-b", "https://vault.azure.net/.default")
	arm := tokenFor(t, f.c, tenantA, clientA, secretA, "https://management.azure.com/.default")

	public := `Bearer authorization="https://login.microsoftonline.com/` + tenantA + `", resource="https://vault.azure.net"`
	tests := []struct {
		name, url, bearer, wantHeader, wantMsg string
	}{
		{"no token", f.base + "/secrets?api-version=7.4", "", public, "AKV10000: Request is missing a Bearer, PoP, or MTLS_POP token."},
		{"unknown token", f.base + "/secrets?api-version=7.4", "forged", public, "AKV10019: Invalid token signature."},
		{"other tenant", f.base + "/secrets?api-version=7.4", other, public, "AKV10032: Invalid issuer. Expected one of https://sts.windows.net/" + tenantA + "/, found https://sts.windows.net/" + tenantB + "/."},
		{"wrong audience", f.base + "/secrets?api-version=7.4", arm, public, "AKV10022: Invalid audience. Expected https://vault.azure.net or cfa8b339-82a2-471a-a3c9-0fc0be7a4093, found: https://management.azure.com."},
		{"china cloud", "https://kv-cn.vault.azure.cn/secrets?api-version=7.4", "", `Bearer authorization="https://login.chinacloudapi.cn/` + tenantA + `", resource="https://vault.azure.cn"`, "AKV10000: Request is missing a Bearer, PoP, or MTLS_POP token."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, f.c, http.MethodGet, tc.url, tc.bearer, nil)
			got, msg := decodeKVError(t, r)
			if diff := cmp.Diff(kvErr{401, "Unauthorized", ""}, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if msg != tc.wantMsg {
				t.Errorf("message = %q, want %q", msg, tc.wantMsg)
			}
			if h := r.header.Get("WWW-Authenticate"); h != tc.wantHeader {
				t.Errorf("WWW-Authenticate = %q, want %q", h, tc.wantHeader)
			}
		})
	}
	if reqs := f.v.Requests(); len(reqs) != 4 || reqs[0].Authorized || reqs[0].Status != 401 {
		t.Errorf("recorded = %+v", reqs)
	}
}

func TestEntraRaw(t *testing.T) {
	t.Parallel()
	c := startCloud(t)
	c.AddApp(tenantA, clientA, secretA)
	c.AddApp(tenantA, "gone", "pw")
	c.ExpireSecret(tenantA, "gone")

	tokenURL := func(tenant string) string {
		return "https://login.microsoftonline.com/" + tenant + "/oauth2/v2.0/token"
	}
	creds := func(client, secret, scope string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {scope}}
	}
	type entraErr struct {
		Status int
		Error  string
		Codes  []int
	}
	tests := []struct {
		name       string
		method     string
		url        string
		form       url.Values
		want       entraErr
		wantPrefix string
	}{
		{"wrong secret", "POST", tokenURL(tenantA), creds(clientA, "bad", "https://vault.azure.net/.default"), entraErr{401, "invalid_client", []int{7000215}},
			"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + clientA + "'.\r\nTrace ID: "},
		{"expired secret", "POST", tokenURL(tenantA), creds("gone", "pw", "https://vault.azure.net/.default"), entraErr{401, "invalid_client", []int{7000222}}, "AADSTS7000222: "},
		{"unknown client", "POST", tokenURL(tenantA), creds("nobody", "pw", "https://vault.azure.net/.default"), entraErr{400, "unauthorized_client", []int{700016}},
			"AADSTS700016: Application with identifier 'nobody' was not found in the directory '" + tenantA + "'."},
		{"unknown tenant token", "POST", tokenURL(tenantB), creds(clientA, secretA, "https://vault.azure.net/.default"), entraErr{400, "invalid_request", []int{90002}},
			"AADSTS90002: Tenant '" + tenantB + "' not found."},
		{"unknown tenant openid", "GET", "https://login.microsoftonline.com/" + tenantB + "/v2.0/.well-known/openid-configuration", nil, entraErr{400, "invalid_tenant", []int{90002}},
			"AADSTS90002: Tenant '" + tenantB + "' not found."},
		{"scope without .default", "POST", tokenURL(tenantA), creds(clientA, secretA, "https://vault.azure.net"), entraErr{400, "invalid_scope", []int{1002012}}, "AADSTS1002012: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, c, tc.method, tc.url, "", tc.form)
			var body map[string]any
			if err := json.Unmarshal(r.body, &body); err != nil {
				t.Fatalf("decode %s: %v", r.body, err)
			}
			var keys []string
			for k := range body {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if diff := cmp.Diff([]string{"correlation_id", "error", "error_codes", "error_description", "error_uri", "timestamp", "trace_id"}, keys); diff != "" {
				t.Errorf("error fields (-want +got):\n%s", diff)
			}
			var e struct {
				Error            string `json:"error"`
				ErrorDescription string `json:"error_description"`
				ErrorCodes       []int  `json:"error_codes"`
				TraceID          string `json:"trace_id"`
			}
			_ = json.Unmarshal(r.body, &e)
			if diff := cmp.Diff(tc.want, entraErr{r.status, e.Error, e.ErrorCodes}); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(e.ErrorDescription, tc.wantPrefix) || !strings.Contains(e.ErrorDescription, "\r\nTrace ID: "+e.TraceID+"\r\n") {
				t.Errorf("error_description = %q, want prefix %q", e.ErrorDescription, tc.wantPrefix)
			}
		})
	}
	if n := c.TokenRequests(); n != 5 {
		t.Errorf("TokenRequests = %d, want 5", n)
	}

	r := do(t, c, "GET", "https://login.microsoftonline.com/"+tenantA+"/v2.0/.well-known/openid-configuration", "", nil)
	var oidc map[string]any
	_ = json.Unmarshal(r.body, &oidc)
	wantOIDC := map[string]any{
		"issuer":                 "https://login.microsoftonline.com/" + tenantA + "/v2.0",
		"token_endpoint":         tokenURL(tenantA),
		"authorization_endpoint": "https://login.microsoftonline.com/" + tenantA + "/oauth2/v2.0/authorize",
		"cloud_instance_name":    "microsoftonline.com",
	}
	for k := range oidc {
		if _, ok := wantOIDC[k]; !ok {
			delete(oidc, k)
		}
	}
	if diff := cmp.Diff(wantOIDC, oidc); r.status != 200 || diff != "" {
		t.Errorf("openid-configuration %d (-want +got):\n%s", r.status, diff)
	}

	q := url.Values{"api-version": {"1.1"}, "authorization_endpoint": {"https://login.microsoftonline.com/" + tenantA + "/oauth2/v2.0/authorize"}}
	r = do(t, c, "GET", "https://login.microsoftonline.com/common/discovery/instance?"+q.Encode(), "", nil)
	var disc struct {
		TenantDiscoveryEndpoint string `json:"tenant_discovery_endpoint"`
		APIVersion              string `json:"api-version"`
		Metadata                []struct {
			PreferredNetwork string   `json:"preferred_network"`
			PreferredCache   string   `json:"preferred_cache"`
			Aliases          []string `json:"aliases"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(r.body, &disc); err != nil || r.status != 200 {
		t.Fatalf("instance discovery: %d %s", r.status, r.body)
	}
	if disc.TenantDiscoveryEndpoint != "https://login.microsoftonline.com/"+tenantA+"/v2.0/.well-known/openid-configuration" ||
		disc.APIVersion != "1.1" || disc.Metadata[0].PreferredNetwork != "login.microsoftonline.com" || disc.Metadata[0].PreferredCache != "login.windows.net" {
		t.Errorf("instance discovery = %+v", disc)
	}
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 7 {
		f.v.Put(localcloud.Secret{Name: fmt.Sprintf("s%d", i), Value: "v"})
	}
	// maxresults only when the request had it, as Key Vault's nextLinks
	// in the recordings (pkg/testbed/recorded).
	nextRE := regexp.MustCompile(`^https://kv-raw\.vault\.azure\.net:443/secrets\?api-version=7\.4&\$skiptoken=[A-Za-z0-9_-]+(?:&maxresults=(\d+))?$`)
	walk := func(t *testing.T, first string) (pages [][]string, maxes []string) {
		link := first
		for link != "" {
			r := do(t, f.c, http.MethodGet, link, f.token, nil)
			var page struct {
				Value []struct {
					ID         string
					Attributes map[string]any
				}
				NextLink *string
			}
			if err := json.Unmarshal(r.body, &page); err != nil || r.status != 200 {
				t.Fatalf("GET %s: %d %s", link, r.status, r.body)
			}
			var names []string
			for _, it := range page.Value {
				names = append(names, strings.TrimPrefix(it.ID, "https://kv-raw.vault.azure.net/secrets/"))
				if it.Attributes["recoveryLevel"] != "Recoverable+Purgeable" || it.Attributes["enabled"] != true {
					t.Errorf("attributes = %v", it.Attributes)
				}
			}
			pages = append(pages, names)
			link = ""
			if page.NextLink != nil {
				link = *page.NextLink
				m := nextRE.FindStringSubmatch(link)
				if m == nil {
					t.Fatalf("nextLink %q does not look like Key Vault's", link)
				}
				maxes = append(maxes, m[1])
			}
		}
		return pages, maxes
	}
	tests := []struct {
		name      string
		pageSize  int
		query     string
		wantPages [][]string
		wantMaxes []string
	}{
		{"default", 0, "", [][]string{{"s0", "s1", "s2", "s3", "s4", "s5", "s6"}}, nil},
		{"page size 3", 3, "", [][]string{{"s0", "s1", "s2"}, {"s3", "s4", "s5"}, {"s6"}}, []string{"", ""}},
		{"maxresults 4", 0, "&maxresults=4", [][]string{{"s0", "s1", "s2", "s3"}, {"s4", "s5", "s6"}}, []string{"4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.v.SetFaults(localcloud.Faults{PageSize: tc.pageSize})
			pages, maxes := walk(t, f.base+"/secrets?api-version=7.4"+tc.query)
			if diff := cmp.Diff(tc.wantPages, pages); diff != "" {
				t.Errorf("pages (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantMaxes, maxes); diff != "" {
				t.Errorf("nextLink maxresults (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{"maxresults=26", "maxresults=0", "$skiptoken=%21%21"} {
		r := do(t, f.c, http.MethodGet, f.base+"/secrets?api-version=7.4&"+bad, f.token, nil)
		if got, _ := decodeKVError(t, r); got != (kvErr{400, "BadParameter", ""}) {
			t.Errorf("%s: %+v", bad, got)
		}
	}
}

func TestThrottling(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.v.Put(localcloud.Secret{Name: "x", Value: "v"})
	get := func(t *testing.T) response {
		return do(t, f.c, http.MethodGet, f.base+"/secrets/x?api-version=7.4", f.token, nil)
	}
	// Rate 0.01/s: burst 1, then the next token is 100 s away.
	tests := []struct {
		mode string
		want []string // per 429: which header carries the delay
	}{
		{"seconds", []string{"Retry-After"}},
		{"", []string{"Retry-After"}},
		{"ms", []string{"x-ms-retry-after-ms"}},
		{"none", []string{""}},
		{"mixed", []string{"Retry-After", "x-ms-retry-after-ms", "", "Retry-After"}},
	}
	for _, tc := range tests {
		t.Run("mode="+tc.mode, func(t *testing.T) {
			f.v.SetFaults(localcloud.Faults{Rate: 0.01, RetryAfter: tc.mode})
			if r := get(t); r.status != http.StatusOK {
				t.Fatalf("first request = %d %s", r.status, r.body)
			}
			for i, want := range tc.want {
				r := get(t)
				got, msg := decodeKVError(t, r)
				if got != (kvErr{429, "Throttled", ""}) || msg != "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached" {
					t.Fatalf("429 #%d = %+v %q", i, got, msg)
				}
				secs, ms := r.header.Get("Retry-After"), r.header.Get("x-ms-retry-after-ms")
				switch want {
				case "Retry-After":
					if secs != "100" || ms != "" {
						t.Errorf("429 #%d: Retry-After=%q x-ms-retry-after-ms=%q, want 100 and none", i, secs, ms)
					}
				case "x-ms-retry-after-ms":
					n, err := strconv.Atoi(ms)
					if err != nil || n < 90000 || n > 100000 || secs != "" {
						t.Errorf("429 #%d: Retry-After=%q x-ms-retry-after-ms=%q, want none and ~100000", i, secs, ms)
					}
				default:
					if secs != "" || ms != "" {
						t.Errorf("429 #%d: Retry-After=%q x-ms-retry-after-ms=%q, want neither", i, secs, ms)
					}
				}
			}
		})
	}

	// A generous rate lets a burst of max(1, Rate/10) through back to back.
	f.v.SetFaults(localcloud.Faults{Rate: 50})
	for i := range 5 {
		if r := get(t); r.status != http.StatusOK {
			t.Errorf("burst request %d = %d, want 200", i, r.status)
		}
	}
}

func TestFail503Deterministic(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.v.Put(localcloud.Secret{Name: "x", Value: "v"})
	run := func() []int {
		f.v.SetFaults(localcloud.Faults{Fail503: 0.5})
		var s []int
		for range 40 {
			s = append(s, do(t, f.c, http.MethodGet, f.base+"/secrets/x?api-version=7.4", f.token, nil).status)
		}
		return s
	}
	first, second := run(), run()
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("503 sequence not reproducible (-first +second):\n%s", diff)
	}
	n := 0
	for _, s := range first {
		if s == http.StatusServiceUnavailable {
			n++
		}
	}
	if n < 10 || n > 30 {
		t.Errorf("%d of 40 requests failed at Fail503=0.5: %v", n, first)
	}
}

func TestMaxInFlight(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.v.Put(localcloud.Secret{Name: "x", Value: "v"})
	do(t, f.c, http.MethodGet, f.base+"/secrets/x?api-version=7.4", f.token, nil)
	if got := f.v.MaxInFlight(); got != 1 {
		t.Fatalf("MaxInFlight after one request = %d", got)
	}
	// Every request sleeps 400 ms inside the vault, so six started together
	// overlap; nothing else can push the peak above six.
	f.v.SetFaults(localcloud.Faults{Latency: 400 * time.Millisecond})
	const n = 6
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			do(t, f.c, http.MethodGet, f.base+"/secrets/x?api-version=7.4", f.token, nil)
		})
	}
	close(start)
	wg.Wait()
	if got := f.v.MaxInFlight(); got != n {
		t.Errorf("MaxInFlight = %d, want %d", got, n)
	}
}

func TestProxy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	proxyAddr := strings.TrimPrefix(f.c.ProxyURL(), "http://")
	rawStatus := func(t *testing.T, request string) string {
		t.Helper()
		conn, err := net.Dial("tcp", proxyAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, request); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			t.Fatalf("read status: %v", err)
		}
		return strings.TrimSpace(line)
	}
	tests := []struct{ name, request, want string }{
		{"unknown vault", "CONNECT missing.vault.azure.net:443 HTTP/1.1\r\nHost: missing.vault.azure.net:443\r\n\r\n", "HTTP/1.1 502 Bad Gateway"},
		{"known host wrong port", "CONNECT login.microsoftonline.com:80 HTTP/1.1\r\nHost: login.microsoftonline.com:80\r\n\r\n", "HTTP/1.1 502 Bad Gateway"},
		{"elsewhere", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "HTTP/1.1 502 Bad Gateway"},
		{"plain GET", "GET http://login.microsoftonline.com/ HTTP/1.1\r\nHost: login.microsoftonline.com\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"},
		{"existing vault", "CONNECT KV-RAW.vault.azure.net:443 HTTP/1.1\r\nHost: KV-RAW.vault.azure.net:443\r\n\r\n", "HTTP/1.1 200 Connection established"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rawStatus(t, tc.request); got != tc.want {
				t.Errorf("status line = %q, want %q", got, tc.want)
			}
		})
	}

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://missing.vault.azure.net/secrets?api-version=7.4", nil)
	if resp, err := f.c.HTTPClient().Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("GET via proxy to a missing vault succeeded: %d", resp.StatusCode)
	} else if !strings.Contains(err.Error(), "Bad Gateway") {
		t.Errorf("GET via proxy to a missing vault: %v, want Bad Gateway", err)
	}

	want := []string{
		"login.microsoftonline.com:443", // the fixture's token
		"missing.vault.azure.net:443", "login.microsoftonline.com:80", "example.com:443", "KV-RAW.vault.azure.net:443",
		"missing.vault.azure.net:443",
	}
	if diff := cmp.Diff(want, f.c.ProxyLog()); diff != "" {
		t.Errorf("ProxyLog (-want +got):\n%s", diff)
	}
}

func TestEnvAndLookup(t *testing.T) {
	t.Parallel()
	c := startCloud(t)
	v := c.AddVault("kv-env", tenantA)
	if c.Vault("kv-env") != v || c.Vault("kv-env.vault.azure.net") != v || c.Vault("absent") != nil {
		t.Errorf("Vault lookup mismatch")
	}
	if v.Host() != "kv-env.vault.azure.net" {
		t.Errorf("Host = %q", v.Host())
	}
	want := []string{"HTTPS_PROXY=" + c.ProxyURL(), "SSL_CERT_FILE=" + c.CAFile(), "https_proxy=" + c.ProxyURL(), "NO_PROXY=", "no_proxy="}
	if diff := cmp.Diff(want, c.Env()); diff != "" {
		t.Errorf("Env (-want +got):\n%s", diff)
	}
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(c.ProxyURL()) {
		t.Errorf("ProxyURL = %q", c.ProxyURL())
	}
}
