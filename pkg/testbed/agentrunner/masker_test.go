package agentrunner

import "testing"

func TestMasker(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{name: "nothing registered", in: "abc", want: "abc"},
		{name: "every occurrence", secrets: []string{"pw"}, in: "pw and pw", want: "*** and ***"},
		{name: "overlapping occurrences of one value", secrets: []string{"aa"}, in: "xaaay", want: "x***y"},
		{name: "overlapping values leave no fragment", secrets: []string{"abc", "cde"}, in: "abcde!", want: "***!"},
		{name: "adjacent values merge", secrets: []string{"ab", "cd"}, in: "abcd", want: "***"},
		{name: "contained value", secrets: []string{"secret", "cre"}, in: "a secret", want: "a ***"},
		{name: "empty value ignored", secrets: []string{""}, in: "abc", want: "abc"},
		{name: "multi-line value does not match one of its lines", secrets: []string{"l1\nl2"}, in: "l1", want: "l1"},
		{name: "multi-line value matches a message holding it whole", secrets: []string{"l1\nl2"}, in: "x l1\nl2 y", want: "x *** y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMasker()
			for _, s := range tt.secrets {
				m.add(s)
			}
			if got := m.mask(tt.in); got != tt.want {
				t.Errorf("mask(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
