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
	"github.com/gokeyvault/gokeyvault/pkg/inputs"
	"github.com/gokeyvault/gokeyvault/pkg/netconfig"
	"github.com/gokeyvault/gokeyvault/pkg/publish"
	"github.com/gokeyvault/gokeyvault/pkg/secretfile"
	"github.com/gokeyvault/gokeyvault/pkg/selection"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Job is everything the agent gives a run, read and checked before any
// request.
type Job struct {
	// Skip, when not empty, says why this stage has nothing to do: the
	// task runs in the other stage (RunAsPreJob). Nothing else is read.
	Skip string

	Vault string          // KeyVaultName
	Plan  *selection.Plan // SecretsFilter
	// Files are the secrets to write to files (SecretsToFiles), FileDir
	// where (nil when there are none).
	Files   []secretfile.Entry
	FileDir *secretfile.Dir
	// Output also sets each variable as an output variable of the step
	// (OutputVariables).
	Output bool
	Conn   *endpoint.Connection
	// DevOps is the job's identity to Azure DevOps, for workload identity
	// federation's OIDC token.
	DevOps endpoint.DevOps
	// ConnectionPage is where the user edits the service connection, when
	// the job's variables say.
	ConnectionPage string

	Debug      bool          // system.debug
	Budget     time.Duration // the whole run's, GoKeyVault.Timeout
	APIVersion string        // GoKeyVault.ApiVersion: "" for the SDK's
	Multiline  publish.Multiline
	// NoLineMasking is SYSTEM_DONOTMASKMULTILINESECRETS=true: the lines
	// of a multi-line value are not registered one by one.
	NoLineMasking bool
	Network       *netconfig.Config
	// ManagedIdentity is what the environment says about the machine's
	// managed identity endpoint.
	ManagedIdentity credential.ManagedIdentityEnv

	// Warnings are the settings read that the run does not honour as
	// given, for the log.
	Warnings []string
}

// Read reads the job from the task's environment. An error is bad input:
// its message names the input and what to do.
func Read(env *agentenv.Env, stage Stage) (Job, error) {
	j := Job{Debug: agentenv.TaskLibTrue(env.Get(agentenv.SystemDebug))}
	if preJob := agentenv.TaskLibTrue(env.Get(agentenv.Input("RunAsPreJob"))); preJob != (stage == StagePreJob) {
		where := "as a step"
		if preJob {
			where = "before the job's steps (RunAsPreJob is true)"
		}
		j.Skip = "GoKeyVault runs " + where + "; nothing to do in this stage"
		return j, nil
	}
	j.Vault = strings.TrimSpace(env.Get(agentenv.Input("KeyVaultName")))
	err := inputs.ValidateVaultName(j.Vault)
	if err != nil {
		return j, err
	}
	if j.Plan, j.Files, err = ReadSelection(env.Get(agentenv.Input("SecretsFilter")), env.Get(agentenv.Input("SecretsToFiles"))); err != nil {
		return j, err
	}
	if len(j.Files) > 0 {
		if j.FileDir, err = secretfile.NewDir(env.Get(agentenv.AgentTempDirectory)); err != nil {
			return j, err
		}
	}
	j.Output = agentenv.TaskLibTrue(env.Get(agentenv.Input("OutputVariables")))
	connID := env.Get(agentenv.Input("azureSubscription"))
	if connID == "" {
		connID = env.Get(agentenv.Input("ConnectedServiceName"))
	}
	if j.Conn, err = endpoint.Read(env, connID); err != nil {
		return j, err
	}
	j.DevOps = endpoint.ReadDevOps(env)
	j.ManagedIdentity = credential.ReadManagedIdentityEnv(env)
	j.ConnectionPage = connectionPage(env, j.Conn.ID)
	j.Budget, j.Warnings = readBudget(env)
	j.APIVersion = strings.TrimSpace(env.Get("GOKEYVAULT_APIVERSION"))
	j.Multiline = publish.ReadMultiline(env)
	// As AzureKeyVault@2 reads it.
	j.NoLineMasking = agentenv.TaskLibVariableTrue(env.Get(agentenv.DoNotMaskMultilineSecrets))
	// The agent's proxy, bypass list and CA settings apply to every request:
	// Entra, Key Vault, Azure DevOps, Azure Stack Hub, managed identity.
	if j.Network, err = netconfig.FromEnv(env); err != nil {
		return j, err
	}
	return j, nil
}

// ReadSelection parses SecretsFilter and SecretsToFiles and checks them
// together: an empty filter is allowed when files are asked for (a step
// that only writes files), and no file's variable may be one a filter
// entry sets.
func ReadSelection(filter, toFiles string) (*selection.Plan, []secretfile.Entry, error) {
	files, err := secretfile.Parse(toFiles)
	if err != nil {
		return nil, nil, err
	}
	if len(files) > 0 && strings.Trim(filter, " \t\r\n,") == "" {
		return selection.Nothing(), files, nil
	}
	plan, err := selection.Parse(filter)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range files {
		if entry, ok := plan.SetBy(f.Var); ok {
			return nil, nil, fmt.Errorf("input SecretsToFiles entry %q sets variable %s, which the SecretsFilter entry %q sets too: rename the filter's variable with 'as'", vso.Clip(f.Text, 80), f.Var, vso.Clip(entry, 80))
		}
	}
	return plan, files, nil
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
	return append(append([]string(nil), j.Warnings...), j.Network.Warnings...)
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
	c := diagnose.Context{Vault: j.Vault, ConnectionPage: j.ConnectionPage}
	if j.Conn != nil {
		c.TenantID = j.Conn.TenantID
	}
	if cl != nil {
		c.TenantID = cl.Tenant
		c.Host = j.Vault + "." + cl.VaultSuffix
	}
	return c
}

func joinSorted(names []string) string {
	s := append([]string(nil), names...)
	sort.Strings(s)
	return strings.Join(s, ", ")
}
