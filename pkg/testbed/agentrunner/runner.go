// Package agentrunner runs a task folder the way the Azure Pipelines agent
// does on Linux and macOS: handler selection, the task's environment, the
// secret masker, logging-command processing, step result and the
// cancellation sequence. End-to-end tests drive the real Node launcher and Go
// binary through it and assert on what a pipeline user would see.
package agentrunner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Stage selects the task.json section to run.
type Stage string

const (
	StageMain   Stage = "execution"
	StagePreJob Stage = "prejobexecution"
)

// Options describe one step.
type Options struct {
	TaskDir   string
	Stage     Stage               // default StageMain
	Inputs    map[string]string   // by task.json input name or alias; task.json defaults merged in for absent ones
	Endpoints []Endpoint          // service connections the job has
	Variables map[string]Variable // the job's variables before the step, e.g. "system.debug", "agent.proxypassword" (secret)
	// Env is the environment the agent process would pass on (PATH, HOME,
	// HTTPS_PROXY, SSL_CERT_FILE, ...). The runner's own environment is NOT
	// inherited, so a developer's proxy or Azure settings never leak into a test.
	Env         []string
	Node        string        // node executable; default "node" from PATH
	WorkDir     string        // cwd; default a temp dir removed afterwards
	Started     func(pid int) // called after node starts (tests send signals with it)
	Output      io.Writer     // optional: tee of the masked log as it is produced
	AccessToken string        // SystemVssConnection token; random when empty. Always masked.
	// SettableVariables is the step's target.settableVariables: nil
	// allows every name; otherwise only names matching one of these
	// patterns (an empty list is YAML's "none").
	SettableVariables []string
	// StepName is the step's reference name (YAML's name:), which output
	// variables are found under; default "step1".
	StepName string
}

// Issue is an error or warning recorded on the step ("error" or "warning").
type Issue struct{ Type, Message string }

// Result is what the job sees after the step.
type Result struct {
	Result    string              // Succeeded, SucceededWithIssues, Failed, Skipped, Canceled
	Variables map[string]Variable // Options.Variables plus what the task set, names as last spelled
	Log       []string            // the step log: masked output, ##[error]/##[warning] issues, ##[debug] when system.debug
	Raw       []string            // every stdout and stderr line exactly as written (unmasked), for leak checks
	Issues    []Issue             // messages masked, like the agent's
	Commands  []Command           // every parsed logging command, in order
	// Errors lists commands the agent rejected (these fail the step) and
	// commands this runner does not emulate (these do not).
	Errors    []string
	ExitCode  int      // 128+signal when node was killed by a signal, as .NET reports it
	Handler   string   // the handler that ran, e.g. Node20_1
	Token     string   // the SystemVssConnection access token the task was given
	TempFiles []string // files the task left in AGENT_TEMPDIRECTORY (relative paths)
	// TempDir was the step's AGENT_TEMPDIRECTORY; it is removed when the
	// step ends, so Temp keeps what the task left there: every file and
	// directory by relative path, with its mode and, for a file, its
	// content.
	TempDir string
	Temp    map[string]TempEntry
	// Outputs are the step's output variables, which later jobs read as
	// dependencies.<job>.outputs['<step name>.<name>'].
	Outputs map[string]Variable

	// MaskLater is what the agent would print for a line in a later step
	// of the job: masked with everything registered so far, the secrets
	// this step set included.
	MaskLater func(line string) string
}

// TempEntry is a file or directory the task left in AGENT_TEMPDIRECTORY.
type TempEntry struct {
	Mode fs.FileMode // type and permission bits
	Data []byte      // a file's content
}

// Masked reports whether no Log line contains secret.
func (r *Result) Masked(secret string) bool {
	if secret == "" {
		return true
	}
	for _, l := range r.Log {
		if strings.Contains(l, secret) {
			return false
		}
	}
	return true
}

// The agent's cancellation grace periods (ProcessInvoker) and how long this
// runner waits for the log pipes once node has exited.
const (
	sigintGrace  = 7500 * time.Millisecond
	sigtermGrace = 2500 * time.Millisecond
	pipeGrace    = 10 * time.Second
)

type timings struct{ sigint, sigterm, pipe time.Duration }

// Run executes the task's handler for opts.Stage and returns the step's
// outcome. Cancelling ctx runs the agent's cancellation sequence. An error
// means the step could not be run as the agent would (bad task folder, node
// not startable) or its log pipes stayed open after node exited; in the
// latter case the Result is returned too.
func Run(ctx context.Context, opts Options) (*Result, error) {
	return run(ctx, opts, timings{sigintGrace, sigtermGrace, pipeGrace})
}

