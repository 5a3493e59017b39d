package transport

import (
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// DebugPolicy logs each try's method, host, path, status, time and request
// id. It never logs headers, bodies or query strings: they carry tokens,
// client secrets and secret values.
func DebugPolicy(logf func(string)) policy.Policy { return debugPolicy{logf} }

type debugPolicy struct{ logf func(string) }

func (p debugPolicy) Do(req *policy.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := req.Next()
	u := req.Raw().URL
	target := fmt.Sprintf("%s %s://%s%s", req.Raw().Method, u.Scheme, u.Host, u.Path)
	ms := time.Since(start).Milliseconds()
	if err != nil {
		p.logf(fmt.Sprintf("%s -> error after %d ms: %T", target, ms, err))
		return resp, err
	}
	id := resp.Header.Get("x-ms-request-id")
	p.logf(fmt.Sprintf("%s -> %d in %d ms (x-ms-request-id %s)", target, resp.StatusCode, ms, id))
	return resp, err
}
