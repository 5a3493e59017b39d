package agentrunner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// handlerPriority is the order in which the agent on Linux/macOS picks a
// handler; any other handler (PowerShell3, Process, Node, ...) is ignored.
var handlerPriority = [...]string{"Node24", "Node20_1", "Node16", "Node10"}

type taskInput struct {
	Name         string          `json:"name"`
	Aliases      []string        `json:"aliases"`
	DefaultValue json.RawMessage `json:"defaultValue"`
}

type taskDef struct {
	Inputs    []taskInput                           `json:"inputs"`
	Execution map[string]map[string]json.RawMessage `json:"execution"`
	PreJob    map[string]map[string]json.RawMessage `json:"prejobexecution"`
}

func readTaskDef(dir string) (*taskDef, error) {
	b, err := os.ReadFile(filepath.Join(dir, "task.json"))
	if err != nil {
		return nil, fmt.Errorf("read task definition: %w", err)
	}
	// task.json files are often saved with a BOM, which the agent accepts.
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var def taskDef
	if err := json.Unmarshal(b, &def); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, "task.json"), err)
	}
	return &def, nil
}

// handlerTarget returns the absolute path of the script the agent would run
// for the stage, and the handler that was chosen.
func (d *taskDef) handlerTarget(dir string, stage Stage) (target, handler string, err error) {
	var section map[string]map[string]json.RawMessage
	switch stage {
	case StageMain:
		section = d.Execution
	case StagePreJob:
		section = d.PreJob
	default:
		return "", "", fmt.Errorf("unknown stage %q", stage)
	}
	if len(section) == 0 {
		return "", "", fmt.Errorf("task.json has no %s section", stage)
	}
	for _, want := range handlerPriority {
		for name, data := range section {
			if !strings.EqualFold(name, want) {
				continue
			}
			var t string
			if raw, ok := lookupFold(data, "target"); ok {
				if err := json.Unmarshal(raw, &t); err != nil {
					return "", "", fmt.Errorf("%s.%s.target: %w", stage, name, err)
				}
			}
			if strings.TrimSpace(t) == "" {
				return "", "", fmt.Errorf("%s.%s has no target", stage, name)
			}
			path := filepath.Join(dir, t)
			if fi, err := os.Stat(path); err != nil {
				return "", "", fmt.Errorf("%s.%s target: %w", stage, name, err)
			} else if fi.IsDir() {
				return "", "", fmt.Errorf("%s.%s target %s is a directory", stage, name, path)
			}
			return path, want, nil
		}
	}
	return "", "", fmt.Errorf("task.json %s section has none of the handlers %v", stage, handlerPriority)
}

func lookupFold(m map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// defaultString converts a defaultValue the way Newtonsoft reads any JSON
// token into a string property: booleans become "True"/"False", numbers keep
// their text, null is empty.
func defaultString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case 't':
		return "True", nil
	case 'f':
		return "False", nil
	case '{', '[':
		return "", fmt.Errorf("defaultValue %s is not a scalar", raw)
	}
	return string(raw), nil
}

// resolveInputs merges task.json defaults with the given inputs (matched by
// name or alias, case-insensitively) and trims every value, as the agent's
// TaskRunner does. Inputs task.json does not declare are passed through.
func (d *taskDef) resolveInputs(given map[string]string) (map[string]string, error) {
	type slot struct{ name, value, from string }
	byKey := map[string]*slot{} // lower-cased name or alias -> declared input
	var order []*slot
	for _, in := range d.Inputs {
		name := strings.TrimSpace(in.Name)
		if name == "" {
			continue
		}
		def, err := defaultString(in.DefaultValue)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", name, err)
		}
		s := &slot{name: name, value: def}
		order = append(order, s)
		byKey[strings.ToLower(name)] = s
		for _, a := range in.Aliases {
			if a = strings.TrimSpace(a); a != "" {
				byKey[strings.ToLower(a)] = s
			}
		}
	}
	out := map[string]string{}
	for k, v := range given {
		key := strings.TrimSpace(k)
		if key == "" {
			return nil, fmt.Errorf("input with an empty name")
		}
		s, ok := byKey[strings.ToLower(key)]
		if !ok {
			s = &slot{name: key}
			byKey[strings.ToLower(key)] = s
			order = append(order, s)
		}
		if s.from != "" {
			return nil, fmt.Errorf("input %s given twice (as %q and %q)", s.name, s.from, k)
		}
		s.from, s.value = k, v
	}
	for _, s := range order {
		out[s.name] = strings.TrimSpace(s.value)
	}
	return out, nil
}
