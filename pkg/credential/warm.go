package credential

import (
	"context"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Serial lets one token request of a credential run at a time. The SDK's
// bearer policy asks for a token after the vault's challenge while Warm
// may be asking already; serialised, the second call finds the first one's
// token in azidentity's cache instead of sending a second request to
// Entra.
type Serial struct {
	mu   sync.Mutex
	cred azcore.TokenCredential
}

// NewSerial serialises cred's token requests.
func NewSerial(cred azcore.TokenCredential) *Serial { return &Serial{cred: cred} }

// GetToken gets a token once no other request of s is under way.
func (s *Serial) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cred.GetToken(ctx, o)
}

// Warm starts fetching the vault token in the background, so that Entra's
// round trips overlap the vault's challenge round trip instead of following
// it. tenant and resource are what the vault's challenge is expected to
// name; if it names something else, the SDK asks again with its values.
// Errors are left for the real request to report. The returned function
// waits for the background request, so that a run never ends with a
// request still under way.
func (s *Serial) Warm(ctx context.Context, tenant, resource string) (wait func()) {
	if tenant == "" || resource == "" {
		return func() {}
	}
	scope := strings.TrimSuffix(resource, "/") + "/.default"
	done := make(chan struct{})
	go func() {
		defer close(done)
		// EnableCAE matches what the SDK's bearer policy asks for, so both
		// requests share one cache entry.
		_, _ = s.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}, TenantID: tenant, EnableCAE: true})
	}()
	return func() { <-done }
}
