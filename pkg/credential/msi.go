package credential

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/gokeyvault/gokeyvault/pkg/agentenv"
	"github.com/gokeyvault/gokeyvault/pkg/cloud"
	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
	"github.com/gokeyvault/gokeyvault/pkg/reqpolicy"
)

// imdsName is how messages name the endpoint an Azure VM has.
const imdsName = "the Azure Instance Metadata Service (169.254.169.254)"

// ManagedIdentityEnv is what the environment says about the machine's
// managed identity endpoint, read with the rest of the environment (the
// job's Read phase), for the debug line and the messages. azidentity finds
// the endpoint itself, in the process environment (IDENTITY_ENDPOINT,
// IDENTITY_HEADER, MSI_ENDPOINT, IMDS_ENDPOINT...): those variables are
// left there for it, as they are.
type ManagedIdentityEnv struct {
	IdentityEndpoint string // IDENTITY_ENDPOINT: App Service, Azure Arc
	MSIEndpoint      string // MSI_ENDPOINT: older App Service, Cloud Shell
}

// ReadManagedIdentityEnv reads the managed identity endpoints from the
// environment.
func ReadManagedIdentityEnv(e *agentenv.Env) ManagedIdentityEnv {
	return ManagedIdentityEnv{
		IdentityEndpoint: strings.TrimSpace(e.Get("IDENTITY_ENDPOINT")),
		MSIEndpoint:      strings.TrimSpace(e.Get("MSI_ENDPOINT")),
	}
}

// endpoint names the endpoint azidentity uses, as messages show it.
func (m ManagedIdentityEnv) endpoint() string {
	if m.IdentityEndpoint != "" {
		return m.IdentityEndpoint + " (IDENTITY_ENDPOINT)"
	}
	if m.MSIEndpoint != "" {
		return m.MSIEndpoint + " (MSI_ENDPOINT)"
	}
	return imdsName
}

// newManagedIdentityCredential uses the identity of the machine the agent
// runs on. azidentity picks the endpoint the way every Azure SDK does:
// IDENTITY_ENDPOINT (+ IDENTITY_HEADER: App Service; + IMDS_ENDPOINT: Azure
// Arc), MSI_ENDPOINT, else the Instance Metadata Service of an Azure VM or
// scale set, which is where pipeline agents with managed identities run.
//
// An agent without a managed identity must fail in seconds, not after the
// SDK's minute of IMDS retries: a connection that cannot be made (refused,
// unreachable, or not accepted within the try timeout) is final, and each
// token request has an overall deadline.
func newManagedIdentityCredential(ctx context.Context, c *endpoint.Connection, cl cloud.Cloud, co azcore.ClientOptions, o Options) (azcore.TokenCredential, error) {
	probe := &dialProbe{}
	co.PerRetryPolicies = append(co.PerRetryPolicies, probe)
	co.Retry = reqpolicy.ManagedIdentityRetry()
	opts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
	clientID := strings.TrimSpace(c.MSIClientID)
	if clientID != "" {
		opts.ID = azidentity.ClientID(clientID)
	}
	cred, err := azidentity.NewManagedIdentityCredential(opts)
	if err != nil {
		return nil, fmt.Errorf("service connection %s: create managed identity credential: %w", c.ID, err)
	}
	m := &managedIdentity{
		cred:     cred,
		probe:    probe,
		clientID: clientID,
		endpoint: o.ManagedIdentity.endpoint(),
		timeout:  o.ManagedIdentityTimeout,
	}
	o.Logf(fmt.Sprintf("managed identity endpoint: %s", m.endpoint))
	// One token now: a job on an agent without the identity stops here.
	if _, err := m.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{cl.VaultResource + "/.default"}}); err != nil {
		return nil, err
	}
	return m, nil
}

type managedIdentity struct {
	cred     *azidentity.ManagedIdentityCredential
	probe    *dialProbe
	clientID string
	endpoint string
	timeout  time.Duration
}

func (m *managedIdentity) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	m.probe.reset()
	tctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	tok, err := m.cred.GetToken(tctx, opts)
	if err == nil {
		return tok, nil
	}
	if ctx.Err() != nil {
		// The run was canceled or ran out of budget: not the identity's fault.
		return tok, err
	}
	e := &ManagedIdentityError{Endpoint: m.endpoint, ClientID: m.clientID, Kind: ManagedIdentityFailed, Err: err}
	var afe *azidentity.AuthenticationFailedError
	switch {
	case m.probe.failed() != nil:
		e.Kind = ManagedIdentityUnreachable
		e.Err = m.probe.failed()
	case tctx.Err() != nil:
		e.Kind = ManagedIdentityTimedOut
		e.Timeout = m.timeout.String()
	case errors.As(err, &afe) && afe.RawResponse != nil && afe.RawResponse.StatusCode == http.StatusBadRequest,
		strings.Contains(err.Error(), "isn't assigned"), strings.Contains(strings.ToLower(err.Error()), "identity not found"):
		e.Kind = ManagedIdentityNotAssigned
	}
	return tok, e
}

// dialProbe makes a failed connection to the identity endpoint final and
// remembers it: no endpoint is not a transient condition. A try that ends
// (refused, unreachable, or its timeout) before any connection was made
// counts, so a silently dropped connection to IMDS fails after one try
// timeout instead of a minute of retries.
type dialProbe struct {
	mu  sync.Mutex
	err error
}

func (p *dialProbe) Do(req *policy.Request) (*http.Response, error) {
	var connected atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }}
	resp, err := req.WithContext(httptrace.WithClientTrace(req.Raw().Context(), trace)).Next()
	if err == nil || connected.Load() {
		return resp, err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" || errors.Is(err, context.DeadlineExceeded) {
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		return nil, &unreachableError{err}
	}
	return resp, err
}

func (p *dialProbe) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = nil
}

func (p *dialProbe) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// NonRetriable stops azcore's retry policy.
func (e *unreachableError) NonRetriable() {}
