package agentrunner

import (
	"fmt"
	"io"
	"os"
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
	masker    *masker
	vars      *varStore
	debug     bool
	multiline string // runtime value of SYSTEM_UNSAFEALLOWMULTILINESECRET
	workDir   string
	out       io.Writer

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
	cmd, ok := ParseCommand(s)
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
		a.debugf("Processed: %s", Unescape(s))
	}
}

// taskCommand runs one task.* command and returns why the agent rejects it,
// or "" when it is accepted. The reasons are the agent's own messages.
func (a *agent) taskCommand(cmd Command) string {
	switch strings.ToLower(cmd.Event) {
	case "setvariable":
		return a.setVariable(cmd)
	case "setsecret":
		if cmd.Data != "" {
			a.masker.add(escape(cmd.Data))
			a.masker.add(cmd.Data)
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

// setVariable is the agent's TaskSetVariableCommand.
func (a *agent) setVariable(cmd Command) string {
	name := cmd.Properties["variable"]
	if name == "" {
		return "Value cannot be null. (Parameter 'Variable name is required.')"
	}
	secret := strings.EqualFold(strings.TrimSpace(cmd.Properties["issecret"]), "true")
	if secret {
		if strings.ContainsAny(cmd.Data, "\r\n") && !agentBool(a.multiline) {
			return "Secrets cannot contain multiple lines"
		}
		a.masker.add(escape(cmd.Data))
		a.masker.add(cmd.Data)
	}
	a.vars.set(name, Variable{Value: cmd.Data, Secret: secret})
	if envName(name) == multilineFlag {
		a.multiline = cmd.Data
	}
	return ""
}

const multilineFlag = "SYSTEM_UNSAFEALLOWMULTILINESECRET"
