package reqpolicy

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Caps on a reply body. A value is at most 25 KB; its JSON reply, with
// every byte escaped as \uXXXX and the attributes, stays far below
// MaxGetReply. A list page names at most 25 secrets.
const (
	MaxGetReply  = 256 << 10
	MaxListReply = 4 << 20
)

// guardPolicy is the last policy of ours before the wire. The Azure SDK
// attaches the vault's bearer token to whatever URL a request carries —
// including a nextLink pointing elsewhere. This policy refuses to send
// anything to any host but the vault, and checks the vault's challenge
// before the SDK parses it. Reply bodies are capped lower down, by
// capTransport.
type guardPolicy struct {
	vault  *url.URL // scheme and host (port normalised) requests must match
	tenant string   // the tenant the challenge must name ("" = any)
}

// ForeignHostError is a request the task refused to send, because it would
// carry the vault's token elsewhere.
type ForeignHostError struct{ URL string }

func (e *ForeignHostError) Error() string {
	return fmt.Sprintf("refused to send a request to %s: only the vault itself may receive its token. The vault (or something between the agent and it) sent a link to another host; no request and no token went there", e.URL)
}

// Explained marks the message as saying what to do.
func (e *ForeignHostError) Explained() {}

// NonRetriable stops the SDK's retries: the answer will not change.
func (e *ForeignHostError) NonRetriable() {}

// ReplyTooLargeError is a reply body over its cap.
type ReplyTooLargeError struct{ Limit int64 }

func (e *ReplyTooLargeError) Error() string {
	return fmt.Sprintf("the vault's reply is larger than %d KiB, more than Key Vault ever sends; refused: a proxy or the vault is misbehaving", e.Limit>>10)
}

// Explained marks the message as saying what to do.
func (e *ReplyTooLargeError) Explained() {}

// NonRetriable stops the SDK's retries.
func (e *ReplyTooLargeError) NonRetriable() {}

// ChallengeError is a vault challenge the task will not follow.
type ChallengeError struct {
	Authorization string
	Reason        string
}

func (e *ChallengeError) Error() string {
	return fmt.Sprintf("the vault's authentication challenge was refused: %s (authorization %q); check that KeyVaultName names a real Azure Key Vault and that no proxy rewrites its replies", e.Reason, vso.Clip(e.Authorization, 120))
}

// Explained marks the message as saying what to do.
func (e *ChallengeError) Explained() {}

// NonRetriable stops the SDK's retries.
func (e *ChallengeError) NonRetriable() {}

func (g guardPolicy) Do(req *policy.Request) (*http.Response, error) {
	u := req.Raw().URL
	if !SameOrigin(u, g.vault) {
		return nil, &ForeignHostError{URL: u.Scheme + "://" + u.Host + u.Path}
	}
	resp, err := req.Next()
	if err != nil {
		return resp, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		if err := g.checkChallenge(resp.Header.Get("WWW-Authenticate")); err != nil {
			resp.Body.Close()
			return nil, err
		}
	}
	return resp, nil
}

// capTransport caps reply bodies as they come off the wire. It has to be
// the transport, below every policy: the SDK's own last policy reads each
// body whole before any policy above it sees the reply.
type capTransport struct{ next policy.Transporter }

func (t capTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := t.next.Do(req)
	if err != nil {
		return resp, err
	}
	limit := int64(MaxGetReply)
	if IsList(req) {
		limit = MaxListReply
	}
	if resp.ContentLength > limit {
		resp.Body.Close()
		return nil, &ReplyTooLargeError{Limit: limit}
	}
	resp.Body = &cappedBody{rc: resp.Body, left: limit, limit: limit}
	return resp, nil
}

