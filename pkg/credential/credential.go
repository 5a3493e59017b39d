// Package credential turns a service connection into an Azure SDK token
// credential: client secret, certificate, workload identity federation and
// managed identity, against the authority of the connection's cloud (pkg/cloud):
// Microsoft Entra ID, or AD FS on Azure Stack Hub. Serial runs its token
// requests one at a time and warms the vault's token early.
package credential

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/gokeyvault/gokeyvault/pkg/cloud"
	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
)

// Scheme names as the agent spells them.
const (
	SchemeServicePrincipal = "ServicePrincipal"
	SchemeWorkloadIdentity = "WorkloadIdentityFederation"
	SchemeManagedIdentity  = "ManagedServiceIdentity"
)

// Options carries what every credential needs from the HTTP side and the
// job.
type Options struct {
	// HTTP is the transport, retry policy and per-call policies (debug
	// logging) every request goes through: Entra ID, Azure DevOps, the
	// managed identity endpoint.
	HTTP transport.Pipeline
	// ManagedIdentity is where the machine's managed identity answers, as
	// the environment says.
	ManagedIdentity ManagedIdentityEnv
	// DevOps is the running job's identity to Azure DevOps, for workload
	// identity federation.
	DevOps endpoint.DevOps
	// OnSecret registers a credential obtained at run time (the OIDC token)
	// with the agent's masker before anything else can print it.
	OnSecret func(string)
	// Logf receives debug lines; it never sees a credential.
	Logf func(string)
	// ManagedIdentityTimeout bounds each managed identity token request;
	// default 20 s. A missing endpoint fails at the first refused or
	// timed-out connection, well before that.
	ManagedIdentityTimeout time.Duration
}

func (o *Options) defaults() {
	if o.OnSecret == nil {
		o.OnSecret = func(string) {}
	}
	if o.Logf == nil {
		o.Logf = func(string) {}
	}
	if o.ManagedIdentityTimeout <= 0 {
		o.ManagedIdentityTimeout = 20 * time.Second
	}
}

// New builds the credential for the connection's scheme. It validates
// everything it can before any request. For workload identity federation it
// fetches the OIDC token from Azure DevOps (and registers it with
// o.OnSecret), and for a managed identity it gets a first token, so that a
// job without a token source fails here, once, with one clear message.
func New(ctx context.Context, c *endpoint.Connection, cl cloud.Cloud, o Options) (azcore.TokenCredential, error) {
	o.defaults()
	if !cl.Resolved() {
		return nil, fmt.Errorf("internal error: Azure Stack Hub endpoints of connection %s were not discovered", c.ID)
	}
	co := o.HTTP.ClientOptions()
	co.Cloud = azcloud.Configuration{ActiveDirectoryAuthorityHost: cl.AuthorityHost}
	co.Transport = causeTransport{next: o.HTTP.Transport}
	// Building a credential may already ask for a token (managed identity,
	// the OIDC token): its transport errors keep their type too.
	slot := &causeSlot{}
	cred, err := newCredential(context.WithValue(ctx, causeKey{}, slot), c, cl, co, o)
	if err != nil {
		return nil, slot.explain(err)
	}
	return keepCause{cred: cred}, nil
}

func newCredential(ctx context.Context, c *endpoint.Connection, cl cloud.Cloud, co azcore.ClientOptions, o Options) (azcore.TokenCredential, error) {
	tenant := cl.Tenant
	switch {
	case strings.EqualFold(c.Scheme, SchemeServicePrincipal):
		if tenant == "" || c.ClientID == "" {
			return nil, fmt.Errorf("service connection %s has no tenant ID or service principal ID: edit the connection and fill them in", c.ID)
		}
		switch strings.ToLower(c.AuthenticationType) {
		case "", "spnkey":
			if c.ClientSecret == "" {
				return nil, fmt.Errorf("service connection %s uses a client secret but the secret is empty: edit the connection and enter the service principal key", c.ID)
			}
			cred, err := azidentity.NewClientSecretCredential(tenant, c.ClientID, c.ClientSecret,
				&azidentity.ClientSecretCredentialOptions{ClientOptions: co})
			if err != nil {
				return nil, fmt.Errorf("create client secret credential: %w", err)
			}
			return cred, nil
		case "spncertificate":
			return newCertificateCredential(c, tenant, co)
		default:
			return nil, fmt.Errorf("service connection %s has authentication type %q; GoKeyVault supports spnKey and spnCertificate", c.ID, c.AuthenticationType)
		}
	case strings.EqualFold(c.Scheme, SchemeWorkloadIdentity):
		return newFederatedCredential(ctx, c, tenant, co, o)
	case strings.EqualFold(c.Scheme, SchemeManagedIdentity):
		return newManagedIdentityCredential(ctx, c, cl, co, o)
	default:
		return nil, fmt.Errorf("service connection %s uses scheme %q, which GoKeyVault does not support: use an Azure Resource Manager connection with a service principal, workload identity federation or a managed identity", c.ID, c.Scheme)
	}
}

// Describe is the debug line about the connection. It names no secret and
// no service principal id (the agent masks that one anyway); a user-assigned
// managed identity is named by its client id, which is not a secret.
func Describe(c *endpoint.Connection, cl cloud.Cloud) string {
	auth := c.Scheme
	switch {
	case strings.EqualFold(c.Scheme, SchemeServicePrincipal):
		auth += "/" + c.AuthenticationType
	case strings.EqualFold(c.Scheme, SchemeWorkloadIdentity):
		auth += fmt.Sprintf(" (issuer %s, subject %s)", c.FederationIssuer, c.FederationSubject)
	case strings.EqualFold(c.Scheme, SchemeManagedIdentity):
		if c.MSIClientID != "" {
			auth += " (user-assigned " + c.MSIClientID + ")"
		} else {
			auth += " (system-assigned)"
		}
	}
	return fmt.Sprintf("service connection %s: %s, %s", c.ID, auth, cl.Describe())
}
