package transport

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Pipeline is what every Azure SDK client of the task shares: one
// transport, a retry policy, the policies that see every try (the debug
// log). Its ClientOptions is the one place azcore client options are
// built.
type Pipeline struct {
	Transport policy.Transporter
	Retry     policy.RetryOptions
	// PerTry policies run on every try of every request, e.g. DebugPolicy.
	PerTry []policy.Policy
}

// ClientOptions returns azcore client options for the pipeline, telling
// Azure who is calling.
func (p Pipeline) ClientOptions() policy.ClientOptions {
	return policy.ClientOptions{
		Transport:        p.Transport,
		Retry:            p.Retry,
		PerRetryPolicies: append([]policy.Policy(nil), p.PerTry...),
		Telemetry:        policy.TelemetryOptions{ApplicationID: "GoKeyVault"},
	}
}
