// Authentication: the authority and audience a vault's challenge names, and the bearer-token check.

package localcloud

import (
	"fmt"
	"strings"
	"time"
)

// keyVaultAppID is Key Vault's first-party application id, which Key Vault
// accepts as a token audience alongside its resource URI.
const keyVaultAppID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"

// vaultCloud maps a vault DNS suffix to its cloud's login host and audience.
func vaultCloud(host string) (authority, resource string, ok bool) {
	for _, e := range []struct{ suffix, login string }{
		{"vault.azure.net", "login.microsoftonline.com"},
		{"vault.azure.cn", "login.chinacloudapi.cn"},
		{"vault.usgovcloudapi.net", "login.microsoftonline.us"},
	} {
		if strings.HasSuffix(host, "."+e.suffix) {
			return "https://" + e.login, "https://" + e.suffix, true
		}
	}
	return "", "", false
}

// authenticate returns the token's claims, or Key Vault's 401 message.
func (v *Vault) authenticate(authz string) (tokenInfo, string) {
	scheme, tok, _ := strings.Cut(authz, " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		// Key Vault's wording of 2026 (it was "a Bearer or PoP token" in 2024).
		return tokenInfo{}, "AKV10000: Request is missing a Bearer, PoP, or MTLS_POP token."
	}
	ti, ok := v.cloud.lookupToken(strings.TrimSpace(tok))
	switch {
	case !ok:
		return tokenInfo{}, "AKV10019: Invalid token signature."
	case time.Now().After(ti.expires):
		return tokenInfo{}, "AKV10020: Token is expired."
	case ti.audience != v.resource && ti.audience != keyVaultAppID:
		return tokenInfo{}, fmt.Sprintf("AKV10022: Invalid audience. Expected %s or %s, found: %s.", v.resource, keyVaultAppID, ti.audience)
	case !strings.EqualFold(ti.tenant, v.tenant):
		return tokenInfo{}, fmt.Sprintf("AKV10032: Invalid issuer. Expected one of https://sts.windows.net/%s/, found https://sts.windows.net/%s/.", v.tenant, ti.tenant)
	}
	return ti, ""
}
