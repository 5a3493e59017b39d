package reqpolicy

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// The SDK's retry policy handles every retry, 429s included: a Retry-After
// or x-ms-retry-after-ms is honoured, and without one the delay grows
// exponentially with jitter from the client's RetryDelay. A 429 needs no
// longer wait of its own: the limiter paces every request once the vault has
// pushed back, so a retry cannot add to the load.

type attemptsKey struct{}

// attempts counts one operation's tries.
type attempts struct{ tries atomic.Int32 }

// retrying reports whether req is a retry of its operation, counting this
// try.
func retrying(req *policy.Request) bool {
	a, ok := req.Raw().Context().Value(attemptsKey{}).(*attempts)
	return ok && a.tries.Add(1) > 1
}

// attemptsPolicy runs once per operation, before the retry policy.
type attemptsPolicy struct{}

func (attemptsPolicy) Do(req *policy.Request) (*http.Response, error) {
	ctx := context.WithValue(req.Raw().Context(), attemptsKey{}, &attempts{})
	return req.WithContext(ctx).Next()
}
