package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// metadataAPIVersion is the version Azure Stack Hub's Resource Manager
// serves its endpoint metadata with (azure-arm-rest asks for the same).
const metadataAPIVersion = "2015-01-01"

// AzureStackMetadataError is a failure to read the stack's metadata.
type AzureStackMetadataError struct {
	URL        string
	StatusCode int
	Problem    string
	Err        error
}

func (e *AzureStackMetadataError) Unwrap() error { return e.Err }

// Explained marks the message as saying what to do.
func (e *AzureStackMetadataError) Explained() {}

func (e *AzureStackMetadataError) Error() string {
	msg := "could not read the Azure Stack Hub endpoints from " + e.URL
	switch {
	case e.StatusCode != 0:
		msg += fmt.Sprintf(" (%d)", e.StatusCode)
	case e.Err != nil:
		msg += ": " + vso.Clip(e.Err.Error(), 300)
	}
	if e.Problem != "" {
		msg += ": " + e.Problem
	}
	return msg + "; check the service connection's Azure Stack Hub Resource Manager URL and that the agent reaches it"
}

// Discover completes an Azure Stack Hub cloud from the stack's metadata
// endpoint, <ENDPOINT_URL>metadata/endpoints: the login endpoint (AD FS when
// it ends in /adfs, as azure-arm-rest decides), the management audience, and
// — unless the connection's data names them — the Key Vault DNS suffix,
// derived from the Resource Manager URL like azure-arm-rest does
// (management.<region>.<fqdn> -> vault.<region>.<fqdn>). Any other cloud is
// returned unchanged, without a request.
//
// logf, when not nil, gets a debug line about what was found.
func Discover(ctx context.Context, c *endpoint.Connection, cl Cloud, p transport.Pipeline, logf func(string)) (Cloud, error) {
	if !cl.needsMetadata {
		return cl, nil
	}
	base := strings.TrimSpace(c.URL)
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	metaURL := base + "metadata/endpoints?api-version=" + metadataAPIVersion
	shown := base + "metadata/endpoints"
	fail := func(status int, problem string, err error) (Cloud, error) {
		return Cloud{}, &AzureStackMetadataError{URL: shown, StatusCode: status, Problem: problem, Err: err}
	}
	co := p.ClientOptions()
	pl := runtime.NewPipeline("gokeyvault", "", runtime.PipelineOptions{}, &co)
	req, err := runtime.NewRequest(ctx, http.MethodGet, metaURL)
	if err != nil {
		return fail(0, "", err)
	}
	req.Raw().Header.Set("Accept", "application/json")
	resp, err := pl.Do(req)
	if err != nil {
		return fail(0, "", err)
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return fail(0, "", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fail(resp.StatusCode, "", nil)
	}
	var md struct {
		Authentication struct {
			LoginEndpoint string   `json:"loginEndpoint"`
			Audiences     []string `json:"audiences"`
		} `json:"authentication"`
		Suffixes struct {
			KeyVaultDNS string `json:"keyVaultDns"`
		} `json:"suffixes"`
	}
	if err := json.Unmarshal(body, &md); err != nil {
		return fail(0, "the reply is not the metadata document", nil)
	}
	out := cl
	out.needsMetadata = false
	if c.AuthorityHost == "" {
		if md.Authentication.LoginEndpoint == "" {
			return fail(0, "the metadata names no login endpoint", nil)
		}
		out.AuthorityHost = md.Authentication.LoginEndpoint
	}
	if len(md.Authentication.Audiences) > 0 {
		out.ARMAudience = md.Authentication.Audiences[0]
	}
	if c.VaultDNSSuffix == "" {
		out.VaultSuffix = strings.TrimPrefix(md.Suffixes.KeyVaultDNS, ".")
		if out.VaultSuffix == "" {
			out.VaultSuffix = vaultSuffixFromARM(base)
		}
		if out.VaultSuffix == "" {
			return fail(0, "the Key Vault DNS suffix cannot be derived from the URL; set it in the connection's data", nil)
		}
	}
	out.finish(c)
	if logf != nil {
		logf(fmt.Sprintf("Azure Stack Hub metadata from %s: login endpoint %s (AD FS %v), audience %s, vault suffix %s", shown, out.AuthorityHost, out.ADFS, out.ARMAudience, out.VaultSuffix))
	}
	return out, nil
}

// vaultSuffixFromARM replaces the Resource Manager host's first label:
// https://management.local.azurestack.external/ -> vault.local.azurestack.external.
func vaultSuffixFromARM(armURL string) string {
	u, err := url.Parse(armURL)
	if err != nil {
		return ""
	}
	_, domain, ok := strings.Cut(strings.ToLower(u.Hostname()), ".")
	if !ok || domain == "" {
		return ""
	}
	return "vault." + domain
}
