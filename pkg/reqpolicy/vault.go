package reqpolicy

import (
	"net/http"
	"net/url"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Vault is what the policies of one vault's client need to know.
type Vault struct {
	URL *url.URL // requests may go to its scheme, host and port only
	// TenantID is the service connection's tenant: a challenge naming
	// another is refused before any token is requested ("" = any).
	TenantID string
	// APIVersion is the user's choice (GoKeyVault.ApiVersion), never
	// fallen back from; "" for the SDK's.
	APIVersion   string
	GetsInFlight int // the limiter's bound
	Now          func() time.Time
	Logf         func(string) // debug lines (an api-version fallback); nil: none
}

// Install adds the per-request policies of a vault's client to co, which
// holds the caller's transport, retries and per-try policies, and returns
// the limiter. Once per operation, the attempts counter; on every try, the
// api-version fallback, the limiter, the caller's policies and the guard;
// below them, as the transport, the reply cap.
func Install(co *policy.ClientOptions, v Vault) *Limiter {
	lim := newLimiter(v.GetsInFlight, v.Now)
	if co.Transport == nil {
		co.Transport = http.DefaultClient
	}
	co.Transport = capTransport{next: co.Transport}
	co.APIVersion = v.APIVersion
	co.PerCallPolicies = []policy.Policy{attemptsPolicy{}}
	// The guard goes last, nearest the wire, so that nothing added after
	// it can send where it would not.
	// The version policy goes first: its second try of a refused
	// version passes the limiter and the guard again.
	versions := &versionPolicy{fixed: v.APIVersion != "", logf: v.Logf}
	co.PerRetryPolicies = append(append([]policy.Policy{versions, lim.policy()}, co.PerRetryPolicies...), guardPolicy{vault: v.URL, tenant: v.TenantID})
	return lim
}
