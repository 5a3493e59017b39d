package publish

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

func TestPublish(t *testing.T) {
	tests := []struct {
		name      string
		multiline string // the job's flag before the run
		value     string
		want      []string
	}{
		{
			name:  "single line",
			value: "p%a;s]s",
			want:  []string{"##vso[task.setvariable variable=n;issecret=true;]p%AZP25a;s]s"},
		},
		{
			name:  "multi-line, flag unset: lines first, flag raised and restored",
			value: "line one\r\n\nline two\n",
			want: []string{
				"##vso[task.setsecret]line one",
				"##vso[task.setsecret]line two",
				"##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET;]true",
				"##vso[task.setvariable variable=n;issecret=true;]line one%0D%0A%0Aline two%0A",
				"##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET;]",
			},
		},
		{
			name:      "multi-line, flag false: restored to false",
			multiline: "False",
			value:     "a\rb",
			want: []string{
				"##vso[task.setsecret]a",
				"##vso[task.setsecret]b",
				"##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET;]true",
				"##vso[task.setvariable variable=n;issecret=true;]a%0Db",
				"##vso[task.setvariable variable=SYSTEM_UNSAFEALLOWMULTILINESECRET;]False",
			},
		},
		{
			name:      "multi-line, flag already on: left alone",
			multiline: "$TRUE",
			value:     "a\nb",
			want: []string{
				"##vso[task.setsecret]a",
				"##vso[task.setsecret]b",
				"##vso[task.setvariable variable=n;issecret=true;]a%0Ab",
			},
		},
		{
			name:  "empty",
			value: "",
			want:  []string{"##vso[task.setvariable variable=n;issecret=true;]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			New(vso.NewWriter(&b), tt.multiline).Publish("n", tt.value)
			got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Publish mismatch (-want +got):\n%s", diff)
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
