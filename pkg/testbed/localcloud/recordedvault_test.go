package localcloud_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/recorded"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// TestRecordedVaultServesTheRecordings: what the recorded vault serves is
// the recording, host rewritten: status, body bytes, the recorded headers
// with Content-Length that of the body served.
func TestRecordedVaultServesTheRecordings(t *testing.T) {
	t.Parallel()
	c := startCloud(t)
	c.AddApp(testworld.TenantID, clientA, secretA)
	rec, err := testworld.RecordedRecording()
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.AddRecordedVault("kv-rec", testworld.TenantID, rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddRecordedVault("kv-other-tenant", tenantA, rec); err == nil {
		t.Error("a recorded vault whose challenge names another tenant was added")
	}
	token := tokenFor(t, c, testworld.TenantID, clientA, secretA, "https://vault.azure.net/.default")
	cases := []struct {
		path, bearer string
		want         recorded.Exchange
	}{
		{"/secrets?api-version=2026-04-01", "", rec.Challenge},
		{"/secrets/disabled-name/?api-version=2026-04-01", "forged", rec.Challenge},
	}
	for _, x := range rec.Gets {
		name, version, _ := x.SecretPath()
		cases = append(cases, struct {
			path, bearer string
			want         recorded.Exchange
		}{"/secrets/" + strings.ToUpper(name) + "/" + version + "?api-version=2026-04-01", token, x})
	}
	for _, tc := range cases {
		got := do(t, c, http.MethodGet, "https://kv-rec.vault.azure.net"+tc.path, tc.bearer, nil)
		body := tc.want.BodyFor(v.Host())
		if got.status != tc.want.Status || !bytes.Equal(got.body, body) {
			t.Errorf("%s: %d %s\nwant %d %s", tc.path, got.status, got.body, tc.want.Status, body)
		}
		for k := range tc.want.Header {
			if k == "Content-Length" || k == "X-Ms-Client-Request-Id" {
				continue
			}
			if got.header.Get(k) != tc.want.Header.Get(k) {
				t.Errorf("%s: header %s = %q, recorded %q", tc.path, k, got.header.Get(k), tc.want.Header.Get(k))
			}
		}
		if got.header.Get("Content-Length") != fmt.Sprint(len(body)) {
			t.Errorf("%s: Content-Length %s for %d bytes", tc.path, got.header.Get("Content-Length"), len(body))
		}
		if bytes.Contains(got.body, []byte("tcac7e9c41ef52cec")) || bytes.Contains(got.body, []byte("fakevault.local")) {
			t.Errorf("%s: a recorded host was served: %s", tc.path, got.body)
		}
	}
	// A skip token the vault did not give out.
	for _, st := range []string{"%21%21", "eyJOZXh0TWFya2VyIjoieCJ9", "Sanitized"} {
		got := do(t, c, http.MethodGet, "https://kv-rec.vault.azure.net/secrets?api-version=2026-04-01&$skiptoken="+st, token, nil)
		if got.status != 400 || !bytes.Contains(got.body, []byte(`"code":"BadParameter"`)) {
			t.Errorf("skip token %s: %d %s", st, got.status, got.body)
		}
	}
	// A get no recording answers: the recorded 404, naming the secret asked for.
	got := do(t, c, http.MethodGet, "https://kv-rec.vault.azure.net/secrets/never-recorded/?api-version=2026-04-01", token, nil)
	want := strings.ReplaceAll(string(rec.NotFound.Body), "secret422508987", "never-recorded")
	if got.status != 404 || string(got.body) != want {
		t.Errorf("unrecorded get: %d %s\nwant 404 %s", got.status, got.body, want)
	}
}

// TestRecordedPagesFollowTheirNextLinks: a recorded listing is served page
// by page as recorded, host rewritten, and the nextLink each page carries
// (":443" and all) is what fetches the next.
func TestRecordedPagesFollowTheirNextLinks(t *testing.T) {
	t.Parallel()
	c := startCloud(t)
	c.AddApp(testworld.TenantID, clientA, secretA)
	rec := testworld.RecordedPagesRecording()
	v, err := c.AddRecordedVault("kv-pages", testworld.TenantID, rec)
	if err != nil {
		t.Fatal(err)
	}
	token := tokenFor(t, c, testworld.TenantID, clientA, secretA, "https://vault.azure.net/.default")
	link := "https://kv-pages.vault.azure.net/secrets?api-version=2026-04-01"
	for i, page := range rec.Pages {
		got := do(t, c, http.MethodGet, link, token, nil)
		if want := page.BodyFor(v.Host()); got.status != 200 || !bytes.Equal(got.body, want) {
			t.Fatalf("page %d from %s: %d %s\nwant %s", i, link, got.status, got.body, want)
		}
		var p struct{ NextLink *string }
		if err := json.Unmarshal(got.body, &p); err != nil {
			t.Fatal(err)
		}
		if p.NextLink == nil {
			if i != len(rec.Pages)-1 {
				t.Fatalf("page %d ends the listing, %d recorded", i, len(rec.Pages))
			}
			return
		}
		if !strings.HasPrefix(*p.NextLink, "https://kv-pages.vault.azure.net:443/secrets?api-version=7.4&$skiptoken=") {
			t.Errorf("page %d: nextLink %s", i, *p.NextLink)
		}
		link = *p.NextLink
	}
	t.Errorf("the last recorded page has a nextLink")
}
