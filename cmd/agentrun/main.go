// Command agentrun runs a task folder the way the Azure Pipelines agent
// would (see pkg/testbed/agentrunner): it streams the masked step log, then prints
// the job's variables after the step and the step result.
//
//	agentrun -task task -input azureSubscription=<id> -input KeyVaultName=kv \
//	    -endpoint-file endpoints.json -variable system.debug=true -env SSL_CERT_FILE
//
// Exit status: 0 when the task ran, whatever its result; 1 when it could not
// be run; 2 on bad usage. Ctrl-C runs the agent's cancellation sequence.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// pairs collects repeated name=value flags.
type pairs []string

func (p *pairs) String() string { return strings.Join(*p, ",") }

func (p *pairs) Set(s string) error {
	*p = append(*p, s)
	return nil
}

func split(kv, flagName string) (string, string, error) {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return "", "", fmt.Errorf("-%s %q: want name=value", flagName, kv)
	}
	return k, v, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	fs := flag.NewFlagSet("agentrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		taskDir      = fs.String("task", "", "task folder (holding task.json)")
		stage        = fs.String("stage", "main", "main (execution) or prejob (prejobexecution)")
		endpointFile = fs.String("endpoint-file", "", "JSON list of endpoints: [{\"id\",\"url\",\"scheme\",\"params\":{},\"data\":{}}]")
		showValues   = fs.Bool("show-values", false, "print secret variable values instead of ***")
		node         = fs.String("node", "", "node executable (default: node from PATH)")
		workDir      = fs.String("workdir", "", "working directory (default: a temporary one)")
		inputs       pairs
		variables    pairs
		secrets      pairs
		envs         pairs
	)
	fs.Var(&inputs, "input", "task input name=value (repeatable)")
	fs.Var(&variables, "variable", "job variable name=value (repeatable)")
	fs.Var(&secrets, "secret-variable", "secret job variable name=value (repeatable; a command line is visible to other users and kept in shell history: use test values)")
	fs.Var(&envs, "env", "NAME=value for the task's environment, or NAME to copy it from here (repeatable; PATH and HOME are always copied)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *taskDir == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "agentrun: -task is required and no positional arguments are accepted")
		fs.Usage()
		return 2
	}

	opts := agentrunner.Options{
		TaskDir:   *taskDir,
		Inputs:    map[string]string{},
		Variables: map[string]agentrunner.Variable{},
		Node:      *node,
		WorkDir:   *workDir,
		Output:    stdout,
	}
	switch *stage {
	case "main":
		opts.Stage = agentrunner.StageMain
	case "prejob":
		opts.Stage = agentrunner.StagePreJob
	default:
		fmt.Fprintf(stderr, "agentrun: -stage %q: want main or prejob\n", *stage)
		return 2
	}
	usage := func(err error) int {
		fmt.Fprintln(stderr, "agentrun:", err)
		return 2
	}
	for _, kv := range inputs {
		k, v, err := split(kv, "input")
		if err != nil {
			return usage(err)
		}
		opts.Inputs[k] = v
	}
	for _, set := range []struct {
		list   pairs
		name   string
		secret bool
	}{{variables, "variable", false}, {secrets, "secret-variable", true}} {
		for _, kv := range set.list {
			k, v, err := split(kv, set.name)
			if err != nil {
				return usage(err)
			}
			opts.Variables[k] = agentrunner.Variable{Value: v, Secret: set.secret}
		}
	}
	for _, name := range []string{"PATH", "HOME"} {
		if v, ok := lookupEnv(name); ok {
			opts.Env = append(opts.Env, name+"="+v)
		}
	}
	for _, e := range envs {
		if strings.Contains(e, "=") {
			opts.Env = append(opts.Env, e)
		} else if v, ok := lookupEnv(e); ok {
			opts.Env = append(opts.Env, e+"="+v)
		}
	}
	if *endpointFile != "" {
		eps, err := readEndpoints(*endpointFile)
		if err != nil {
			fmt.Fprintln(stderr, "agentrun:", err)
			return 1
		}
		opts.Endpoints = eps
	}

	res, err := agentrunner.Run(ctx, opts)
	if res == nil {
		fmt.Fprintln(stderr, "agentrun:", err)
		return 1
	}
	printSummary(stdout, res, *showValues)
	if err != nil {
		fmt.Fprintln(stderr, "agentrun:", err)
		return 1
	}
	return 0
}

func readEndpoints(path string) ([]agentrunner.Endpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read endpoint file: %w", err)
	}
	var eps []agentrunner.Endpoint
	if err := json.Unmarshal(b, &eps); err != nil {
		return nil, fmt.Errorf("parse endpoint file %s: %w", path, err)
	}
	for i, ep := range eps {
		if ep.ID == "" {
			return nil, fmt.Errorf("parse endpoint file %s: endpoint %d has no id", path, i)
		}
	}
	return eps, nil
}

func printSummary(w io.Writer, res *agentrunner.Result, showValues bool) {
	fmt.Fprintln(w, "---- variables after the step")
	for _, n := range slices.Sorted(maps.Keys(res.Variables)) {
		v := res.Variables[n]
		switch {
		case v.Secret && !showValues:
			fmt.Fprintf(w, "%s = *** (secret)\n", n)
		case v.Secret:
			fmt.Fprintf(w, "%s = %q (secret)\n", n, v.Value)
		default:
			fmt.Fprintf(w, "%s = %q\n", n, v.Value)
		}
	}
	for _, e := range res.Errors {
		fmt.Fprintln(w, "---- command error:", e)
	}
	fmt.Fprintf(w, "---- result: %s (exit code %d, %d issue(s))\n", res.Result, res.ExitCode, len(res.Issues))
}
