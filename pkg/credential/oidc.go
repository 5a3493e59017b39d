package credential

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/uuid"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	devopstask "github.com/microsoft/azure-devops-go-api/azuredevops/v7/task"

	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// oidcAPIVersion is what azidentity's AzurePipelinesCredential asks for.
const oidcAPIVersion = "7.1"

// newFederatedCredential exchanges the job's OIDC token, issued by Azure
// DevOps for this service connection, for a Microsoft Entra token.
//
// It speaks the protocol of azidentity's AzurePipelinesCredential (POST
// $SYSTEM_OIDCREQUESTURI?api-version=7.1&serviceConnectionId=<id>) rather
// than using that type, because the token must be registered with the
// agent's masker the moment it arrives, the request must go through the
// agent's proxy settings, and agents without SYSTEM_OIDCREQUESTURI need the
// distributed-task route; both routes retry 5xx through the same pipeline.
func newFederatedCredential(ctx context.Context, c *endpoint.Connection, tenant string, co azcore.ClientOptions, o Options) (azcore.TokenCredential, error) {
	if tenant == "" || c.ClientID == "" {
		return nil, fmt.Errorf("service connection %s has no tenant ID or service principal ID: edit the connection and fill them in", c.ID)
	}
	if o.DevOps.AccessToken == "" {
		return nil, fmt.Errorf("service connection %s uses workload identity federation, which needs the job's access token to ask Azure DevOps for an OIDC token, but the agent did not provide it (ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN)", c.ID)
	}
	if o.DevOps.OIDCRequestURI == "" {
		if _, err := uuid.Parse(c.ID); err != nil {
			return nil, fmt.Errorf("service connection %s: the distributed task OIDC route needs the connection's GUID, not its name; use an agent that sets SYSTEM_OIDCREQUESTURI", c.ID)
		}
	} else if err := checkRequestURI(c.ID, o.DevOps); err != nil {
		return nil, err
	}
	pipelineOptions := o.HTTP.ClientOptions()
	src := &oidcSource{
		connID:  c.ID,
		job:     o.DevOps,
		pl:      runtime.NewPipeline("gokeyvault", "", runtime.PipelineOptions{}, &pipelineOptions),
		onToken: o.OnSecret,
		logf:    o.Logf,
	}
	// Fetch now: the token is masked before any other output, and a job
	// that cannot get one fails here with Azure DevOps' answer.
	if _, err := src.assertion(ctx); err != nil {
		return nil, err
	}
	cred, err := azidentity.NewClientAssertionCredential(tenant, c.ClientID, src.assertion,
		&azidentity.ClientAssertionCredentialOptions{ClientOptions: co})
	if err != nil {
		return nil, fmt.Errorf("create workload identity federation credential: %w", err)
	}
	subject, issuer := c.FederationSubject, c.FederationIssuer
	if subject == "" || issuer == "" {
		// Older connections do not carry them; the token says the same.
		claims := src.claims()
		subject, issuer = cmp.Or(subject, claims.Subject), cmp.Or(issuer, claims.Issuer)
	}
	return &federatedCredential{cred: cred, subject: subject, issuer: issuer}, nil
}

type federatedCredential struct {
	cred            *azidentity.ClientAssertionCredential
	subject, issuer string
}

func (f *federatedCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := f.cred.GetToken(ctx, opts)
	if err != nil {
		return tok, &FederationError{Subject: f.subject, Issuer: f.issuer, Err: err}
	}
	return tok, nil
}

// oidcSource fetches the OIDC token and reuses it while it is fresh.
type oidcSource struct {
	connID  string
	job     endpoint.DevOps
	pl      runtime.Pipeline
	onToken func(string)
	logf    func(string)

	mu      sync.Mutex
	token   string
	expires time.Time
}

type jwtClaims struct {
	Issuer  string `json:"iss"`
	Subject string `json:"sub"`
	Expires int64  `json:"exp"`
}

func (s *oidcSource) claims() jwtClaims {
	s.mu.Lock()
	defer s.mu.Unlock()
	return parseClaims(s.token)
}

// parseClaims reads a JWT's claims without verifying it: they only decide
// when to fetch a new token and what to print about a mismatch.
func parseClaims(token string) jwtClaims {
	var c jwtClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err == nil {
		_ = json.Unmarshal(b, &c)
	}
	return c
}

