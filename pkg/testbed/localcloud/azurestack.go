package localcloud

import (
	"fmt"
	"net/http"
	"strings"
)

// An Azure Stack Hub region as the Azure Stack Development Kit names it.
const (
	AzureStackARMHost     = "management.local.azurestack.external"
	AzureStackADFSHost    = "adfs.local.azurestack.external"
	AzureStackVaultSuffix = "vault.local.azurestack.external"
)

// AzureStackOptions configure EnableAzureStack.
type AzureStackOptions struct {
	// ADFS: the stack's identity system is AD FS at
	// https://adfs.local.azurestack.external/adfs (tenant "adfs"), instead
	// of Microsoft Entra ID at login.microsoftonline.com.
	ADFS bool
	// Audience is the management audience the metadata names.
	Audience string
	// MaxAPIVersion is the newest Key Vault api-version the stack's vaults
	// serve; newer ones get 400 BadParameter. Default 2016-10-01, the
	// version of Azure Stack Hub's API profiles.
	MaxAPIVersion string
}

// EnableAzureStack fakes an Azure Stack Hub region: Resource Manager's
// metadata endpoint (GET https://management.local.azurestack.external/
// metadata/endpoints), AD FS when o.ADFS, and vaults under
// vault.local.azurestack.external (AddVault). It returns the Resource
// Manager URL a service connection holds.
func (c *Cloud) EnableAzureStack(o AzureStackOptions) string {
	if o.Audience == "" {
		o.Audience = "https://management.adfs.azurestack.local/" + stableUUID("azurestack-audience")
	}
	if o.MaxAPIVersion == "" {
		o.MaxAPIVersion = "2016-10-01"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ext.stack = &o
	if o.ADFS {
		c.tenants["adfs"] = true
	}
	return "https://" + AzureStackARMHost + "/"
}

// stackVaultCloud is vaultCloud for the stack's vaults.
func (c *Cloud) stackVaultCloud(host string) (authority, resource string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.ext.stack
	if st == nil || !strings.HasSuffix(host, "."+AzureStackVaultSuffix) {
		return "", "", false
	}
	if st.ADFS {
		return "https://" + AzureStackADFSHost, "https://" + AzureStackVaultSuffix, true
	}
	return "https://login.microsoftonline.com", "https://" + AzureStackVaultSuffix, true
}

func (c *Cloud) stackMaxAPIVersion(host string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ext.stack == nil || !strings.HasSuffix(host, "."+AzureStackVaultSuffix) {
		return ""
	}
	return c.ext.stack.MaxAPIVersion
}

// unsupportedAPIVersion is Key Vault's refusal of a version its cloud does
// not serve yet. Versions are dates, so they compare as strings.
func (v *Vault) unsupportedAPIVersion(version string) string {
	if v.maxAPIVersion == "" || version <= v.maxAPIVersion {
		return ""
	}
	return fmt.Sprintf("The specified version (%s) is not recognized. Consider using the latest supported version (%s).", version, v.maxAPIVersion)
}

func (c *Cloud) serveStackARM(w http.ResponseWriter, r *http.Request, o AzureStackOptions) {
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "x-ms-request-id": {newUUID()}}
	if r.URL.Path != "/metadata/endpoints" || r.Method != http.MethodGet {
		writeJSON(w, http.StatusNotFound, h, map[string]any{"error": map[string]string{"code": "NotFound", "message": "The requested resource was not found."}})
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		writeJSON(w, http.StatusBadRequest, h, map[string]any{"error": map[string]string{"code": "MissingApiVersionParameter", "message": "The api-version query parameter (?api-version=) is required for all requests."}})
		return
	}
	login := "https://login.microsoftonline.com/"
	if o.ADFS {
		login = "https://" + AzureStackADFSHost + "/adfs"
	}
	writeJSON(w, http.StatusOK, h, map[string]any{
		"galleryEndpoint": "https://providers.local.azurestack.external:30016/",
		"graphEndpoint":   "https://graph.local.azurestack.external/",
		"portalEndpoint":  "https://portal.local.azurestack.external/",
		"authentication": map[string]any{
			"loginEndpoint": login,
			"audiences":     []string{o.Audience},
		},
	})
}

// serveADFS is the stack's AD FS: OpenID discovery and the token endpoint
// MSAL uses for an "adfs" authority, client credentials only.
func (c *Cloud) serveADFS(w http.ResponseWriter, r *http.Request, host string) {
	switch {
	case r.URL.Path == "/adfs/.well-known/openid-configuration" && r.Method == http.MethodGet:
		base := "https://" + host + "/adfs"
		writeJSON(w, http.StatusOK, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, map[string]any{
			"issuer":                                base,
			"authorization_endpoint":                base + "/oauth2/authorize/",
			"token_endpoint":                        base + "/oauth2/token/",
			"jwks_uri":                              base + "/discovery/keys",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic", "private_key_jwt", "windows_client_authentication"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token", "code token", "code id_token token"},
			"grant_types_supported":                 []string{"authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"scopes_supported":                      []string{"openid", "profile", "email", "allatclaims", "user_impersonation", "vpn_cert", "logon_cert", "aza"},
		})
	case strings.TrimRight(r.URL.Path, "/") == "/adfs/oauth2/token":
		if r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		c.token(w, r, host, "adfs")
	default:
		http.NotFound(w, r)
	}
}
