package localcloud

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DevOpsHost is the Azure DevOps Services host the fake answers for.
const DevOpsHost = "dev.azure.com"

// oidcTokenLocation is the distributed task API's "oidctoken" resource, as
// Azure DevOps lists it in OPTIONS <collection>/_apis.
const oidcTokenLocation = "69a319f4-28c1-4bfd-93e6-ea0ff5c6f1a2"

// oidcLifetime is how long Azure DevOps' OIDC tokens are valid.
const oidcLifetime = 10 * time.Minute

type devopsState struct {
	org         string
	accessToken string
	key         *rsa.PrivateKey
	kid         string
	connections map[string]pipelineConnection // lower-case id
	fail        int                           // next OIDC requests to answer 503
	tokens      []string
}

type pipelineConnection struct{ issuer, subject string }

// EnableDevOps fakes the Azure DevOps organization org at
// https://dev.azure.com/<org>/ (returned): the job's OIDC token endpoint as
// SYSTEM_OIDCREQUESTURI points at it, and the distributed task API's
// CreateOidcToken that azure-devops-go-api finds through OPTIONS
// <collection>/_apis. Both accept only "Bearer <accessToken>" (the job's
// SystemVssConnection token) and sign tokens with a key Entra's fake trusts.
func (c *Cloud) EnableDevOps(org, accessToken string) (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("generate the Azure DevOps signing key: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ext.devops = &devopsState{
		org:         strings.ToLower(org),
		accessToken: accessToken,
		key:         key,
		kid:         randomToken()[3:19],
		connections: map[string]pipelineConnection{},
	}
	return "https://" + DevOpsHost + "/" + org + "/", nil
}

// AddPipelineConnection declares a workload identity federation service
// connection: its OIDC tokens carry issuer and subject, typically
// https://vstoken.dev.azure.com/<organization id> and
// sc://<org>/<project>/<connection name>.
func (c *Cloud) AddPipelineConnection(id, issuer, subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ext.devops == nil {
		panic("localcloud: AddPipelineConnection before EnableDevOps")
	}
	c.ext.devops.connections[strings.ToLower(id)] = pipelineConnection{issuer: issuer, subject: subject}
}

// FailOIDCRequests answers the next n OIDC token requests with 503.
func (c *Cloud) FailOIDCRequests(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ext.devops != nil {
		c.ext.devops.fail = n
	}
}

// OIDCTokens lists the OIDC tokens Azure DevOps issued.
func (c *Cloud) OIDCTokens() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ext.devops == nil {
		return nil
	}
	return append([]string(nil), c.ext.devops.tokens...)
}

// OIDCRequestURI is the SYSTEM_OIDCREQUESTURI an agent would set for a job.
func (c *Cloud) OIDCRequestURI(projectID, hub, planID, jobID string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	org := ""
	if c.ext.devops != nil {
		org = c.ext.devops.org
	}
	return fmt.Sprintf("https://%s/%s/%s/_apis/distributedtask/hubs/%s/plans/%s/jobs/%s/oidctoken", DevOpsHost, org, projectID, hub, planID, jobID)
}

func (c *Cloud) serveDevOps(w http.ResponseWriter, r *http.Request, d *devopsState) {
	h := w.Header()
	h.Set("X-VSS-E2EID", newUUID())
	h.Set("ActivityId", newUUID())
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) == 0 || !strings.EqualFold(segs[0], d.org) {
		devOpsError(w, http.StatusNotFound, "TF400898: An Internal Error Occurred. The organization was not found.")
		return
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(d.accessToken)) != 1 {
		devOpsError(w, http.StatusUnauthorized, "TF400813: The user '' is not authorized to access this resource.")
		return
	}
	switch {
	case len(segs) == 2 && strings.EqualFold(segs[1], "_apis") && r.Method == http.MethodOptions:
		writeJSON(w, http.StatusOK, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, map[string]any{
			"count": 1,
			"value": []map[string]any{{
				"id":              oidcTokenLocation,
				"area":            "distributedtask",
				"resourceName":    "oidctoken",
				"routeTemplate":   "{scopeIdentifier}/_apis/{area}/hubs/{hubName}/plans/{planId}/jobs/{jobId}/{resource}",
				"resourceVersion": 1,
				"minVersion":      "7.1",
				"maxVersion":      "7.2",
				"releasedVersion": "0.0",
			}},
		})
	case len(segs) == 11 && segs[2] == "_apis" && segs[3] == "distributedtask" && segs[4] == "hubs" && segs[6] == "plans" && segs[8] == "jobs" && segs[10] == "oidctoken":
		if r.Method != http.MethodPost {
			devOpsError(w, http.StatusMethodNotAllowed, "The requested resource does not support http method '"+r.Method+"'.")
			return
		}
		c.issueOIDCToken(w, r, d, segs)
	default:
		devOpsError(w, http.StatusNotFound, "The controller for path '"+r.URL.Path+"' was not found or does not implement IController.")
	}
}

func (c *Cloud) issueOIDCToken(w http.ResponseWriter, r *http.Request, d *devopsState, segs []string) {
	for _, s := range []string{segs[1], segs[7], segs[9]} {
		if !isUUID(s) {
			devOpsError(w, http.StatusNotFound, "The project, plan or job "+s+" was not found.")
			return
		}
	}
	q := r.URL.Query()
	if q.Get("api-version") == "" && !strings.Contains(r.Header.Get("Accept"), "api-version=") {
		devOpsError(w, http.StatusBadRequest, "No api-version was supplied for the \"POST\" request. The version must be supplied either as part of the Accept header (e.g. \"application/json; api-version=1.0\") or as a query parameter (e.g. '?api-version=1.0').")
		return
	}
	id := strings.ToLower(q.Get("serviceConnectionId"))
	c.mu.Lock()
	conn, ok := d.connections[id]
	failing := d.fail > 0
	if failing {
		d.fail--
	}
	c.mu.Unlock()
	if failing {
		devOpsError(w, http.StatusServiceUnavailable, "TF400733: The request has been canceled: the service is temporarily unavailable.")
		return
	}
	if !ok {
		devOpsError(w, http.StatusNotFound, fmt.Sprintf("Service connection %s was not found, or the pipeline is not authorized to use it.", url.QueryEscape(q.Get("serviceConnectionId"))))
		return
	}
	now := time.Now()
	tok, err := signJWT(d.key, d.kid, jwtClaims{
		Issuer:    conn.issuer,
		Subject:   conn.subject,
		Audience:  audience{tokenExchangeAudience},
		Expires:   now.Add(oidcLifetime).Unix(),
		NotBefore: now.Unix(),
		IssuedAt:  now.Unix(),
	})
	if err != nil {
		devOpsError(w, http.StatusInternalServerError, "could not sign the token")
		return
	}
	c.mu.Lock()
	d.tokens = append(d.tokens, tok)
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, map[string]string{"oidcToken": tok})
}

// devOpsError writes Azure DevOps' error body.
func devOpsError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, map[string]any{
		"$id":            "1",
		"innerException": nil,
		"message":        msg,
		"typeName":       "Microsoft.TeamFoundation.Framework.Server.VssServiceException, Microsoft.TeamFoundation.Framework.Server",
		"typeKey":        "VssServiceException",
		"errorCode":      0,
		"eventId":        3000,
	})
}