// checkChallenge refuses a challenge the SDK would mishandle (its parser
// indexes the authorization URL's path blindly) or that points the token
// request at another tenant.
func (g guardPolicy) checkChallenge(h string) error {
	if h == "" {
		return nil // the SDK reports a missing challenge itself
	}
	auth := challengeParam(h, "authorization")
	if auth == "" {
		auth = challengeParam(h, "authorization_uri")
	}
	a, err := url.Parse(auth)
	if err != nil || a.Scheme != "https" || a.Host == "" {
		return &ChallengeError{Authorization: auth, Reason: "the authorization is not an https URL"}
	}
	seg := strings.Split(strings.Trim(a.Path, "/"), "/")[0]
	if seg == "" {
		return &ChallengeError{Authorization: auth, Reason: "the authorization names no tenant"}
	}
	// The token's audience must be Key Vault's, which is a parent domain
	// of the vault's host; the SDK checks this too, but its message tells
	// a developer to turn the check off.
	resource := challengeParam(h, "scope")
	if resource == "" {
		resource = challengeParam(h, "resource")
	}
	if r, err := url.Parse(resource); resource != "" && (err != nil || r.Hostname() == "" ||
		!strings.HasSuffix(strings.ToLower(g.vault.Hostname()), "."+strings.ToLower(r.Hostname()))) {
		return &ChallengeError{Authorization: auth, Reason: fmt.Sprintf("it names the resource %q, which is not Key Vault's", vso.Clip(resource, 120))}
	}
	// The authority's host is not compared: real vaults name aliases such
	// as login.windows.net, and azidentity uses its own configured
	// authority anyway; only the tenant is taken from the challenge.
	if g.tenant != "" && !strings.EqualFold(seg, g.tenant) {
		vault, _, _ := strings.Cut(g.vault.Hostname(), ".")
		return &TenantMismatchError{Vault: vault, VaultTenant: seg, ConnectionTenant: g.tenant}
	}
	return nil
}

// TenantMismatchError is a vault that belongs to another tenant than the
// service connection.
type TenantMismatchError struct{ Vault, VaultTenant, ConnectionTenant string }

func (e *TenantMismatchError) Error() string {
	return TenantMismatch(e.Vault, vso.Clip(e.VaultTenant, 64), e.ConnectionTenant)
}

// TenantMismatch says that vault belongs to vaultTenant while the service
// connection is for connTenant, and what to do about it: the one sentence
// for it, whether the guard found it in the vault's challenge or
// azidentity refused the challenge's tenant.
func TenantMismatch(vault, vaultTenant, connTenant string) string {
	return fmt.Sprintf("vault %s belongs to tenant %s, but the service connection is for tenant %s: use a service connection of the vault's tenant, or a vault of the connection's tenant", vault, vaultTenant, connTenant)
}

// Explained marks the message as saying what to do.
func (e *TenantMismatchError) Explained() {}

// NonRetriable stops the SDK's retries.
func (e *TenantMismatchError) NonRetriable() {}

// challengeParam extracts name="value" from a WWW-Authenticate header.
func challengeParam(h, name string) string {
	lower := strings.ToLower(h)
	key := name + "=\""
	i := strings.Index(lower, key)
	for i > 0 && lower[i-1] != ' ' && lower[i-1] != ',' {
		j := strings.Index(lower[i+1:], key)
		if j < 0 {
			return ""
		}
		i += 1 + j
	}
	if i < 0 {
		return ""
	}
	rest := h[i+len(key):]
	end := strings.IndexByte(rest, '"')
	if end < 0 {
		return ""
	}
	return rest[:end]
}

// SameOrigin compares scheme, host and port, with the scheme's default
// port made explicit: real nextLinks carry ":443".
func SameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(HostPort(a), HostPort(b))
}

// HostPort is u's host, in lower case, and port, the scheme's default made
// explicit.
func HostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return strings.ToLower(u.Hostname()) + ":" + port
}

// cappedBody fails a read that would go past the cap, without reading
// further.
type cappedBody struct {
	rc    io.ReadCloser
	left  int64
	limit int64
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One byte more tells a body of exactly the cap from a larger one.
		// A read error there is the body's end or failure, not EOF.
		var one [1]byte
		for range 100 {
			n, err := c.rc.Read(one[:])
			if n > 0 {
				return 0, &ReplyTooLargeError{Limit: c.limit}
			}
			if err != nil {
				return 0, err
			}
		}
		return 0, io.ErrNoProgress
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cappedBody) Close() error { return c.rc.Close() }