func run(ctx context.Context, opts Options, tm timings) (*Result, error) {
	st, err := prepare(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer st.cleanup()
	node := opts.Node
	if node == "" {
		node = "node"
	}
	p, err := startNode(node, st.target, st.workDir, st.env)
	if err != nil {
		return nil, err
	}
	if opts.Started != nil {
		opts.Started(p.cmd.Process.Pid)
	}
	canceled, pipeErr := p.wait(ctx, st.agent, tm)
	// The agent passes the target quoted as node's only argument.
	process := fmt.Sprintf("file name '%s', arguments '\"%s\"'", node, st.target)
	return st.finish(exitCode(p.cmd.ProcessState), canceled, process), pipeErr
}

// RunFunc runs fn in place of the task's handler: the step gets the same
// environment, and what fn writes is processed as the agent processes a
// handler's output, to the same Result. It is how a test drives the task's
// Go code in-process. fn's return value is the exit code; ctx reaches fn
// as it is (there is no process to signal).
func RunFunc(ctx context.Context, opts Options, fn func(ctx context.Context, env []string, stdout io.Writer) int) (*Result, error) {
	st, err := prepare(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer st.cleanup()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create output pipe: %w", err)
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		readLines(r, lines)
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for l := range lines {
			st.agent.line(l)
		}
	}()
	code := fn(ctx, st.env, w)
	w.Close()
	<-done
	r.Close()
	return st.finish(code, false, "in-process handler"), nil
}

// step is one step ready to run: its environment built, its agent state
// set up.
type step struct {
	target, handler  string
	workDir, tempDir string
	env              []string
	agent            *agent
	token            string
	cleanup          func()
}

// prepare does what the agent does before it starts a handler.
func prepare(ctx context.Context, opts Options) (*step, error) {
	if opts.TaskDir == "" {
		return nil, errors.New("no task directory given")
	}
	taskDir, err := filepath.Abs(opts.TaskDir)
	if err != nil {
		return nil, fmt.Errorf("resolve task directory: %w", err)
	}
	stage := opts.Stage
	if stage == "" {
		stage = StageMain
	}
	def, err := readTaskDef(taskDir)
	if err != nil {
		return nil, err
	}
	st := &step{cleanup: func() {}}
	if st.target, st.handler, err = def.handlerTarget(taskDir, stage); err != nil {
		return nil, fmt.Errorf("select handler in %s: %w", taskDir, err)
	}
	inputs, err := def.resolveInputs(opts.Inputs)
	if err != nil {
		return nil, fmt.Errorf("resolve inputs: %w", err)
	}
	vars, err := newVarStore(opts.Variables)
	if err != nil {
		return nil, err
	}
	st.token = opts.AccessToken
	if st.token == "" {
		st.token = randomToken()
	}
	if err := st.makeDirs(opts.WorkDir); err != nil {
		return nil, err
	}
	if st.env, err = buildEnv(&opts, inputs, vars, st.token, st.tempDir); err != nil {
		st.cleanup()
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		st.cleanup()
		return nil, fmt.Errorf("step not started: %w", err)
	}
	st.agent = newAgent(opts, vars, st.token, st.workDir)
	return st, nil
}

// makeDirs creates the agent's temp directory and, unless given, a
// working directory; cleanup removes what it made.
func (st *step) makeDirs(workDir string) error {
	tempDir, err := os.MkdirTemp("", "agentrunner-temp-")
	if err != nil {
		return fmt.Errorf("create agent temp directory: %w", err)
	}
	st.tempDir, st.workDir = tempDir, workDir
	st.cleanup = func() { os.RemoveAll(tempDir) }
	if workDir != "" {
		return nil
	}
	if st.workDir, err = os.MkdirTemp("", "agentrunner-work-"); err != nil {
		st.cleanup()
		return fmt.Errorf("create working directory: %w", err)
	}
	st.cleanup = func() { os.RemoveAll(tempDir); os.RemoveAll(st.workDir) }
	return nil
}

// newAgent is the worker's state for a step: the masker knows the job's
// secrets, its token and the connections' secret parameters.
func newAgent(opts Options, vars *varStore, token, workDir string) *agent {
	m := newMasker()
	m.add(token)
	for _, name := range vars.names() {
		if v, _ := vars.get(name); v.Secret {
			m.add(v.Value)
		}
	}
	for _, ep := range opts.Endpoints {
		for k, v := range ep.Params {
			if isSecretAuthParam(k) {
				m.add(v)
			}
		}
	}
	a := &agent{
		masker:       m,
		vars:         vars,
		env:          envMap(opts.Env),
		workDir:      workDir,
		out:          opts.Output,
		settableVars: opts.SettableVariables,
		stepName:     opts.StepName,
	}
	if a.stepName == "" {
		a.stepName = "step1"
	}
	if v, ok := vars.getEnvName("SYSTEM_DEBUG"); ok {
		a.debug = agentBool(v.Value)
	}
	return a
}

// finish is the step's result once its handler has exited with code;
// process names the handler in the agent's exit-code message.
func (st *step) finish(code int, canceled bool, process string) *Result {
	a := st.agent
	a.res.ExitCode = code
	result := a.taskResult
	switch {
	case canceled:
		a.issue("error", "The operation was canceled.")
		result = "Canceled"
	case code != 0:
		a.issue("error", fmt.Sprintf("Exit code %d returned from process: %s.", code, process))
		result = "Failed"
	}
	if a.commandFailed {
		result = mergeResults(result, "Failed")
	}
	if result == "" {
		result = "Succeeded"
	}
	res := &a.res
	res.Result = result
	res.Variables = a.vars.snapshot()
	res.Handler = st.handler
	res.Token = st.token
	res.TempFiles = listFiles(st.tempDir)
	res.TempDir, res.Temp = st.tempDir, readTemp(st.tempDir)
	res.MaskLater = a.masker.mask
	return res
}

// readTemp records what is under dir, by relative path.
func readTemp(dir string) map[string]TempEntry {
	out := map[string]TempEntry{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		info, err := d.Info()
		rel, rerr := filepath.Rel(dir, p)
		if err != nil || rerr != nil {
			return nil
		}
		e := TempEntry{Mode: info.Mode() & (fs.ModeType | fs.ModePerm)}
		if info.Mode().IsRegular() {
			e.Data, _ = os.ReadFile(p)
		}
		out[rel] = e
		return nil
	})
	return out
}

