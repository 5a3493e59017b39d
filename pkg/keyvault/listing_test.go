package keyvault

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/reqpolicy"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

// testVault is the vault of the nextLink tests.
var testVault = &url.URL{Scheme: "https", Host: "kv.vault.azure.net", Path: "/"}

func TestCheckNextLink(t *testing.T) {
	vault := testVault
	tests := []struct {
		link string
		want string // "" = accepted
	}{
		{"https://kv.vault.azure.net:443/secrets?api-version=2026-04-01&$skiptoken=abc", ""},
		{"https://kv.vault.azure.net/secrets/?$skiptoken=abc", ""},
		{"https://evil.vault.azure.net:443/secrets?$skiptoken=abc", "refused to send a request to https://evil.vault.azure.net:443/secrets: only the vault itself may receive its token. The vault (or something between the agent and it) sent a link to another host; no request and no token went there"},
		{"http://kv.vault.azure.net/secrets", "refused to send a request to http://kv.vault.azure.net/secrets: only the vault itself may receive its token. The vault (or something between the agent and it) sent a link to another host; no request and no token went there"},
		{"https://kv.vault.azure.net:8443/secrets", "refused to send a request to https://kv.vault.azure.net:8443/secrets: only the vault itself may receive its token. The vault (or something between the agent and it) sent a link to another host; no request and no token went there"},
		{"https://kv.vault.azure.net@evil.example/secrets", "refused to send a request to https://evil.example/secrets: only the vault itself may receive its token. The vault (or something between the agent and it) sent a link to another host; no request and no token went there"},
		{"/secrets?$skiptoken=abc", "refused to send a request to :///secrets: only the vault itself may receive its token. The vault (or something between the agent and it) sent a link to another host; no request and no token went there"},
		{"https://kv.vault.azure.net/keys?$skiptoken=abc", `the vault's nextLink points at "/keys", not the secret list; refused`},
		{"https://kv.vault.azure.net/secrets/name", `the vault's nextLink points at "/secrets/name", not the secret list; refused`},
		{"https://kv.vault.azure.net/secrets/%zz", "the vault's nextLink does not parse; refused"},
		{"https://kv.vault.azure.net/secrets\n", "the vault's nextLink does not parse; refused"},
		{"https://kv.vault.azure.net/secrets?$skiptoken=" + strings.Repeat("x", 8<<10), "the vault's nextLink is 8 KiB long; Key Vault's are a few hundred bytes: stopped listing"},
		{"https://kv.vault.azure.net/secrets?$skiptoken=" + strings.Repeat("x", 8<<10-47), ""},
	}
	for _, tt := range tests {
		err := checkNextLink(tt.link, vault, map[[sha256.Size]byte]bool{})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("checkNextLink(%q) = %q, want %q", tt.link, got, tt.want)
		}
		var fh *reqpolicy.ForeignHostError
		if strings.HasPrefix(tt.want, "refused to send") && !errors.As(err, &fh) {
			t.Errorf("checkNextLink(%q) = %T, want *reqpolicy.ForeignHostError", tt.link, err)
		}
	}
}

func TestCheckNextLinkSeenTwice(t *testing.T) {
	vault := testVault
	seen := map[[sha256.Size]byte]bool{}
	links := []string{
		"https://kv.vault.azure.net:443/secrets?$skiptoken=1",
		"https://kv.vault.azure.net:443/secrets?$skiptoken=2",
		"https://kv.vault.azure.net:443/secrets?$skiptoken=1",
	}
	var got []string
	for _, l := range links {
		if err := checkNextLink(l, vault, seen); err != nil {
			got = append(got, err.Error())
		} else {
			got = append(got, "")
		}
	}
	want := []string{"", "", "the vault sent the same nextLink twice; stopped listing rather than loop"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// countingBody is a reply body that counts what was read from it.
type countingBody struct {
	r      io.Reader
	n      int64
	closed bool
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingBody) Close() error { c.closed = true; return nil }

type fillReader struct{}

func (fillReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'A'
	}
	return len(p), nil
}

// fakeVault answers Key Vault's protocol at the HTTP boundary: a 401
// challenge without a token, then whatever page or get reply the test
// scripts. It records every request.
type fakeVault struct {
	mu         sync.Mutex
	requests   []string // "scheme://host:port path authorized"
	page       func(r *http.Request) string
	get        func(r *http.Request) *http.Response
	listStatus int // not 0: every list call answers it, as Key Vault answers a 403
}

func (f *fakeVault) Do(r *http.Request) (*http.Response, error) {
	auth := r.Header.Get("Authorization") != ""
	f.mu.Lock()
	f.requests = append(f.requests, fmt.Sprintf("%s://%s %s %v", r.URL.Scheme, reqpolicy.HostPort(r.URL), r.URL.Path, auth))
	f.mu.Unlock()
	reply := func(status int, h http.Header, body string) *http.Response {
		h.Set("Content-Type", "application/json")
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: -1, Request: r}
	}
	switch {
	case !auth:
		return reply(401, http.Header{"Www-Authenticate": {`Bearer authorization="https://login.microsoftonline.com/t1", resource="https://vault.azure.net"`}}, `{"error":{"code":"Unauthorized"}}`), nil
	case reqpolicy.IsList(r) && f.listStatus != 0:
		return reply(f.listStatus, http.Header{}, `{"error":{"code":"Forbidden","innererror":{"code":"AccessDenied"}}}`), nil
	case reqpolicy.IsList(r):
		return reply(200, http.Header{}, f.page(r)), nil
	default:
		return f.get(r), nil
	}
}

