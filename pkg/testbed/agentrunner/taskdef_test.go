package agentrunner

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHandlerSelection(t *testing.T) {
	files := map[string]string{"a.js": "", "b.js": "", "c.js": "", "d.js": "", "pre.js": "", "sub/dir/x.js": ""}
	tests := []struct {
		name        string
		taskJSON    string
		stage       Stage
		wantTarget  string
		wantHandler string
		wantErr     string
	}{
		{
			name:     "Node24 first",
			taskJSON: `{"execution":{"Node10":{"target":"d.js"},"Node16":{"target":"c.js"},"Node20_1":{"target":"b.js"},"Node24":{"target":"a.js"}}}`,
			stage:    StageMain, wantTarget: "a.js", wantHandler: "Node24",
		},
		{
			name:     "Node20_1 before Node16 and Node10",
			taskJSON: `{"execution":{"Node10":{"target":"d.js"},"Node16":{"target":"c.js"},"Node20_1":{"target":"b.js"}}}`,
			stage:    StageMain, wantTarget: "b.js", wantHandler: "Node20_1",
		},
		{
			name:     "Node16 before Node10, other handlers ignored",
			taskJSON: `{"execution":{"PowerShell3":{"target":"x.ps1"},"Node10":{"target":"d.js"},"Node16":{"target":"c.js"}}}`,
			stage:    StageMain, wantTarget: "c.js", wantHandler: "Node16",
		},
		{
			name:     "handler names compare case-insensitively",
			taskJSON: `{"execution":{"node20_1":{"TARGET":"sub/dir/x.js"}}}`,
			stage:    StageMain, wantTarget: "sub/dir/x.js", wantHandler: "Node20_1",
		},
		{
			name:     "prejob section",
			taskJSON: `{"execution":{"Node20_1":{"target":"a.js"}},"prejobexecution":{"Node20_1":{"target":"pre.js"}}}`,
			stage:    StagePreJob, wantTarget: "pre.js", wantHandler: "Node20_1",
		},
		{
			name:     "missing prejob section",
			taskJSON: `{"execution":{"Node20_1":{"target":"a.js"}}}`,
			stage:    StagePreJob, wantErr: "no prejobexecution section",
		},
		{
			name:     "no node handler",
			taskJSON: `{"execution":{"PowerShell3":{"target":"a.js"},"Node":{"target":"a.js"}}}`,
			stage:    StageMain, wantErr: "none of the handlers",
		},
		{
			name:     "empty target",
			taskJSON: `{"execution":{"Node20_1":{"target":""}}}`,
			stage:    StageMain, wantErr: "has no target",
		},
		{
			name:     "target file missing",
			taskJSON: `{"execution":{"Node20_1":{"target":"missing.js"}}}`,
			stage:    StageMain, wantErr: "no such file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := makeTask(t, tt.taskJSON, files)
			def, err := readTaskDef(dir)
			if err != nil {
				t.Fatal(err)
			}
			target, handler, err := def.handlerTarget(dir, tt.stage)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("handlerTarget error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, tt.wantTarget); target != want || handler != tt.wantHandler {
				t.Errorf("handlerTarget = %s, %s; want %s, %s", target, handler, want, tt.wantHandler)
			}
		})
	}
}

func TestResolveInputs(t *testing.T) {
	const taskJSON = `{
	  "inputs": [
	    {"name": "ConnectedServiceName", "aliases": ["azureSubscription"], "defaultValue": ""},
	    {"name": "KeyVaultName", "defaultValue": "  padded  "},
	    {"name": "SecretsFilter", "defaultValue": "*"},
	    {"name": "RunAsPreJob", "defaultValue": false},
	    {"name": "Count", "defaultValue": 25},
	    {"name": "NoDefault"}
	  ],
	  "execution": {"Node20_1": {"target": "a.js"}}
	}`
	tests := []struct {
		name    string
		given   map[string]string
		want    map[string]string
		wantErr string
	}{
		{
			name: "defaults only, trimmed, JSON scalars as Newtonsoft prints them",
			want: map[string]string{"ConnectedServiceName": "", "KeyVaultName": "padded", "SecretsFilter": "*", "RunAsPreJob": "False", "Count": "25", "NoDefault": ""},
		},
		{
			name:  "alias, case-insensitive names, trimmed values, undeclared input passed through",
			given: map[string]string{"AZURESUBSCRIPTION": " id ", "keyvaultname": "kv\n", "Extra.Input": "x"},
			want:  map[string]string{"ConnectedServiceName": "id", "KeyVaultName": "kv", "SecretsFilter": "*", "RunAsPreJob": "False", "Count": "25", "NoDefault": "", "Extra.Input": "x"},
		},
		{
			name:    "name and alias both given",
			given:   map[string]string{"azureSubscription": "a", "ConnectedServiceName": "b"},
			wantErr: "given twice",
		},
	}
	dir := makeTask(t, taskJSON, map[string]string{"a.js": ""})
	def, err := readTaskDef(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := def.resolveInputs(tt.given)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("resolveInputs error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("resolveInputs mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
