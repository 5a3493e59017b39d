// Package diagnose turns Azure's answers into one-line messages that say
// what went wrong and what to change, quoting Azure's request id so that
// support can find the request. It never prints a token, a secret or a
// service principal id (the agent would mask that id anyway, leaving "***"
// in the middle of a sentence).
//
// The rule for remediation text: an error of GoKeyVault's own says what to
// do in its message, and marks itself Explained; diagnose adds the fix only
// to what Azure answered (Key Vault's error bodies, Entra ID's AADSTS codes),
// which reach the task as the Azure SDK's types, and to the standard
// library's (a deadline).
package diagnose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/gokeyvault/gokeyvault/pkg/credential"
	"github.com/gokeyvault/gokeyvault/pkg/reqpolicy"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Context is what the messages may mention.
type Context struct {
	Vault string // vault name
	// Host is the vault's host name in its cloud (kv.vault.azure.cn);
	// "" means the public cloud's.
	Host string
	// ConnectionPage is where the user edits the service connection, e.g.
	// https://dev.azure.com/org/project/_settings/adminservices?resourceId=<id>
	ConnectionPage string
	TenantID       string
	// Input names the input that asks for the secret, for messages about
	// one secret; "" means SecretsFilter.
	Input string
}

func (c Context) host() string {
	if c.Host == "" {
		return c.Vault + ".vault.azure.net"
	}
	return c.Host
}

func (c Context) input() string {
	if c.Input == "" {
		return "SecretsFilter"
	}
	return c.Input
}

func (c Context) connectionRef() string {
	if c.ConnectionPage != "" {
		return "the service connection (Project settings > Service connections, " + c.ConnectionPage + ")"
	}
	return "the service connection (Project settings > Service connections)"
}

// Problem is what Azure said about a failed request.
type Problem struct {
	Status    int
	Code      string // error.code, e.g. Forbidden, SecretNotFound
	Inner     string // error.innererror.code, e.g. AccessDenied, ForbiddenByRbac
	Message   string
	RequestID string
}

