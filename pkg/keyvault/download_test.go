package keyvault

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

// TestDownload: named secrets and a listing together. Select sees each
// listed secret with its tags; only what it selects is fetched (disabled
// ones skipped), the named ones whatever the listing says, even when it is
// refused.
func TestDownload(t *testing.T) {
	const page = `{"value":[` +
		`{"id":"https://kv.vault.azure.net/secrets/app-a","attributes":{"enabled":true},"tags":{"Env":"prod"}},` +
		`{"id":"https://kv.vault.azure.net/secrets/app-b","attributes":{"enabled":false}},` +
		`{"id":"https://kv.vault.azure.net/secrets/other","attributes":{"enabled":true}}` +
		`],"nextLink":null}`
	tests := []struct {
		name       string
		listStatus int
		named      []string
		wantGets   []string
		wantErr    string
		want       Report
	}{
		{"list and names", 200, []string{"named-1", "other"}, []string{"app-a", "named-1", "other"}, "",
			Report{Listed: 3, Selected: 2, Skipped: []Skip{{Name: "app-b", Reason: "disabled"}}, Downloaded: 3}},
		{"list refused: the names still", 403, []string{"named-1"}, []string{"named-1"}, "list secrets in kv.vault.azure.net",
			Report{Downloaded: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var asked []string
			f := &fakeVault{page: func(*http.Request) string { return page }, get: okGet}
			if tt.listStatus != 200 {
				f.listStatus = tt.listStatus
			}
			c := newTestClient(t, f)
			var refs []vaultref.Secret
			for _, n := range tt.named {
				refs = append(refs, vaultref.Secret{Name: n})
			}
			var got []string
			rep, err := c.Download(context.Background(), Request{Named: refs, Select: func(name string, tags map[string]string) bool {
				mu.Lock()
				asked = append(asked, fmt.Sprintf("%s %v", name, tags))
				mu.Unlock()
				return strings.HasPrefix(name, "app-")
			}}, func(v Value) {
				mu.Lock()
				got = append(got, v.Name)
				mu.Unlock()
			})
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Download error %v, want %q", err, tt.wantErr)
			}
			sort.Strings(got)
			if diff := cmp.Diff(tt.wantGets, got); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			rep.Failures, rep.Shared = nil, nil
			if diff := cmp.Diff(tt.want, rep); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			if tt.listStatus == 200 {
				want := []string{"app-a map[Env:prod]", "app-b map[]", "other map[]"}
				if diff := cmp.Diff(want, asked); diff != "" {
					t.Errorf("Select asked (-want +got):\n%s", diff)
				}
			}
		})
	}
}
