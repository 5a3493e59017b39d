package task

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/gokeyvault/gokeyvault/pkg/cloud"
	"github.com/gokeyvault/gokeyvault/pkg/credential"
	"github.com/gokeyvault/gokeyvault/pkg/keyvault"
	"github.com/gokeyvault/gokeyvault/pkg/reqpolicy"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
)

// Session is a run's way to its vault: the cloud the connection is in,
// and the vault client with its credential.
type Session struct {
	Cloud cloud.Cloud
	URL   string // the vault's
	Vault *keyvault.Client
	// Describe is the debug line about the connection and its cloud.
	Describe string

	warm      func() // stops the early token request and waits for it
	transport *transport.Client
}

// Close stops what the session started, waits for it, and releases its
// connections: a run that has reported must not linger on a token request
// nobody needs any more.
func (s *Session) Close() {
	s.warm()
	s.transport.CloseIdleConnections()
}

// connectOptions is what Connect takes from the run rather than the job.
type connectOptions struct {
	Transport *transport.Client // nil: from the job's network settings
	Now       func() time.Time
	// OnSecret registers a credential obtained at run time (the OIDC
	// token) with the agent's masker before anything else can print it.
	OnSecret func(string)
	Debugf   func(string) // nil: no debug lines
}

// Connect finds the connection's cloud (reading Azure Stack Hub's metadata
// if need be), builds its credential (fetching the OIDC token, or a managed
// identity's first token) and the vault's client, and starts the vault's
// token on its way.
func Connect(ctx context.Context, link Link, o connectOptions) (*Session, error) {
	cl, err := cloud.Resolve(link.Conn)
	if err != nil {
		return nil, err
	}
	tr := newTransport(link, o.Transport)
	var perTry []policy.Policy
	if o.Debugf != nil {
		perTry = []policy.Policy{transport.DebugPolicy(o.Debugf)}
	}
	pipeline := transport.Pipeline{Transport: tr, Retry: reqpolicy.MetadataRetry(), PerTry: perTry}
	if cl, err = cloud.Discover(ctx, link.Conn, cl, pipeline, o.Debugf); err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	cred, err := credential.New(ctx, link.Conn, cl, credential.Options{
		HTTP:            pipeline,
		ManagedIdentity: link.ManagedIdentity,
		DevOps:          link.DevOps,
		OnSecret:        o.OnSecret,
		Logf:            o.Debugf,
	})
	if err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	s := &Session{Cloud: cl, URL: cl.VaultURL(link.Vault), Describe: credential.Describe(link.Conn, cl), transport: tr}
	serial := credential.NewSerial(cred)
	pipeline.Retry = reqpolicy.RunVaultRetry(link.Budget)
	s.Vault, err = keyvault.New(keyvault.Options{
		VaultURL:    s.URL,
		Credential:  serial,
		HTTP:        pipeline,
		Concurrency: reqpolicy.RunGetsInFlight,
		Now:         o.Now,
		APIVersion:  link.APIVersion,
		TenantID:    cl.Tenant,
		Logf:        o.Debugf,
	})
	if err != nil {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("connect to vault %s: %w", link.Vault, err)
	}
	wctx, stop := context.WithCancel(ctx)
	wait := serial.Warm(wctx, cl.Tenant, cl.VaultResource)
	s.warm = func() { stop(); wait() }
	return s, nil
}

// newTransport is the one transport of the run: the given one, or one
// that follows the agent's proxy and TLS settings.
func newTransport(link Link, given *transport.Client) *transport.Client {
	if given != nil {
		return given
	}
	o := link.Network.Transport()
	o.MaxConnsPerHost = reqpolicy.ConnsPerHost(reqpolicy.RunGetsInFlight)
	return transport.New(o)
}
