package reqpolicy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/google/go-cmp/cmp"
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
		if got := SameOrigin(mustURL(t, tt.a), mustURL(t, tt.b)); got != tt.want {
			t.Errorf("SameOrigin(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
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
		{"get, declared too large", "/secrets/a", MaxGetReply + 1, MaxGetReply + 1, &ReplyTooLargeError{Limit: MaxGetReply}, nil, 0},
		{"get, chunked too large", "/secrets/a/", -1, 10 * MaxGetReply, nil, &ReplyTooLargeError{Limit: MaxGetReply}, MaxGetReply + 1},
		{"get, at the cap", "/secrets/a", MaxGetReply, MaxGetReply, nil, nil, MaxGetReply},
		{"get, chunked at the cap", "/secrets/a", -1, MaxGetReply, nil, nil, MaxGetReply},
		{"list, declared too large", "/secrets", MaxListReply + 1, MaxListReply + 1, &ReplyTooLargeError{Limit: MaxListReply}, nil, 0},
		{"list, chunked too large", "/secrets/", -1, 2 * MaxListReply, nil, &ReplyTooLargeError{Limit: MaxListReply}, MaxListReply + 1},
		{"list, larger than a get", "/secrets", -1, 2 * MaxGetReply, nil, nil, 2 * MaxGetReply},
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
