package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// validTask is a small task.json that passes every check; each case below
// breaks one rule.
func validTask() map[string]any {
	return map[string]any{
		"id":                  "757afe90-1df7-4bec-b49c-3e17b3786e12",
		"name":                "GoKeyVault",
		"friendlyName":        "Azure Key Vault (GoKeyVault)",
		"description":         "Download secrets",
		"category":            "Deploy",
		"visibility":          []any{"Build", "Release"},
		"runsOn":              []any{"Agent", "DeploymentGroup"},
		"author":              "GoKeyVault",
		"version":             map[string]any{"Major": 1, "Minor": 0, "Patch": 0},
		"minimumAgentVersion": "2.206.1",
		"instanceNameFormat":  "Azure Key Vault: $(KeyVaultName)",
		"inputs": []any{
			map[string]any{"name": "azureSubscription", "aliases": []any{"ConnectedServiceName"}, "type": "connectedService:AzureRM", "label": "Azure subscription", "required": true},
			map[string]any{"name": "KeyVaultName", "type": "pickList", "label": "Key vault", "defaultValue": "", "properties": map[string]any{"EditableOptions": "True"}},
			map[string]any{"name": "RunAsPreJob", "type": "boolean", "label": "Pre-job", "defaultValue": "false"},
		},
		"dataSourceBindings": []any{
			map[string]any{"target": "KeyVaultName", "endpointId": "$(azureSubscription)", "dataSourceName": "AzureKeyVaultsListV2"},
		},
		"execution":       map[string]any{"Node24": map[string]any{"target": "launcher.js"}, "Node16": map[string]any{"target": "launcher.js"}},
		"prejobexecution": map[string]any{"Node20_1": map[string]any{"target": "$(currentDirectory)/prejob.js"}},
		"restrictions":    map[string]any{"commands": map[string]any{"mode": "restricted"}},
	}
}

