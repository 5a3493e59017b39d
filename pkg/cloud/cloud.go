// Package cloud resolves where a service connection's identity and vaults
// live: the authority Entra ID (or AD FS) tokens come from, the tenant to
// ask, the Key Vault DNS suffix and the token audience. It knows the public
// and sovereign clouds by name, takes the connection's explicit endpoint
// data over them, and reads Azure Stack Hub's from the stack's metadata
// endpoint.
package cloud

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
)

// Cloud is where the connection's identity and vaults live.
type Cloud struct {
	Name          string
	AuthorityHost string // e.g. https://login.microsoftonline.com/
	// Tenant is the tenant a token is asked of, and the one a vault's
	// challenge must name: the connection's, or on AD FS, which has one
	// authority and no tenants, "adfs" (azidentity reaches it as that
	// tenant of the AD FS host).
	Tenant        string
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

// Resolved reports whether the cloud is complete: every cloud is but an
// Azure Stack Hub one that Discover has not finished.
func (c Cloud) Resolved() bool { return !c.needsMetadata }

// VaultURL is the URL of the named vault in this cloud.
func (c Cloud) VaultURL(vault string) string { return "https://" + vault + "." + c.VaultSuffix + "/" }

// AzureStack is the environment name of Azure Stack Hub connections.
const AzureStack = "AzureStack"

// Named is the name of a public cloud, in the agent's spelling, for a
// name given in any case; false for any other (Azure Stack Hub's endpoints
// are its own).
func Named(name string) (string, bool) {
	c, ok := known(strings.TrimSpace(name))
	return c.Name, ok
}

// known returns a named cloud's public endpoints.
func known(name string) (Cloud, bool) {
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

// Resolve picks the authority host and vault endpoints: explicit endpoint
// data wins, then the named environment's defaults. An Azure Stack Hub
// connection without complete endpoint data is finished by Discover,
// which reads the stack's metadata endpoint.
func Resolve(c *endpoint.Connection) (Cloud, error) {
	env := strings.TrimSpace(c.Environment)
	if env == "" {
		env = nameFromAuthority(c.AuthorityHost)
	}
	base, isKnown := known(env)
	stack := strings.EqualFold(env, AzureStack)
	if !isKnown && !stack && (c.AuthorityHost == "" || c.VaultDNSSuffix == "") {
		return Cloud{}, fmt.Errorf("service connection environment %q is not supported without explicit authority and Key Vault endpoint data; use AzureCloud, AzureChinaCloud, AzureUSGovernment or AzureStack", env)
	}
	out := base
	if !isKnown {
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
	out.finish(c)
	return out, nil
}

// nameFromAuthority names a cloud from its authority when the connection
// names none.
func nameFromAuthority(authority string) string {
	for _, name := range []string{"AzureChinaCloud", "AzureUSGovernment"} {
		if k, _ := known(name); authority != "" && sameHost(k.AuthorityHost, authority) {
			return name
		}
	}
	return "AzureCloud"
}

// finish derives what follows from the authority, the suffix and the
// connection's tenant.
func (cl *Cloud) finish(c *endpoint.Connection) {
	if cl.AuthorityHost != "" {
		host, adfs := splitADFS(cl.AuthorityHost)
		cl.AuthorityHost = host
		cl.ADFS = cl.ADFS || adfs || c.EnableADFS
	}
	if cl.VaultResource == "" && cl.VaultSuffix != "" {
		cl.VaultResource = "https://" + cl.VaultSuffix
	}
	cl.Tenant = c.TenantID
	if cl.ADFS {
		cl.Tenant = "adfs"
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

// Describe is the debug line about the cloud.
func (cl Cloud) Describe() string {
	authority := cl.AuthorityHost
	if cl.ADFS {
		authority += "adfs (AD FS)"
	}
	s := fmt.Sprintf("tenant %s, cloud %s, authority %s, vault suffix %s, token audience %s", cl.Tenant, cl.Name, authority, cl.VaultSuffix, cl.VaultResource)
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
