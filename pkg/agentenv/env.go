// Package agentenv owns the Azure Pipelines agent's environment as the task
// sees it: a snapshot taken once (Env), looked up by exactly the names the
// agent writes (Input, EndpointURL and the other Endpoint functions,
// SystemDebug and the other constants); which job variables may have
// written a name (VSTS_PUBLIC_VARIABLES, VSTS_SECRET_VARIABLES); one of the
// agent's settings as the agent resolves it (Setting); and the two boolean
// conventions, the task library's (TaskLibTrue) and the agent's
// (AgentTrue).
//
// Names are looked up exactly as the agent writes them (on Windows, where
// the environment ignores case, without case): pipeline variables become
// environment variables too, so a name in another case is another
// variable, and one an earlier step of the job may have made.
package agentenv

import (
	"encoding/json"
	"runtime"
	"strings"
)

// Env is a snapshot of the process environment. It remembers which
// sensitive variables were read so the caller can remove them from the
// process once they are in memory, and knows which names the job's
// pipeline variables may have written.
type Env struct {
	fold      bool              // names compare without case (Windows)
	vars      map[string]string // key(name) -> value
	names     map[string]string // key(name) -> name as spelled
	sensitive map[string]bool   // names as spelled
	// pipeline maps key(environment name) to the pipeline variables, as
	// the pipeline spells them, that may have written it; nil when the
	// agent gave no list.
	pipeline map[string][]string
}

// NewEnv builds an Env from os.Environ()-style "NAME=value" entries, for
// the system the task runs on.
func NewEnv(environ []string) *Env { return NewEnvFor(environ, runtime.GOOS) }

// NewEnvFor builds an Env as it is on the system goos: on "windows" names
// compare without case.
func NewEnvFor(environ []string, goos string) *Env {
	e := &Env{fold: goos == "windows", vars: map[string]string{}, names: map[string]string{}, sensitive: map[string]bool{}}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		e.vars[e.key(k)] = v
		e.names[e.key(k)] = k
	}
	e.pipeline = e.readPipelineNames()
	return e
}

func (e *Env) key(name string) string {
	if e.fold {
		return strings.ToUpper(name)
	}
	return name
}

// Get returns a variable's value.
func (e *Env) Get(name string) string { return e.vars[e.key(name)] }

// Lookup is Get that also says whether the variable exists.
func (e *Env) Lookup(name string) (string, bool) {
	v, ok := e.vars[e.key(name)]
	return v, ok
}

// Secret reads a sensitive variable and records it for Sensitive.
func (e *Env) Secret(name string) string {
	if n, ok := e.names[e.key(name)]; ok {
		e.sensitive[n] = true
	}
	return e.vars[e.key(name)]
}

// Sensitive lists, as spelled in the environment, every sensitive variable
// that was read, plus every variable present whose name, in any case,
// says it holds a credential (endpoint auth parameters, secret
// variables): none of them should outlive their first read.
func (e *Env) Sensitive() []string {
	out := []string{}
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for n := range e.sensitive {
		add(n)
	}
	for _, n := range e.names {
		if sensitiveName(strings.ToUpper(n)) {
			add(n)
		}
	}
	return out
}

// readPipelineNames reads the agent's lists of the job's variables
// (VSTS_PUBLIC_VARIABLES, VSTS_SECRET_VARIABLES: JSON arrays of names as
// the pipeline spells them) into the environment names each may have
// written. The agent writes a variable under its name with '.' and ' '
// made '_', upper-cased, or as spelled when a step set it with
// preservecase=true; a secret one with SECRET_ before it. Which of the
// two a variable used is not in the list, so both count.
func (e *Env) readPipelineNames() map[string][]string {
	out := map[string][]string{}
	found := false
	for _, list := range []struct{ name, prefix string }{{PublicVariables, ""}, {SecretVariables, SecretPrefix}} {
		var names []string
		if json.Unmarshal([]byte(e.Get(list.name)), &names) != nil {
			continue
		}
		found = true
		for _, n := range names {
			spelled := strings.NewReplacer(".", "_", " ", "_").Replace(n)
			for _, env := range distinct(e.key(list.prefix+strings.ToUpper(spelled)), e.key(list.prefix+spelled)) {
				out[env] = append(out[env], n)
			}
		}
	}
	if !found {
		return nil
	}
	return out
}

func distinct(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// Pipeline returns the pipeline variables (YAML, the definition, or an
// earlier step's setvariable), as the pipeline spells them, that may
// have written the environment variable name; known is false when the
// agent gave no list of the job's variables, and so nothing can be said.
// Note that the agent's own settings (agent.proxyurl...) are job
// variables too: only a name the agent never sets, or one the agent
// writes after the job's variables, can be judged by this.
func (e *Env) Pipeline(name string) (names []string, known bool) {
	if e.pipeline == nil {
		return nil, false
	}
	return e.pipeline[e.key(name)], true
}

// Setting is one of the agent's own settings as the task can know it.
type Setting struct {
	Value string
	// Known is false when the task cannot see what the agent reads: a
	// pipeline variable of another spelling took the setting's name in
	// the environment, hiding the agent's own.
	Known bool
	// Variable: a job variable of the setting's name holds it, which a
	// task may set again.
	Variable bool
}

// Setting reads one of the agent's settings (DECODE_PERCENTS,
// SYSTEM_UNSAFEALLOWMULTILINESECRET) as the agent resolves it: the job
// variable of exactly that name, in any case, then the agent's own
// environment. A job variable of another spelling (decode.percents)
// reaches the task under the same environment name, but is not what the
// agent reads. Without the agent's lists the environment is taken at its
// word, as a job variable.
func (e *Env) Setting(name string) Setting {
	v := e.Get(name)
	names, known := e.Pipeline(name)
	if !known {
		return Setting{Value: v, Known: true, Variable: true}
	}
	exact := ""
	for _, n := range names {
		if !strings.EqualFold(n, name) {
			return Setting{}
		}
		exact = n
	}
	if exact == "" {
		// Not a job variable: the agent's own environment, read as is.
		return Setting{Value: v, Known: true}
	}
	if pv, ok := e.Lookup(exact); ok {
		// Set with preservecase: under its own spelling.
		v = pv
	}
	return Setting{Value: v, Known: true, Variable: true}
}

// AgentVariable reads one of the settings the agent passes to a task as a
// job variable of its own (agent.proxyurl reaches the task as
// AGENT_PROXYURL; agent.tempdirectory as AGENT_TEMPDIRECTORY), name being
// the environment's name. A pipeline variable of another spelling
// (agent_proxyurl, AGENT_PROXYURL), which an earlier step can set too,
// writes the same environment name, and then the value is not the agent's
// word: steered names those variables and value is "". A pipeline variable
// spelled exactly as the agent's own cannot be told from it.
func (e *Env) AgentVariable(name string) (value string, steered []string) {
	own := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, SecretPrefix), "_", "."))
	names, _ := e.Pipeline(name)
	for _, n := range names {
		if !strings.EqualFold(n, own) {
			steered = append(steered, n)
		}
	}
	if len(steered) > 0 {
		return "", steered
	}
	return e.Get(name), nil
}

// sensitiveName says whether an upper-cased variable name holds a
// credential by its name alone: every endpoint auth parameter (the scheme
// is not one), every secret variable, and the job's access token when a
// pipeline maps it into the environment.
func sensitiveName(up string) bool {
	switch {
	case strings.HasPrefix(up, endpointAuthSchemePrefix):
		return false
	case strings.HasPrefix(up, endpointAuthPrefix), strings.HasPrefix(up, SecretPrefix):
		return true
	}
	return up == systemAccessToken
}
