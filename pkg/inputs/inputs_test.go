package inputs

import (
	"testing"
)

func TestBool(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "True": true, " TRUE ": true, "false": false, "": false, "1": false, "yes": false} {
		if got := Bool(in); got != want {
			t.Errorf("Bool(%q) = %v, want %v", in, got, want)
		}
	}
}
