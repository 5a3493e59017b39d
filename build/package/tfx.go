package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// runTfx packs the staged folder dir into the .vsix out with tfx-cli and
// returns tfx's output. A warning is a failure: tfx warns about what the
// Marketplace or the server then rejects or shows wrongly (a task without a
// current Node runner, a file without a content type, an ignored link).
func runTfx(ctx context.Context, tfx, dir, out string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tfx, "extension", "create",
		"--root", dir,
		"--manifest-globs", manifestFile,
		"--output-path", out,
		"--no-prompt", "--no-color")
	cmd.Dir = dir
	cmd.Env = tfxEnv(os.Environ())
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	output := buf.String()
	if err != nil {
		return output, fmt.Errorf("tfx extension create: %w\n%s", err, output)
	}
	if bad := tfxComplaints(output); len(bad) > 0 {
		return output, fmt.Errorf("tfx extension create warned; fix the cause, a warning is a failure:\n%s", strings.Join(bad, "\n"))
	}
	return output, nil
}

// tfxEnv drops tfx's tracing switches, whose debug lines would be mixed into
// its report, and turns off Node's deprecation warnings: those are about
// tfx's own dependencies on a newer Node, not about the package.
func tfxEnv(env []string) []string {
	var out []string
	nodeOptions := "--no-deprecation"
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(strings.ToUpper(k), "TFX_TRACE"):
			continue
		case k == "NODE_OPTIONS":
			nodeOptions = strings.TrimSpace(v + " " + nodeOptions)
			continue
		}
		out = append(out, kv)
	}
	return append(out, "NODE_OPTIONS="+nodeOptions)
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// tfxComplaints returns the lines of tfx's output that are warnings or errors.
func tfxComplaints(output string) []string {
	var bad []string
	for _, line := range strings.Split(ansiRE.ReplaceAllString(output, ""), "\n") {
		l := strings.ToLower(strings.TrimSpace(line))
		// tfx starts its warnings with "warning: " and its errors with
		// "error: "; Node writes "...Warning: ..." for its own.
		if strings.HasPrefix(l, "warning") || strings.HasPrefix(l, "error") || strings.Contains(l, "warning:") {
			bad = append(bad, strings.TrimSpace(line))
		}
	}
	return bad
}