func (s *oidcSource) assertion(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && time.Until(s.expires) > 2*time.Minute {
		return s.token, nil
	}
	start := time.Now()
	var tok, route string
	var err error
	if s.job.OIDCRequestURI != "" {
		route = "SYSTEM_OIDCREQUESTURI"
		tok, err = s.fromRequestURI(ctx)
	} else {
		route = "the distributed task API"
		tok, err = s.fromDistributedTask(ctx)
	}
	if err != nil {
		return "", err
	}
	s.onToken(tok)
	s.token = tok
	s.expires = time.Now().Add(5 * time.Minute)
	if exp := parseClaims(tok).Expires; exp != 0 {
		s.expires = time.Unix(exp, 0)
	}
	s.logf(fmt.Sprintf("OIDC token for service connection %s from Azure DevOps (%s) in %d ms", s.connID, route, time.Since(start).Milliseconds()))
	return tok, nil
}

// checkRequestURI refuses a SYSTEM_OIDCREQUESTURI that the job's access
// token must not go to: one not https, or on another host than the
// collection the job runs in. The agent gives it as the job variable
// system.oidcRequestUri, which the pipeline or an earlier step can set.
func checkRequestURI(connID string, j endpoint.DevOps) error {
	u, err := url.Parse(j.OIDCRequestURI)
	coll, cerr := url.Parse(j.CollectionURI)
	shown := "(unparsable)"
	if err == nil {
		shown = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	}
	switch {
	case j.CollectionURI == "" || cerr != nil || coll.Hostname() == "":
		return &OIDCError{ConnectionID: connID, Route: "SYSTEM_OIDCREQUESTURI", URL: shown, Message: "refused: the agent did not say which collection the job runs in (SYSTEM_COLLECTIONURI), so the job's access token cannot be sent anywhere safely"}
	case err != nil || u.Scheme != "https" || !strings.EqualFold(u.Hostname(), coll.Hostname()) || u.Port() != coll.Port() && u.Port() != "443":
		return &OIDCError{ConnectionID: connID, Route: "SYSTEM_OIDCREQUESTURI", URL: shown, Message: fmt.Sprintf(
			"refused: the job's access token goes there, and it is not an https URL on the host of the collection the job runs in (%s). SYSTEM_OIDCREQUESTURI is the job variable system.oidcRequestUri, which Azure DevOps sets: remove any variable of that name from the pipeline and from the steps before this one", coll.Host)}
	}
	return nil
}

