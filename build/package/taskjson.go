package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// validateTask checks dir/task.json against the rules of tasks.schema.json
// (azure-pipelines-task-lib), tfx-cli's own task checks, and what the agent
// needs to run the task on every platform. The published schema lists only
// the Node10 and Node16 handlers; Node20_1 and Node24 are the agent's current
// ones and are accepted too. It returns one line per problem, sorted.
func validateTask(dir string) []string {
	data, err := os.ReadFile(filepath.Join(dir, "task.json"))
	if err != nil {
		return []string{fmt.Sprintf("read task.json: %v", err)}
	}
	c := &taskChecker{dir: dir}
	c.check(data)
	sort.Strings(c.problems)
	return c.problems
}

type taskChecker struct {
	dir      string
	problems []string
}

func (c *taskChecker) addf(format string, args ...any) {
	c.problems = append(c.problems, "task.json: "+fmt.Sprintf(format, args...))
}

var (
	guidRE         = regexp.MustCompile(`^[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$`)
	taskNameRE     = regexp.MustCompile(`^[A-Za-z0-9\-]+$`)
	inputNameRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
	agentVersionRE = regexp.MustCompile(`^\d+\.\d+(\.\d+)?$`)
	wholeNumberRE  = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
	macroRE        = regexp.MustCompile(`\$\(([^)]*)\)`)
	currentDirRE   = regexp.MustCompile(`(?i)\$\(\s*currentdirectory\s*\)`)
	serviceInputRE = regexp.MustCompile(`^connectedService:.+$`)
)

// The schema's closed lists, as "|"-separated constants.
const (
	taskTopLevel    = "$schema|id|name|friendlyName|description|helpUrl|helpMarkDown|author|preview|deprecated|removalDate|showEnvironmentVariables|runsOn|visibility|category|groups|demands|minimumAgentVersion|version|instanceNameFormat|releaseNotes|inputs|dataSourceBindings|sourceDefinitions|prejobexecution|execution|postjobexecution|messages|outputVariables|restrictions"
	inputKeys       = "name|aliases|label|type|defaultValue|required|helpMarkDown|groupName|visibleRule|properties|options"
	inputTypes      = "boolean|filePath|multiLine|pickList|radio|secureFile|string|int|identities|querycontrol"
	trueFalseProps  = "EditableOptions|MultiSelect|MultiSelectFlatList|DisableManageLink|IsSearchable|PopulateDefaultValue"
	bindingKeys     = "target|endpointId|dataSourceName|parameters|resultTemplate|endpointUrl|resultSelector|RequestVerb|requestContent|callbackContextTemplate|callbackRequiredTemplate|initialContextTemplate"
	categories      = "Build|Utility|Test|Package|Deploy|Azure Repos|Azure Boards|Azure Pipelines|Azure Test Plans|Azure Artifacts"
	runsOnValues    = "Agent|MachineGroup|Server|ServerGate|DeploymentGroup"
	visibilities    = "Build|Release"
	handlerNames    = "Node|Node10|Node16|Node20_1|Node24|PowerShell|PowerShell3|Process"
	nodeHandlers    = "Node|Node10|Node16|Node20_1|Node24"
	currentNodes    = "Node20_1|Node24" // tfx warns when a section has only end-of-life runners
	restrictionKeys = "commands|settableVariables"
)

func inList(list, s string) bool { return slices.Contains(strings.Split(list, "|"), s) }

// taskDoc is task.json as the checks read it; every field stays raw so that
// a wrong type is reported rather than silently zeroed.
type taskDoc map[string]json.RawMessage

func (c *taskChecker) check(data []byte) {
	var doc taskDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		c.addf("not a JSON object: %v", err)
		return
	}
	for k := range doc {
		if !inList(taskTopLevel, k) {
			c.addf("unknown property %q", k)
		}
	}

	if id, ok := c.str(doc, "", "id", true); ok && !guidRE.MatchString(id) {
		c.addf("id %q is not a GUID", id)
	}
	if name, ok := c.str(doc, "", "name", true); ok && !taskNameRE.MatchString(name) {
		c.addf("name %q may hold only letters, digits and '-'", name)
	}
	if fn, ok := c.str(doc, "", "friendlyName", true); ok {
		if n := utf8.RuneCountInString(fn); n == 0 || n > 40 {
			c.addf("friendlyName %q has %d characters; it must have 1 to 40", fn, n)
		}
	}
	if d, ok := c.str(doc, "", "description", true); ok && strings.TrimSpace(d) == "" {
		c.addf("description is empty")
	}
	if cat, ok := c.str(doc, "", "category", false); ok && !inList(categories, cat) {
		c.addf("category %q is not one of the schema's categories", cat)
	}
	c.enumList(doc, "runsOn", runsOnValues)
	c.enumList(doc, "visibility", visibilities)
	if v, ok := c.str(doc, "", "minimumAgentVersion", false); ok && !agentVersionRE.MatchString(v) {
		c.addf("minimumAgentVersion %q is not N.N or N.N.N", v)
	}
	c.version(doc)
	names := c.inputs(doc)
	if f, ok := c.str(doc, "", "instanceNameFormat", true); ok {
		if strings.TrimSpace(f) == "" {
			c.addf("instanceNameFormat is empty")
		}
		for _, m := range macroRE.FindAllStringSubmatch(f, -1) {
			if !names[strings.ToLower(m[1])] {
				c.addf("instanceNameFormat refers to $(%s), which is not an input", m[1])
			}
		}
	}
	c.bindings(doc, names)
	if _, ok := doc["execution"]; !ok {
		c.addf("execution is required")
	}
	for _, section := range []string{"execution", "prejobexecution", "postjobexecution"} {
		c.handlers(doc, section)
	}
	c.restrictions(doc)
}

