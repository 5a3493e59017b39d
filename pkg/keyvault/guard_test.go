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
	"testing/iotest"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/transport"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"https://kv.vault.azure.net/", "https://kv.vault.azure.net/", true},
		// Real nextLinks carry the default port.
		{"https://kv.vault.azure.net:443/secrets?x=1", "https://kv.vault.azure.net/", true},
		{"HTTPS://KV.Vault.Azure.Net/secrets", "https://kv.vault.azure.net/", true},
		{"http://kv.vault.azure.net:80/", "http://kv.vault.azure.net/", true},
		{"http://kv.vault.azure.net/secrets", "https://kv.vault.azure.net/", false},
		{"http://kv.vault.azure.net:443/secrets", "https://kv.vault.azure.net/", false},
		{"https://kv.vault.azure.net:8443/secrets", "https://kv.vault.azure.net/", false},
		{"https://kv.vault.azure.net:80/secrets", "https://kv.vault.azure.net/", false},
		{"https://evil.vault.azure.net/secrets", "https://kv.vault.azure.net/", false},
		{"https://kv.vault.azure.net.evil.example/secrets", "https://kv.vault.azure.net/", false},
		{"https://kv.vault.azure.net@evil.example/secrets", "https://kv.vault.azure.net/", false},
		{"https://kv.vault.azure.net./secrets", "https://kv.vault.azure.net/", false},
		{"/secrets?x=1", "https://kv.vault.azure.net/", false},
		{"//kv.vault.azure.net/secrets", "https://kv.vault.azure.net/", false},
	}
	for _, tt := range tests {
		if got := sameOrigin(mustURL(t, tt.a), mustURL(t, tt.b)); got != tt.want {
			t.Errorf("sameOrigin(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestCheckNextLink(t *testing.T) {
	vault := mustURL(t, "https://kv.vault.azure.net/")
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
		var fh *ForeignHostError
		if strings.HasPrefix(tt.want, "refused to send") && !errors.As(err, &fh) {
			t.Errorf("checkNextLink(%q) = %T, want *ForeignHostError", tt.link, err)
		}
	}
}

func TestCheckNextLinkSeenTwice(t *testing.T) {
	vault := mustURL(t, "https://kv.vault.azure.net/")
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

func TestCappedBody(t *testing.T) {
	const limit = 1000
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	}
	sizes := []struct {
		size    int64
		tooBig  bool
		maxRead int64 // the most the cap may take from the body
	}{
		{0, false, 0},
		{limit - 1, false, limit - 1},
		{limit, false, limit},
		{limit + 1, true, limit + 1},
		{100 * limit, true, limit + 1},
	}
	for name, wrap := range readers {
		for _, s := range sizes {
			t.Run(fmt.Sprintf("%s/%d", name, s.size), func(t *testing.T) {
				body := &countingBody{r: wrap(strings.NewReader(strings.Repeat("x", int(s.size))))}
				got, err := io.ReadAll(&cappedBody{rc: body, left: limit, limit: limit})
				var tl *ReplyTooLargeError
				switch {
				case s.tooBig && (!errors.As(err, &tl) || tl.Limit != limit):
					t.Errorf("err = %v, want ReplyTooLargeError{%d}", err, limit)
				case !s.tooBig && (err != nil || int64(len(got)) != s.size):
					t.Errorf("read %d bytes, err %v; want %d, nil", len(got), err, s.size)
				}
				if body.n > s.maxRead {
					t.Errorf("read %d bytes from the body, cap allows %d", body.n, s.maxRead)
				}
			})
		}
	}
}

// stepReader returns its steps one Read at a time.
type stepReader []struct {
	data string
	err  error
}

func (s *stepReader) Read(p []byte) (int, error) {
	if len(*s) == 0 {
		return 0, io.EOF
	}
	st := (*s)[0]
	*s = (*s)[1:]
	return copy(p, st.data), st.err
}

// TestCappedBodyAtTheCap: what the body says right at the cap is passed on
// as it is — a pause is not an end, a failure is not an end.
func TestCappedBodyAtTheCap(t *testing.T) {
	const limit = 4
	broken := errors.New("connection reset")
	tests := []struct {
		name    string
		steps   stepReader
		want    string
		wantErr error
	}{
		{"pause, then end", stepReader{{"abcd", nil}, {"", nil}, {"", io.EOF}}, "abcd", nil},
		{"pause, then more", stepReader{{"abcd", nil}, {"", nil}, {"e", nil}}, "abcd", &ReplyTooLargeError{Limit: limit}},
		{"failure at the cap", stepReader{{"abcd", nil}, {"", broken}}, "abcd", broken},
		{"end with the last bytes", stepReader{{"abcd", io.EOF}}, "abcd", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := io.ReadAll(&cappedBody{rc: io.NopCloser(&tt.steps), left: limit, limit: limit})
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if diff := cmp.Diff(tt.wantErr, err, cmp.Comparer(func(a, b error) bool { return a == nil && b == nil || a != nil && b != nil && a.Error() == b.Error() })); diff != "" {
				t.Errorf("err (-want +got):\n%s", diff)
			}
		})
	}
	endless := &countingBody{r: iotest.OneByteReader(io.LimitReader(fillReader{}, 1<<20))}
	_, err := io.ReadAll(&cappedBody{rc: endless, left: limit, limit: limit})
	var tl *ReplyTooLargeError
	if !errors.As(err, &tl) || endless.n != limit+1 {
		t.Errorf("long body: err %v after %d bytes, want ReplyTooLargeError after %d", err, endless.n, limit+1)
	}
}

