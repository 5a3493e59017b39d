package task

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/agentenv"
	"github.com/gokeyvault/gokeyvault/pkg/cloud"
	"github.com/gokeyvault/gokeyvault/pkg/credential"
	"github.com/gokeyvault/gokeyvault/pkg/diagnose"
	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
	"github.com/gokeyvault/gokeyvault/pkg/netconfig"
	"github.com/gokeyvault/gokeyvault/pkg/publish"
	"github.com/gokeyvault/gokeyvault/pkg/secretfile"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Job is everything the agent gives a run, read and checked before any
// request, as the values the phases take: Connect a Link, Download a
// Request and a Delivery, Summarise the Request.
type Job struct {
	// Skip, when not empty, says why this stage has nothing to do: the
	// task runs in the other stage (RunAsPreJob). Nothing else is read.
	Skip string
	// Encoding is how the task's logging commands reach this agent: read
	// first, whatever else the job holds, since even a refusal is written
	// with it.
	Encoding vso.Encoding

	Request  Request
	Link     Link
	Delivery Delivery

	Debug bool // system.debug
	// ConnectionPage is where the user edits the service connection, when
	// the job's variables say.
	ConnectionPage string
	// Warnings are the settings read that the run does not honour as
	// given, for the log.
	Warnings []string
}

// Link is how a run reaches its vault: what Connect uses.
type Link struct {
	Vault      string        // the vault's name
	Budget     time.Duration // the run's, which bounds each request's tries
	Conn       *endpoint.Connection
	DevOps     endpoint.DevOps // the job's identity to Azure DevOps, for the OIDC token
	Network    *netconfig.Config
	APIVersion string // GoKeyVault.ApiVersion: "" for the SDK's
	// ManagedIdentity is what the environment says about the machine's
	// managed identity endpoint.
	ManagedIdentity credential.ManagedIdentityEnv
}

// Delivery is how values reach the job: how Download sets variables, and
// where it writes files.
type Delivery struct {
	Publish publish.Options
	Files   *secretfile.Dir // nil when no file is asked for
}

// Read reads the job from the task's environment. An error is bad input:
// its message names the input and what to do.
func Read(env *agentenv.Env, stage Stage) (Job, error) {
	j := Job{Debug: agentenv.TaskLibTrue(env.Get(agentenv.SystemDebug))}
	// As the agent resolves it; when a job variable of another spelling
	// (decode.percents) hides the agent's own, its default: values stay
	// exact under it, and under the other setting they arrive altered,
	// never unmasked (a '%' travels as %AZP25, which no decoding the agent
	// does then turns into anything else).
	j.Encoding = vso.EncodingFor(env.Setting(agentenv.DecodePercents).Value)
	if preJob := agentenv.TaskLibTrue(env.Get(agentenv.Input("RunAsPreJob"))); preJob != (stage == StagePreJob) {
		where := "as a step"
		if preJob {
			where = "before the job's steps (RunAsPreJob is true)"
		}
		j.Skip = "GoKeyVault runs " + where + "; nothing to do in this stage"
		return j, nil
	}
	budget, warnings := readBudget(env)
	req, err := NewRequest(env.Get(agentenv.Input("KeyVaultName")), env.Get(agentenv.Input("SecretsFilter")), env.Get(agentenv.Input("SecretsToFiles")), budget)
	if err != nil {
		return j, err
	}
	req.Outputs = agentenv.TaskLibTrue(env.Get(agentenv.Input("OutputVariables")))
	if req.Expiry.Days, err = ParseExpiryDays("input ExpiryWarningDays", env.Get(agentenv.Input("ExpiryWarningDays"))); err != nil {
		return j, err
	}
	req.Expiry.Fails = agentenv.TaskLibTrue(env.Get(agentenv.Input("ExpiryFails")))
	j.Request, j.Warnings = req, warnings
	if len(req.Plan.Files) > 0 {
		if j.Delivery.Files, err = readFileDir(env); err != nil {
			return j, err
		}
	}
	if j.Link, err = readLink(env, req); err != nil {
		return j, err
	}
	j.ConnectionPage = connectionPage(env, j.Link.Conn.ID)
	j.Delivery.Publish = publish.Options{
		Multiline: publish.ReadMultiline(env),
		// As AzureKeyVault@2 reads it.
		NoLineMasking: agentenv.TaskLibVariableTrue(env.Get(agentenv.DoNotMaskMultilineSecrets)),
		Output:        req.Outputs,
	}
	// The agent's proxy, bypass list and CA settings apply to every request:
	// Entra, Key Vault, Azure DevOps, Azure Stack Hub, managed identity.
	if j.Link.Network, err = netconfig.FromEnv(env); err != nil {
		return j, err
	}
	return j, nil
}

