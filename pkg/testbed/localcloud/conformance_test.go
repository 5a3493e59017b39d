package localcloud_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/recorded"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// The synthetic vault answers as Key Vault did in the recordings: for each
// kind of answer, the same status, the same JSON fields of the same types
// (present only when the recording has them), the same error codes, the
// same headers a client sees. Values, ids, dates and request ids differ.

// shape is a JSON value with its leaves replaced by their types.
func shape(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %v: %.200s", err, b)
	}
	return shapeOf(v)
}

func shapeOf(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = shapeOf(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = shapeOf(e)
		}
		return out
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

// keyOrder lists an object's keys in the order written, and for each
// object value its own, as key/subkey: Key Vault writes its fields in one
// order, and a faithful fake does too.
func keyOrder(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	var walk func(prefix string, raw []byte)
	walk = func(prefix string, raw []byte) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, prefix+k.(string))
			walk(prefix+k.(string)+"/", v)
		}
	}
	walk("", b)
	return out
}

// seenHeaders are the response headers every recorded Key Vault answer
// carries (the RBAC ones only come from RBAC vaults).
var seenHeaders = []string{"Cache-Control", "Content-Length", "Content-Type", "Date", "Expires", "Pragma",
	"Strict-Transport-Security", "X-Content-Type-Options", "X-Ms-Keyvault-Network-Info", "X-Ms-Keyvault-Region",
	"X-Ms-Keyvault-Service-Version", "X-Ms-Request-Id"}

// headerView is what the comparison keeps of a response's headers: which
// of seenHeaders it has, and the values that must be equal.
type headerView struct {
	Present      []string
	ContentType  string
	CacheControl string
	Pragma       string
	Expires      string
	Challenge    string
}

func viewOf(h http.Header) headerView {
	var v headerView
	for _, k := range seenHeaders {
		if h.Get(k) != "" {
			v.Present = append(v.Present, k)
		}
	}
	v.ContentType, v.CacheControl, v.Pragma, v.Expires = h.Get("Content-Type"), h.Get("Cache-Control"), h.Get("Pragma"), h.Get("Expires")
	v.Challenge = h.Get("WWW-Authenticate")
	return v
}

type conformance struct {
	c     *localcloud.Cloud
	v     *localcloud.Vault
	token string
}

func newConformance(t *testing.T) conformance {
	t.Helper()
	c := startCloud(t)
	c.AddApp(testworld.TenantID, clientA, secretA)
	v := c.AddVault("kv-synth", testworld.TenantID)
	return conformance{c, v, tokenFor(t, c, testworld.TenantID, clientA, secretA, "https://vault.azure.net/.default")}
}

// compare checks the synthetic answer to path against the recorded one.
func (f conformance) compare(t *testing.T, what, path, bearer string, want recorded.Exchange) response {
	t.Helper()
	got := do(t, f.c, http.MethodGet, "https://kv-synth.vault.azure.net"+path, bearer, nil)
	if got.status != want.Status {
		t.Errorf("%s: status %d, recorded %d", what, got.status, want.Status)
	}
	if diff := cmp.Diff(shape(t, want.Body), shape(t, got.body)); diff != "" {
		t.Errorf("%s: JSON fields (-recorded +synthetic):\n%s\nrecorded:  %s\nsynthetic: %s", what, diff, want.Body, got.body)
	}
	if diff := cmp.Diff(keyOrder(t, want.Body), keyOrder(t, got.body)); diff != "" {
		t.Errorf("%s: field order (-recorded +synthetic):\n%s", what, diff)
	}
	wantHeaders := viewOf(want.Header)
	if wantHeaders.Challenge != "" {
		wantHeaders.Challenge = strings.ReplaceAll(wantHeaders.Challenge, "\\u0022", `"`)
	}
	if diff := cmp.Diff(wantHeaders, viewOf(got.header)); diff != "" {
		t.Errorf("%s: headers (-recorded +synthetic):\n%s", what, diff)
	}
	return got
}

