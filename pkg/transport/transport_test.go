package transport

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

func TestProxyFailures(t *testing.T) {
	// A proxy that wants credentials, whatever it is sent.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Proxy-Authenticate", `Basic realm="corp"`)
		w.WriteHeader(http.StatusProxyAuthRequired)
	}))
	defer proxy.Close()
	withUser, _ := url.Parse(proxy.URL)
	withUser.User = url.UserPassword("alice", "s3cret-pw")

	tests := []struct {
		name       string
		proxy      string
		wantStatus int
		want       []string
	}{
		{"no credentials", proxy.URL, 407, []string{"proxy " + proxy.URL + " requires credentials to reach kv.vault.azure.net:443 (407)", "AGENT_PROXYUSERNAME"}},
		{"credentials refused", withUser.String(), 407, []string{"proxy " + proxy.URL + " rejected the proxy credentials to reach kv.vault.azure.net:443 (407)"}},
		{"nothing listening", "http://alice:s3cret-pw@127.0.0.1:1", 0, []string{"could not connect to the proxy http://127.0.0.1:1 to reach kv.vault.azure.net (connection refused)", "AGENT_PROXYURL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pu, _ := url.Parse(tt.proxy)
			c := New(Options{Proxy: http.ProxyURL(pu)})
			defer c.CloseIdleConnections()
			// The proxy is asked for the tunnel; the vault's name is never
			// resolved here.
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "https://kv.vault.azure.net/secrets", nil)
			_, err := c.Do(req)
			var pe *ProxyError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a ProxyError", err)
			}
			if pe.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", pe.StatusCode, tt.wantStatus)
			}
			for _, w := range tt.want {
				if !strings.Contains(pe.Error(), w) {
					t.Errorf("%q\ndoes not contain %q", pe.Error(), w)
				}
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("error holds the proxy password: %v", err)
			}
			var nr interface{ NonRetriable() }
			if !errors.As(err, &nr) {
				t.Errorf("a proxy failure must not be retried")
			}
		})
	}
}

// Client must stay an azcore transporter.
var _ policy.Transporter = (*Client)(nil)

func TestRedirectsRefused(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect was followed: %s %s", r.Method, r.URL)
	}))
	defer target.Close()
	tests := []struct {
		status   int
		location string
		want     string
	}{
		{307, target.URL + "/collect?sig=secret-query", "answered 307 Temporary Redirect, a redirect to " + target.URL + ", which Azure never sends"},
		{302, "/relative?sig=secret-query", "answered 302 Found, a redirect to http://{origin}, which Azure never sends"},
		{301, "", "answered 301 Moved Permanently, a redirect without a Location"},
		{308, "http://[::1", "a redirect to (a Location that is not a URL)"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.location != "" {
					w.Header().Set("Location", tt.location)
				}
				w.WriteHeader(tt.status)
			}))
			defer origin.Close()
			c := New(Options{Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }})
			defer c.CloseIdleConnections()
			req, _ := http.NewRequest(http.MethodPost, origin.URL+"/token", strings.NewReader("client_secret=s3cret"))
			req.Header.Set("Authorization", "Bearer token")
			resp, err := c.Do(req)
			var re *RedirectError
			if resp != nil || !errors.As(err, &re) {
				t.Fatalf("Do = %v, %v; want a RedirectError", resp, err)
			}
			want := strings.ReplaceAll(tt.want, "{origin}", strings.TrimPrefix(origin.URL, "http://"))
			if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret-query") {
				t.Errorf("error %q\nwant it to contain %q and no query", err, want)
			}
			var nr interface{ NonRetriable() }
			if !errors.As(err, &nr) {
				t.Errorf("a redirect must not be retried")
			}
		})
	}
}
