package localcloud_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
)

type listReply struct {
	Value []struct {
		ID string `json:"id"`
	} `json:"value"`
	NextLink *string `json:"nextLink"`
}

func getPage(t *testing.T, f fixture, u string) listReply {
	t.Helper()
	r := do(t, f.c, http.MethodGet, u, f.token, nil)
	var p listReply
	if err := json.Unmarshal(r.body, &p); err != nil || r.status != 200 {
		t.Fatalf("GET %s: %d %s (%v)", u, r.status, r.body, err)
	}
	return p
}

func ids(p listReply) []string {
	out := []string{}
	for _, it := range p.Value {
		out = append(out, it.ID)
	}
	return out
}

func link(p listReply) string {
	if p.NextLink == nil {
		return ""
	}
	return *p.NextLink
}

func TestHostileNextLinks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.v.Put(localcloud.Secret{Name: "a", Value: "value-a"})
	f.v.Put(localcloud.Secret{Name: "b", Value: "value-b"})
	list := f.base + "/secrets?api-version=7.4"
	a, b := f.base+"/secrets/a", f.base+"/secrets/b"

	f.v.SetHostile(localcloud.Hostile{NextLink: "https://evil.vault.azure.net/secrets?x=1"})
	p := getPage(t, f, list)
	if diff := cmp.Diff([]string{a, b}, ids(p)); diff != "" || link(p) != "https://evil.vault.azure.net/secrets?x=1" {
		t.Errorf("NextLink: ids (-want +got):\n%s\nlink %q", diff, link(p))
	}

	f.v.SetHostile(localcloud.Hostile{NextLinkLoop: true})
	p = getPage(t, f, list)
	again := getPage(t, f, link(p))
	if link(p) == "" || link(again) != link(p) || !cmp.Equal(ids(again), ids(p)) {
		t.Errorf("NextLinkLoop: %q then %q, %v then %v", link(p), link(again), ids(p), ids(again))
	}

	f.v.SetHostile(localcloud.Hostile{EndlessPages: true})
	p = getPage(t, f, list)
	seen := map[string]bool{}
	for i := 0; i < 5; i++ {
		if link(p) == "" || seen[link(p)] {
			t.Fatalf("page %d: link %q (seen before: %v)", i, link(p), seen[link(p)])
		}
		seen[link(p)] = true
		p = getPage(t, f, link(p))
		if len(p.Value) != 0 {
			t.Errorf("endless page %d holds %v", i, ids(p))
		}
	}

	f.v.SetHostile(localcloud.Hostile{})
	if p := getPage(t, f, list); link(p) != "" {
		t.Errorf("healthy again: link %q", link(p))
	}
}

func TestHostileBadIDs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.v.Put(localcloud.Secret{Name: "alpha", Value: "value-a"})
	f.v.Put(localcloud.Secret{Name: "beta", Value: "value-b"})
	f.v.SetFaults(localcloud.Faults{PageSize: 1})
	f.v.SetHostile(localcloud.Hostile{BadIDs: true})

	p := getPage(t, f, f.base+"/secrets?api-version=7.4")
	want := append([]string{f.base + "/secrets/alpha"}, localcloud.BadListIDs("kv-raw.vault.azure.net")...)
	want = append(want, f.base+"/secrets/ALPHA")
	if diff := cmp.Diff(want, ids(p)); diff != "" {
		t.Errorf("first page (-want +got):\n%s", diff)
	}
	p = getPage(t, f, link(p))
	if diff := cmp.Diff([]string{f.base + "/secrets/beta", f.base + "/secrets/alpha"}, ids(p)); diff != "" {
		t.Errorf("second page (-want +got):\n%s", diff)
	}
}

func TestHostileChallenge(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	login := "https://login.microsoftonline.com/"
	tests := []struct {
		h    localcloud.Hostile
		want string
	}{
		{localcloud.Hostile{ChallengeTenant: tenantB}, `Bearer authorization="` + login + tenantB + `", resource="https://vault.azure.net"`},
		{localcloud.Hostile{ChallengeResource: "https://evil.example"}, `Bearer authorization="` + login + tenantA + `", resource="https://evil.example"`},
		{localcloud.Hostile{ChallengeAuthorization: "x"}, `Bearer authorization="x", resource="https://vault.azure.net"`},
		{localcloud.Hostile{HugeValue: 1}, `Bearer authorization="` + login + tenantA + `", resource="https://vault.azure.net"`},
	}
	for _, tt := range tests {
		f.v.SetHostile(tt.h)
		r := do(t, f.c, http.MethodGet, f.base+"/secrets?api-version=7.4", "", nil)
		if got := r.header.Get("WWW-Authenticate"); r.status != 401 || got != tt.want {
			t.Errorf("%+v: %d %q, want 401 %q", tt.h, r.status, got, tt.want)
		}
	}
}

