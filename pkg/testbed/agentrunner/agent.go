package agentrunner

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

const docLink = "http://go.microsoft.com/fwlink/?LinkId=817296"

// Task results in the agent's TaskResult order; merging keeps the worse one.
var resultRank = map[string]int{
	"Succeeded":           0,
	"SucceededWithIssues": 1,
	"Failed":              2,
	"Canceled":            3,
	"Skipped":             4,
}

// mergeResults is the agent's TaskResultUtil.MergeTaskResults: a Canceled or
// Skipped result sticks, otherwise the worse of the two wins.
func mergeResults(current, coming string) string {
	if current == "" {
		return coming
	}
	if resultRank[current] > resultRank["Failed"] {
		return current
	}
	if resultRank[coming] >= resultRank[current] {
		return coming
	}
	return current
}

// agent is the worker's side of one step: it consumes output lines in the
// order the agent would see them and keeps the step's state. It is used from
// one goroutine only.
type agent struct {
	masker  *masker
	vars    *varStore
	debug   bool
	env     map[string]string // the agent process's environment, for knobs
	workDir string
	out     io.Writer
	// settableVars is the step's target.settableVariables; nil allows all.
	settableVars []string
	stepName     string // the step's reference name, for output variables

	res           Result
	taskResult    string // from task.complete, merged
	commandFailed bool
}

// write is ExecutionContext.Write: mask the tagged message as a whole.
func (a *agent) write(msg string) {
	msg = a.masker.mask(msg)
	a.res.Log = append(a.res.Log, msg)
	if a.out != nil {
		fmt.Fprintln(a.out, msg)
	}
}

func (a *agent) issue(typ, msg string) {
	a.res.Issues = append(a.res.Issues, Issue{Type: typ, Message: a.masker.mask(msg)})
	a.write("##[" + typ + "]" + msg)
}

func (a *agent) debugf(format string, args ...any) {
	if a.debug {
		a.write("##[debug]" + fmt.Sprintf(format, args...))
	}
}

// line is WorkerCommandManager.TryProcessCommand followed, for a line that is
// not a command, by ExecutionContext.Output.
func (a *agent) line(s string) {
	a.res.Raw = append(a.res.Raw, s)
	cmd, ok := ParseCommandFor(s, a.decodePercents())
	if !ok {
		if strings.Contains(s, "##vso") {
			a.issue("warning", fmt.Sprintf("'%s' contains logging command keyword '##vso', but it's not a legal command. Please see the list of accepted commands: https://go.microsoft.com/fwlink/?LinkId=817296", s))
		}
		a.write(s)
		return
	}
	a.res.Commands = append(a.res.Commands, cmd)
	if !strings.EqualFold(cmd.Area, "task") {
		// Other areas (artifact, build, ...) exist in the agent but are not
		// emulated; a GoKeyVault task has no business using them.
		a.res.Errors = append(a.res.Errors, fmt.Sprintf("%s.%s: area not emulated by agentrunner", cmd.Area, cmd.Event))
		a.issue("warning", fmt.Sprintf("Can't find command extension for ##vso[%s.command]. Please reference documentation (%s)", cmd.Area, docLink))
		return
	}
	if reason := a.taskCommand(cmd); reason != "" {
		a.issue("error", fmt.Sprintf("Unable to process command '%s' successfully. Please reference documentation (%s)", s, docLink))
		a.issue("error", reason)
		a.commandFailed = true
		a.res.Errors = append(a.res.Errors, a.masker.mask(fmt.Sprintf("%s.%s: %s", cmd.Area, cmd.Event, reason)))
	}
	if !strings.EqualFold(cmd.Event, "debug") {
		a.debugf("Processed: %s", unescape(s, a.decodePercents()))
	}
}

// taskCommand runs one task.* command and returns why the agent rejects it,
// or "" when it is accepted. The reasons are the agent's own messages.
func (a *agent) taskCommand(cmd Command) string {
	switch strings.ToLower(cmd.Event) {
	case "setvariable":
		return a.setVariable(cmd)
	case "setsecret":
		// The unescaped data only: not the form the command line carried.
		if cmd.Data != "" {
			a.addSecret(cmd.Data)
		}
	case "logissue", "issue":
		typ, ok := cmd.Properties["type"]
		if !ok {
			a.issue("warning", "Can't create TaskIssue from logging event.")
			return ""
		}
		switch strings.ToLower(typ) {
		case "error", "warning":
			a.issue(strings.ToLower(typ), cmd.Data)
		default:
			return fmt.Sprintf("issue type %s is not an expected issue type.", typ)
		}
	case "complete":
		r, ok := cmd.Properties["result"]
		if _, valid := resultRank[r]; !ok || !valid || r == "Canceled" {
			return "Command doesn't have valid result value."
		}
		a.taskResult = mergeResults(a.taskResult, r)
		if cmd.Data != "" {
			a.write(cmd.Data)
		}
	case "debug":
		a.debugf("%s", cmd.Data)
	case "uploadfile":
		if cmd.Data == "" {
			return "Cannot upload file because file location is not specified."
		}
		p := cmd.Data
		if !filepath.IsAbs(p) {
			p = filepath.Join(a.workDir, p)
		}
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			return "Cannot upload task attachment file, attachment file location is not specified or attachment file not exist on disk."
		}
	case "setprogress":
		// Only moves the progress bar.
	case "logdetail", "addattachment", "uploadsummary", "prependpath", "setendpoint", "settaskvariable":
		a.res.Errors = append(a.res.Errors, fmt.Sprintf("%s.%s: command not emulated by agentrunner", cmd.Area, cmd.Event))
	default:
		return fmt.Sprintf("##vso[task.%s] is not a recognized command for Task command extension. Please reference documentation (%s)", cmd.Event, docLink)
	}
	return ""
}

