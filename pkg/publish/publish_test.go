package publish

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/agentenv"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

func TestPublish(t *testing.T) {
	tests := []struct {
		name  string
		o     Options
		enc   vso.Encoding
		names []string // default n
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
			name:  "single line, several variables, also as outputs: registered once",
			o:     Options{Output: true},
			names: []string{"a/0123456789abcdef0123456789abcdef", "A_VAR"},
			value: "v-1",
			want: []string{
				"##vso[task.setsecret]v-1",
				"##vso[task.setvariable variable=a/0123456789abcdef0123456789abcdef;issecret=true;]v-1",
				"##vso[task.setvariable variable=a/0123456789abcdef0123456789abcdef;issecret=true;isoutput=true;]v-1",
				"##vso[task.setvariable variable=A_VAR;issecret=true;]v-1",
				"##vso[task.setvariable variable=A_VAR;issecret=true;isoutput=true;]v-1",
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
			name:  "multi-line JSON: the lines of punctuation, and short ones, are not registered",
			value: "{\n  \"a\": [\n    1,\n    \"x1\"\n  ],\n  \"user\": \"app\"\n}",
			o:     Options{Multiline: Multiline{On: true}},
			want: []string{
				"##vso[task.setsecret]  \"a\": [",
				"##vso[task.setsecret]    \"x1\"",
				"##vso[task.setsecret]  \"user\": \"app\"",
				"##vso[task.setvariable variable=n;issecret=true;]{%0A  \"a\": [%0A    1,%0A    \"x1\"%0A  ],%0A  \"user\": \"app\"%0A}",
			},
		},
		{
			name:  "SYSTEM_DONOTMASKMULTILINESECRETS: no line registered",
			o:     Options{NoLineMasking: true},
			value: "first line\nsecond line",
			want: []string{
				"##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET;]true",
				"##vso[task.setvariable variable=n;issecret=true;]first line%0Asecond line",
				"##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET;]",
			},
		},
		{
			name:  "multi-line, flag false: restored to false",
			o:     Options{Multiline: Multiline{Restore: "False"}},
			value: "abc\rdef",
			want: []string{
				"##vso[task.setsecret]abc",
				"##vso[task.setsecret]def",
				"##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET;]true",
				"##vso[task.setvariable variable=n;issecret=true;]abc%0Ddef",
				"##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET;]False",
			},
		},
		{
			name:  "multi-line, flag already on: left alone",
			o:     Options{Multiline: Multiline{On: true, Restore: "$TRUE"}},
			value: "abc\ndef",
			want: []string{
				"##vso[task.setsecret]abc",
				"##vso[task.setsecret]def",
				"##vso[task.setvariable variable=n;issecret=true;]abc%0Adef",
			},
		},
		{
			name:  "DECODE_PERCENTS off: '%' travels as itself",
			enc:   vso.Encoding{NoPercents: true},
			value: "100%AZP25;]",
			want: []string{
				"##vso[task.setsecret]100%AZP25;]",
				"##vso[task.setvariable variable=n;issecret=true;]100%AZP25;]",
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
			names := tt.names
			if names == nil {
				names = []string{"n"}
			}
			New(vso.NewWriter(&b, tt.enc), tt.o).Publish(names, tt.value)
			got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Publish mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRegister: a value written to a file is registered as Publish would
// register it, and no variable is set, nor the multi-line permission
// touched.
func TestRegister(t *testing.T) {
	tests := []struct {
		name  string
		o     Options
		value string
		want  []string
	}{
		{"single line, as it is and as a command carries it", Options{}, "p%ss", []string{
			"##vso[task.setsecret]p%AZP25ss",
			"##vso[task.setsecret]p%AZP25AZP25ss",
		}},
		{"a key, line by line, without the short lines", Options{}, "-----BEGIN PRIVATE KEY-----\r\nMIIEv\n==\n-----END PRIVATE KEY-----\n", []string{
			"##vso[task.setsecret]-----BEGIN PRIVATE KEY-----",
			"##vso[task.setsecret]MIIEv",
			"##vso[task.setsecret]-----END PRIVATE KEY-----",
		}},
		{"no line masking: multi-line values are not registered", Options{NoLineMasking: true}, "MIIEv\nabcdef", []string{""}},
		{"empty", Options{}, "", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			New(vso.NewWriter(&b, vso.Encoding{}), tt.o).Register(tt.value)
			got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Register mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCarriesSecret(t *testing.T) {
	for line, want := range map[string]bool{
		"{": false, "  },": false, "]": false, "---": false, "-----": false, "   ": false, "": false,
		"a": false, "12": false, " 1, ": false, "x1}": true, "abc": true, "Zw==": true, "-----BEGIN PRIVATE KEY-----": true,
		"   \"user\": \"app\",": true, "日本語": true, "é!!": true,
	} {
		if got := CarriesSecret(line); got != want {
			t.Errorf("CarriesSecret(%q) = %v, want %v", line, got, want)
		}
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
		// Both: the environment holds one of them, which the task cannot
		// tell apart.
		{"exact and dotted names", map[string]string{"SYSTEM_UNSAFEALLOWMULTILINESECRET": "true", "VSTS_PUBLIC_VARIABLES": `["SYSTEM_UNSAFEALLOWMULTILINESECRET", "system.unsafeAllowMultilineSecret"]`}, Multiline{}},
		// A step's setvariable with preservecase=true: under its spelling.
		{"exact name, case preserved", map[string]string{"system_unsafeallowmultilinesecret": "true", "VSTS_PUBLIC_VARIABLES": `["system_unsafeallowmultilinesecret"]`}, Multiline{On: true, Restore: "true"}},
		{"no variable list: the environment at its word", map[string]string{"SYSTEM_UNSAFEALLOWMULTILINESECRET": "$true"}, Multiline{On: true, Restore: "$true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var environ []string
			for k, v := range tt.env {
				environ = append(environ, k+"="+v)
			}
			got := ReadMultiline(agentenv.NewEnv(environ))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadMultiline mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLower: a run ended while a Publish had raised the multi-line
// permission and not yet put it back (its output stopped taking lines
// after the raise) gets it put back through another writer; once every
// Publish has finished, Lower writes nothing.
func TestLower(t *testing.T) {
	raised := make(chan struct{})
	release := make(chan struct{})
	stuck := writerFunc(func(p []byte) (int, error) {
		if strings.Contains(string(p), "variable=v;") {
			close(raised)
			<-release
		}
		return len(p), nil
	})
	p := New(vso.NewWriter(stuck, vso.Encoding{}), Options{Multiline: Multiline{Restore: "false"}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Publish([]string{"v"}, "line one\nline two")
	}()
	<-raised
	var b strings.Builder
	p.Lower(vso.NewWriter(&b, vso.Encoding{}))
	if want := "##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET;]false\n"; b.String() != want {
		t.Errorf("Lower during a Publish wrote %q, want %q", b.String(), want)
	}
	close(release)
	<-done
	b.Reset()
	p.Lower(vso.NewWriter(&b, vso.Encoding{}))
	if b.String() != "" {
		t.Errorf("Lower after the Publish wrote %q, want nothing", b.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