// readFileDir is the run's own directory for SecretsToFiles, under the
// agent's temp directory; one a pipeline variable may have named is
// refused, since an earlier step could so have the files outlive the job.
func readFileDir(env *agentenv.Env) (*secretfile.Dir, error) {
	temp, steered := env.AgentVariable(agentenv.AgentTempDirectory)
	if len(steered) > 0 {
		return nil, fmt.Errorf("input SecretsToFiles: the agent's temp directory (AGENT_TEMPDIRECTORY) is named by the pipeline variable '%s', which any earlier step can set too, so the files could outlive the job where others can read them. Remove that variable: SecretsToFiles writes only under the agent's own temp directory", strings.Join(steered, "', '"))
	}
	return secretfile.NewDir(temp)
}

// readLink reads the service connection and what else Connect needs.
func readLink(env *agentenv.Env, req Request) (Link, error) {
	l := Link{Vault: req.Vault, Budget: req.Budget}
	connID := env.Get(agentenv.Input("azureSubscription"))
	if connID == "" {
		connID = env.Get(agentenv.Input("ConnectedServiceName"))
	}
	var err error
	if l.Conn, err = endpoint.Read(env, connID); err != nil {
		return l, err
	}
	l.DevOps = endpoint.ReadDevOps(env)
	l.ManagedIdentity = credential.ReadManagedIdentityEnv(env)
	l.APIVersion = strings.TrimSpace(env.Get("GOKEYVAULT_APIVERSION"))
	return l, nil
}

// readBudget reads GoKeyVault.Timeout, a number of seconds.
func readBudget(env *agentenv.Env) (time.Duration, []string) {
	s := strings.TrimSpace(env.Get("GOKEYVAULT_TIMEOUT"))
	if s == "" {
		return DefaultBudget, nil
	}
	if d, err := time.ParseDuration(s + "s"); err == nil && d > 0 {
		return d, nil
	}
	return DefaultBudget, []string{fmt.Sprintf("The pipeline variable GoKeyVault.Timeout is %q, not a number of seconds; using %s", vso.Clip(s, 40), DefaultBudget)}
}

// connectionPage links to the service connection's settings page, where a
// user can fix a wrong or expired secret.
func connectionPage(env *agentenv.Env, id string) string {
	coll := strings.TrimRight(env.Get(agentenv.SystemCollectionURI), "/")
	project := env.Get(agentenv.SystemTeamProject)
	if project == "" {
		project = env.Get(agentenv.SystemTeamProjectID)
	}
	if coll == "" || project == "" {
		return ""
	}
	return coll + "/" + url.PathEscape(project) + "/_settings/adminservices?resourceId=" + url.QueryEscape(id)
}

// warnings are the job's own and its network settings', in that order.
func (j Job) warnings() []string {
	return append(append([]string(nil), j.Warnings...), j.Link.Network.Warnings...)
}

// debugf is where debug lines go: the log when system.debug is on.
func (j Job) debugf(w *vso.Writer) func(string) {
	if !j.Debug {
		return nil
	}
	return w.Debug
}

// diagnoseContext is what messages about this job may mention; cl is the
// cloud once known.
func (j Job) diagnoseContext(cl *cloud.Cloud) diagnose.Context {
	c := diagnose.Context{Vault: j.Request.Vault, TenantID: j.Link.Conn.TenantID}
	if cl != nil {
		c = DiagnoseContext(j.Request.Vault, *cl)
	}
	c.ConnectionPage = j.ConnectionPage
	return c
}

func joinSorted(names []string) string {
	s := append([]string(nil), names...)
	sort.Strings(s)
	return strings.Join(s, ", ")
}