// envMap indexes NAME=value entries; a later entry wins.
func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func listFiles(dir string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if rel, err := filepath.Rel(dir, p); err == nil {
				out = append(out, rel)
			}
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// nodeProcess is a started handler with the read ends of its output pipes.
type nodeProcess struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File
}

func startNode(node, target, workDir string, env []string) (*nodeProcess, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("create stderr pipe: %w", err)
	}
	cmd := exec.Command(node, target)
	cmd.Dir = workDir
	cmd.Env = env
	// *os.File outputs are handed to the child as they are: exec starts no
	// copying goroutine, so EOF comes only when every holder of the write
	// end (node and anything it spawned) has closed it.
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("start %s %s: %w", node, target, err)
	}
	return &nodeProcess{cmd: cmd, stdout: outR, stderr: errR}, nil
}

// wait feeds every output line to a, runs the cancellation sequence if ctx
// ends first, and returns once node has exited and both pipes reached EOF,
// or the pipe grace period after exit has passed.
func (p *nodeProcess) wait(ctx context.Context, a *agent, tm timings) (canceled bool, pipeErr error) {
	defer p.stdout.Close()
	defer p.stderr.Close()

	// Two readers, one consumer: the order between stdout and stderr is
	// whatever the scheduler makes it, as in the agent, but every line is
	// processed (and masked) strictly after the ones before it.
	lines := make(chan string, 64)
	var readers sync.WaitGroup
	for _, f := range []*os.File{p.stdout, p.stderr} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			readLines(f, lines)
		}()
	}
	go func() {
		readers.Wait()
		close(lines)
	}()
	processed := make(chan struct{})
	go func() {
		defer close(processed)
		for l := range lines {
			a.line(l)
		}
	}()

	exited := make(chan struct{})
	go func() {
		// The only error left once Start succeeded is the exit status,
		// which is read from ProcessState.
		_ = p.cmd.Wait()
		close(exited)
	}()
	cancelDone := make(chan struct{})
	go func() {
		defer close(cancelDone)
		select {
		case <-exited:
			return
		case <-ctx.Done():
		}
		canceled = true
		p.cancel(exited, tm)
	}()
	<-exited
	<-cancelDone

	timer := time.NewTimer(tm.pipe)
	defer timer.Stop()
	select {
	case <-processed:
	case <-timer.C:
		// Closing the read ends unblocks the readers; what the orphan
		// writes from now on is lost, as it would be in the agent.
		p.stdout.Close()
		p.stderr.Close()
		<-processed
		pipeErr = fmt.Errorf("log pipe held open %v after node (pid %d) exited: a child process it started is still running and holding stdout/stderr", tm.pipe, p.cmd.Process.Pid)
	}
	return canceled, pipeErr
}

// cancel is the agent's ProcessInvoker cancellation on Linux/macOS: SIGINT
// to node only, SIGTERM after the first grace period, SIGKILL after the
// second. Children are never signalled.
func (p *nodeProcess) cancel(exited <-chan struct{}, tm timings) {
	steps := []struct {
		sig   os.Signal
		grace time.Duration
	}{
		{syscall.SIGINT, tm.sigint},
		{syscall.SIGTERM, tm.sigterm},
		{syscall.SIGKILL, 0},
	}
	for _, s := range steps {
		// Signal on an already reaped process returns ErrProcessDone
		// instead of hitting a recycled pid.
		if err := p.cmd.Process.Signal(s.sig); err != nil {
			return
		}
		if s.grace == 0 {
			return
		}
		t := time.NewTimer(s.grace)
		select {
		case <-exited:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// readLines sends each '\n'-terminated line, minus one trailing '\r', and a
// final unterminated line if there is one.
func readLines(f *os.File, out chan<- string) {
	r := bufio.NewReaderSize(f, 64*1024)
	for {
		l, err := r.ReadString('\n')
		if l != "" || err == nil {
			l = strings.TrimSuffix(l, "\n")
			out <- strings.TrimSuffix(l, "\r")
		}
		if err != nil {
			return
		}
	}
}
