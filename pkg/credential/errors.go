package credential

import (
	"fmt"

	"github.com/gokeyvault/gokeyvault/pkg/transport"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// FederationError is a failed token request of a workload identity
// federation connection. It carries the subject and issuer the connection
// presents, which is what a federated credential mismatch is about.
type FederationError struct {
	Subject, Issuer string
	Err             error
}

func (e *FederationError) Error() string { return e.Err.Error() }
func (e *FederationError) Unwrap() error { return e.Err }

// OIDCError is Azure DevOps not issuing the job's OIDC token.
type OIDCError struct {
	ConnectionID string
	Route        string // "SYSTEM_OIDCREQUESTURI" or "the distributed task API"
	URL          string // without query string
	StatusCode   int    // 0 when no response arrived
	Message      string // Azure DevOps' own message, if any
	Err          error
}

func (e *OIDCError) Unwrap() error { return e.Err }

// Explained marks the message as saying what to do.
func (e *OIDCError) Explained() {}

func (e *OIDCError) Error() string {
	what := fmt.Sprintf("could not get the workload identity federation token for service connection %s from Azure DevOps (%s, POST %s)", e.ConnectionID, e.Route, e.URL)
	detail := ""
	if e.Message != "" {
		detail = ": " + e.Message
	}
	switch {
	case e.StatusCode == 401 || e.StatusCode == 403:
		return fmt.Sprintf("%s: %d%s. The job's access token was refused: check that the pipeline may use the service connection (Security > Pipeline permissions) and that the job's authorization scope allows it", what, e.StatusCode, detail)
	case e.StatusCode == 400 || e.StatusCode == 404:
		return fmt.Sprintf("%s: %d%s. Check that the service connection exists, uses workload identity federation and is authorised for this pipeline", what, e.StatusCode, detail)
	case e.StatusCode != 0:
		return fmt.Sprintf("%s: %d%s. Azure DevOps may be having trouble; run again later", what, e.StatusCode, detail)
	case e.Err != nil:
		return fmt.Sprintf("%s: %v", what, e.Err)
	default:
		return what + detail
	}
}

// ManagedIdentityFailure classifies a managed identity failure.
type ManagedIdentityFailure int

// The ways a managed identity token request fails.
const (
	// ManagedIdentityUnreachable: nothing answered at the endpoint (refused,
	// unreachable, or no connection within the try timeout): the agent has
	// no managed identity endpoint, e.g. it does not run on Azure.
	ManagedIdentityUnreachable ManagedIdentityFailure = iota + 1
	// ManagedIdentityTimedOut: the endpoint accepted connections but no
	// token came within the deadline.
	ManagedIdentityTimedOut
	// ManagedIdentityNotAssigned: the endpoint answered 400: the identity
	// (or, for user-assigned, the one with MSICLIENTID) is not assigned to
	// the agent's machine.
	ManagedIdentityNotAssigned
	// ManagedIdentityFailed: any other refusal.
	ManagedIdentityFailed
)

// ManagedIdentityError is a failed managed identity token request.
type ManagedIdentityError struct {
	Endpoint string // what was asked, e.g. "the Azure Instance Metadata Service (169.254.169.254)"
	ClientID string // MSICLIENTID; empty for the system-assigned identity
	Kind     ManagedIdentityFailure
	Timeout  string // the deadline, for ManagedIdentityTimedOut
	Err      error
}

func (e *ManagedIdentityError) Unwrap() error { return e.Err }

// Explained marks the message as saying what to do.
func (e *ManagedIdentityError) Explained() {}

func (e *ManagedIdentityError) Error() string {
	who := "the system-assigned managed identity"
	if e.ClientID != "" {
		who = fmt.Sprintf("the user-assigned managed identity %s (the service connection's managed identity client ID)", e.ClientID)
	}
	switch e.Kind {
	case ManagedIdentityUnreachable:
		return fmt.Sprintf("this agent has no managed identity: nothing answered at %s (%s). Managed identity connections work only on agents that run on an Azure VM or virtual machine scale set with the identity assigned; on other agents use a service connection with workload identity federation or a service principal", e.Endpoint, transport.RootCause(e.Err))
	case ManagedIdentityTimedOut:
		return fmt.Sprintf("the managed identity endpoint %s issued no token within %s: check %s on the agent's machine, and that no proxy setting captures the endpoint", e.Endpoint, e.Timeout, who)
	case ManagedIdentityNotAssigned:
		if e.ClientID != "" {
			return fmt.Sprintf("%s is not assigned to this agent's machine (%s answered 400): assign it to the VM or scale set (az vm identity assign --identities <identity resource ID>, or az vmss identity assign) or fix the client ID in the service connection", who, e.Endpoint)
		}
		return fmt.Sprintf("this agent's machine has no system-assigned managed identity (%s answered 400): enable it (az vm identity assign, or az vmss identity assign) and grant it access to the vault, or set a user-assigned identity's client ID in the service connection", e.Endpoint)
	default:
		return fmt.Sprintf("%s could not get a token from %s: %s", who, e.Endpoint, vso.Clip(e.Err.Error(), 300))
	}
}