// errorCodes is an error body's code and inner code.
func errorCodes(t *testing.T, b []byte) [2]string {
	t.Helper()
	var e struct {
		Error struct {
			Code       string
			InnerError struct{ Code string } `json:"innererror"`
		}
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return [2]string{e.Error.Code, e.Error.InnerError.Code}
}

func TestSyntheticVaultAnswersAsRecorded(t *testing.T) {
	t.Parallel()
	f := newConformance(t)
	now := time.Now()
	for _, s := range []localcloud.Secret{
		{Name: "plain", Value: "v"},
		{Name: "typed", Value: "v", ContentType: "text/plain"},
		{Name: "tagged-later", Value: "v", ContentType: "big secret", Tags: map[string]string{"tag": "value"}, NotBefore: now.AddDate(3, 0, 0)},
		{Name: "expired", Value: "v", NotBefore: now.AddDate(-1, 0, 0), Expires: now.AddDate(0, -1, 0)},
		{Name: "off", Value: "v", Disabled: true},
		{Name: "cert", Value: "MIIC", ContentType: recorded.PFX, Managed: true, NotBefore: now.AddDate(-1, 0, 0), Expires: now.AddDate(1, 0, 0)},
	} {
		f.v.Put(s)
	}
	const api = "?api-version=2026-04-01"
	f.compare(t, "challenge", "/secrets"+api, "", recorded.MustEntry(recorded.Challenge2026, 0))
	f.compare(t, "plain secret", "/secrets/plain/"+api, f.token, recorded.MustEntry(recorded.SecretPlain, recorded.SecretPlainEntry))
	f.compare(t, "content-typed secret", "/secrets/typed/"+api, f.token, recorded.MustSecretGet(recorded.SecretContentType))
	f.compare(t, "tagged, not yet valid", "/secrets/tagged-later/"+api, f.token, recorded.MustEntry(recorded.SecretTaggedNotYetValid, recorded.SecretTaggedNotYetValidEntry))
	f.compare(t, "expired", "/secrets/expired/"+api, f.token, recorded.MustSecretGet(recorded.SecretExpired))
	f.compare(t, "certificate's secret", "/secrets/cert/"+api, f.token, recorded.MustSecretGet("cert-rsa-pkcs12.json"))
	for _, tc := range []struct {
		what, path string
		want       recorded.Exchange
	}{
		{"challenge", "/secrets" + api, recorded.MustEntry(recorded.Challenge2026, 0)},
		{"disabled", "/secrets/off/" + api, recorded.MustEntry(recorded.SecretDisabled, 0)},
		{"missing", "/secrets/nope/" + api, recorded.MustEntry(recorded.SecretMissing, recorded.SecretMissingEntry)},
	} {
		bearer := f.token
		if tc.what == "challenge" {
			bearer = ""
		}
		got := f.compare(t, tc.what, tc.path, bearer, tc.want)
		if diff := cmp.Diff(errorCodes(t, tc.want.Body), errorCodes(t, got.body)); diff != "" {
			t.Errorf("%s: error codes (-recorded +synthetic):\n%s", tc.what, diff)
		}
	}
}

// TestSyntheticListAsRecorded: list items carry contentType, tags, nbf,
// exp and managed only when set, as the recorded items do; the nextLink is
// Key Vault's: the vault's host with ":443", /secrets, the api-version
// asked for, a $skiptoken, and maxresults only when the request had it;
// the last page says "nextLink": null.
func TestSyntheticListAsRecorded(t *testing.T) {
	t.Parallel()
	f := newConformance(t)
	now := time.Now()
	for _, s := range []localcloud.Secret{
		{Name: "a-plain", Value: "v"},
		{Name: "b-off-typed", Value: "v", ContentType: "application/json", Disabled: true},
		{Name: "c-cert-off", Value: "MIIC", ContentType: recorded.PFX, Managed: true, Disabled: true, NotBefore: now.AddDate(-1, 0, 0), Expires: now.AddDate(1, 0, 0)},
	} {
		f.v.Put(s)
	}
	items := func(x recorded.Exchange) [][]byte {
		it, err := x.ListItems()
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
	var wantItems, wantOrder []any
	for _, it := range [][]byte{
		items(recorded.MustEntry(recorded.ListPaged, recorded.ListPagedFirst))[0],
		items(recorded.MustEntry(recorded.ListDisabled2026, 0))[0],
		items(recorded.MustEntry(recorded.ListManagedDisabled, 0))[0],
	} {
		wantItems = append(wantItems, shape(t, it))
		wantOrder = append(wantOrder, keyOrder(t, it))
	}
	f.v.SetFaults(localcloud.Faults{PageSize: 2})
	for _, tc := range []struct {
		name, query string
		recorded    recorded.Exchange // a recorded page asked the same way
	}{
		{"without maxresults", "?api-version=2026-04-01", recorded.MustEntry(recorded.ListDisabled2026, 0)},
		{"maxresults=2", "?api-version=2026-04-01&maxresults=2", recorded.MustEntry(recorded.ListPaged, recorded.ListPagedFirst)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := do(t, f.c, http.MethodGet, "https://kv-synth.vault.azure.net/secrets"+tc.query, f.token, nil)
			var page struct {
				Value    []json.RawMessage
				NextLink *string
			}
			if err := json.Unmarshal(first.body, &page); err != nil || page.NextLink == nil {
				t.Fatalf("first page %d %s (%v)", first.status, first.body, err)
			}
			var rec struct{ NextLink string }
			_ = json.Unmarshal(tc.recorded.Body, &rec)
			if diff := cmp.Diff(nextLinkShape(t, rec.NextLink, tc.recorded.URL), nextLinkShape(t, *page.NextLink, mustURL(t, "https://kv-synth.vault.azure.net/secrets"+tc.query))); diff != "" {
				t.Errorf("nextLink (-recorded +synthetic):\n%s\nrecorded:  %s\nsynthetic: %s", diff, rec.NextLink, *page.NextLink)
			}
			if diff := cmp.Diff(viewOf(tc.recorded.Header), viewOf(first.header)); diff != "" {
				t.Errorf("headers (-recorded +synthetic):\n%s", diff)
			}
			last := do(t, f.c, http.MethodGet, *page.NextLink, f.token, nil)
			var lastPage map[string]json.RawMessage
			if err := json.Unmarshal(last.body, &lastPage); err != nil {
				t.Fatal(err)
			}
			if string(lastPage["nextLink"]) != "null" {
				t.Errorf(`last page: nextLink %s, want null as Key Vault writes it`, lastPage["nextLink"])
			}
			var got, gotOrder []any
			for _, it := range append(page.Value, mustItems(t, last.body)...) {
				got = append(got, shape(t, it))
				gotOrder = append(gotOrder, keyOrder(t, it))
			}
			if diff := cmp.Diff(wantItems, got); diff != "" {
				t.Errorf("list items (-recorded +synthetic):\n%s", diff)
			}
			if diff := cmp.Diff(wantOrder, gotOrder); diff != "" {
				t.Errorf("list items' field order (-recorded +synthetic):\n%s", diff)
			}
		})
	}
}

func mustItems(t *testing.T, b []byte) []json.RawMessage {
	t.Helper()
	var p struct{ Value []json.RawMessage }
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p.Value
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// nextLinkShape is what must hold of a nextLink, given the request it
// answered: the same host, port 443, path, parameter names, and the
// request's api-version and maxresults echoed.
func nextLinkShape(t *testing.T, link string, req *url.URL) string {
	t.Helper()
	u := mustURL(t, link)
	q := u.Query()
	var names []string
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	return fmt.Sprintf("scheme %s, same host %v, port %q, path %s, parameters %v, api-version echoed %v, maxresults echoed %v, $ literal %v",
		u.Scheme, u.Hostname() == req.Hostname(), u.Port(), u.Path, names,
		q.Get("api-version") == req.Query().Get("api-version"), q.Get("maxresults") == req.Query().Get("maxresults"),
		strings.Contains(link, "&$skiptoken="))
}