// FromError extracts the Key Vault problem from an SDK error.
func FromError(err error) (Problem, bool) {
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.RawResponse == nil {
		return Problem{}, false
	}
	p := Problem{Status: re.StatusCode, Code: re.ErrorCode, RequestID: re.RawResponse.Header.Get("x-ms-request-id")}
	if body, err := runtime.Payload(re.RawResponse); err == nil {
		var e struct {
			Error struct {
				Code       string `json:"code"`
				Message    string `json:"message"`
				InnerError struct {
					Code string `json:"code"`
				} `json:"innererror"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil {
			if e.Error.Code != "" {
				p.Code = e.Error.Code
			}
			p.Message = e.Error.Message
			p.Inner = e.Error.InnerError.Code
		}
	}
	return p, true
}

// Secret explains why one secret could not be downloaded.
func Secret(c Context, name string, err error) string {
	return fmt.Sprintf("Secret '%s': %s", name, Explain(c, err, "get"))
}

// Setup explains a failure to connect: finding the cloud, building the
// credential. What Explain would call a network error is there one of
// GoKeyVault's own checks of the connection, whose message says what to
// fix.
func Setup(c Context, err error) string {
	var own Explained
	if _, ok := FromError(err); ok || errors.As(err, &own) || isAuth(err) {
		return Explain(c, err, "get")
	}
	return err.Error()
}

func isAuth(err error) bool {
	var afe *azidentity.AuthenticationFailedError
	return errors.As(err, &afe)
}

// Explained is an error whose message already says what to do.
type Explained interface {
	error
	Explained()
}

// Explain explains any failure of the task: its own, Entra's, Key Vault's
// or the network's. op is the Key Vault operation ("get" or "list") for
// permission messages.
func Explain(c Context, err error, op string) string {
	var own Explained
	if errors.As(err, &own) {
		return own.Error()
	}
	if msg, ok := explainAuth(c, err); ok {
		return msg
	}
	if p, ok := FromError(err); ok {
		return explainVault(c, p, op)
	}
	return explainOther(c, err)
}

func withID(msg, requestID string) string {
	if requestID == "" {
		return msg
	}
	return msg + " (x-ms-request-id: " + requestID + ")"
}

func explainVault(c Context, p Problem, op string) string {
	perm := "Get"
	if op == "list" {
		perm = "List"
	}
	var msg string
	switch {
	case p.Inner == "AccessDenied" || (p.Status == 403 && p.Inner == "" && strings.Contains(p.Message, "permission")):
		msg = fmt.Sprintf("access denied by the vault's access policy: the service connection's identity lacks the secret %s permission. Grant Get and List: az keyvault set-policy --name %s --spn <application (client) ID of the service connection> --secret-permissions get list (the ID is on the service connection's page, under Manage service principal)", perm, c.Vault)
		if op == "list" {
			msg += "; or name the secrets in SecretsFilter, which needs only Get"
		}
	case p.Inner == "ForbiddenByRbac":
		scope := "$(az keyvault show --name " + c.Vault + " --query id -o tsv)"
		msg = fmt.Sprintf("access denied by Azure RBAC: the vault uses role-based access control and the service connection's identity has no role that allows secret %s. Assign it the role \"Key Vault Secrets User\": az role assignment create --role \"Key Vault Secrets User\" --assignee <application (client) ID of the service connection> --scope %s (role assignments can take a few minutes to apply)", strings.ToLower(perm), scope)
	case p.Inner == "ForbiddenByFirewall":
		msg = fmt.Sprintf("the vault's firewall does not allow this agent's IP address. Allow it (az keyvault network-rule add --name %s --ip-address <agent public IP>), enable \"Allow trusted Microsoft services\" where it applies, or run the job on a self-hosted agent inside an allowed network", c.Vault)
	case p.Inner == "ForbiddenByConnection":
		msg = fmt.Sprintf("public network access to vault %s is disabled: run the job on a self-hosted agent that reaches the vault's private endpoint (and resolves %s to it), or allow public access from selected networks", c.Vault, c.host())
	case p.Inner == "ForbiddenByPolicy":
		msg = "an Azure Policy or vault policy denied the request: ask the vault's owner which policy applies"
	case p.Inner == "SecretDisabled":
		msg = fmt.Sprintf("the secret is disabled. Enable it (az keyvault secret set-attributes --vault-name %s --name <name> --enabled true) or remove it from %s", c.Vault, c.input())
	case p.Code == "SecretNotFound" || p.Status == http.StatusNotFound:
		msg = fmt.Sprintf("not found in vault %s. Check the name (and version) in %s; a deleted secret shows in az keyvault secret list-deleted --vault-name %s", c.Vault, c.input(), c.Vault)
	case p.Status == 401:
		msg = fmt.Sprintf("the vault rejected the service connection's token (401 %s): check that the vault belongs to the connection's tenant", p.Code)
	case p.Status == 403:
		msg = fmt.Sprintf("access denied (403 %s %s): grant the service connection's identity secret Get and List permissions on vault %s", p.Code, p.Inner, c.Vault)
	case p.Status == 429:
		msg = "Key Vault kept throttling the requests after retries: other clients share the vault's limit of 4,000 reads per 10 s; run again later or spread the load"
	case p.Status == 400 && unsupported(p.Message):
		asked, latest, _ := reqpolicy.UnsupportedVersion(p.Message)
		msg = fmt.Sprintf("Key Vault in this cloud does not support API version %s (400 %s): set the pipeline variable GoKeyVault.ApiVersion to a version it serves", asked, p.Code)
		if latest != "" {
			msg += fmt.Sprintf(" (it names %s)", latest)
		}
	case p.Status == 400:
		msg = fmt.Sprintf("Key Vault rejected the request (400 %s): %s", p.Code, clip(p.Message))
	case p.Status >= 500:
		msg = fmt.Sprintf("Key Vault answered %d %s after retries: the service is having trouble; run again later", p.Status, p.Code)
	default:
		msg = fmt.Sprintf("Key Vault answered %d %s: %s", p.Status, p.Code, clip(p.Message))
	}
	return withID(msg, p.RequestID)
}

var aadsts = regexp.MustCompile(`AADSTS(\d+)`)

func unsupported(message string) bool {
	_, _, ok := reqpolicy.UnsupportedVersion(message)
	return ok
}

func explainAuth(c Context, err error) (string, bool) {
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) {
		return "", false
	}
	code := ""
	if afe.RawResponse != nil {
		if body, err := runtime.Payload(afe.RawResponse); err == nil {
			if m := aadsts.FindSubmatch(body); m != nil {
				code = string(m[1])
			}
		}
	}
	if code == "" {
		if m := aadsts.FindStringSubmatch(afe.Error()); m != nil {
			code = m[1]
		}
	}
	ref := c.connectionRef()
	var fed *credential.FederationError
	if errors.As(err, &fed) {
		switch code {
		case "70021", "700211", "700212", "700213":
			return fmt.Sprintf("Microsoft Entra ID found no federated credential on the app registration that matches this service connection (AADSTS%s). The connection presents issuer '%s' and subject '%s' with audience api://AzureADTokenExchange: add a federated credential with exactly these values to the app registration (Certificates & secrets > Federated credentials), or fix %s", code, fed.Issuer, fed.Subject, ref), true
		}
	}
	switch code {
	case "7000215":
		return fmt.Sprintf("Microsoft Entra ID rejected the client secret (AADSTS7000215): the service principal key in %s is wrong. Create a new client secret for the app registration and update the connection", ref), true
	case "7000222":
		return fmt.Sprintf("the client secret has expired (AADSTS7000222): create a new client secret for the app registration and update %s", ref), true
	case "700016":
		return fmt.Sprintf("the application of %s was not found in tenant %s (AADSTS700016): check the service principal ID and tenant ID, or whether the app was deleted", ref, c.TenantID), true
	case "90002":
		where := ""
		if afe.RawResponse != nil && afe.RawResponse.Request != nil {
			where = " at " + afe.RawResponse.Request.URL.Host
		}
		return fmt.Sprintf("tenant %s was not found%s (AADSTS90002): check the tenant ID in %s, and that the connection's environment (AzureCloud, AzureChinaCloud, AzureUSGovernment, AzureStack) is the tenant's cloud", c.TenantID, where, ref), true
	case "700027":
		return fmt.Sprintf("Microsoft Entra ID rejected the certificate of %s (AADSTS700027): the certificate is not registered on the app registration, or its signature does not verify. Upload the certificate (its public part, e.g. cert.cer) to the app registration under Certificates & secrets, or update the connection with the certificate that is registered", ref), true
	case "":
		// No Entra error code: the reply came from something else on the
		// way (a proxy, a gateway), or there was none. explainOther
		// looks through the whole chain for the cause.
		return fmt.Sprintf("could not get a token from Microsoft Entra ID: %s; check %s", explainOther(c, err), ref), true
	default:
		return fmt.Sprintf("Microsoft Entra ID refused the token request (AADSTS%s): check %s; details: https://login.microsoftonline.com/error?code=%s", code, ref, code), true
	}
}

// foreignTenant matches azidentity's refusal to follow a challenge into a
// tenant the credential was not made for.
var foreignTenant = regexp.MustCompile(`configured to acquire tokens for tenant "([^"]+)"`)

// explainOther explains what neither GoKeyVault nor Azure explained: the
// SDK's own refusals, deadlines, the network.
func explainOther(c Context, err error) string {
	var own Explained
	switch {
	case err == nil:
		return "unknown error"
	case errors.As(err, &own):
		return own.Error()
	case foreignTenant.MatchString(err.Error()):
		m := foreignTenant.FindStringSubmatch(err.Error())
		return reqpolicy.TenantMismatch(c.Vault, m[1], c.TenantID)
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out waiting for Azure: check the agent's network, proxy and firewall"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "network error: " + clip(err.Error())
}

func clip(s string) string { return vso.Clip(s, 300) }