func (f *fakeVault) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "t0ken", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func newTestClient(t *testing.T, f *fakeVault) *Client {
	t.Helper()
	c, err := New(Options{VaultURL: "https://kv.vault.azure.net", Credential: staticToken{}, HTTP: transport.Pipeline{Transport: f, Retry: policy.RetryOptions{MaxRetries: -1}}, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pageJSON(names []string, next string) string {
	items := make([]string, len(names))
	for i, n := range names {
		items[i] = fmt.Sprintf(`{"id":"https://kv.vault.azure.net/secrets/%s","attributes":{"enabled":true}}`, n)
	}
	link := "null"
	if next != "" {
		link = fmt.Sprintf("%q", next)
	}
	return fmt.Sprintf(`{"value":[%s],"nextLink":%s}`, strings.Join(items, ","), link)
}

func okGet(r *http.Request) *http.Response {
	name := strings.Split(strings.Trim(r.URL.Path, "/"), "/")[1]
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, ContentLength: -1, Request: r,
		Body: io.NopCloser(strings.NewReader(fmt.Sprintf(`{"value":"v-%s","id":"https://kv.vault.azure.net/secrets/%s/0123456789abcdef0123456789abcdef"}`, name, name)))}
}

// TestListPaging: every way a vault can try to keep the lister going, or
// send it elsewhere, ends the listing with an error; names listed twice
// are fetched once.
func TestListPaging(t *testing.T) {
	const vault = "https://kv.vault.azure.net:443/secrets?api-version=2026-04-01"
	tests := []struct {
		name      string
		maxPages  int
		page      func(n int) string // the n-th list reply, from 1
		wantErr   string
		wantLists int
		wantGets  []string
		maxListed int // 0: the product's bound
	}{
		{"foreign host", 10, func(n int) string {
			return pageJSON([]string{"a"}, "https://evil.vault.azure.net:443/secrets?$skiptoken=1")
		}, "refused to send a request to https://evil.vault.azure.net:443/secrets", 1, []string{"a"}, 0},
		{"loop", 10, func(n int) string {
			return pageJSON([]string{"a", "b"}, vault+"&$skiptoken=same")
		}, "the vault sent the same nextLink twice", 2, []string{"a", "b"}, 0},
		{"endless", 5, func(n int) string {
			return pageJSON([]string{"a", "A", fmt.Sprintf("s%d", n)}, fmt.Sprintf("%s&$skiptoken=%d", vault, n))
		}, "the vault kept sending pages past 5; stopped listing", 5, []string{"a", "s1", "s2", "s3", "s4", "s5"}, 0},
		{"pages then end", 10, func(n int) string {
			if n == 3 {
				return pageJSON([]string{"c", "a"}, "")
			}
			return pageJSON([]string{fmt.Sprintf("s%d", n)}, fmt.Sprintf("%s&$skiptoken=%d", vault, n))
		}, "", 3, []string{"a", "c", "s1", "s2"}, 0},
		{"page over 25 entries", 10, func(n int) string {
			names := make([]string, 26)
			for i := range names {
				names[i] = fmt.Sprintf("s%02d", i)
			}
			return pageJSON(names, vault+"&$skiptoken=1")
		}, "a list page from the vault holds 26 entries; Key Vault sends at most 25: stopped listing", 1, nil, 0},
		{"more entries than the bound", 100, func(n int) string {
			return pageJSON([]string{fmt.Sprintf("a%d", n), fmt.Sprintf("b%d", n)}, fmt.Sprintf("%s&$skiptoken=%d", vault, n))
		}, "the vault listed more than 5 secrets, more than GoKeyVault reads: stopped listing", 3, []string{"a1", "b1", "a2", "b2"}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			pages := 0
			f := &fakeVault{
				page: func(*http.Request) string {
					mu.Lock()
					defer mu.Unlock()
					pages++
					return tt.page(pages)
				},
				get: okGet,
			}
			c := newTestClient(t, f)
			c.maxPages = tt.maxPages
			if tt.maxListed > 0 {
				c.maxListed = tt.maxListed
			}
			var gotMu sync.Mutex
			var got []string
			_, err := c.All(context.Background(), func(v Value) {
				gotMu.Lock()
				got = append(got, v.Name)
				gotMu.Unlock()
			})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("All: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("All: %v, want %q", err, tt.wantErr)
			}
			lists := 0
			gets := map[string]int{}
			for _, s := range f.sent() {
				host, rest, _ := strings.Cut(s, " ")
				if host != "https://kv.vault.azure.net:443" {
					t.Errorf("request to %s", s)
				}
				path, auth, _ := strings.Cut(rest, " ")
				if auth != "true" {
					continue
				}
				if strings.TrimSuffix(path, "/") == "/secrets" {
					lists++
				} else {
					gets[strings.Split(strings.Trim(path, "/"), "/")[1]]++
				}
			}
			if lists != tt.wantLists {
				t.Errorf("%d list requests, want %d", lists, tt.wantLists)
			}
			for name, n := range gets {
				if n != 1 {
					t.Errorf("secret %s fetched %d times", name, n)
				}
			}
			// The listing's error cancels gets under way: the ones that
			// made it are among those listed.
			want := map[string]bool{}
			for _, n := range tt.wantGets {
				want[n] = true
			}
			for _, n := range got {
				if !want[n] {
					t.Errorf("got value of %s", n)
				}
			}
			if tt.wantErr == "" && len(got) != len(tt.wantGets) {
				t.Errorf("got %v, want %v", got, tt.wantGets)
			}
		})
	}
}

// TestGetCapped: a get reply over the cap fails that secret without being
// read past the cap, and is not retried.
func TestGetCapped(t *testing.T) {
	var bodies []*countingBody
	var mu sync.Mutex
	f := &fakeVault{get: func(r *http.Request) *http.Response {
		// Large, not endless: without the cap the test fails rather than
		// eating all memory.
		b := &countingBody{r: io.MultiReader(strings.NewReader(`{"value":"`), io.LimitReader(fillReader{}, 16*reqpolicy.MaxGetReply))}
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, ContentLength: -1, Body: b, Request: r}
	}}
	c, err := New(Options{VaultURL: "https://kv.vault.azure.net", Credential: staticToken{},
		HTTP: transport.Pipeline{Transport: f, Retry: policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := c.Named(context.Background(), []vaultref.Secret{{Name: "huge"}}, func(Value) { t.Error("value delivered") })
	if err != nil {
		t.Fatal(err)
	}
	var tl *reqpolicy.ReplyTooLargeError
	if len(rep.Failures) != 1 || !errors.As(rep.Failures[0].Err, &tl) {
		t.Fatalf("failures %+v, want one ReplyTooLargeError", rep.Failures)
	}
	if len(bodies) != 1 {
		t.Errorf("%d huge replies requested, want 1 (no retry)", len(bodies))
	}
	for _, b := range bodies {
		if b.n > reqpolicy.MaxGetReply+1 {
			t.Errorf("read %d bytes of the reply, cap %d", b.n, reqpolicy.MaxGetReply)
		}
	}
}

// TestSinkPanic: a panic while a value is being set is that secret's
// failure, not the end of the run.
func TestSinkPanic(t *testing.T) {
	f := &fakeVault{get: okGet}
	c := newTestClient(t, f)
	rep, err := c.Named(context.Background(), []vaultref.Secret{{Name: "a"}, {Name: "b"}}, func(v Value) {
		if v.Name == "b" {
			panic("sink")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Downloaded != 1 || len(rep.Failures) != 1 || rep.Failures[0].Name != "b" || rep.Failures[0].Err.Error() != "set secret b: internal error" {
		t.Errorf("report %+v, want a downloaded and b failed with an internal error", rep)
	}
}
