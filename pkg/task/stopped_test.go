package task

import (
	"context"
	"testing"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/vso"
	"github.com/google/go-cmp/cmp"
)

// TestStopped: a run ended in its place ends as it would have itself:
// canceled, a log line and no result (the agent records the
// cancellation), with the conversions it did not wait for; out of its
// budget, failed with the budget's message and what was under way.
func TestStopped(t *testing.T) {
	req := Request{Vault: "kv", Budget: 2 * time.Second}
	progress := func(set int, busy ...string) *Progress {
		p := &Progress{}
		for range set {
			p.counted()
		}
		p.busy("written")(true)
		p.busy("refused")(false)
		for _, b := range busy {
			p.busy(b)
		}
		return p
	}
	tests := []struct {
		name string
		err  error
		p    *Progress
		want rendered
	}{
		{"canceled", context.Canceled, progress(2), rendered{Log: []Line{{Plain, "Canceled after 2 secret(s) were set and 1 file(s) written"}}, Exit: ExitCanceled}},
		{"canceled converting", context.Canceled, progress(0, "b-cert", "a-cert"), rendered{Log: []Line{
			{Plain, "Canceled after 0 secret(s) were set and 1 file(s) written"},
			{Plain, "Stopped converting SecretsToFiles entries a-cert, b-cert"},
		}, Exit: ExitCanceled}},
		{"out of time converting", context.DeadlineExceeded, progress(1, "a-cert"), failedWith("The time budget of 2s ran out before vault kv was fully downloaded: 1 secret(s) set and 1 file(s) written; SecretsToFiles entries a-cert were still being converted and were stopped. A certificate Key Vault made converts in milliseconds: check how these were made, or raise the budget with the pipeline variable GoKeyVault.Timeout (seconds)")},
		{"out of time", context.DeadlineExceeded, &Progress{}, failedWith("The time budget of 2s ran out before vault kv was fully downloaded: 0 secret(s) set; GoKeyVault stopped without waiting for what was still under way. Check the debug log for throttling (429) or slow replies, or raise the budget with the pipeline variable GoKeyVault.Timeout (seconds)")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, render(Stopped(req, tt.err, tt.p))); diff != "" {
				t.Errorf("Stopped (-want +got):\n%s", diff)
			}
		})
	}
}

// rendered is an outcome as the agent sees it: its log, then its result.
type rendered struct {
	Log     []Line
	Result  vso.Result
	Message string
	Exit    int
}

func render(o Outcome) rendered {
	return rendered{Log: o.Log(), Result: o.Result, Message: o.Message, Exit: o.Exit}
}

// failedWith is how a run that stopped on msg alone renders.
func failedWith(msg string) rendered {
	return rendered{Log: []Line{{Error, msg}}, Result: vso.Failed, Message: msg}
}
