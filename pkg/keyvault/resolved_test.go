package keyvault

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

// TestResolvedVersion: a value says which version the vault answered
// with, from the reply's id, whatever was asked; an id without a valid
// version gives none.
func TestResolvedVersion(t *testing.T) {
	const v1 = "0123456789abcdef0123456789abcdef"
	ids := map[string]string{
		"latest": "https://kv.vault.azure.net/secrets/latest/" + strings.ToUpper(v1),
		"pinned": "https://kv.vault.azure.net/secrets/pinned/" + v1,
		"no-id":  "",
		"bad-id": "https://kv.vault.azure.net/secrets/bad-id/xyz",
	}
	f := &fakeVault{get: func(r *http.Request) *http.Response {
		name := strings.Split(strings.Trim(r.URL.Path, "/"), "/")[1]
		body := fmt.Sprintf(`{"value":"v","id":%q,"contentType":"text/plain"}`, ids[name])
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, ContentLength: -1, Request: r, Body: io.NopCloser(strings.NewReader(body))}
	}}
	c := newTestClient(t, f)
	var mu sync.Mutex
	got := map[string]Value{}
	refs := []vaultref.Secret{{Name: "latest"}, {Name: "pinned", Version: v1}, {Name: "no-id"}, {Name: "bad-id"}}
	if _, err := c.Named(context.Background(), refs, func(v Value) {
		mu.Lock()
		defer mu.Unlock()
		got[v.Name] = v
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]Value{
		"latest": {Name: "latest", Resolved: v1, Value: "v", ContentType: "text/plain"},
		"pinned": {Name: "pinned", Version: v1, Resolved: v1, Value: "v", ContentType: "text/plain"},
		"no-id":  {Name: "no-id", Value: "v", ContentType: "text/plain"},
		"bad-id": {Name: "bad-id", Value: "v", ContentType: "text/plain"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
}