func (s *oidcSource) fromRequestURI(ctx context.Context) (string, error) {
	u, err := url.Parse(s.job.OIDCRequestURI)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", &OIDCError{ConnectionID: s.connID, Route: "SYSTEM_OIDCREQUESTURI", URL: "(unparsable)", Message: "SYSTEM_OIDCREQUESTURI is not a URL"}
	}
	q := u.Query()
	q.Set("api-version", oidcAPIVersion)
	q.Set("serviceConnectionId", s.connID)
	u.RawQuery = q.Encode()
	shown := *u
	shown.RawQuery = ""
	fail := func(status int, msg string, err error) error {
		return &OIDCError{ConnectionID: s.connID, Route: "SYSTEM_OIDCREQUESTURI", URL: shown.String(), StatusCode: status, Message: msg, Err: err}
	}
	req, err := runtime.NewRequest(ctx, http.MethodPost, u.String())
	if err != nil {
		return "", fail(0, "", err)
	}
	req.Raw().Header.Set("Authorization", "Bearer "+s.job.AccessToken)
	// Ask for 401 instead of a redirect to a sign-in page.
	req.Raw().Header.Set("X-TFS-FedAuthRedirect", "Suppress")
	req.Raw().Header.Set("Accept", "application/json")
	resp, err := s.pl.Do(req)
	if err != nil {
		return "", fail(0, "", err)
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return "", fail(0, "", fmt.Errorf("read the reply: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return "", fail(resp.StatusCode, devOpsMessage(body), nil)
	}
	var r struct {
		OIDCToken string `json:"oidcToken"`
	}
	if json.Unmarshal(body, &r) != nil || r.OIDCToken == "" {
		return "", fail(resp.StatusCode, "the reply holds no oidcToken", nil)
	}
	return r.OIDCToken, nil
}

// fromDistributedTask is the route older agents need: the task API's
// CreateOidcToken on the job's plan, through azure-devops-go-api.
func (s *oidcSource) fromDistributedTask(ctx context.Context) (string, error) {
	j := s.job
	coll := strings.TrimRight(j.CollectionURI, "/")
	shown := fmt.Sprintf("%s/%s/_apis/distributedtask/hubs/%s/plans/%s/jobs/%s/oidctoken", coll, j.ProjectID, j.HostType, j.PlanID, j.JobID)
	fail := func(status int, msg string, err error) error {
		return &OIDCError{ConnectionID: s.connID, Route: "the distributed task API", URL: shown, StatusCode: status, Message: msg, Err: err}
	}
	ids := []struct{ name, value string }{{"SYSTEM_TEAMPROJECTID", j.ProjectID}, {"SYSTEM_PLANID", j.PlanID}, {"SYSTEM_JOBID", j.JobID}, {"service connection id", s.connID}}
	parsed := map[string]uuid.UUID{}
	for _, id := range ids {
		u, err := uuid.Parse(id.value)
		if err != nil {
			return "", fail(0, fmt.Sprintf("the agent set neither SYSTEM_OIDCREQUESTURI nor a valid %s", id.name), nil)
		}
		parsed[id.name] = u
	}
	if coll == "" || j.HostType == "" {
		return "", fail(0, "the agent set neither SYSTEM_OIDCREQUESTURI nor SYSTEM_COLLECTIONURI and SYSTEM_HOSTTYPE", nil)
	}
	conn := &azuredevops.Connection{
		AuthorizationString:     "Bearer " + j.AccessToken,
		BaseUrl:                 coll,
		SuppressFedAuthRedirect: true,
	}
	client := azuredevops.NewClientWithOptions(conn, coll, azuredevops.WithHTTPClient(&http.Client{Transport: pipelineRoundTripper{s.pl}}))
	api := &devopstask.ClientImpl{Client: *client}
	project, plan, job, sc := parsed["SYSTEM_TEAMPROJECTID"], parsed["SYSTEM_PLANID"], parsed["SYSTEM_JOBID"], parsed["service connection id"]
	hub := j.HostType
	res, err := api.CreateOidcToken(ctx, devopstask.CreateOidcTokenArgs{
		Claims:              &map[string]string{},
		ScopeIdentifier:     &project,
		HubName:             &hub,
		PlanId:              &plan,
		JobId:               &job,
		ServiceConnectionId: &sc,
	})
	if err != nil {
		var we azuredevops.WrappedError
		var wep *azuredevops.WrappedError
		switch {
		case errors.As(err, &wep) && wep.StatusCode != nil:
			return "", fail(*wep.StatusCode, clipMessage(wep.Message), nil)
		case errors.As(err, &we) && we.StatusCode != nil:
			return "", fail(*we.StatusCode, clipMessage(we.Message), nil)
		}
		return "", fail(0, "", err)
	}
	if res == nil || res.OidcToken == nil || *res.OidcToken == "" {
		return "", fail(http.StatusOK, "the reply holds no oidcToken", nil)
	}
	return *res.OidcToken, nil
}

func clipMessage(m *string) string {
	if m == nil {
		return ""
	}
	return vso.Clip(*m, 300)
}

// devOpsMessage extracts Azure DevOps' error message ({"message": ...}).
func devOpsMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return vso.Clip(e.Message, 300)
	}
	return ""
}

// pipelineRoundTripper sends azure-devops-go-api's requests through the
// azcore pipeline, so they get the same proxy, TLS and retry handling as
// every other request of the task.
type pipelineRoundTripper struct{ pl runtime.Pipeline }

func (p pipelineRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	req, err := runtime.NewRequest(r.Context(), r.Method, r.URL.String())
	if err != nil {
		return nil, err
	}
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, err
		}
		if err := req.SetBody(streaming.NopCloser(bytes.NewReader(b)), r.Header.Get("Content-Type")); err != nil {
			return nil, err
		}
	}
	for k, vs := range r.Header {
		req.Raw().Header[k] = vs
	}
	return p.pl.Do(req)
}