func TestValidateTask(t *testing.T) {
	tests := []struct {
		name   string
		change func(task map[string]any)
		want   []string
	}{
		{"valid", func(map[string]any) {}, nil},
		{"id not a GUID", func(m map[string]any) { m["id"] = "757afe90-1df7-4bec-b49c" }, []string{
			`task.json: id "757afe90-1df7-4bec-b49c" is not a GUID`}},
		{"id missing", func(m map[string]any) { delete(m, "id") }, []string{"task.json: id is required"}},
		{"name with a space", func(m map[string]any) { m["name"] = "Go KeyVault" }, []string{
			`task.json: name "Go KeyVault" may hold only letters, digits and '-'`}},
		{"friendlyName of 41 characters", func(m map[string]any) { m["friendlyName"] = strings.Repeat("x", 41) }, []string{
			`task.json: friendlyName "` + strings.Repeat("x", 41) + `" has 41 characters; it must have 1 to 40`}},
		{"friendlyName of 40 two-byte characters", func(m map[string]any) { m["friendlyName"] = strings.Repeat("é", 40) }, nil},
		{"friendlyName not a string", func(m map[string]any) { m["friendlyName"] = 7 }, []string{"task.json: friendlyName must be a string"}},
		{"instanceNameFormat missing", func(m map[string]any) { delete(m, "instanceNameFormat") }, []string{"task.json: instanceNameFormat is required"}},
		{"instanceNameFormat names no input", func(m map[string]any) { m["instanceNameFormat"] = "Vault $(VaultName)" }, []string{
			"task.json: instanceNameFormat refers to $(VaultName), which is not an input"}},
		{"unknown property", func(m map[string]any) { m["ecosystem"] = "go" }, []string{`task.json: unknown property "ecosystem"`}},
		{"category not in the schema", func(m map[string]any) { m["category"] = "Secrets" }, []string{
			`task.json: category "Secrets" is not one of the schema's categories`}},
		{"runsOn value", func(m map[string]any) { m["runsOn"] = []any{"Agent", "Cloud"} }, []string{`task.json: runsOn: "Cloud" is not allowed`}},
		{"minimumAgentVersion", func(m map[string]any) { m["minimumAgentVersion"] = "v2" }, []string{
			`task.json: minimumAgentVersion "v2" is not N.N or N.N.N`}},
		{"version part not whole", func(m map[string]any) { m["version"] = map[string]any{"Major": 1, "Minor": 1.5, "Patch": 0} }, []string{
			"task.json: version.Minor must be a whole number"}},
		{"version part missing", func(m map[string]any) { m["version"] = map[string]any{"Major": 1, "Minor": 0, "Build": 0} }, []string{
			"task.json: version.Patch must be a whole number", `task.json: version: unknown property "Build"`}},
		{"handler target missing", func(m map[string]any) {
			m["execution"].(map[string]any)["Node24"] = map[string]any{"target": "main.js"}
		}, []string{
			`task.json: execution.Node24: target "main.js" is not a file of the task folder`}},
		{"handler target outside", func(m map[string]any) {
			m["execution"].(map[string]any)["Node24"] = map[string]any{"target": "../launcher.js"}
		}, []string{
			`task.json: execution.Node24: target "../launcher.js" is outside the task folder`}},
		{"handler without target", func(m map[string]any) { m["execution"].(map[string]any)["Node24"] = map[string]any{} }, []string{
			"task.json: execution.Node24: target is required"}},
		{"unknown handler", func(m map[string]any) {
			m["execution"].(map[string]any)["Node99"] = map[string]any{"target": "launcher.js"}
		}, []string{
			`task.json: execution: unknown handler "Node99"`}},
		{"only end-of-life Node", func(m map[string]any) {
			m["execution"] = map[string]any{"Node16": map[string]any{"target": "launcher.js"}}
		}, []string{
			"task.json: execution has only end-of-life Node handlers: add Node20_1 or Node24"}},
		{"no Node handler", func(m map[string]any) {
			m["prejobexecution"] = map[string]any{"PowerShell3": map[string]any{"target": "prejob.js"}}
		}, []string{
			"task.json: prejobexecution has no Node handler: Linux and macOS agents could not run the task"}},
		{"no execution", func(m map[string]any) { delete(m, "execution") }, []string{"task.json: execution is required"}},
		{"input type", func(m map[string]any) { input(m, 1)["type"] = "dropdown" }, []string{
			`task.json: input "KeyVaultName": type "dropdown" is not an input type`}},
		{"input name", func(m map[string]any) { input(m, 2)["name"] = "Run-As-PreJob" }, []string{
			`task.json: input "Run-As-PreJob": name must be a letter then letters or digits`}},
		{"alias clashes with a name", func(m map[string]any) { input(m, 0)["aliases"] = []any{"keyvaultname"} }, []string{
			`task.json: input "KeyVaultName": the name or alias "KeyVaultName" is used twice (names are case-insensitive)`}},
		{"input without label", func(m map[string]any) { delete(input(m, 1), "label") }, []string{`task.json: input "KeyVaultName": label is required`}},
		{"input property", func(m map[string]any) { input(m, 1)["properties"] = map[string]any{"EditableOptions": "yes"} }, []string{
			`task.json: input "KeyVaultName": properties.EditableOptions must be "True" or "False"`}},
		{"binding target", func(m map[string]any) {
			m["dataSourceBindings"] = []any{map[string]any{"target": "Vault", "endpointId": "$(subscription)"}}
		}, []string{
			`task.json: dataSourceBindings[0]: endpointId refers to $(subscription), which is not an input`,
			`task.json: dataSourceBindings[0]: target "Vault" is not an input`}},
		{"restrictions mode", func(m map[string]any) {
			m["restrictions"] = map[string]any{"commands": map[string]any{"mode": "strict"}}
		}, []string{
			`task.json: restrictions.commands.mode must be "any" or "restricted"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := validTask()
			tt.change(task)
			dir := writeTaskFolder(t, task)
			if diff := cmp.Diff(tt.want, validateTask(dir)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateTaskNotJSON(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "task.json"), []byte(`["a list"]`), 0o644); err != nil {
		t.Fatal(err)
	}
	got := validateTask(dir)
	if len(got) != 1 || !strings.HasPrefix(got[0], "task.json: not a JSON object") {
		t.Errorf("got %q, want one 'not a JSON object' problem", got)
	}
}

func input(task map[string]any, i int) map[string]any {
	return task["inputs"].([]any)[i].(map[string]any)
}

func writeTaskFolder(t *testing.T, task map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	data, err := json.MarshalIndent(task, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{"task.json": data, "launcher.js": []byte("'use strict';\n"), "prejob.js": []byte("'use strict';\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
