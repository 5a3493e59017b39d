package reqpolicy

import (
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
)

// TestRetryOptions pins each kind of request's retries: the run's
// benchmarks and the tests of throttling were measured with these.
func TestRetryOptions(t *testing.T) {
	tests := []struct {
		name string
		got  policy.RetryOptions
		want policy.RetryOptions
	}{
		{"run", RunVaultRetry(5 * time.Minute), policy.RetryOptions{MaxRetries: 12, TryTimeout: 30 * time.Second, RetryDelay: 100 * time.Millisecond, MaxRetryDelay: 16 * time.Second}},
		{"run, short budget", RunVaultRetry(30 * time.Second), policy.RetryOptions{MaxRetries: 12, TryTimeout: 10 * time.Second, RetryDelay: 100 * time.Millisecond, MaxRetryDelay: 16 * time.Second}},
		{"check", CheckVaultRetry(), policy.RetryOptions{MaxRetries: 4, TryTimeout: 30 * time.Second, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 4 * time.Second}},
		{"metadata", MetadataRetry(), policy.RetryOptions{MaxRetries: 3, TryTimeout: 20 * time.Second, RetryDelay: time.Second, MaxRetryDelay: 4 * time.Second}},
		{"managed identity", ManagedIdentityRetry(), policy.RetryOptions{MaxRetries: 4, TryTimeout: 5 * time.Second, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 4 * time.Second}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	if got := []int{ConnsPerHost(RunGetsInFlight), ConnsPerHost(CheckGetsInFlight), Workers(RunGetsInFlight)}; !cmp.Equal(got, []int{36, 20, 128}) {
		t.Errorf("connections per host (run, check), workers = %v, want [36 20 128]", got)
	}
}