// str reads the string property key of the object at where ("" for the top
// level), reporting it when required and absent, or not a string.
func (c *taskChecker) str(doc taskDoc, where, key string, required bool) (string, bool) {
	name := key
	if where != "" {
		name = where + ": " + key
	}
	raw, ok := doc[key]
	if !ok {
		if required {
			c.addf("%s is required", name)
		}
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		c.addf("%s must be a string", name)
		return "", false
	}
	return s, true
}

func (c *taskChecker) enumList(doc taskDoc, key, allowed string) {
	raw, ok := doc[key]
	if !ok {
		return
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		c.addf("%s must be a list of strings", key)
		return
	}
	for _, v := range list {
		if !inList(allowed, v) {
			c.addf("%s: %q is not allowed", key, v)
		}
	}
}

func (c *taskChecker) version(doc taskDoc) {
	raw, ok := doc["version"]
	if !ok {
		c.addf("version is required")
		return
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		c.addf("version must be an object {Major, Minor, Patch}")
		return
	}
	for k := range fields {
		if k != "Major" && k != "Minor" && k != "Patch" {
			c.addf("version: unknown property %q", k)
		}
	}
	for _, k := range []string{"Major", "Minor", "Patch"} {
		var n json.Number
		if err := json.Unmarshal(fields[k], &n); err != nil || !wholeNumberRE.MatchString(n.String()) {
			c.addf("version.%s must be a whole number", k)
		}
	}
}

// inputs checks the inputs and returns their names and aliases, lower-cased.
func (c *taskChecker) inputs(doc taskDoc) map[string]bool {
	names := map[string]bool{}
	raw, ok := doc["inputs"]
	if !ok {
		return names
	}
	var inputs []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &inputs); err != nil {
		c.addf("inputs must be a list of objects")
		return names
	}
	groups := c.groupNames(doc)
	for i, in := range inputs {
		where := fmt.Sprintf("inputs[%d]", i)
		for k := range in {
			if !inList(inputKeys, k) {
				c.addf("%s: unknown property %q", where, k)
			}
		}
		name, ok := c.str(in, where, "name", true)
		if ok {
			where = fmt.Sprintf("input %q", name)
			if !inputNameRE.MatchString(name) {
				c.addf("%s: name must be a letter then letters or digits", where)
			}
		}
		all := []string{name}
		if raw, ok := in["aliases"]; ok {
			var aliases []string
			if err := json.Unmarshal(raw, &aliases); err != nil {
				c.addf("%s: aliases must be a list of strings", where)
			}
			all = append(all, aliases...)
		}
		for _, n := range all {
			if n == "" {
				continue
			}
			if names[strings.ToLower(n)] {
				c.addf("%s: the name or alias %q is used twice (names are case-insensitive)", where, n)
			}
			names[strings.ToLower(n)] = true
		}
		if label, ok := c.str(in, where, "label", true); ok && strings.TrimSpace(label) == "" {
			c.addf("%s: label is empty", where)
		}
		if typ, ok := c.str(in, where, "type", true); ok && !inList(inputTypes, typ) && !serviceInputRE.MatchString(typ) {
			c.addf("%s: type %q is not an input type", where, typ)
		}
		if raw, ok := in["defaultValue"]; ok {
			var s string
			var b bool
			if json.Unmarshal(raw, &s) != nil && json.Unmarshal(raw, &b) != nil {
				c.addf("%s: defaultValue must be a string or a boolean", where)
			}
		}
		if raw, ok := in["required"]; ok {
			var b bool
			if json.Unmarshal(raw, &b) != nil {
				c.addf("%s: required must be a boolean", where)
			}
		}
		if g, ok := c.str(in, where, "groupName", false); ok && !groups[g] {
			c.addf("%s: groupName %q is not a group", where, g)
		}
		if raw, ok := in["properties"]; ok {
			var props map[string]json.RawMessage
			if err := json.Unmarshal(raw, &props); err != nil {
				c.addf("%s: properties must be an object", where)
			}
			for k, v := range props {
				var s string
				if inList(trueFalseProps, k) && (json.Unmarshal(v, &s) != nil || (s != "True" && s != "False")) {
					c.addf("%s: properties.%s must be \"True\" or \"False\"", where, k)
				}
			}
		}
	}
	return names
}