type fillReader struct{}

func (fillReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'A'
	}
	return len(p), nil
}

// transportFunc is a policy.Transporter: the HTTP boundary.
type transportFunc func(*http.Request) (*http.Response, error)

func (f transportFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func TestCapTransport(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		declared int64 // Content-Length; -1 = chunked
		size     int64
		want     error // from the transport
		wantRead error // from reading the body
		maxRead  int64
	}{
		{"get, declared too large", "/secrets/a", maxGetReply + 1, maxGetReply + 1, &ReplyTooLargeError{Limit: maxGetReply}, nil, 0},
		{"get, chunked too large", "/secrets/a/", -1, 10 * maxGetReply, nil, &ReplyTooLargeError{Limit: maxGetReply}, maxGetReply + 1},
		{"get, at the cap", "/secrets/a", maxGetReply, maxGetReply, nil, nil, maxGetReply},
		{"get, chunked at the cap", "/secrets/a", -1, maxGetReply, nil, nil, maxGetReply},
		{"list, declared too large", "/secrets", maxListReply + 1, maxListReply + 1, &ReplyTooLargeError{Limit: maxListReply}, nil, 0},
		{"list, chunked too large", "/secrets/", -1, 2 * maxListReply, nil, &ReplyTooLargeError{Limit: maxListReply}, maxListReply + 1},
		{"list, larger than a get", "/secrets", -1, 2 * maxGetReply, nil, nil, 2 * maxGetReply},
	}
	same := cmp.Comparer(func(a, b error) bool { return a == nil && b == nil || a != nil && b != nil && a.Error() == b.Error() })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &countingBody{r: strings.NewReader(strings.Repeat("x", int(tt.size)))}
			next := transportFunc(func(r *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, ContentLength: tt.declared, Body: body, Header: http.Header{}, Request: r}, nil
			})
			req, err := http.NewRequest(http.MethodGet, "https://kv.vault.azure.net"+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := capTransport{next: next}.Do(req)
			if diff := cmp.Diff(tt.want, err, same); diff != "" {
				t.Fatalf("Do error (-want +got):\n%s", diff)
			}
			if err != nil {
				if !body.closed || body.n != 0 {
					t.Errorf("refused body: closed %v, %d bytes read; want closed, none read", body.closed, body.n)
				}
				return
			}
			_, err = io.ReadAll(resp.Body)
			if diff := cmp.Diff(tt.wantRead, err, same); diff != "" {
				t.Errorf("read error (-want +got):\n%s", diff)
			}
			if body.n > tt.maxRead {
				t.Errorf("read %d bytes from the body, want at most %d", body.n, tt.maxRead)
			}
		})
	}
}

