package vso_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name    string
		command string
		props   []vso.Property
		data    string
		want    string
	}{
		{"plain", "task.setvariable", []vso.Property{{"variable", "a"}, {"issecret", "true"}}, "v", "##vso[task.setvariable variable=a;issecret=true;]v"},
		{"no properties", "task.setsecret", nil, "x", "##vso[task.setsecret]x"},
		{"property escapes", "task.setvariable", []vso.Property{{"variable", "a;b]c%d\r\ne"}}, "", "##vso[task.setvariable variable=a%3Bb%5Dc%AZP25d%0D%0Ae;]"},
		{"data escapes only what ends a line or looks like an escape", "task.setsecret", nil, "a;b]c%3Bd\r\ne", "##vso[task.setsecret]a;b]c%AZP253Bd%0D%0Ae"},
		{"literal escape sequence survives", "task.setsecret", nil, "%AZP25", "##vso[task.setsecret]%AZP25AZP25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (vso.Encoding{}).Format(tt.command, tt.props, tt.data); got != tt.want {
				t.Errorf("Format = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNeutralize(t *testing.T) {
	tests := map[string]string{
		"plain":                            "plain",
		"x ##vso[task.complete]y":          "x **vso[task.complete]y",
		"##VSO[task.setvariable]":          "**vso[task.setvariable]",
		"a\n##vso[task.setvariable]b\r\nc": "a **vso[task.setvariable]b c",
		"#####vso":                         "###**vso",
		// Lower-casing "Ⱥ" adds a byte; matching on a lower-cased copy
		// missed the command, or cut s out of range.
		"ȺȺȺȺȺȺ##vso[task.setvariable variable=x]y": "ȺȺȺȺȺȺ**vso[task.setvariable variable=x]y",
		"ȺȺȺȺȺȺ##vso":   "ȺȺȺȺȺȺ**vso",
		"##v\u017fo[x]": "**vso[x]",
		"##vs":          "##vs",
		"##":            "##",
	}
	for in, want := range tests {
		if got := vso.Neutralize(in); got != want {
			t.Errorf("Neutralize(%q) = %q, want %q", in, got, want)
		}
	}
}

// roundTrip writes a setvariable command and parses it back with the
// agent's rules.
func roundTrip(t *testing.T, name, value string) (agentrunner.Command, []string) {
	return roundTripFor(t, vso.Encoding{}, name, value)
}

func roundTripFor(t *testing.T, enc vso.Encoding, name, value string) (agentrunner.Command, []string) {
	t.Helper()
	var b strings.Builder
	vso.NewWriter(&b, enc).SetVariable(name, value, true)
	out := b.String()
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("output %q is not newline-terminated", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	cmd, ok := agentrunner.ParseCommandFor(lines[0], !enc.NoPercents)
	if !ok {
		t.Fatalf("agent does not parse %q", lines[0])
	}
	return cmd, lines
}

func TestSetVariableRoundTrip(t *testing.T) {
	values := []string{
		"", "simple", "p%a;s]s", "%3B%0D%0A%5D%AZP25", "line1\nline2\r\nline3\r",
		"{\n  \"json\": [1, 2],\n  \"s\": \"a;b]\"\n}", "ünïcødé ☃ 🔑", "trailing space ", " leading",
		"value\n##vso[task.setvariable variable=PATH]x", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
		strings.Repeat("a%;]\n", 5000),
	}
	for _, v := range values {
		cmd, lines := roundTrip(t, "name-1", v)
		if len(lines) != 1 {
			t.Errorf("value %.40q produced %d lines", v, len(lines))
		}
		want := agentrunner.Command{Area: "task", Event: "setvariable", Properties: map[string]string{"variable": "name-1", "issecret": "true"}, Data: v}
		if diff := cmp.Diff(want, cmd); diff != "" {
			t.Errorf("round trip of %.40q (-want +got):\n%s", v, diff)
		}
	}
}

// FuzzRoundTrip checks the encoder against the agent's parser: any name and
// value come back byte for byte, on one line, with no extra property and no
// second command.
func FuzzRoundTrip(f *testing.F) {
	f.Add("a", "v")
	f.Add("a;b=c", "x]y")
	f.Add("]", "%AZP25%3B")
	f.Add("n", "a\r\nb##vso[task.complete result=Failed;]")
	f.Add("issecret", "%0A%0D%5D")
	f.Fuzz(func(t *testing.T, name, value string) {
		// The agent splits properties with .NET's Split('=', 2, RemoveEmptyEntries), so a
		// value cannot start with '='; variable names are Key Vault names and never do.
		if name == "" || strings.HasPrefix(name, "=") || !utf8.ValidString(name) || !utf8.ValidString(value) {
			t.Skip()
		}
		cmd, lines := roundTrip(t, name, value)
		if len(lines) != 1 {
			t.Fatalf("SetVariable(%q, %q) wrote %d lines", name, value, len(lines))
		}
		want := map[string]string{"variable": name, "issecret": "true"}
		if diff := cmp.Diff(want, cmd.Properties); diff != "" {
			t.Fatalf("properties for name %q (-want +got):\n%s", name, diff)
		}
		if cmd.Data != value {
			t.Fatalf("data = %q, want %q", cmd.Data, value)
		}
	})
}

// TestNoPercents: on an agent with DECODE_PERCENTS=false, what the
// encoding says it carries comes back byte for byte; the rest it refuses.
func TestNoPercents(t *testing.T) {
	enc := vso.Encoding{NoPercents: true}
	for _, tt := range []struct {
		value   string
		carries bool
	}{
		{"100%", true}, {"%AZP25 stays", true}, {"a;b]c\r\nd", true}, {"%%%", true}, {"%0a lower case", true},
		{"x%0Ay", false}, {"x%0D", false}, {"%3B", false}, {"a%5Db", false},
	} {
		if got := enc.Carries(tt.value); got != tt.carries {
			t.Errorf("Carries(%q) = %v, want %v", tt.value, got, tt.carries)
		}
		if !tt.carries {
			continue
		}
		cmd, _ := roundTripFor(t, enc, "name;]%", tt.value)
		if cmd.Data != tt.value || cmd.Properties["variable"] != "name;]%" {
			t.Errorf("round trip of %q: %+v", tt.value, cmd)
		}
	}
	for in, want := range map[string]bool{"": false, "true": false, "TRUE": false, "1": false, "$true": false, "false": true, "no": true, "0": true} {
		if got := vso.EncodingFor(in).NoPercents; got != want {
			t.Errorf("EncodingFor(%q).NoPercents = %v, want %v", in, got, want)
		}
	}
}

func TestClip(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"one  line", 20, "one line"},
		{" a\r\nb\tc ", 20, "a b c"},
		{"abcdefghij", 10, "abcdefghij"},
		{"abcdefghijk", 10, "abcdefg..."},
		{"ééééééé", 6, "ééé..."},
		{"nul\x00 and del\x7f", 30, `nul\x00 and del\x7f`},
		{"line\u2028sep\u0085nel", 30, "line sep nel"},
		{"csi\u009b31m and st\u009c", 30, `csi\u009b31m and st\u009c`},
		{"txt.\u202eexe.pem \u2066x\u2069 \u202ax\u202c", 60, `txt.\u202eexe.pem \u2066x\u2069 \u202ax\u202c`},
		{"the \u200fRLM mark stays", 30, "the \u200fRLM mark stays"},
	} {
		if got := vso.Clip(tt.in, tt.max); got != tt.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