func (c *taskChecker) groupNames(doc taskDoc) map[string]bool {
	groups := map[string]bool{}
	raw, ok := doc["groups"]
	if !ok {
		return groups
	}
	var list []struct{ Name, DisplayName string }
	if err := json.Unmarshal(raw, &list); err != nil {
		c.addf("groups must be a list of {name, displayName}")
		return groups
	}
	for _, g := range list {
		if g.Name == "" || g.DisplayName == "" {
			c.addf("groups: every group needs a name and a displayName")
		}
		groups[g.Name] = true
	}
	return groups
}

func (c *taskChecker) bindings(doc taskDoc, inputs map[string]bool) {
	raw, ok := doc["dataSourceBindings"]
	if !ok {
		return
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		c.addf("dataSourceBindings must be a list of objects")
		return
	}
	for i, b := range list {
		where := fmt.Sprintf("dataSourceBindings[%d]", i)
		for k := range b {
			if !inList(bindingKeys, k) {
				c.addf("%s: unknown property %q", where, k)
			}
		}
		// A binding whose target is not an input fills nothing: the classic
		// editor's pick list would stay empty.
		if t, ok := c.str(b, where, "target", true); ok && !inputs[strings.ToLower(t)] {
			c.addf("%s: target %q is not an input", where, t)
		}
		if e, ok := c.str(b, where, "endpointId", false); ok {
			for _, m := range macroRE.FindAllStringSubmatch(e, -1) {
				if !inputs[strings.ToLower(m[1])] {
					c.addf("%s: endpointId refers to $(%s), which is not an input", where, m[1])
				}
			}
		}
	}
}

// handlers checks one execution section: known handler names, a target that
// exists inside the task folder, and a Node handler the agent still supports,
// since on Linux and macOS only Node handlers can start the task.
func (c *taskChecker) handlers(doc taskDoc, section string) {
	raw, ok := doc[section]
	if !ok {
		return
	}
	var hs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &hs); err != nil {
		c.addf("%s must be an object of handlers", section)
		return
	}
	node, current := false, false
	for name, raw := range hs {
		if !inList(handlerNames, name) {
			c.addf("%s: unknown handler %q", section, name)
			continue
		}
		node = node || inList(nodeHandlers, name)
		current = current || inList(currentNodes, name)
		var h map[string]json.RawMessage
		if err := json.Unmarshal(raw, &h); err != nil {
			c.addf("%s.%s must be an object", section, name)
			continue
		}
		target, ok := c.str(h, section+"."+name, "target", true)
		if !ok {
			continue
		}
		c.target(section+"."+name, target)
		if raw, ok := h["platforms"]; ok {
			var ps []string
			if json.Unmarshal(raw, &ps) != nil || len(ps) != 1 || ps[0] != "windows" {
				c.addf("%s.%s: platforms may only be [\"windows\"]", section, name)
			}
		}
	}
	if !node {
		c.addf("%s has no Node handler: Linux and macOS agents could not run the task", section)
	} else if !current {
		c.addf("%s has only end-of-life Node handlers: add Node20_1 or Node24", section)
	}
}

func (c *taskChecker) target(where, target string) {
	t := currentDirRE.ReplaceAllString(target, ".")
	if macroRE.MatchString(t) {
		c.addf("%s: target %q depends on a variable; name a file of the task folder", where, target)
		return
	}
	t = filepath.FromSlash(strings.ReplaceAll(t, `\`, "/"))
	if filepath.IsAbs(t) || !filepath.IsLocal(t) {
		c.addf("%s: target %q is outside the task folder", where, target)
		return
	}
	fi, err := os.Stat(filepath.Join(c.dir, t))
	if err != nil || !fi.Mode().IsRegular() {
		c.addf("%s: target %q is not a file of the task folder", where, target)
	}
}

func (c *taskChecker) restrictions(doc taskDoc) {
	raw, ok := doc["restrictions"]
	if !ok {
		return
	}
	var r map[string]json.RawMessage
	if err := json.Unmarshal(raw, &r); err != nil {
		c.addf("restrictions must be an object")
		return
	}
	for k := range r {
		if !inList(restrictionKeys, k) {
			c.addf("restrictions: unknown property %q", k)
		}
	}
	if raw, ok := r["commands"]; ok {
		var cmds struct {
			Mode string `json:"mode"`
		}
		if json.Unmarshal(raw, &cmds) != nil || (cmds.Mode != "any" && cmds.Mode != "restricted") {
			c.addf("restrictions.commands.mode must be \"any\" or \"restricted\"")
		}
	}
	if raw, ok := r["settableVariables"]; ok {
		var sv struct {
			Allowed []string `json:"allowed"`
		}
		if json.Unmarshal(raw, &sv) != nil {
			c.addf("restrictions.settableVariables.allowed must be a list of strings")
		}
	}
}
