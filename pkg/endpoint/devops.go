package endpoint

import (
	"encoding/json"
	"strings"

	"github.com/gokeyvault/gokeyvault/pkg/agentenv"
)

// DevOps identifies the running job to Azure DevOps: what a workload
// identity federation connection needs to ask Azure DevOps for an OIDC
// token.
type DevOps struct {
	// OIDCRequestURI is SYSTEM_OIDCREQUESTURI: the agent's ready-made URL
	// for the OIDC token request. Empty on older agents and servers.
	OIDCRequestURI string
	// CollectionURI, ProjectID, HostType (the hub), PlanID and JobID build
	// the distributed-task route when OIDCRequestURI is absent.
	// CollectionURI is the agent's SystemVssConnection's URL, which the
	// agent writes after the job's variables, and only without it
	// SYSTEM_COLLECTIONURI, a job variable a step can set: the job's
	// access token goes there.
	CollectionURI string
	ProjectID     string
	HostType      string
	PlanID        string
	JobID         string
	// AccessToken is the job's SystemVssConnection token. Sensitive.
	AccessToken string
}

// ReadDevOps reads the job's identity and its Azure DevOps access token. The
// token is recorded as sensitive so that the caller unsets it.
func ReadDevOps(e *agentenv.Env) DevOps {
	j := DevOps{
		OIDCRequestURI: strings.TrimSpace(e.Get(agentenv.SystemOIDCRequestURI)),
		CollectionURI:  strings.TrimSpace(e.Get(agentenv.EndpointURL(agentenv.SystemVssConnection))),
		ProjectID:      strings.TrimSpace(e.Get(agentenv.SystemTeamProjectID)),
		HostType:       strings.TrimSpace(e.Get(agentenv.SystemHostType)),
		PlanID:         strings.TrimSpace(e.Get(agentenv.SystemPlanID)),
		JobID:          strings.TrimSpace(e.Get(agentenv.SystemJobID)),
		AccessToken:    strings.TrimSpace(e.Secret(agentenv.EndpointAuthParameter(agentenv.SystemVssConnection, "ACCESSTOKEN"))),
	}
	if j.AccessToken == "" {
		// Agents that do not export each parameter still pass the JSON form.
		var auth struct {
			Parameters map[string]string `json:"parameters"`
		}
		if raw := e.Secret(agentenv.EndpointAuth(agentenv.SystemVssConnection)); raw != "" && json.Unmarshal([]byte(raw), &auth) == nil {
			for k, v := range auth.Parameters {
				if strings.EqualFold(k, "AccessToken") {
					j.AccessToken = strings.TrimSpace(v)
				}
			}
		}
	}
	if j.CollectionURI == "" {
		j.CollectionURI = strings.TrimSpace(e.Get(agentenv.SystemCollectionURI))
	}
	return j
}
