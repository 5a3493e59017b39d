// Package inputs holds the task library's convention for boolean inputs.
package inputs

import (
	"strings"
)

// Bool parses a boolean input the way the agent's task library does: only
// "true", in any case, is true.
func Bool(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "true") }
