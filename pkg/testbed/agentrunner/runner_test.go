package agentrunner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// jsPrelude gives scripts o(line): one write per line, like the task lib.
const jsPrelude = "const o = s => process.stdout.write(s + '\\n');\n"

const docRef = "Please reference documentation (http://go.microsoft.com/fwlink/?LinkId=817296)"

func rejected(line, reason string) []string {
	return []string{
		"##[error]Unable to process command '" + line + "' successfully. " + docRef,
		"##[error]" + reason,
	}
}

func rejectedIssues(line, reason string) []Issue {
	return []Issue{
		{"error", "Unable to process command '" + line + "' successfully. " + docRef},
		{"error", reason},
	}
}

func TestRunCommands(t *testing.T) {
	const mlLine = "##vso[task.setvariable variable=ml;issecret=true]line-one%0Aline-two"
	const ml2Line = "##vso[task.setvariable variable=ml2;issecret=true]other-one%0Aother-two"
	tests := []struct {
		name   string
		script string
		vars   map[string]Variable
		want   Result // Result, Log, Issues, Errors and Variables are compared; {target} is replaced
	}{
		{
			name:   "plain output, CR stripped, empty line kept",
			script: `o("hello"); process.stdout.write("world\r\n\nlast")`,
			want:   Result{Result: "Succeeded", Log: []string{"hello", "world", "", "last"}},
		},
		{
			name:   "stderr lines are processed too",
			script: `process.stderr.write("##vso[task.setvariable variable=fromErr]v\n")`,
			want:   Result{Result: "Succeeded", Variables: map[string]Variable{"fromErr": {Value: "v"}}},
		},
		{
			name:   "command anywhere in the line",
			script: `o("noise ##vso[task.setvariable variable=x]y")`,
			want:   Result{Result: "Succeeded", Variables: map[string]Variable{"x": {Value: "y"}}},
		},
		{
			name:   "masking applies only to lines after registration",
			script: `o("early s3cr3t-value"); o("##vso[task.setsecret]s3cr3t-value"); o("late s3cr3t-value")`,
			want:   Result{Result: "Succeeded", Log: []string{"early s3cr3t-value", "late ***"}},
		},
		{
			name: "secret variable: value and its escaped form masked",
			script: `o("##vso[task.setvariable variable=Pw;issecret=True]p@ss%3Bword%AZP25");
				o("value p@ss;word%"); o("escaped p@ss%3Bword%AZP25")`,
			want: Result{
				Result:    "Succeeded",
				Log:       []string{"value ***", "escaped ***"},
				Variables: map[string]Variable{"Pw": {Value: "p@ss;word%", Secret: true}},
			},
		},
		{
			name:   "issecret other than true is not secret",
			script: `o("##vso[task.setvariable variable=v;issecret=yes]visible-value"); o("visible-value")`,
			want: Result{
				Result:    "Succeeded",
				Log:       []string{"visible-value"},
				Variables: map[string]Variable{"v": {Value: "visible-value"}},
			},
		},
		{
			name:   "multi-line secret rejected without the flag, step fails",
			script: `o("` + mlLine + `")`,
			want: Result{
				Result: "Failed",
				Log:    rejected(mlLine, "Secrets cannot contain multiple lines"),
				Issues: rejectedIssues(mlLine, "Secrets cannot contain multiple lines"),
				Errors: []string{"task.setvariable: Secrets cannot contain multiple lines"},
			},
		},
		{
			name:   "multi-line secret rejected when the flag is not a true value",
			script: `o("` + mlLine + `")`,
			vars:   map[string]Variable{"SYSTEM_UNSAFEALLOWMULTILINESECRET": {Value: "yes"}},
			want: Result{
				Result:    "Failed",
				Log:       rejected(mlLine, "Secrets cannot contain multiple lines"),
				Issues:    rejectedIssues(mlLine, "Secrets cannot contain multiple lines"),
				Errors:    []string{"task.setvariable: Secrets cannot contain multiple lines"},
				Variables: map[string]Variable{"SYSTEM_UNSAFEALLOWMULTILINESECRET": {Value: "yes"}},
			},
		},
		{
			name:   "multi-line non-secret is fine",
			script: `o("##vso[task.setvariable variable=plain]a%0D%0Ab")`,
			want:   Result{Result: "Succeeded", Variables: map[string]Variable{"plain": {Value: "a\r\nb"}}},
		},
		{
			name:   "job flag TRUE allows it; the value is registered whole so a single line is not masked",
			script: `o("` + mlLine + `"); o("line-one"); o("line-two")`,
			vars:   map[string]Variable{"SYSTEM_UNSAFEALLOWMULTILINESECRET": {Value: "TRUE"}},
			want: Result{
				Result: "Succeeded",
				Log:    []string{"line-one", "line-two"},
				Variables: map[string]Variable{
					"SYSTEM_UNSAFEALLOWMULTILINESECRET": {Value: "TRUE"},
					"ml":                                {Value: "line-one\nline-two", Secret: true},
				},
			},
		},
		{
			name:   "a dotted name is another variable: the knob stays off",
			script: `o("` + mlLine + `")`,
			vars:   map[string]Variable{"system.unsafeAllowMultilineSecret": {Value: "1"}},
			want: Result{
				Result:    "Failed",
				Log:       rejected(mlLine, "Secrets cannot contain multiple lines"),
				Issues:    rejectedIssues(mlLine, "Secrets cannot contain multiple lines"),
				Errors:    []string{"task.setvariable: Secrets cannot contain multiple lines"},
				Variables: map[string]Variable{"system.unsafeAllowMultilineSecret": {Value: "1"}},
			},
		},
		{
			name:   "a CR alone is not a line break to the agent on Linux",
			script: `o("##vso[task.setvariable variable=cr;issecret=true]cr-one%0Dcr-two")`,
			want:   Result{Result: "Succeeded", Variables: map[string]Variable{"cr": {Value: "cr-one\rcr-two", Secret: true}}},
		},
		{
			name:   "job flag $True",
			script: `o("` + mlLine + `")`,
			vars:   map[string]Variable{"SYSTEM_UNSAFEALLOWMULTILINESECRET": {Value: "$True"}},
			want: Result{
				Result: "Succeeded",
				Variables: map[string]Variable{
					"SYSTEM_UNSAFEALLOWMULTILINESECRET": {Value: "$True"},
					"ml":                                {Value: "line-one\nline-two", Secret: true},
				},
			},
		},
		{
			name: "task enables the flag, masks each line, restores the flag",
			script: `o("##vso[task.setsecret]line-one"); o("##vso[task.setsecret]line-two");
				o("##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET]true");
				o("` + mlLine + `");
				o("##vso[task.setvariable variable=system_unsafeallowmultilinesecret]false");
				o("line-one and line-two")`,
			vars: map[string]Variable{"SYSTEM_UNSAFEALLOWMULTILINESECRET": {Value: "false"}},
			want: Result{
				Result: "Succeeded",
				Log:    []string{"*** and ***"},
				Variables: map[string]Variable{
					"system_unsafeallowmultilinesecret": {Value: "false"},
					"ml":                                {Value: "line-one\nline-two", Secret: true},
				},
			},
		},
		{
			name: "flag set by the task, cleared, next multi-line secret rejected",
			script: `o("##vso[task.setvariable variable=system_unsafeallowmultilinesecret]true");
				o("` + mlLine + `");
				o("##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET]False");
				o("` + ml2Line + `")`,
			want: Result{
				Result: "Failed",
				Log:    rejected(ml2Line, "Secrets cannot contain multiple lines"),
				Issues: rejectedIssues(ml2Line, "Secrets cannot contain multiple lines"),
				Errors: []string{"task.setvariable: Secrets cannot contain multiple lines"},
				Variables: map[string]Variable{
					"SYSTEM_UNSAFEALLOWMULTILINESECRET": {Value: "False"},
					"ml":                                {Value: "line-one\nline-two", Secret: true},
				},
			},
		},
		{
			name:   "setvariable without a name is rejected",
			script: `o("##vso[task.setvariable issecret=true]v")`,
			want: Result{
				Result: "Failed",
				Log:    rejected("##vso[task.setvariable issecret=true]v", "Value cannot be null. (Parameter 'Variable name is required.')"),
				Issues: rejectedIssues("##vso[task.setvariable issecret=true]v", "Value cannot be null. (Parameter 'Variable name is required.')"),
				Errors: []string{"task.setvariable: Value cannot be null. (Parameter 'Variable name is required.')"},
			},
		},
		{
			name:   "variable names are case-insensitive, spelled as last written",
			script: `o("##vso[task.setvariable variable=FOO]2")`,
			vars:   map[string]Variable{"Foo": {Value: "1"}},
			want:   Result{Result: "Succeeded", Variables: map[string]Variable{"FOO": {Value: "2"}}},
		},
		{
			name:   "complete with data",
			script: `o("##vso[task.complete result=SucceededWithIssues;]all done")`,
			want:   Result{Result: "SucceededWithIssues", Log: []string{"all done"}},
		},
		{
			name:   "complete result is case-sensitive",
			script: `o("##vso[task.complete result=failed;]")`,
			want: Result{
				Result: "Failed",
				Log:    rejected("##vso[task.complete result=failed;]", "Command doesn't have valid result value."),
				Issues: rejectedIssues("##vso[task.complete result=failed;]", "Command doesn't have valid result value."),
				Errors: []string{"task.complete: Command doesn't have valid result value."},
			},
		},
		{
			name:   "complete without result",
			script: `o("##vso[task.complete]")`,
			want: Result{
				Result: "Failed",
				Log:    rejected("##vso[task.complete]", "Command doesn't have valid result value."),
				Issues: rejectedIssues("##vso[task.complete]", "Command doesn't have valid result value."),
				Errors: []string{"task.complete: Command doesn't have valid result value."},
			},
		},
		{
			name:   "complete Canceled is not a task's to give",
			script: `o("##vso[task.complete result=Canceled;]")`,
			want: Result{
				Result: "Failed",
				Log:    rejected("##vso[task.complete result=Canceled;]", "Command doesn't have valid result value."),
				Issues: rejectedIssues("##vso[task.complete result=Canceled;]", "Command doesn't have valid result value."),
				Errors: []string{"task.complete: Command doesn't have valid result value."},
			},
		},
		{
			name:   "results merge as the agent's: Failed then Succeeded stays Failed",
			script: `o("##vso[task.complete result=Failed;]"); o("##vso[task.complete result=Succeeded;]")`,
			want:   Result{Result: "Failed"},
		},
		{
			name:   "Skipped sticks even over a rejected command",
			script: `o("##vso[task.complete result=Skipped;]"); o("##vso[task.frob]x")`,
			want: Result{
				Result: "Skipped",
				Log:    rejected("##vso[task.frob]x", "##vso[task.frob] is not a recognized command for Task command extension. "+docRef),
				Issues: rejectedIssues("##vso[task.frob]x", "##vso[task.frob] is not a recognized command for Task command extension. "+docRef),
				Errors: []string{"task.frob: ##vso[task.frob] is not a recognized command for Task command extension. " + docRef},
			},
		},
		{
			name: "logissue error and warning, masked",
			script: `o("##vso[task.setsecret]hunter2-secret");
				o("##vso[task.logissue type=error;]bad hunter2-secret");
				o("##vso[task.logissue type=Warning]careful%0Anext")`,
			want: Result{
				Result: "Succeeded",
				Log:    []string{"##[error]bad ***", "##[warning]careful\nnext"},
				Issues: []Issue{{"error", "bad ***"}, {"warning", "careful\nnext"}},
			},
		},
		{
			name:   "logissue without a type warns, with a bad type is rejected",
			script: `o("##vso[task.logissue]x"); o("##vso[task.logissue type=info]y")`,
			want: Result{
				Result: "Failed",
				Log: append([]string{"##[warning]Can't create TaskIssue from logging event."},
					rejected("##vso[task.logissue type=info]y", "issue type info is not an expected issue type.")...),
				Issues: append([]Issue{{"warning", "Can't create TaskIssue from logging event."}},
					rejectedIssues("##vso[task.logissue type=info]y", "issue type info is not an expected issue type.")...),
				Errors: []string{"task.logissue: issue type info is not an expected issue type."},
			},
		},
		{
			name:   "debug hidden without system.debug",
			script: `o("##vso[task.debug]details"); o("##vso[task.setvariable variable=a]b")`,
			want:   Result{Result: "Succeeded", Variables: map[string]Variable{"a": {Value: "b"}}},
		},
		{
			name:   "debug shown with system.debug, with the agent's Processed trace (masked)",
			script: `o("##vso[task.debug]details%0Amore"); o("##vso[task.setvariable variable=a;issecret=true]b-secret%3B")`,
			vars:   map[string]Variable{"System.Debug": {Value: "True"}},
			want: Result{
				Result: "Succeeded",
				Log:    []string{"##[debug]details\nmore", "##[debug]Processed: ##vso[task.setvariable variable=a;issecret=true]***"},
				Variables: map[string]Variable{
					"System.Debug": {Value: "True"},
					"a":            {Value: "b-secret;", Secret: true},
				},
			},
		},
		{
			name:   "non-zero exit code fails the step",
			script: `o("##vso[task.complete result=Succeeded;]"); process.exitCode = 3`,
			want: Result{
				Result: "Failed",
				Log:    []string{"##[error]Exit code 3 returned from process: file name 'node', arguments '\"{target}\"'."},
				Issues: []Issue{{"error", "Exit code 3 returned from process: file name 'node', arguments '\"{target}\"'."}},
			},
		},
		{
			name:   "unknown area warns but does not fail",
			script: `o("##vso[build.addbuildtag]x")`,
			want: Result{
				Result: "Succeeded",
				Log:    []string{"##[warning]Can't find command extension for ##vso[build.command]. " + docRef},
				Issues: []Issue{{"warning", "Can't find command extension for ##vso[build.command]. " + docRef}},
				Errors: []string{"build.addbuildtag: area not emulated by agentrunner"},
			},
		},
		{
			name:   "##vso that is not a command warns and is shown",
			script: `o("text ##vso[task.debug no bracket")`,
			want: Result{
				Result: "Succeeded",
				Log: []string{
					"##[warning]'text ##vso[task.debug no bracket' contains logging command keyword '##vso', but it's not a legal command. Please see the list of accepted commands: https://go.microsoft.com/fwlink/?LinkId=817296",
					"text ##vso[task.debug no bracket",
				},
				Issues: []Issue{{"warning", "'text ##vso[task.debug no bracket' contains logging command keyword '##vso', but it's not a legal command. Please see the list of accepted commands: https://go.microsoft.com/fwlink/?LinkId=817296"}},
			},
		},
		{
			name:   "uploadfile of an existing file",
			script: `o("##vso[task.uploadfile]" + __filename)`,
			want:   Result{Result: "Succeeded"},
		},
		{
			name:   "uploadfile of a missing file",
			script: `o("##vso[task.uploadfile]/nonexistent/summary.md")`,
			want: Result{
				Result: "Failed",
				Log:    rejected("##vso[task.uploadfile]/nonexistent/summary.md", "Cannot upload task attachment file, attachment file location is not specified or attachment file not exist on disk."),
				Issues: rejectedIssues("##vso[task.uploadfile]/nonexistent/summary.md", "Cannot upload task attachment file, attachment file location is not specified or attachment file not exist on disk."),
				Errors: []string{"task.uploadfile: Cannot upload task attachment file, attachment file location is not specified or attachment file not exist on disk."},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := scriptTask(t, jsPrelude+tt.script)
			res, err := Run(context.Background(), Options{TaskDir: dir, Variables: tt.vars})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			target := filepath.Join(dir, "main.js")
			want := tt.want
			for i := range want.Log {
				want.Log[i] = strings.ReplaceAll(want.Log[i], "{target}", target)
			}
			for i := range want.Issues {
				want.Issues[i].Message = strings.ReplaceAll(want.Issues[i].Message, "{target}", target)
			}
			got := Result{Result: res.Result, Log: res.Log, Issues: res.Issues, Errors: res.Errors, Variables: res.Variables}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Run mismatch (-want +got):\n%s\nraw output:\n%s", diff, strings.Join(res.Raw, "\n"))
			}
		})
	}
}

