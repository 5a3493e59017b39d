// Package credential turns a service connection into an Azure SDK token
// credential and the cloud it lives in: client secret, certificate,
// workload identity federation and managed identity, in the public cloud,
// the sovereign clouds and Azure Stack Hub (with Microsoft Entra ID or AD FS).
package credential

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
)

// Scheme names as the agent spells them.
const (
	SchemeServicePrincipal = "ServicePrincipal"
	SchemeWorkloadIdentity = "WorkloadIdentityFederation"
	SchemeManagedIdentity  = "ManagedServiceIdentity"
)

// Cloud is where the connection's identity and vaults live.
type Cloud struct {
	Name          string
	AuthorityHost string // e.g. https://login.microsoftonline.com/
	VaultSuffix   string // e.g. vault.azure.net
	VaultResource string // token audience, e.g. https://vault.azure.net
	// ADFS means AuthorityHost is an AD FS server: tokens come from its
	// "adfs" authority, not from a Microsoft Entra tenant.
	ADFS bool
	// ARMAudience is Azure Stack Hub's management audience, from its
	// metadata; informational.
	ARMAudience string
	// needsMetadata is set for Azure Stack Hub until Discover has read its
	// metadata endpoint.
	needsMetadata bool
}

// AzureStack is the environment name of Azure Stack Hub connections.
const AzureStack = "AzureStack"

// knownCloud returns a named cloud's public endpoints.
func knownCloud(name string) (Cloud, bool) {
	switch strings.ToLower(name) {
	case "azurecloud":
		return Cloud{Name: "AzureCloud", AuthorityHost: "https://login.microsoftonline.com/", VaultSuffix: "vault.azure.net", VaultResource: "https://vault.azure.net"}, true
	case "azurechinacloud":
		return Cloud{Name: "AzureChinaCloud", AuthorityHost: "https://login.chinacloudapi.cn/", VaultSuffix: "vault.azure.cn", VaultResource: "https://vault.azure.cn"}, true
	case "azureusgovernment":
		return Cloud{Name: "AzureUSGovernment", AuthorityHost: "https://login.microsoftonline.us/", VaultSuffix: "vault.usgovcloudapi.net", VaultResource: "https://vault.usgovcloudapi.net"}, true
	}
	return Cloud{}, false
}

// ResolveCloud picks the authority host and vault endpoints: explicit
// endpoint data wins, then the named environment's defaults. An Azure Stack
// Hub connection without complete endpoint data is finished by Discover,
// which reads the stack's metadata endpoint.
func ResolveCloud(c *endpoint.Connection) (Cloud, error) {
	env := strings.TrimSpace(c.Environment)
	if env == "" {
		// Without a name, the authority data says which cloud this is.
		env = "AzureCloud"
		for _, name := range []string{"AzureChinaCloud", "AzureUSGovernment"} {
			if k, _ := knownCloud(name); c.AuthorityHost != "" && sameHost(k.AuthorityHost, c.AuthorityHost) {
				env = name
			}
		}
	}
	base, known := knownCloud(env)
	stack := strings.EqualFold(env, AzureStack)
	if !known && !stack && (c.AuthorityHost == "" || c.VaultDNSSuffix == "") {
		return Cloud{}, fmt.Errorf("service connection environment %q is not supported without explicit authority and Key Vault endpoint data; use AzureCloud, AzureChinaCloud, AzureUSGovernment or AzureStack", env)
	}
	out := base
	if !known {
		out = Cloud{Name: env}
	}
	if stack {
		out.Name = AzureStack
		if strings.TrimSpace(c.URL) == "" && (c.AuthorityHost == "" || c.VaultDNSSuffix == "") {
			return Cloud{}, fmt.Errorf("service connection %s is an Azure Stack Hub connection without a management URL: edit the connection and enter the Azure Stack Hub Resource Manager URL", c.ID)
		}
		// The stack's metadata names the login endpoint and audience;
		// without explicit data there is nothing else to go on.
		out.needsMetadata = c.AuthorityHost == "" || c.VaultDNSSuffix == ""
	}
	if c.AuthorityHost != "" {
		out.AuthorityHost = c.AuthorityHost
	}
	if c.VaultDNSSuffix != "" {
		out.VaultSuffix = strings.TrimPrefix(strings.TrimSpace(c.VaultDNSSuffix), ".")
	}
	if c.VaultResource != "" {
		out.VaultResource = strings.TrimRight(strings.TrimSpace(c.VaultResource), "/")
	}
	out.finish(c.EnableADFS)
	return out, nil
}

