package reqpolicy

import (
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// The retry options of each kind of request. The SDK's retry policy does
// every retry: it honours Retry-After and x-ms-retry-after-ms, and without
// them backs off exponentially, with jitter, from RetryDelay.

// RunVaultRetry is for a run's Key Vault requests: 408, 429, 5xx and
// transient network errors are retried within the run's budget, which
// bounds a throttled download; the count does not.
func RunVaultRetry(budget time.Duration) policy.RetryOptions {
	return policy.RetryOptions{
		MaxRetries: 12,
		// A healthy reply takes well under a second: a reply that
		// trickles must not hang the run, and a third of a short budget
		// leaves room for retries after a try that hangs.
		TryTimeout: min(30*time.Second, budget/3),
		// A 503 or a reset connection is usually over at once. A
		// throttled vault is protected by the limiter's pace, not by long
		// waits of the requests it refused, which would only hold up the
		// run.
		RetryDelay: 100 * time.Millisecond,
		// Also the longest Retry-After the SDK honours: a longer one
		// fails the request at once. Key Vault's window is 10 s, so
		// after a burst it may name up to 10 s; 16 s is where Key
		// Vault's guidance stops doubling its waits (1, 2, 4, 8, 16 s).
		MaxRetryDelay: 16 * time.Second,
	}
}

// CheckVaultRetry is for gokeyvault check's Key Vault requests: fewer
// retries than a run's, since a person is waiting.
func CheckVaultRetry() policy.RetryOptions {
	return policy.RetryOptions{MaxRetries: 4, TryTimeout: 30 * time.Second, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 4 * time.Second}
}

// MetadataRetry is for Entra ID, Azure DevOps and Azure Stack Hub's
// metadata: few retries, a second apart, each try bounded.
func MetadataRetry() policy.RetryOptions {
	return policy.RetryOptions{MaxRetries: 3, TryTimeout: 20 * time.Second, RetryDelay: time.Second, MaxRetryDelay: 4 * time.Second}
}

// ManagedIdentityRetry is for the managed identity endpoint: a link-local
// IMDS or loopback endpoint answers in milliseconds, so each try is short;
// the count still covers IMDS's documented transient 404, 410, 429 and 5xx
// answers.
func ManagedIdentityRetry() policy.RetryOptions {
	return policy.RetryOptions{MaxRetries: 4, TryTimeout: 5 * time.Second, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 4 * time.Second}
}
