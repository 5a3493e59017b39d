package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/harness"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// The agent refuses some setvariable commands on its own (a read-only
// variable, a multi-line secret the step may not allow) and prints them
// back as written, masked only by what it held before. w.run's leak check
// reads that echo in every form a command carries a value.

func TestRefusedCommandsEchoNoValue(t *testing.T) {
	const ml = "user=app\npass=100%secret;]\n  token: abc%0A-def\n"
	tests := []struct {
		name     string
		vars     map[string]agentrunner.Variable
		settable []string
		want     map[string]agentrunner.Variable // what the job ends up with, besides its own variables
		wantErr  string                          // the agent's reason, after its echo
		wantWarn []string
	}{
		{
			name: "read-only job variable of a secret's name",
			vars: map[string]agentrunner.Variable{"ro-secret": {Value: "from-yaml", ReadOnly: true}},
			want: map[string]agentrunner.Variable{
				"other": testworld.SecretVar("other-value-5678"), "ml-config": testworld.SecretVar(ml),
				"SYSTEM_UNSAFEALLOWMULTILINESECRET": {},
			},
			wantErr: "Overwriting readonly variable 'ro-secret' is not permitted.",
		},
		{
			name:     "settableVariables without the multi-line flag",
			settable: []string{"ro-*", "other", "ml-*"},
			want:     map[string]agentrunner.Variable{"ro-secret": testworld.SecretVar("ro-value%AZP25 1234"), "other": testworld.SecretVar("other-value-5678")},
			wantErr:  "Secrets cannot contain multiple lines",
			wantWarn: []string{
				"Setting variable 'SYSTEM_UNSAFEALLOWMULTILINESECRET' has been disabled by the task or build definition.",
				"Setting variable 'SYSTEM_UNSAFEALLOWMULTILINESECRET' has been disabled by the task or build definition.",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.Vault.Put(localcloud.Secret{Name: "ro-secret", Value: "ro-value%AZP25 1234"})
			w.Vault.Put(localcloud.Secret{Name: "other", Value: "other-value-5678"})
			w.Vault.Put(localcloud.Secret{Name: "ml-config", Value: ml})

			res := w.Run(step{Variables: tt.vars, Settable: tt.settable})

			// The agent fails the step for the command it refused.
			if res.Result != "Failed" {
				t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
			}
			if diff := cmp.Diff(tt.want, res.Variables); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
			errs := testworld.Issues(res, "error")
			if len(errs) != 2 || !strings.HasPrefix(errs[0], "Unable to process command '##vso[task.setvariable variable=") || !strings.HasPrefix(errs[1], tt.wantErr) {
				t.Fatalf("errors %q, want the agent's echo of one command and %q", errs, tt.wantErr)
			}
			// The echo carries the command, with its value masked.
			if !strings.Contains(errs[0], "issecret=true;]***") {
				t.Errorf("echo %q does not end in a masked value", errs[0])
			}
			if diff := cmp.Diff(tt.wantWarn, testworld.Issues(res, "warning")); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDottedMultilineVariable: a job variable system.unsafeAllowMultilineSecret
// reaches the task as SYSTEM_UNSAFEALLOWMULTILINESECRET, but the agent's
// permission reads only the variable of that exact name: the task raises
// it anyway, and puts back no value of its own.
func TestDottedMultilineVariable(t *testing.T) {
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "ml", Value: "line-one\nline-two"})
	vars := map[string]agentrunner.Variable{"system.unsafeAllowMultilineSecret": {Value: "true"}}

	res := w.Run(step{Variables: vars})

	if res.Result != "Succeeded" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	want := map[string]agentrunner.Variable{"ml": testworld.SecretVar("line-one\nline-two"), "SYSTEM_UNSAFEALLOWMULTILINESECRET": {}}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
}

// TestMaskingNoise: after a JSON secret, the rest of the job's log keeps
// its braces: no line without a letter or digit, and no line under three
// characters, is registered with the masker; the lines that hold
// something are. With SYSTEM_DONOTMASKMULTILINESECRETS=true, as with
// AzureKeyVault@2, no line is registered on its own. The value is set
// byte for byte either way.
func TestMaskingNoise(t *testing.T) {
	const json = "{\n  \"user\": \"app-user\",\n  \"ports\": [\n    8443,\n    1\n  ],\n  \"token\": \"tok-123\"\n}\n"
	// A later step prints a brace, and one of the secret's lines.
	later := []string{"{ \"build\": [1, 2] },", "  \"token\": \"tok-123\""}
	tests := []struct {
		name      string
		vars      map[string]agentrunner.Variable
		wantLater []string
	}{
		{"lines that carry something are masked", nil, []string{later[0], "***"}},
		{"SYSTEM_DONOTMASKMULTILINESECRETS", map[string]agentrunner.Variable{"SYSTEM_DONOTMASKMULTILINESECRETS": {Value: "true"}}, later},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			want := w.Put(map[string]string{"app-settings": json})
			want["SYSTEM_UNSAFEALLOWMULTILINESECRET"] = agentrunner.Variable{}

			res := w.Run(step{Variables: tt.vars})

			if res.Result != "Succeeded" {
				t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
			}
			if diff := cmp.Diff(want, res.Variables); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
			var got []string
			for _, l := range later {
				got = append(got, res.MaskLater(l))
			}
			if diff := cmp.Diff(tt.wantLater, got); diff != "" {
				t.Errorf("later lines of the job's log (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodePercentsOff: on an agent with DECODE_PERCENTS=false, which
// leaves %AZP25 as it is, values with '%' still arrive byte for byte; a
// value holding an escape the agent would decode (%0A...) fails that
// secret, saying why, and nothing of it is set.
func TestDecodePercentsOff(t *testing.T) {
	w := newWorld(t)
	want := w.Put(map[string]string{"pct": "100%", "literal": "x%AZP25y", "multi": "line one 50%\nline two"})
	w.Put(map[string]string{"decoded": "a%0Ab"})
	want["SYSTEM_UNSAFEALLOWMULTILINESECRET"] = agentrunner.Variable{}

	res := w.Run(step{Variables: map[string]agentrunner.Variable{"DECODE_PERCENTS": {Value: "false"}}})

	if res.Result != "Failed" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	errs := testworld.Issues(res, "error")
	if len(errs) != 1 {
		t.Fatalf("errors %q", errs)
	}
	harness.MustContain(t, errs[0], "Secret 'decoded': its value holds a '%' followed by 0A, 0D, 3B or 5D", "DECODE_PERCENTS is false", "not set")
	harness.MustContain(t, res.Log[len(res.Log)-1], "1 of 4 secret(s) could not be downloaded from kv-e2e")
}