func TestHostileBodies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.v.Put(localcloud.Secret{Name: "a", Value: "value-a"})
	const size = 1 << 20
	tests := []struct {
		name    string
		h       localcloud.Hostile
		path    string
		wantLen int64 // Content-Length: -1 chunked
		prefix  string
	}{
		{"value, chunked", localcloud.Hostile{HugeValue: size}, "/secrets/a", -1, `{"value":"AAAA`},
		{"value, declared", localcloud.Hostile{HugeValue: size, DeclareLength: true}, "/secrets/a", size, `{"value":"AAAA`},
		{"list, chunked", localcloud.Hostile{HugeListPage: size}, "/secrets", -1, `{"value":[{"id":"https://kv-raw.vault.azure.net/secrets/padded"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.v.SetHostile(tt.h)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.base+tt.path+"?api-version=7.4", nil)
			req.Header.Set("Authorization", "Bearer "+f.token)
			resp, err := f.c.HTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || resp.ContentLength != tt.wantLen || len(body) != size || !strings.HasPrefix(string(body), tt.prefix) || !json.Valid(body) {
				t.Errorf("%d, Content-Length %d, %d bytes starting %.40q, valid JSON %v, err %v", resp.StatusCode, resp.ContentLength, len(body), body, json.Valid(body), err)
			}
			if n := f.v.HostileBytes(); n != size {
				t.Errorf("HostileBytes = %d, want %d", n, size)
			}
		})
	}
}

func TestHostileSlowBodies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.v.Put(localcloud.Secret{Name: "a", Value: "value-a"})
	get := func(ctx context.Context) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/secrets/a?api-version=7.4", nil)
		req.Header.Set("Authorization", "Bearer "+f.token)
		return f.c.HTTPClient().Do(req)
	}

	f.v.SetHostile(localcloud.Hostile{TrickleGet: time.Millisecond})
	resp, err := get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	var bundle struct{ Value string }
	if err != nil || json.Unmarshal(body, &bundle) != nil || bundle.Value != "value-a" || f.v.HostileBytes() != int64(len(body)) {
		t.Errorf("trickled body %q (err %v), %d bytes counted", body, err, f.v.HostileBytes())
	}

	f.v.SetHostile(localcloud.Hostile{NeverEndingGet: true})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	resp, err = get(ctx)
	if err != nil {
		t.Fatalf("headers should arrive: %v", err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, context.DeadlineExceeded) || resp.StatusCode != 200 || resp.ContentLength <= 0 {
		t.Errorf("never-ending body: %d, Content-Length %d, err %v", resp.StatusCode, resp.ContentLength, err)
	}
}

func TestHostileTLS(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, fault := range []localcloud.TLSFault{localcloud.TLSWrongName, localcloud.TLSUnknownCA} {
		before := f.c.Handshakes("kv-raw.vault.azure.net")
		f.v.SetHostile(localcloud.Hostile{TLS: fault})
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.base+"/secrets?api-version=7.4", nil)
		_, err := f.c.HTTPClient().Do(req)
		var hostErr x509.HostnameError
		var caErr x509.UnknownAuthorityError
		switch {
		case fault == localcloud.TLSWrongName && !errors.As(err, &hostErr):
			t.Errorf("%s: %v, want a HostnameError", fault, err)
		case fault == localcloud.TLSUnknownCA && !errors.As(err, &caErr):
			t.Errorf("%s: %v, want an UnknownAuthorityError", fault, err)
		}
		if n := f.c.Handshakes("kv-raw.vault.azure.net") - before; n != 1 {
			t.Errorf("%s: %d handshakes, want 1", fault, n)
		}
	}
	// The fault is the vault's: Entra keeps its good certificate.
	tokenFor(t, f.c, tenantA, clientA, secretA, "https://vault.azure.net/.default")
	f.v.SetHostile(localcloud.Hostile{})
	if r := do(t, f.c, http.MethodGet, f.base+"/secrets?api-version=7.4", f.token, nil); r.status != 200 {
		t.Errorf("healthy again: %d", r.status)
	}
}

func TestArrivals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	do(t, f.c, http.MethodGet, f.base+"/secrets?api-version=7.4", f.token, nil)
	do(t, f.c, http.MethodGet, f.base+"/secrets?api-version=7.4", "forged-token", nil)
	// A plain-http request sent to the proxy, as a client would send an
	// http:// URL with HTTP_PROXY set.
	proxy, _ := url.Parse(f.c.ProxyURL())
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://kv-raw.vault.azure.net/secrets", nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	var got []localcloud.Arrival
	for _, a := range f.c.Arrivals() {
		if a.Host != "login.microsoftonline.com" {
			got = append(got, a)
		}
	}
	want := []localcloud.Arrival{
		{Scheme: "https", Host: "kv-raw.vault.azure.net", Method: "GET", Path: "/secrets", Authorization: "Bearer", Audience: "https://vault.azure.net", Proto: "HTTP/1.1"},
		{Scheme: "https", Host: "kv-raw.vault.azure.net", Method: "GET", Path: "/secrets", Authorization: "Bearer", Proto: "HTTP/1.1"},
		{Scheme: "http", Host: "kv-raw.vault.azure.net", Method: "GET", Path: "/secrets", Authorization: "Bearer", Audience: "https://vault.azure.net", Proto: "HTTP/1.1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("arrivals (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]localcloud.IssuedToken{{Tenant: tenantA, Audience: "https://vault.azure.net"}}, f.c.IssuedTokens()); diff != "" {
		t.Errorf("issued tokens (-want +got):\n%s", diff)
	}
}

// TestEvents: the cloud's observations are views of one log, in the order
// things happened.
func TestEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before := len(f.c.Events())
	do(t, f.c, http.MethodGet, f.base+"/secrets?api-version=7.4", "", nil)
	var kinds []localcloud.EventKind
	for _, e := range f.c.Events()[before:] {
		kinds = append(kinds, e.Kind)
	}
	want := []localcloud.EventKind{localcloud.TunnelEvent, localcloud.HandshakeEvent, localcloud.ArrivalEvent, localcloud.VaultReplyEvent}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("events of one unauthenticated list call (-want +got):\n%s", diff)
	}
	if got := f.v.MaxInFlight(); got != 1 {
		t.Errorf("MaxInFlight = %d, want 1", got)
	}
}
