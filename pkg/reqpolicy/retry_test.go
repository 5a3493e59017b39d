package reqpolicy

import (
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
)

// TestRetryOptions pins each kind of request's retries and bounds: the
// benchmarks and the tests of throttling were measured with these.
func TestRetryOptions(t *testing.T) {
	got := map[string]policy.RetryOptions{
		"run":               RunVaultRetry(5 * time.Minute),
		"run, short budget": RunVaultRetry(30 * time.Second),
		"check":             CheckVaultRetry(),
		"metadata":          MetadataRetry(),
		"managed identity":  ManagedIdentityRetry(),
	}
	want := map[string]policy.RetryOptions{
		"run":               {MaxRetries: 12, TryTimeout: 30 * time.Second, RetryDelay: 100 * time.Millisecond, MaxRetryDelay: 16 * time.Second},
		"run, short budget": {MaxRetries: 12, TryTimeout: 10 * time.Second, RetryDelay: 100 * time.Millisecond, MaxRetryDelay: 16 * time.Second},
		"check":             {MaxRetries: 4, TryTimeout: 30 * time.Second, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 4 * time.Second},
		"metadata":          {MaxRetries: 3, TryTimeout: 20 * time.Second, RetryDelay: time.Second, MaxRetryDelay: 4 * time.Second},
		"managed identity":  {MaxRetries: 4, TryTimeout: 5 * time.Second, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 4 * time.Second},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("retry options (-want +got):\n%s", diff)
	}
	if got := []int{ConnsPerHost(RunGetsInFlight), ConnsPerHost(CheckGetsInFlight), Workers(RunGetsInFlight)}; !cmp.Equal(got, []int{36, 20, 128}) {
		t.Errorf("connections per host (run, check), workers = %v, want [36 20 128]", got)
	}
}