// setVariable is the agent's TaskSetVariableCommand, in its order: a
// read-only variable throws, a multi-line secret without the flag throws,
// then the escaped data (the form the command line carries) is registered
// with the masker, then the step's settableVariables are checked (a
// warning, the variable not set); only a variable that is set registers
// its raw value (Variables.Set). So a command that throws registers
// nothing, and its echo is masked only by what came before it.
func (a *agent) setVariable(cmd Command) string {
	name := cmd.Properties["variable"]
	if name == "" {
		return "Value cannot be null. (Parameter 'Variable name is required.')"
	}
	secret := dotnetBool(cmd.Properties["issecret"])
	if a.vars.readOnly(name) {
		return fmt.Sprintf("Overwriting readonly variable '%s' is not permitted. See https://github.com/microsoft/azure-pipelines-yaml/blob/master/design/readonly-variables.md for details.", name)
	}
	if secret {
		if strings.Contains(cmd.Data, "\n") && !agentBool(a.knob(multilineFlag)) {
			return "Secrets cannot contain multiple lines"
		}
		a.addSecret(escapeFor(cmd.Data, a.decodePercents()))
	}
	if !a.settable(name) {
		a.issue("warning", fmt.Sprintf("Setting variable '%s' has been disabled by the task or build definition.", name))
		return ""
	}
	ro := dotnetBool(cmd.Properties["isreadonly"])
	if dotnetBool(cmd.Properties["isoutput"]) {
		// ExecutionContext.SetVariable: an output variable is the step's
		// (for later jobs) and, read-only, <step name>.<name> in this job;
		// the plain name is not set.
		if a.res.Outputs == nil {
			a.res.Outputs = map[string]Variable{}
		}
		a.res.Outputs[name] = Variable{Value: cmd.Data, Secret: secret}
		name, ro = a.stepName+"."+name, true
	}
	if old, ok := a.vars.get(name); ok && old.Secret {
		secret = true
	}
	if secret {
		a.masker.add(cmd.Data)
	}
	a.vars.set(name, Variable{Value: cmd.Data, Secret: secret, ReadOnly: ro})
	return ""
}

// addSecret is TaskCommandHelper.AddSecret: with DECODE_PERCENTS off the
// agent also registers the value with %AZP25 decoded.
func (a *agent) addSecret(v string) {
	a.masker.add(v)
	if !a.decodePercents() {
		a.masker.add(unescape(v, true))
	}
}

// settable is the step's target.settableVariables check: no list allows
// every name; otherwise a name must match one of the patterns (minimatch,
// ignoring case; '*' does not cross '/').
func (a *agent) settable(name string) bool {
	if a.settableVars == nil {
		return true
	}
	for _, p := range a.settableVars {
		if ok, err := path.Match(strings.ToLower(p), strings.ToLower(name)); err == nil && ok {
			return true
		}
	}
	return false
}

// knob reads an agent knob the way AgentKnobs does: the job's variable of
// exactly that name (ignoring case: "system.unsafeAllowMultilineSecret" is
// another variable) when it is not empty, then the agent's own
// environment, which a job variable never reaches.
func (a *agent) knob(name string) string {
	if v, ok := a.vars.get(name); ok && v.Value != "" {
		return v.Value
	}
	return a.env[name]
}

// decodePercents is the DECODE_PERCENTS knob (default true): when false,
// the agent leaves %AZP25 as it is in commands.
func (a *agent) decodePercents() bool {
	v := a.knob("DECODE_PERCENTS")
	return v == "" || agentBool(v)
}

// dotnetBool is Boolean.TryParse: "true" in any case, surrounding blanks
// allowed.
func dotnetBool(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "true") }

const multilineFlag = "SYSTEM_UNSAFEALLOWMULTILINESECRET"