func TestRunRawAndMasked(t *testing.T) {
	t.Parallel()
	dir := scriptTask(t, jsPrelude+`o("before pa55-word"); o("##vso[task.setsecret]pa55-word"); o("after pa55-word"); o("##vso[task.debug]hidden")`)
	res, err := Run(context.Background(), Options{TaskDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	wantRaw := []string{"before pa55-word", "##vso[task.setsecret]pa55-word", "after pa55-word", "##vso[task.debug]hidden"}
	if diff := cmp.Diff(wantRaw, res.Raw); diff != "" {
		t.Errorf("Raw mismatch (-want +got):\n%s", diff)
	}
	wantCmds := []Command{
		{Area: "task", Event: "setsecret", Properties: map[string]string{}, Data: "pa55-word"},
		{Area: "task", Event: "debug", Properties: map[string]string{}, Data: "hidden"},
	}
	if diff := cmp.Diff(wantCmds, res.Commands); diff != "" {
		t.Errorf("Commands mismatch (-want +got):\n%s", diff)
	}
	if res.Masked("pa55-word") {
		t.Error("Masked reported true although the first line printed the secret before registration")
	}
	if !res.Masked("never-printed") || !res.Masked("") {
		t.Error("Masked is false for a value that was never printed")
	}
	if res.Masked("after") {
		t.Error(`Masked("after") = true, but "after ***" is in the log`)
	}
}

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRunEnvironment(t *testing.T) {
	t.Parallel()
	const taskJSON = `{
	  "inputs": [
	    {"name": "ConnectedServiceName", "aliases": ["azureSubscription"]},
	    {"name": "KeyVaultName"},
	    {"name": "SecretsFilter", "defaultValue": "*"},
	    {"name": "RunAsPreJob", "defaultValue": false}
	  ],
	  "execution": {"Node20_1": {"target": "main.js"}}
	}`
	dir := makeTask(t, taskJSON, map[string]string{"main.js": `process.stdout.write(JSON.stringify(process.env) + "\n")`})
	const id = "0F1E2D3C-AAAA-4BBB-8CCC-0123456789AB"
	const lid = "0f1e2d3c-aaaa-4bbb-8ccc-0123456789ab"
	res, err := Run(context.Background(), Options{
		TaskDir: dir,
		Inputs:  map[string]string{"azureSubscription": id, "KeyVaultName": " my-vault "},
		Endpoints: []Endpoint{{
			ID: id, URL: "https://management.azure.com/", Scheme: "ServicePrincipal",
			Params: map[string]string{"tenantid": "tenant-1", "serviceprincipalid": "client-1", "authenticationType": "spnKey", "serviceprincipalkey": "key<&>1"},
			Data:   map[string]string{"subscriptionId": "sub-1", "environment": "AzureCloud"},
		}},
		Variables: map[string]Variable{
			"system.debug":        {Value: "false"},
			"Build.Source Branch": {Value: "main"},
			"agent.proxypassword": {Value: "proxy-pw", Secret: true},
			"System.PlanId":       {Value: "plan-from-job"},
		},
		Env:         []string{"PATH=/usr/bin:/bin", "HOME=/home/test", "SYSTEM_JOBID=job-from-env"},
		AccessToken: "system-token-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Raw) != 1 {
		t.Fatalf("want one line of output, got %q", res.Raw)
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(res.Raw[0]), &env); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"SYSTEM_TEAMPROJECTID"} {
		if !guidRE.MatchString(env[k]) {
			t.Errorf("%s = %q, want a random GUID", k, env[k])
		}
		delete(env, k)
	}
	if tmp := env["AGENT_TEMPDIRECTORY"]; !filepath.IsAbs(tmp) || !strings.Contains(tmp, "agentrunner-temp-") {
		t.Errorf("AGENT_TEMPDIRECTORY = %q", tmp)
	}
	delete(env, "AGENT_TEMPDIRECTORY")
	want := map[string]string{
		"PATH":                        "/usr/bin:/bin",
		"HOME":                        "/home/test",
		"INPUT_CONNECTEDSERVICENAME":  id,
		"INPUT_KEYVAULTNAME":          "my-vault",
		"INPUT_SECRETSFILTER":         "*",
		"INPUT_RUNASPREJOB":           "False",
		"ENDPOINT_URL_" + lid:         "https://management.azure.com/",
		"ENDPOINT_AUTH_" + lid:        `{"parameters":{"authenticationType":"spnKey","serviceprincipalid":"client-1","serviceprincipalkey":"key<&>1","tenantid":"tenant-1"},"scheme":"ServicePrincipal"}`,
		"ENDPOINT_AUTH_SCHEME_" + lid: "ServicePrincipal",
		"ENDPOINT_AUTH_PARAMETER_" + lid + "_TENANTID":            "tenant-1",
		"ENDPOINT_AUTH_PARAMETER_" + lid + "_SERVICEPRINCIPALID":  "client-1",
		"ENDPOINT_AUTH_PARAMETER_" + lid + "_AUTHENTICATIONTYPE":  "spnKey",
		"ENDPOINT_AUTH_PARAMETER_" + lid + "_SERVICEPRINCIPALKEY": "key<&>1",
		"ENDPOINT_DATA_" + lid:                                    `{"environment":"AzureCloud","subscriptionId":"sub-1"}`,
		"ENDPOINT_DATA_" + lid + "_SUBSCRIPTIONID":                "sub-1",
		"ENDPOINT_DATA_" + lid + "_ENVIRONMENT":                   "AzureCloud",
		"ENDPOINT_URL_SYSTEMVSSCONNECTION":                        defaultCollectionURI,
		"ENDPOINT_AUTH_SYSTEMVSSCONNECTION":                       `{"parameters":{"AccessToken":"system-token-1"},"scheme":"OAuth"}`,
		"ENDPOINT_AUTH_SCHEME_SYSTEMVSSCONNECTION":                "OAuth",
		"ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN": "system-token-1",
		"TF_BUILD":                   "True",
		"SYSTEM_COLLECTIONURI":       defaultCollectionURI,
		"SYSTEM_HOSTTYPE":            "build",
		"SYSTEM_PLANID":              "plan-from-job",
		"SYSTEM_JOBID":               "job-from-env",
		"SYSTEM_DEBUG":               "false",
		"BUILD_SOURCE_BRANCH":        "main",
		"SECRET_AGENT_PROXYPASSWORD": "proxy-pw",
		"VSTS_PUBLIC_VARIABLES":      "[\n  \"Build.Source Branch\",\n  \"System.PlanId\",\n  \"system.debug\"\n]",
		"VSTS_SECRET_VARIABLES":      "[\n  \"agent.proxypassword\"\n]",
	}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("environment mismatch (-want +got):\n%s", diff)
	}
	if res.Token != "system-token-1" || res.Handler != "Node20_1" {
		t.Errorf("Token, Handler = %q, %q", res.Token, res.Handler)
	}
	// Every auth parameter but the unmasked few, the token and the secret
	// variable are masked in the one log line; the rest is readable.
	for _, s := range []string{"client-1", "key<&>1", "system-token-1", "proxy-pw"} {
		if !res.Masked(s) {
			t.Errorf("%q not masked", s)
		}
	}
	for _, s := range []string{"tenant-1", "spnKey", "sub-1", "my-vault"} {
		if res.Masked(s) {
			t.Errorf("%q masked, the agent shows it", s)
		}
	}
}

// TestRunVariablesFirst: the agent adds the job's variables to a task's
// environment before its inputs and endpoints, so a variable of the name
// the agent gives an input or a connection's field is overwritten; one of
// a field the connection lacks stays. A variable an earlier step set with
// preservecase=true keeps its case.
func TestRunVariablesFirst(t *testing.T) {
	t.Parallel()
	dir := makeTask(t, `{"inputs": [{"name": "KeyVaultName"}], "execution": {"Node20_1": {"target": "main.js"}}}`,
		map[string]string{"main.js": `process.stdout.write(JSON.stringify(process.env) + "\n")`})
	const id = "0f1e2d3c-aaaa-4bbb-8ccc-0123456789ab"
	res, err := Run(context.Background(), Options{
		TaskDir:   dir,
		Inputs:    map[string]string{"KeyVaultName": "the-input"},
		Endpoints: []Endpoint{{ID: id, URL: "https://management.azure.com/", Scheme: "ServicePrincipal", Data: map[string]string{"environment": "AzureCloud"}}},
		Variables: map[string]Variable{
			"input.keyVaultName":                                {Value: "from-a-variable"},
			"endpoint.url." + id:                                {Value: "https://from-a-variable/"},
			"ENDPOINT_DATA_" + id + "_ENVIRONMENT":              {Value: "from-a-variable", PreserveCase: true},
			"ENDPOINT_DATA_" + id + "_ACTIVEDIRECTORYAUTHORITY": {Value: "https://from-a-variable/", PreserveCase: true},
			"https_proxy":                                       {Value: "http://upper-cased/"},
			"no_proxy":                                          {Value: "as-spelled", PreserveCase: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(res.Raw[0]), &env); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"INPUT_KEYVAULTNAME":                                "the-input",
		"ENDPOINT_URL_" + strings.ToUpper(id):               "https://from-a-variable/",
		"ENDPOINT_URL_" + id:                                "https://management.azure.com/",
		"ENDPOINT_DATA_" + id + "_ENVIRONMENT":              "AzureCloud",
		"ENDPOINT_DATA_" + id + "_ACTIVEDIRECTORYAUTHORITY": "https://from-a-variable/",
		"HTTPS_PROXY":                                       "http://upper-cased/",
		"no_proxy":                                          "as-spelled",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	if _, ok := env["NO_PROXY"]; ok {
		t.Errorf("NO_PROXY set: a variable set with preservecase keeps its case")
	}
}

func TestRunEndpointParamsMaskedCaseInsensitively(t *testing.T) {
	t.Parallel()
	dir := scriptTask(t, jsPrelude+`for (const v of ["tid-x", "auth-x", "sub-x", "iss-x", "spid-x", "cert-x"]) o(v)`)
	res, err := Run(context.Background(), Options{TaskDir: dir, Endpoints: []Endpoint{{
		ID: "id-1", Scheme: "WorkloadIdentityFederation",
		Params: map[string]string{
			"TenantId": "tid-x", "AUTHENTICATIONTYPE": "auth-x",
			"workloadIdentityFederationSubject": "sub-x", "WorkloadIdentityFederationIssuer": "iss-x",
			"serviceprincipalid": "spid-x", "servicePrincipalCertificate": "cert-x",
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tid-x", "auth-x", "sub-x", "iss-x", "***", "***"}
	if diff := cmp.Diff(want, res.Log); diff != "" {
		t.Errorf("Log mismatch (-want +got):\n%s", diff)
	}
}

func TestRunStageAndStarted(t *testing.T) {
	t.Parallel()
	dir := makeTask(t, `{"execution":{"Node20_1":{"target":"main.js"}},"prejobexecution":{"Node16":{"target":"pre.js"}}}`, map[string]string{
		"main.js": `console.log("main " + process.pid + " " + process.cwd())`,
		"pre.js":  `console.log("pre " + process.pid + " " + process.cwd())`,
	})
	workDir := t.TempDir()
	for _, tc := range []struct {
		stage       Stage
		word        string
		wantHandler string
	}{{StageMain, "main", "Node20_1"}, {"", "main", "Node20_1"}, {StagePreJob, "pre", "Node16"}} {
		var pid int
		res, err := Run(context.Background(), Options{TaskDir: dir, Stage: tc.stage, WorkDir: workDir, Started: func(p int) { pid = p }})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{tc.word + " " + strconv.Itoa(pid) + " " + workDir}
		if diff := cmp.Diff(want, res.Log); diff != "" || res.Handler != tc.wantHandler {
			t.Errorf("stage %q: handler %s, log mismatch (-want +got):\n%s", tc.stage, res.Handler, diff)
		}
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	good := scriptTask(t, "")
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"no task dir", Options{}, "no task directory"},
		{"missing task.json", Options{TaskDir: t.TempDir()}, "read task definition"},
		{"bad env entry", Options{TaskDir: good, Env: []string{"NOEQUALS"}}, "not NAME=value"},
		{"node missing", Options{TaskDir: good, Node: "/nonexistent/node"}, "start /nonexistent/node"},
		{"variables differing in case", Options{TaskDir: good, Variables: map[string]Variable{"a": {}, "A": {}}}, "differ only in case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Options{TaskDir: good}); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Errorf("Run with a cancelled context: error = %v", err)
	}
}

func TestRunLeavesTempFilesVisible(t *testing.T) {
	t.Parallel()
	dir := scriptTask(t, `require("fs").writeFileSync(require("path").join(process.env.AGENT_TEMPDIRECTORY, "left.pem"), "x")`)
	res, err := Run(context.Background(), Options{TaskDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"left.pem"}, res.TempFiles); diff != "" {
		t.Errorf("TempFiles mismatch (-want +got):\n%s", diff)
	}
}

// TestCancel covers the agent's sequence with short grace periods: the
// defaults are checked separately.
func TestCancel(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		wantLog  []string
		wantExit int
	}{
		{
			name:     "SIGINT reaches node",
			script:   `process.on("SIGINT", () => { o("got SIGINT"); process.exit(0) }); setInterval(() => {}, 1000); o("ready")`,
			wantLog:  []string{"ready", "got SIGINT", "##[error]The operation was canceled."},
			wantExit: 0,
		},
		{
			name:     "SIGINT ignored, SIGTERM ends it",
			script:   `process.on("SIGINT", () => o("ignoring SIGINT")); process.on("SIGTERM", () => { o("got SIGTERM"); process.exit(5) }); setInterval(() => {}, 1000); o("ready")`,
			wantLog:  []string{"ready", "ignoring SIGINT", "got SIGTERM", "##[error]The operation was canceled."},
			wantExit: 5,
		},
		{
			name:     "SIGINT and SIGTERM ignored, SIGKILL ends it",
			script:   `process.on("SIGINT", () => o("ignoring SIGINT")); process.on("SIGTERM", () => o("ignoring SIGTERM")); setInterval(() => {}, 1000); o("ready")`,
			wantLog:  []string{"ready", "ignoring SIGINT", "ignoring SIGTERM", "##[error]The operation was canceled."},
			wantExit: 128 + int(syscall.SIGKILL),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := scriptTask(t, jsPrelude+tt.script)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w := newLineWatch("ready\n")
			go func() {
				<-w.seen
				cancel()
			}()
			start := time.Now()
			res, err := run(ctx, Options{TaskDir: dir, Output: w}, timings{sigint: 300 * time.Millisecond, sigterm: 300 * time.Millisecond, pipe: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("took %v", d)
			}
			if res.Result != "Canceled" || res.ExitCode != tt.wantExit {
				t.Errorf("Result, ExitCode = %s, %d; want Canceled, %d", res.Result, res.ExitCode, tt.wantExit)
			}
			if diff := cmp.Diff(tt.wantLog, res.Log); diff != "" {
				t.Errorf("Log mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAgentGracePeriods(t *testing.T) {
	if sigintGrace != 7500*time.Millisecond || sigtermGrace != 2500*time.Millisecond || pipeGrace != 10*time.Second {
		t.Errorf("grace periods %v, %v, %v; the agent's are 7.5s, 2.5s and this runner's pipe wait 10s", sigintGrace, sigtermGrace, pipeGrace)
	}
}

func TestPipeHeldOpenByOrphan(t *testing.T) {
	t.Parallel()
	// The child inherits stdout and outlives node, as a Go binary that does
	// not watch its parent would.
	dir := scriptTask(t, jsPrelude+`
		const c = require("child_process").spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], {stdio: "inherit", detached: true});
		c.unref();
		o("child " + c.pid);`)
	res, err := run(context.Background(), Options{TaskDir: dir}, timings{sigint: time.Second, sigterm: time.Second, pipe: 300 * time.Millisecond})
	if res != nil && len(res.Raw) == 1 {
		var pid int
		if _, scanErr := fmt.Sscanf(res.Raw[0], "child %d", &pid); scanErr == nil && pid > 0 {
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
		}
	}
	if err == nil || !strings.Contains(err.Error(), "log pipe held open") {
		t.Fatalf("Run error = %v, want the held-pipe error", err)
	}
	if res == nil || res.Result != "Succeeded" || len(res.Raw) != 1 {
		t.Fatalf("Result = %+v, want the partial result alongside the error", res)
	}
}

// TestRunRefusals: the agent's own refusal paths for setvariable and what
// each leaves registered with the masker, as TaskSetVariableCommand and
// TaskSetSecretCommand do it.
func TestRunRefusals(t *testing.T) {
	const roLine = "##vso[task.setvariable variable=db-pw;issecret=true]ro-value%AZP25x"
	const roReason = "Overwriting readonly variable 'db-pw' is not permitted. See https://github.com/microsoft/azure-pipelines-yaml/blob/master/design/readonly-variables.md for details."
	tests := []struct {
		name     string
		script   string
		vars     map[string]Variable
		env      []string
		settable []string
		want     Result
	}{
		{
			name:   "read-only job variable: refused, echoed raw, nothing registered",
			script: `o("` + roLine + `"); o("ro-value%x")`,
			vars:   map[string]Variable{"DB-PW": {Value: "yaml", ReadOnly: true}},
			want: Result{
				Result:    "Failed",
				Log:       append(rejected(roLine, roReason), "ro-value%x"),
				Issues:    rejectedIssues(roLine, roReason),
				Errors:    []string{"task.setvariable: " + roReason},
				Variables: map[string]Variable{"DB-PW": {Value: "yaml", ReadOnly: true}},
			},
		},
		{
			name: "read-only job variable: what setsecret registered first masks the echo",
			script: `o("##vso[task.setsecret]ro-value%AZP25x"); o("##vso[task.setsecret]ro-value%AZP25AZP25x");
				o("` + roLine + `")`,
			vars: map[string]Variable{"db-pw": {Value: "yaml", ReadOnly: true}},
			want: Result{
				Result:    "Failed",
				Log:       rejected("##vso[task.setvariable variable=db-pw;issecret=true]***", roReason),
				Issues:    rejectedIssues("##vso[task.setvariable variable=db-pw;issecret=true]***", roReason),
				Errors:    []string{"task.setvariable: " + roReason},
				Variables: map[string]Variable{"db-pw": {Value: "yaml", ReadOnly: true}},
			},
		},
		{
			name: "isreadonly=true makes a later write throw",
			script: `o("##vso[task.setvariable variable=pinned;isreadonly=true]one");
				o("##vso[task.setvariable variable=pinned]two")`,
			want: Result{
				Result: "Failed",
				Log: rejected("##vso[task.setvariable variable=pinned]two",
					"Overwriting readonly variable 'pinned' is not permitted. See https://github.com/microsoft/azure-pipelines-yaml/blob/master/design/readonly-variables.md for details."),
				Issues: rejectedIssues("##vso[task.setvariable variable=pinned]two",
					"Overwriting readonly variable 'pinned' is not permitted. See https://github.com/microsoft/azure-pipelines-yaml/blob/master/design/readonly-variables.md for details."),
				Errors:    []string{"task.setvariable: Overwriting readonly variable 'pinned' is not permitted. See https://github.com/microsoft/azure-pipelines-yaml/blob/master/design/readonly-variables.md for details."},
				Variables: map[string]Variable{"pinned": {Value: "one", ReadOnly: true}},
			},
		},
		{
			name:   "the agent's own read-only variables",
			script: `o("##vso[task.setvariable variable=System.Debug]false")`,
			want: Result{
				Result: "Failed",
				Log: rejected("##vso[task.setvariable variable=System.Debug]false",
					"Overwriting readonly variable 'System.Debug' is not permitted. See https://github.com/microsoft/azure-pipelines-yaml/blob/master/design/readonly-variables.md for details."),
				Issues: rejectedIssues("##vso[task.setvariable variable=System.Debug]false",
					"Overwriting readonly variable 'System.Debug' is not permitted. See https://github.com/microsoft/azure-pipelines-yaml/blob/master/design/readonly-variables.md for details."),
				Errors: []string{"task.setvariable: Overwriting readonly variable 'System.Debug' is not permitted. See https://github.com/microsoft/azure-pipelines-yaml/blob/master/design/readonly-variables.md for details."},
			},
		},
		{
			name: "settableVariables: a name not allowed warns and is not set; only the escaped form was registered",
			script: `o("##vso[task.setvariable variable=other;issecret=true]not%3Bset");
				o("##vso[task.setvariable variable=app-Key;issecret=true]is-set");
				o("raw not;set, escaped not%3Bset, is-set")`,
			settable: []string{"APP-*"},
			want: Result{
				Result:    "Succeeded",
				Log:       []string{"##[warning]Setting variable 'other' has been disabled by the task or build definition.", "raw not;set, escaped ***, ***"},
				Issues:    []Issue{{"warning", "Setting variable 'other' has been disabled by the task or build definition."}},
				Variables: map[string]Variable{"app-Key": {Value: "is-set", Secret: true}},
			},
		},
		{
			name: "settableVariables without the flag: the raise is dropped, the multi-line secret refused",
			script: `o("##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET]true");
				o("##vso[task.setvariable variable=ml;issecret=true]a%0Ab")`,
			settable: []string{"ml"},
			want: Result{
				Result: "Failed",
				Log: append([]string{"##[warning]Setting variable 'SYSTEM_UNSAFEALLOWMULTILINESECRET' has been disabled by the task or build definition."},
					rejected("##vso[task.setvariable variable=ml;issecret=true]a%0Ab", "Secrets cannot contain multiple lines")...),
				Issues: append([]Issue{{"warning", "Setting variable 'SYSTEM_UNSAFEALLOWMULTILINESECRET' has been disabled by the task or build definition."}},
					rejectedIssues("##vso[task.setvariable variable=ml;issecret=true]a%0Ab", "Secrets cannot contain multiple lines")...),
				Errors: []string{"task.setvariable: Secrets cannot contain multiple lines"},
			},
		},
		{
			name:   "setsecret registers the unescaped data only",
			script: `o("##vso[task.setsecret]semi%3Bcolon"); o("semi;colon semi%3Bcolon")`,
			want:   Result{Result: "Succeeded", Log: []string{"*** semi%3Bcolon"}},
		},
		{
			name:   "the multi-line knob from the agent's own environment",
			script: `o("##vso[task.setvariable variable=ml;issecret=true]a%0Ab")`,
			env:    []string{"SYSTEM_UNSAFEALLOWMULTILINESECRET=true"},
			want:   Result{Result: "Succeeded", Variables: map[string]Variable{"ml": {Value: "a\nb", Secret: true}}},
		},
		{
			name: "DECODE_PERCENTS=false: %AZP25 stays, and setsecret registers both forms",
			script: `o("##vso[task.setvariable variable=p]100%AZP25");
				o("##vso[task.setsecret]pc%AZP25x"); o("pc%AZP25x pc%x")`,
			vars: map[string]Variable{"DECODE_PERCENTS": {Value: "false"}},
			want: Result{
				Result:    "Succeeded",
				Log:       []string{"*** ***"},
				Variables: map[string]Variable{"DECODE_PERCENTS": {Value: "false"}, "p": {Value: "100%AZP25"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := scriptTask(t, jsPrelude+tt.script)
			res, err := Run(context.Background(), Options{TaskDir: dir, Variables: tt.vars, Env: tt.env, SettableVariables: tt.settable})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := Result{Result: res.Result, Log: res.Log, Issues: res.Issues, Errors: res.Errors, Variables: res.Variables}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Run mismatch (-want +got):\n%s\nraw output:\n%s", diff, strings.Join(res.Raw, "\n"))
			}
		})
	}
}

// TestRunFunc: an in-process handler gets the step's environment, and its
// output is processed as a handler's is.
func TestRunFunc(t *testing.T) {
	t.Parallel()
	dir := scriptTask(t, "")
	var gotEnv []string
	res, err := RunFunc(context.Background(), Options{
		TaskDir:   dir,
		Inputs:    map[string]string{"Name": "in-value"},
		Variables: map[string]Variable{"pw": {Value: "job-secret-1", Secret: true}},
	}, func(ctx context.Context, env []string, out io.Writer) int {
		gotEnv = env
		fmt.Fprintln(out, "##vso[task.setvariable variable=v;issecret=true]set-by-func")
		fmt.Fprintln(out, "job-secret-1 and set-by-func")
		fmt.Fprintln(out, "##vso[task.complete result=Succeeded;]done")
		return 3
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{
		Result:    "Failed",
		Log:       []string{"*** and ***", "done", "##[error]Exit code 3 returned from process: in-process handler."},
		Issues:    []Issue{{"error", "Exit code 3 returned from process: in-process handler."}},
		Variables: map[string]Variable{"pw": {Value: "job-secret-1", Secret: true}, "v": {Value: "set-by-func", Secret: true}},
	}
	got := Result{Result: res.Result, Log: res.Log, Issues: res.Issues, Errors: res.Errors, Variables: res.Variables}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("RunFunc mismatch (-want +got):\n%s", diff)
	}
	if !slices.Contains(gotEnv, "INPUT_NAME=in-value") || !slices.Contains(gotEnv, "SECRET_PW=job-secret-1") {
		t.Errorf("environment lacks the input or the secret variable: %q", gotEnv)
	}
}

// TestRunOutputVariables: isoutput=true makes the step's output variable,
// found in the job as <step name>.<name>, not under the plain name.
func TestRunOutputVariables(t *testing.T) {
	t.Parallel()
	dir := scriptTask(t, jsPrelude+`o("##vso[task.setvariable variable=out;issecret=true;isoutput=true]o-value"); o("##vso[task.setvariable variable=plain]p")`)
	res, err := Run(context.Background(), Options{TaskDir: dir, StepName: "kv"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Variable{"kv.out": {Value: "o-value", Secret: true, ReadOnly: true}, "plain": {Value: "p"}}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]Variable{"out": {Value: "o-value", Secret: true}}, res.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
}