// finish derives what follows from the authority and suffix.
func (cl *Cloud) finish(enableADFS bool) {
	if cl.AuthorityHost != "" {
		host, adfs := splitADFS(cl.AuthorityHost)
		cl.AuthorityHost = host
		cl.ADFS = cl.ADFS || adfs || enableADFS
	}
	if cl.VaultResource == "" && cl.VaultSuffix != "" {
		cl.VaultResource = "https://" + cl.VaultSuffix
	}
}

// splitADFS turns an AD FS authority such as https://adfs.contoso.com/adfs/
// into its host URL and reports whether it was one. Other authorities keep
// their form with a trailing slash.
func splitADFS(authority string) (string, bool) {
	a := strings.TrimSpace(authority)
	u, err := url.Parse(a)
	if err == nil && u.Host != "" && strings.EqualFold(strings.Trim(u.Path, "/"), "adfs") {
		return u.Scheme + "://" + u.Host + "/", true
	}
	if !strings.HasSuffix(a, "/") {
		a += "/"
	}
	return a, false
}

// Options carries what every credential needs from the HTTP side.
type Options struct {
	Transport policy.Transporter
	Retry     policy.RetryOptions
	// PerCall policies run once per token request (e.g. debug logging).
	PerCall []policy.Policy
	// Job is the running job, for workload identity federation.
	Job endpoint.Job
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
func New(ctx context.Context, c *endpoint.Connection, cl Cloud, o Options) (azcore.TokenCredential, error) {
	o.defaults()
	if cl.needsMetadata {
		return nil, fmt.Errorf("internal error: Azure Stack Hub endpoints of connection %s were not discovered", c.ID)
	}
	co := azcore.ClientOptions{
		Cloud:           cloud.Configuration{ActiveDirectoryAuthorityHost: cl.AuthorityHost},
		Transport:       causeTransport{next: o.Transport},
		Retry:           o.Retry,
		PerCallPolicies: o.PerCall,
		Telemetry:       policy.TelemetryOptions{ApplicationID: "GoKeyVault"},
	}
	// Building a credential may already ask for a token (managed identity,
	// the OIDC token): its transport errors keep their type too.
	slot := &causeSlot{}
	cred, err := newCredential(context.WithValue(ctx, causeKey{}, slot), c, cl, co, o)
	if err != nil {
		return nil, slot.explain(err)
	}
	return keepCause{cred: cred}, nil
}

func newCredential(ctx context.Context, c *endpoint.Connection, cl Cloud, co azcore.ClientOptions, o Options) (azcore.TokenCredential, error) {
	tenant := Tenant(c, cl)
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

// Tenant is the tenant a token is asked of, and the one the vault's
// challenge names: the connection's, or on AD FS, which has one authority
// and no tenants, "adfs" (azidentity reaches it as that tenant of the AD FS
// host).
func Tenant(c *endpoint.Connection, cl Cloud) string {
	if cl.ADFS {
		return "adfs"
	}
	return c.TenantID
}

// Describe is the debug line about the connection. It names no secret and
// no service principal id (the agent masks that one anyway); a user-assigned
// managed identity is named by its client id, which is not a secret.
func Describe(c *endpoint.Connection, cl Cloud) string {
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
	authority := cl.AuthorityHost
	if cl.ADFS {
		authority += "adfs (AD FS)"
	}
	s := fmt.Sprintf("service connection %s: %s, tenant %s, cloud %s, authority %s, vault suffix %s, token audience %s", c.ID, auth, c.TenantID, cl.Name, authority, cl.VaultSuffix, cl.VaultResource)
	if cl.ARMAudience != "" {
		s += ", Azure Stack Hub management audience " + cl.ARMAudience
	}
	return s
}

func sameHost(a, b string) bool {
	ua, err1 := url.Parse(strings.TrimSpace(a))
	ub, err2 := url.Parse(strings.TrimSpace(b))
	return err1 == nil && err2 == nil && ua.Host != "" && strings.EqualFold(ua.Host, ub.Host)
}
