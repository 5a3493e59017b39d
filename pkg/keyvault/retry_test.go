package keyvault

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/gokeyvault/gokeyvault/pkg/transport"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

// TestThrottledGetRetries: a get refused with 429s is retried until it
// succeeds: without a hint after a delay that grows exponentially from
// RetryDelay, with one after the time the vault named.
func TestThrottledGetRetries(t *testing.T) {
	const delay = 20 * time.Millisecond
	replies := []http.Header{
		{},                               // no hint
		{},                               // no hint
		{"X-Ms-Retry-After-Ms": {"300"}}, // the vault's own hint
		nil,                              // then the value
	}
	var mu sync.Mutex
	var at []time.Time
	f := &fakeVault{get: func(r *http.Request) *http.Response {
		mu.Lock()
		defer mu.Unlock()
		at = append(at, time.Now())
		h := replies[min(len(at), len(replies))-1]
		if h == nil {
			return okGet(r)
		}
		h.Set("Content-Type", "application/json")
		return &http.Response{StatusCode: http.StatusTooManyRequests, Header: h, ContentLength: -1, Request: r,
			Body: io.NopCloser(strings.NewReader(`{"error":{"code":"Throttled","message":"Request was not processed because too many requests were received."}}`))}
	}}
	c, err := New(Options{VaultURL: "https://kv.vault.azure.net", Credential: staticToken{},
		HTTP: transport.Pipeline{Transport: f, Retry: policy.RetryOptions{MaxRetries: 5, RetryDelay: delay, MaxRetryDelay: time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []Value
	rep, err := c.Named(context.Background(), []vaultref.Secret{{Name: "s"}}, func(v Value) { got = append(got, v) })
	if err != nil || len(rep.Failures) != 0 {
		t.Fatalf("err %v, failures %+v", err, rep.Failures)
	}
	if len(got) != 1 || got[0].Value != "v-s" {
		t.Fatalf("values %+v, want v-s once", got)
	}
	if len(at) != 4 {
		t.Fatalf("%d tries, want 4", len(at))
	}
	// The SDK waits (2^n - 1) x RetryDelay, jittered by 0.8 to 1.3, before
	// try n+1; lower bounds only, since a loaded machine may be late.
	for i, min := range []time.Duration{delay * 8 / 10, 3 * delay * 8 / 10, 300 * time.Millisecond} {
		if gap := at[i+1].Sub(at[i]); gap < min {
			t.Errorf("try %d came %v after try %d, want at least %v", i+2, gap, i+1, min)
		}
	}
}
