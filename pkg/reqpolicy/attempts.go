package reqpolicy

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

type attemptsKey struct{}

// attempts counts one operation's tries, so that the limiter can let a
// retry go ahead of first tries.
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
