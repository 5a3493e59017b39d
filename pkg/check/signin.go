package check

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Source is a credential a check may sign in with, and its name for the
// report.
type Source struct {
	Name       string
	Credential azcore.TokenCredential
}

// SignIn is a check's credential: the first of its sources that is
// available, as azidentity's ChainedTokenCredential picks it (a tool that
// is not installed is passed over; one that is installed decides, so that
// "run az login" is not lost among the other tools' complaints). It
// remembers which source gave the token, and explains its failures to a
// developer rather than about a service connection.
type SignIn struct {
	tenant string
	chain  azcore.TokenCredential

	mu   sync.Mutex
	used string
}

// DevCredential signs in as DefaultAzureCredential's developer chain does:
// the Azure CLI (az), then the Azure Developer CLI (azd), then Azure
// PowerShell. tenant "" lets each tool ask for the tenant the vault's
// challenge names.
//
// The Azure CLI runs under the check's own runner (azureCLI); the other
// two tools, which fewer developers have, under azidentity's, which ends
// only the shell it starts and reads all a tool prints.
func DevCredential(tenant string) (*SignIn, error) {
	cli := &azureCLI{tenant: tenant, timeout: azTimeout}
	azd, err := azidentity.NewAzureDeveloperCLICredential(&azidentity.AzureDeveloperCLICredentialOptions{TenantID: tenant})
	if err != nil {
		return nil, fmt.Errorf("--tenant %q: %w", vso.Clip(tenant, 64), err)
	}
	pwsh, err := azidentity.NewAzurePowerShellCredential(&azidentity.AzurePowerShellCredentialOptions{TenantID: tenant})
	if err != nil {
		return nil, fmt.Errorf("--tenant %q: %w", vso.Clip(tenant, 64), err)
	}
	return NewSignIn(tenant, Source{"the Azure CLI (az)", cli}, Source{"the Azure Developer CLI (azd)", azd}, Source{"Azure PowerShell", pwsh})
}

// NewSignIn is a SignIn that tries sources in order.
func NewSignIn(tenant string, sources ...Source) (*SignIn, error) {
	s := &SignIn{tenant: tenant}
	creds := make([]azcore.TokenCredential, len(sources))
	for i, src := range sources {
		creds[i] = recording{name: src.Name, cred: src.Credential, s: s}
	}
	chain, err := azidentity.NewChainedTokenCredential(creds, nil)
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	s.chain = chain
	return s, nil
}

// GetToken gets a token from the first available source, for the tenant
// the vault's challenge names.
func (s *SignIn) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if s.tenant != "" && opts.TenantID != "" && !strings.EqualFold(s.tenant, opts.TenantID) {
		return azcore.AccessToken{}, &TenantError{Given: s.tenant, Vault: opts.TenantID}
	}
	tok, err := s.chain.GetToken(ctx, opts)
	if err != nil {
		tenant := s.tenant
		if tenant == "" {
			tenant = opts.TenantID
		}
		return tok, &SignInError{Err: err, Tenant: tenant}
	}
	return tok, nil
}

// Used names the source that gave a token, "" before one did.
func (s *SignIn) Used() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// recording is a source that tells its SignIn when it gave a token. Its
// errors pass unchanged: the chain reads them to decide whether to go on.
type recording struct {
	name string
	cred azcore.TokenCredential
	s    *SignIn
}

func (r recording) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := r.cred.GetToken(ctx, opts)
	if err == nil {
		r.s.mu.Lock()
		r.s.used = r.name
		r.s.mu.Unlock()
	}
	return tok, err
}

// SignInError is a sign-in that gave no token: no tool installed, or the
// installed one refused (not signed in, another tenant, MFA).
type SignInError struct {
	Err    error
	Tenant string // the tenant asked for, for the sign-in command
}

func (e *SignInError) Error() string {
	tenant := ""
	if e.Tenant != "" {
		tenant = " --tenant " + e.Tenant
	}
	msg := strings.Join(strings.Fields(e.Err.Error()), " ")
	return fmt.Sprintf("could not get a token with your sign-in: %s. Sign in with az login%s (or azd auth login, or Connect-AzAccount in Azure PowerShell) and check again", vso.Clip(msg, 400), tenant)
}

// Explained marks the message as saying what to do.
func (e *SignInError) Explained() {}

func (e *SignInError) Unwrap() error { return e.Err }

// TenantError is a vault of another tenant than the one --tenant names.
type TenantError struct{ Given, Vault string }

func (e *TenantError) Error() string {
	return fmt.Sprintf("the vault belongs to tenant %s, not to --tenant %s: leave --tenant out, or give the vault's tenant", vso.Clip(e.Vault, 64), vso.Clip(e.Given, 64))
}

// Explained marks the message as saying what to do.
func (e *TenantError) Explained() {}
