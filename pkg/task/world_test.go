package task

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/gokeyvault/gokeyvault/pkg/reqpolicy"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/harness"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
)

// The in-process tests run Run itself in place of the launcher and the
// binary, through the agent runner (the same environment, the same
// processing of the output) against the local cloud, reached through the
// cloud's own transport instead of the agent's proxy settings.

type (
	world = harness.T
	step  = harness.Step
)

const (
	tenantID     = testworld.TenantID
	clientID     = testworld.ClientID
	clientSecret = testworld.ClientSecret
	vaultName    = "kv-e2e" // the world's
	// taskFolder is read for task.json: the inputs' defaults and aliases.
	taskFolder = "../../task"
)

func newWorld(t *testing.T) *world {
	t.Helper()
	return harness.New(t, runInProcess, localcloud.Options{})
}

// runInProcess runs Run for the step, as the launcher would start the
// binary for its stage.
func runInProcess(ctx context.Context, w *testworld.World, o agentrunner.Options) (*agentrunner.Result, error) {
	o.TaskDir = taskFolder
	stage := StageMain
	if o.Stage == agentrunner.StagePreJob {
		stage = StagePreJob
	}
	proxy, err := url.Parse(w.Cloud.ProxyURL())
	if err != nil {
		return nil, err
	}
	// The product's own transport, with the network settings a test
	// process cannot give through the environment: the local cloud's CA
	// alone (Go reads SSL_CERT_FILE once per process).
	tr := transport.New(transport.Options{Proxy: http.ProxyURL(proxy), RootCAs: w.Cloud.CertPool(), MaxConnsPerHost: reqpolicy.ConnsPerHost(reqpolicy.RunGetsInFlight)})
	return agentrunner.RunFunc(ctx, o, func(ctx context.Context, env []string, out io.Writer) int {
		return Run(ctx, Options{Stage: stage, Environ: env, Out: out, Version: "dev", Transport: tr})
	})
}

func twoSecrets(w *world) map[string]agentrunner.Variable {
	return w.Put(map[string]string{"a": "value-of-a", "b": "value-of-b"})
}
