// Package credential turns a service connection into an Azure SDK token
// credential and the cloud it lives in.
package credential

import (
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
)

// Cloud is where the connection's identity and vaults live.
type Cloud struct {
	Name          string
	AuthorityHost string // e.g. https://login.microsoftonline.com/
	VaultSuffix   string // e.g. vault.azure.net
	VaultResource string // token audience, e.g. https://vault.azure.net
}

// knownCloud returns a named cloud's public endpoints.
func knownCloud(name string) (Cloud, bool) {
	switch strings.ToLower(name) {
	case "azurecloud":
		return Cloud{"AzureCloud", "https://login.microsoftonline.com/", "vault.azure.net", "https://vault.azure.net"}, true
	case "azurechinacloud":
		return Cloud{"AzureChinaCloud", "https://login.chinacloudapi.cn/", "vault.azure.cn", "https://vault.azure.cn"}, true
	case "azureusgovernment":
		return Cloud{"AzureUSGovernment", "https://login.microsoftonline.us/", "vault.usgovcloudapi.net", "https://vault.usgovcloudapi.net"}, true
	}
	return Cloud{}, false
}

// ResolveCloud picks the authority host and vault endpoints: explicit
// endpoint data wins, then the named environment's defaults.
func ResolveCloud(c *endpoint.Connection) (Cloud, error) {
	env := strings.TrimSpace(c.Environment)
	if env == "" {
		env = "AzureCloud"
	}
	base, known := knownCloud(env)
	if !known && (c.AuthorityHost == "" || c.VaultDNSSuffix == "") {
		return Cloud{}, fmt.Errorf("service connection environment %q is not supported without explicit authority and Key Vault endpoint data; use AzureCloud, AzureChinaCloud or AzureUSGovernment", env)
	}
	out := base
	if !known {
		out = Cloud{Name: env}
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
	if out.VaultResource == "" {
		out.VaultResource = "https://" + out.VaultSuffix
	}
	if !strings.HasSuffix(out.AuthorityHost, "/") {
		out.AuthorityHost += "/"
	}
	return out, nil
}

// Options carries what every credential needs from the HTTP side.
type Options struct {
	Transport policy.Transporter
	Retry     policy.RetryOptions
	// PerCall policies run once per token request (e.g. debug logging).
	PerCall []policy.Policy
}

// New builds the credential for the connection's scheme.
func New(c *endpoint.Connection, cl Cloud, o Options) (azcore.TokenCredential, error) {
	co := azcore.ClientOptions{
		Cloud:           cloud.Configuration{ActiveDirectoryAuthorityHost: cl.AuthorityHost},
		Transport:       o.Transport,
		Retry:           o.Retry,
		PerCallPolicies: o.PerCall,
		Telemetry:       policy.TelemetryOptions{ApplicationID: "GoKeyVault"},
	}
	switch {
	case strings.EqualFold(c.Scheme, "ServicePrincipal"):
		if c.TenantID == "" || c.ClientID == "" {
			return nil, fmt.Errorf("service connection %s has no tenant ID or service principal ID: edit the connection and fill them in", c.ID)
		}
		switch strings.ToLower(c.AuthenticationType) {
		case "", "spnkey":
			if c.ClientSecret == "" {
				return nil, fmt.Errorf("service connection %s uses a client secret but the secret is empty: edit the connection and enter the service principal key", c.ID)
			}
			cred, err := azidentity.NewClientSecretCredential(c.TenantID, c.ClientID, c.ClientSecret,
				&azidentity.ClientSecretCredentialOptions{ClientOptions: co})
			if err != nil {
				return nil, fmt.Errorf("create client secret credential: %w", err)
			}
			return cred, nil
		case "spncertificate":
			return newCertificateCredential(c, co)
		default:
			return nil, fmt.Errorf("service connection %s has authentication type %q; GoKeyVault supports spnKey and spnCertificate", c.ID, c.AuthenticationType)
		}
	default:
		return nil, fmt.Errorf("service connection %s uses scheme %q, which GoKeyVault does not support yet; use a service principal connection", c.ID, c.Scheme)
	}
}

func newCertificateCredential(c *endpoint.Connection, co azcore.ClientOptions) (azcore.TokenCredential, error) {
	certs, key, err := azidentity.ParseCertificates([]byte(c.CertificatePEM), nil)
	if err != nil {
		return nil, fmt.Errorf("service connection %s: read the service principal certificate: %w (export it as PEM with an unencrypted RSA key: openssl pkcs12 -in cert.pfx -nodes -out cert.pem)", c.ID, err)
	}
	cred, err := azidentity.NewClientCertificateCredential(c.TenantID, c.ClientID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: co, SendCertificateChain: true})
	if err != nil {
		return nil, fmt.Errorf("create client certificate credential: %w", err)
	}
	return cred, nil
}
