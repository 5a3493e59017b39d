package agentrunner

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Command
		ok   bool
	}{
		{
			name: "plain",
			line: "##vso[task.setvariable variable=a;issecret=true;]value",
			want: Command{Area: "task", Event: "setvariable", Properties: map[string]string{"variable": "a", "issecret": "true"}, Data: "value"},
			ok:   true,
		},
		{
			name: "anywhere in the line, text before dropped",
			line: "prefix text ##vso[task.debug]hello",
			want: Command{Area: "task", Event: "debug", Properties: map[string]string{}, Data: "hello"},
			ok:   true,
		},
		{
			name: "area and event keep their case",
			line: "##vso[Task.SetVariable Variable=x]v",
			want: Command{Area: "Task", Event: "SetVariable", Properties: map[string]string{"variable": "x"}, Data: "v"},
			ok:   true,
		},
		{
			name: "header ends at the first ]",
			line: "##vso[task.setvariable variable=a]b]c",
			want: Command{Area: "task", Event: "setvariable", Properties: map[string]string{"variable": "a"}, Data: "b]c"},
			ok:   true,
		},
		{
			name: "keys are not trimmed",
			line: "##vso[task.setvariable variable=a; issecret=true]v",
			want: Command{Area: "task", Event: "setvariable", Properties: map[string]string{"variable": "a", " issecret": "true"}, Data: "v"},
			ok:   true,
		},
		{
			name: "empty values and empty keys dropped",
			line: "##vso[task.setvariable variable=;=x;a;issecret=true;;]v",
			want: Command{Area: "task", Event: "setvariable", Properties: map[string]string{"issecret": "true"}, Data: "v"},
			ok:   true,
		},
		{
			name: "value split on the first =, following = separators skipped as .NET does",
			line: "##vso[task.x a=b=c;d==e;=f=g]",
			want: Command{Area: "task", Event: "x", Properties: map[string]string{"a": "b=c", "d": "e", "f": "g"}},
			ok:   true,
		},
		{
			name: "repeated key: last wins, case-insensitive",
			line: "##vso[task.complete result=Failed;RESULT=Succeeded]",
			want: Command{Area: "task", Event: "complete", Properties: map[string]string{"result": "Succeeded"}},
			ok:   true,
		},
		{
			name: "property values and data unescaped",
			line: "##vso[task.setvariable variable=a%3Bb%5D%0D%0A%AZP25]x%3By%0Az%5D%AZP253B",
			want: Command{Area: "task", Event: "setvariable", Properties: map[string]string{"variable": "a;b]\r\n%"}, Data: "x;y\nz]%3B"},
			ok:   true,
		},
		{
			name: "second space belongs to the properties",
			line: "##vso[task.setvariable  variable=a]v",
			want: Command{Area: "task", Event: "setvariable", Properties: map[string]string{" variable": "a"}, Data: "v"},
			ok:   true,
		},
		{
			name: "empty dot segments removed",
			line: "##vso[.task..debug.]x",
			want: Command{Area: "task", Event: "debug", Properties: map[string]string{}, Data: "x"},
			ok:   true,
		},
		{name: "three parts", line: "##vso[a.b.c]x"},
		{name: "one part", line: "##vso[task]x"},
		{name: "no closing bracket", line: "##vso[task.debug x"},
		{name: "prefix is case-sensitive", line: "##VSO[task.debug]x"},
		{name: "space first", line: "##vso[ task.debug]x"},
		{name: "no prefix", line: "hello ##[error]x"},
		{name: "empty", line: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseCommand(tt.line)
			if ok != tt.ok {
				t.Fatalf("ParseCommand(%q) ok = %v, want %v", tt.line, ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseCommand(%q) mismatch (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"%3B%0D%0A%5D", ";\r\n]"},
		{"%AZP25", "%"},
		// %AZP25 goes last, so an escaped "%" followed by "3B" stays "%3B".
		{"%AZP253B", "%3B"},
		{"%AZP250A", "%0A"},
		// Case matters, as with the agent's ordinal Replace.
		{"%3b%0a%azp25", "%3b%0a%azp25"},
		{"100%", "100%"},
	}
	for _, tt := range tests {
		if got := Unescape(tt.in); got != tt.want {
			t.Errorf("Unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzEscapeRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a;b", "%3B", "%AZP25", "line1\r\nline2", "]]", "%%0A%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := Unescape(escapeFor(s, true)); got != s {
			t.Fatalf("Unescape(escape(%q)) = %q", s, got)
		}
		line := "##vso[task.setvariable variable=" + escapeFor(s, true) + ";]" + escapeFor(s, true)
		cmd, ok := ParseCommand(line)
		if !ok {
			t.Fatalf("ParseCommand(%q) failed", line)
		}
		if cmd.Data != s {
			t.Fatalf("data = %q, want %q", cmd.Data, s)
		}
	})
}
