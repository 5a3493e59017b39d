package keyvault

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// The Azure SDK backs off with one base delay for everything it retries.
// A throttled vault deserves more patience than a dropped connection or a
// 503: a 429 without a Retry-After waits 1, 2, 4, then 8 s (with jitter),
// while the SDK's own, shorter base delay serves the rest. The SDK honours
// Retry-After and x-ms-retry-after-ms, so the throttle delay is handed to it
// as x-ms-retry-after-ms on replies that carry no hint of their own.

type attemptsKey struct{}

// attempts counts one operation's hint-less 429s across its tries.
type attempts struct{ throttled atomic.Int32 }

// attemptsPolicy runs once per operation, before the retry policy.
type attemptsPolicy struct{}

func (attemptsPolicy) Do(req *policy.Request) (*http.Response, error) {
	ctx := context.WithValue(req.Raw().Context(), attemptsKey{}, &attempts{})
	return req.WithContext(ctx).Next()
}

// throttleHintPolicy runs on every try.
type throttleHintPolicy struct{}

func (throttleHintPolicy) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if err != nil || resp.StatusCode != http.StatusTooManyRequests || hasRetryHint(resp.Header) {
		return resp, err
	}
	n := int32(1)
	if a, ok := req.Raw().Context().Value(attemptsKey{}).(*attempts); ok {
		n = a.throttled.Add(1)
	}
	resp.Header.Set("x-ms-retry-after-ms", strconv.FormatInt(throttleDelay(n).Milliseconds(), 10))
	return resp, err
}

func hasRetryHint(h http.Header) bool {
	return h.Get("Retry-After") != "" || h.Get("x-ms-retry-after-ms") != "" || h.Get("retry-after-ms") != ""
}

// throttleDelay is the n-th (from 1) delay after a hint-less 429: 1, 2, 4,
// 8, 8... s, times a jitter in [0.8, 1.2) so that requests throttled
// together do not come back together.
func throttleDelay(n int32) time.Duration {
	shift := min(max(n-1, 0), 3)
	base := time.Second << shift
	return time.Duration(float64(base) * (0.8 + 0.4*rand.Float64()))
}
