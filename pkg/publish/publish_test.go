package publish

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

func TestPublish(t *testing.T) {
	tests := []struct {
		name  string
		ml    Multiline // the job's permission before the run
		value string
		want  []string
	}{
		{
			name:  "single line: registered as it is and as the command carries it, then set",
			value: "p%a;s]s",
			want: []string{
				"##vso[task.setsecret]p%AZP25a;s]s",
				"##vso[task.setsecret]p%AZP25AZP25a;s]s",
				"##vso[task.setvariable variable=n;issecret=true;]p%AZP25a;s]s",
			},
		},
		{
			name:  "single line without escapes: registered once",
			value: "plain;value]",
			want: []string{
				"##vso[task.setsecret]plain;value]",
				"##vso[task.setvariable variable=n;issecret=true;]plain;value]",
			},
		},
		{
			name:  "multi-line, flag unset: lines first, flag raised and restored",
			value: "line one\r\n\nline 100%\n",
			want: []string{
				"##vso[task.setsecret]line one",
				"##vso[task.setsecret]line 100%AZP25",
				"##vso[task.setsecret]line 100%AZP25AZP25",
				"##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET;]true",
				"##vso[task.setvariable variable=n;issecret=true;]line one%0D%0A%0Aline 100%AZP25%0A",
				"##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET;]",
			},
		},
		{
			name:  "multi-line, flag false: restored to false",
			ml:    Multiline{Restore: "False"},
			value: "a\rb",
			want: []string{
				"##vso[task.setsecret]a",
				"##vso[task.setsecret]b",
				"##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET;]true",
				"##vso[task.setvariable variable=n;issecret=true;]a%0Db",
				"##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET;]False",
			},
		},
		{
			name:  "multi-line, flag already on: left alone",
			ml:    Multiline{On: true, Restore: "$TRUE"},
			value: "a\nb",
			want: []string{
				"##vso[task.setsecret]a",
				"##vso[task.setsecret]b",
				"##vso[task.setvariable variable=n;issecret=true;]a%0Ab",
			},
		},
		{
			name:  "empty: nothing to register",
			value: "",
			want:  []string{"##vso[task.setvariable variable=n;issecret=true;]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			New(vso.NewWriter(&b), tt.ml).Publish("n", tt.value)
			got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Publish mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadMultiline(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want Multiline
	}{
		{"nothing", map[string]string{"VSTS_PUBLIC_VARIABLES": `["system.debug"]`}, Multiline{}},
		{"job variable, exact name", map[string]string{"SYSTEM_UNSAFEALLOWMULTILINESECRET": "True", "VSTS_PUBLIC_VARIABLES": `["system_unsafeAllowMultilineSecret"]`}, Multiline{On: true, Restore: "True"}},
		{"job variable, exact name, off", map[string]string{"SYSTEM_UNSAFEALLOWMULTILINESECRET": "no", "VSTS_PUBLIC_VARIABLES": `["SYSTEM_UNSAFEALLOWMULTILINESECRET"]`}, Multiline{Restore: "no"}},
		// The agent's knob does not read a dotted name: raise it, and put
		// back no value of the task's own.
		{"job variable, dotted name", map[string]string{"SYSTEM_UNSAFEALLOWMULTILINESECRET": "true", "VSTS_PUBLIC_VARIABLES": `["system.unsafeAllowMultilineSecret"]`}, Multiline{}},
		{"the agent's own environment", map[string]string{"SYSTEM_UNSAFEALLOWMULTILINESECRET": "1", "VSTS_PUBLIC_VARIABLES": `[]`}, Multiline{On: true}},
		{"no variable list: the environment at its word", map[string]string{"SYSTEM_UNSAFEALLOWMULTILINESECRET": "$true"}, Multiline{On: true, Restore: "$true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ReadMultiline(func(k string) string { return tt.env[k] })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadMultiline mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMultilineAllowed(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "TRUE": true, "1": true, "$true": true, "$True": true, "": false, "false": false, "0": false, "yes": false} {
		if got := MultilineAllowed(in); got != want {
			t.Errorf("MultilineAllowed(%q) = %v, want %v", in, got, want)
		}
	}
}