func TestChallengeParam(t *testing.T) {
	tests := []struct {
		header, name, want string
	}{
		{`Bearer authorization="https://login/t", resource="https://vault.azure.net"`, "authorization", "https://login/t"},
		{`Bearer authorization="https://login/t", resource="https://vault.azure.net"`, "resource", "https://vault.azure.net"},
		{`Bearer AUTHORIZATION="https://login/t"`, "authorization", "https://login/t"},
		// A longer key ending in the name is not the name.
		{`Bearer xauthorization="https://evil/t", authorization="https://login/t"`, "authorization", "https://login/t"},
		{`Bearer xauthorization="https://evil/t"`, "authorization", ""},
		{`Bearer authorization_uri="https://login/t"`, "authorization", ""},
		{`Bearer authorization="https://login/t`, "authorization", ""},
		{`Bearer resource="https://vault.azure.net"`, "authorization", ""},
		{``, "authorization", ""},
	}
	for _, tt := range tests {
		if got := challengeParam(tt.header, tt.name); got != tt.want {
			t.Errorf("challengeParam(%q, %q) = %q, want %q", tt.header, tt.name, got, tt.want)
		}
	}
}

func TestCheckChallenge(t *testing.T) {
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	const other = "99999999-2222-3333-4444-555555555555"
	ch := func(auth, resource string) string {
		return fmt.Sprintf(`Bearer authorization="%s", resource="%s"`, auth, resource)
	}
	login := "https://login.microsoftonline.com/"
	tests := []struct {
		name   string
		tenant string // the connection's; "" = any
		header string
		want   error
	}{
		{"no challenge", tenant, "", nil},
		{"the vault's", tenant, ch(login+tenant, "https://vault.azure.net"), nil},
		{"tenant in another case", tenant, ch(login+strings.ToUpper(tenant), "https://vault.azure.net"), nil},
		{"authority alias", tenant, ch("https://login.windows.net/"+tenant, "https://vault.azure.net"), nil},
		{"authorization_uri", tenant, `Bearer authorization_uri="` + login + tenant + `", resource="https://vault.azure.net"`, nil},
		{"scope", tenant, `Bearer authorization="` + login + tenant + `", scope="https://vault.azure.net/.default"`, nil},
		{"no resource: the SDK reports it", tenant, `Bearer authorization="` + login + tenant + `"`, nil},
		{"AD FS", "adfs", ch("https://adfs.local.azurestack.external/adfs", "https://vault.azure.net"), nil},
		{"any tenant", "", ch(login+other, "https://vault.azure.net"), nil},
		{"foreign tenant", tenant, ch(login+other, "https://vault.azure.net"), &TenantMismatchError{Vault: "kv-e2e", VaultTenant: other, ConnectionTenant: tenant}},
		{"AD FS challenge to an Entra connection", tenant, ch("https://adfs.local.azurestack.external/adfs", "https://vault.azure.net"),
			&TenantMismatchError{Vault: "kv-e2e", VaultTenant: "adfs", ConnectionTenant: tenant}},
		{"foreign resource", tenant, ch(login+tenant, "https://evil.example"),
			&ChallengeError{Authorization: login + tenant, Reason: `it names the resource "https://evil.example", which is not Key Vault's`}},
		{"resource that extends the vault's domain", tenant, ch(login+tenant, "https://vault.azure.net.evil.example"),
			&ChallengeError{Authorization: login + tenant, Reason: `it names the resource "https://vault.azure.net.evil.example", which is not Key Vault's`}},
		{"resource without a host", tenant, ch(login+tenant, "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"),
			&ChallengeError{Authorization: login + tenant, Reason: `it names the resource "cfa8b339-82a2-471a-a3c9-0fc0be7a4093", which is not Key Vault's`}},
		{"authorization not a URL", tenant, ch("x", "https://vault.azure.net"), &ChallengeError{Authorization: "x", Reason: "the authorization is not an https URL"}},
		{"authorization over http", tenant, ch("http://login.microsoftonline.com/"+tenant, "https://vault.azure.net"),
			&ChallengeError{Authorization: "http://login.microsoftonline.com/" + tenant, Reason: "the authorization is not an https URL"}},
		{"authorization without tenant", tenant, ch("https://login.microsoftonline.com", "https://vault.azure.net"),
			&ChallengeError{Authorization: "https://login.microsoftonline.com", Reason: "the authorization names no tenant"}},
		{"authorization with an empty path", tenant, ch("https://login.microsoftonline.com//", "https://vault.azure.net"),
			&ChallengeError{Authorization: "https://login.microsoftonline.com//", Reason: "the authorization names no tenant"}},
		{"no authorization", tenant, `Bearer resource="https://vault.azure.net"`, &ChallengeError{Reason: "the authorization is not an https URL"}},
		{"unterminated", tenant, `Bearer authorization="` + login + tenant, &ChallengeError{Reason: "the authorization is not an https URL"}},
		{"control characters", tenant, ch("https://login.microsoftonline.com/%zz\n", "https://vault.azure.net"),
			&ChallengeError{Authorization: "https://login.microsoftonline.com/%zz\n", Reason: "the authorization is not an https URL"}},
	}
	g := guardPolicy{vault: mustURL(t, "https://kv-e2e.vault.azure.net/")}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.tenant = tt.tenant
			if diff := cmp.Diff(tt.want, g.checkChallenge(tt.header)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// What the user reads: one line, untrusted text clipped and escaped.
	err := g.checkChallenge(ch("https://login.microsoftonline.com/%zz\n"+strings.Repeat("y", 200), "https://vault.azure.net"))
	if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || len(msg) > 350 {
		t.Errorf("message not clipped to one line: %q", msg)
	}
}

// TestGuardPolicy: the pipeline's own check refuses a request to any
// other origin, whatever put it there, before it reaches the transport.
func TestGuardPolicy(t *testing.T) {
	var sent []string
	tr := transportFunc(func(r *http.Request) (*http.Response, error) {
		sent = append(sent, r.URL.String())
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	g := guardPolicy{vault: mustURL(t, "https://kv.vault.azure.net/")}
	pl := runtime.NewPipeline("test", "v0", runtime.PipelineOptions{PerRetry: []policy.Policy{g}}, &policy.ClientOptions{Transport: tr, Retry: policy.RetryOptions{MaxRetries: -1}})
	for _, u := range []string{
		"https://evil.vault.azure.net/secrets",
		"https://kv.vault.azure.net:8443/secrets",
		"http://kv.vault.azure.net/secrets",
		"https://login.microsoftonline.com/secrets",
	} {
		req, err := runtime.NewRequest(context.Background(), http.MethodGet, u)
		if err != nil {
			t.Fatal(err)
		}
		req.Raw().Header.Set("Authorization", "Bearer t0ken")
		_, err = pl.Do(req)
		var fh *ForeignHostError
		if !errors.As(err, &fh) {
			t.Errorf("%s: err %v, want ForeignHostError", u, err)
		}
	}
	req, err := runtime.NewRequest(context.Background(), http.MethodGet, "https://kv.vault.azure.net:443/secrets")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Do(req); err != nil {
		t.Errorf("the vault itself: %v", err)
	}
	if diff := cmp.Diff([]string{"https://kv.vault.azure.net:443/secrets"}, sent); diff != "" {
		t.Errorf("requests sent (-want +got):\n%s", diff)
	}
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
	f.requests = append(f.requests, fmt.Sprintf("%s://%s %s %v", r.URL.Scheme, hostPort(r.URL), r.URL.Path, auth))
	f.mu.Unlock()
	reply := func(status int, h http.Header, body string) *http.Response {
		h.Set("Content-Type", "application/json")
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: -1, Request: r}
	}
	switch {
	case !auth:
		return reply(401, http.Header{"Www-Authenticate": {`Bearer authorization="https://login.microsoftonline.com/t1", resource="https://vault.azure.net"`}}, `{"error":{"code":"Unauthorized"}}`), nil
	case isList(r) && f.listStatus != 0:
		return reply(f.listStatus, http.Header{}, `{"error":{"code":"Forbidden","innererror":{"code":"AccessDenied"}}}`), nil
	case isList(r):
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
		b := &countingBody{r: io.MultiReader(strings.NewReader(`{"value":"`), io.LimitReader(fillReader{}, 16*maxGetReply))}
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
	var tl *ReplyTooLargeError
	if len(rep.Failures) != 1 || !errors.As(rep.Failures[0].Err, &tl) {
		t.Fatalf("failures %+v, want one ReplyTooLargeError", rep.Failures)
	}
	if len(bodies) != 1 {
		t.Errorf("%d huge replies requested, want 1 (no retry)", len(bodies))
	}
	for _, b := range bodies {
		if b.n > maxGetReply+1 {
			t.Errorf("read %d bytes of the reply, cap %d", b.n, maxGetReply)
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
