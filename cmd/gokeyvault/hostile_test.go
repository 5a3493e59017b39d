package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/harness"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// A hostile cloud: the vault, or whatever answers in its name, tries to
// send the token elsewhere, keep the lister paging, flood memory, hang the
// run, smuggle names that are not names, or present a certificate it should
// not. Each test turns on one of localcloud's Hostile switches and checks
// what the task does about it, and that the token never left the vault.

func twoSecrets(w *world) map[string]agentrunner.Variable {
	return w.Put(map[string]string{"a": "value-of-a", "b": "value-of-b"})
}

// TestHostileReplySize: a reply larger than Key Vault ever sends is refused
// without being read, and memory stays flat.
func TestHostileReplySize(t *testing.T) {
	const huge = 256 << 20
	tests := []struct {
		name    string
		hostile localcloud.Hostile
		filter  string
		want    []string
	}{
		{"value, chunked", localcloud.Hostile{HugeValue: huge}, "big",
			[]string{"Secret 'big': the vault's reply is larger than 256 KiB, more than Key Vault ever sends; refused"}},
		{"value, declared length", localcloud.Hostile{HugeValue: huge, DeclareLength: true}, "big",
			[]string{"Secret 'big': the vault's reply is larger than 256 KiB, more than Key Vault ever sends; refused"}},
		{"list page, chunked", localcloud.Hostile{HugeListPage: huge}, "*",
			[]string{"Could not list the secrets of vault kv-e2e: the vault's reply is larger than 4096 KiB"}},
		{"list page, declared length", localcloud.Hostile{HugeListPage: huge, DeclareLength: true}, "*",
			[]string{"Could not list the secrets of vault kv-e2e: the vault's reply is larger than 4096 KiB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.Vault.Put(localcloud.Secret{Name: "big", Value: "the-real-value"})
			w.Vault.SetHostile(tt.hostile)

			res := w.Run(step{Filter: tt.filter})

			harness.FailedWith(t, res, tt.want...)
			if len(res.Variables) != 0 {
				t.Errorf("variables set: %v", res.Variables)
			}
			// Refused at once, not retried.
			tries := 0
			for _, r := range w.Vault.Requests() {
				if r.Status == 200 {
					tries++
				}
			}
			if tries != 1 {
				t.Errorf("%d huge replies served, want 1", tries)
			}
			// What the server got onto the wire: what the task read (at
			// most the cap and a byte), plus what the kernel buffers of
			// the two hops through the proxy hold, which grow to several
			// MiB on loopback. Reading the reply whole would be all of it.
			if n := w.Vault.HostileBytes(); n > huge/4 {
				t.Errorf("the server wrote %d MiB of %d before the task hung up", n>>20, huge>>20)
			}
			if rss := harness.PeakRSS(t, res); rss > 40 {
				t.Errorf("peak RSS %.1f MiB", rss)
			}
			t.Logf("server wrote %d KiB; peak RSS %.1f MiB", w.Vault.HostileBytes()>>10, harness.PeakRSS(t, res))
			harness.CheckTokenStaysHome(t, w.Cloud, w.Vault)
		})
	}
}

// TestGoDebugSilenced: GODEBUG=http2debug=2, as a pipeline variable or in
// the agent's own environment, would make Go's HTTP/2 client log every
// request header, the bearer token included. The launcher does not pass Go
// runtime settings on, and the binary sends the standard logger nowhere.
func TestGoDebugSilenced(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]agentrunner.Variable
		env  []string
	}{
		{"pipeline variable", map[string]agentrunner.Variable{"GODEBUG": {Value: "http2debug=2"}}, nil},
		{"agent environment", nil, []string{"GODEBUG=http2debug=2,tls13=1", "GOTRACEBACK=all"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorldWith(t, localcloud.Options{HTTP2: true})
			want := twoSecrets(w)

			res := w.Run(step{Variables: tt.vars, Env: tt.env})

			if res.Result != "Succeeded" {
				t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
			}
			if diff := cmp.Diff(want, res.Variables); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
			// The test means something only if the task spoke HTTP/2.
			for _, a := range w.Cloud.Arrivals() {
				if a.Host == w.Vault.Host() && a.Proto != "HTTP/2.0" {
					t.Fatalf("the task reached the vault over %s, not HTTP/2", a.Proto)
				}
			}
			// w.run checked that no token is in the output; nothing of
			// Go's own logging is either.
			for n, l := range res.Raw {
				if strings.Contains(l, "http2:") {
					t.Errorf("output line %d is Go's HTTP/2 debug log: %.120q", n, l)
				}
			}
		})
	}
}

// TestHostileListBounds: a vault that sends what no Key Vault does (huge
// nextLinks, pages of thousands, a listing without end, a flood of entries
// that are not secrets) meets a bound: the run fails with a message that
// says which, or, for invalid entries, names the first few and counts the
// rest. Memory stays flat throughout.
func TestHostileListBounds(t *testing.T) {
	tests := []struct {
		name     string
		hostile  localcloud.Hostile
		pageSize int
		want     []string // the error; none: Succeeded
		warnings int      // warning lines, when Succeeded
	}{
		{name: "900 KB nextLinks, endless", hostile: localcloud.Hostile{NextLinkBytes: 900 << 10, EndlessPages: true},
			want: []string{"Could not list the secrets of vault kv-e2e: the vault's nextLink is 900 KiB long; Key Vault's are a few hundred bytes: stopped listing"}},
		{name: "pages of 10,000 names", hostile: localcloud.Hostile{ExtraEntries: 10000},
			want: []string{"Could not list the secrets of vault kv-e2e: a list page from the vault holds 10005 entries; Key Vault sends at most 25: stopped listing"}},
		{name: "fresh names forever", hostile: localcloud.Hostile{ExtraEntries: 20, EndlessPages: true},
			want: []string{"Could not list the secrets of vault kv-e2e: the vault listed more than 25000 secrets, more than GoKeyVault reads: stopped listing", "SecretsFilter"}},
		{name: "100 invalid ids", hostile: localcloud.Hostile{ExtraEntries: 20, ExtraInvalid: true}, pageSize: 1, warnings: 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			want := twoSecrets(w)
			for _, n := range []string{"c", "d", "e"} {
				w.Vault.Put(localcloud.Secret{Name: n, Value: "value-of-" + n})
				want[n] = testworld.SecretVar("value-of-" + n)
			}
			w.Vault.SetFaults(localcloud.Faults{PageSize: tt.pageSize})
			w.Vault.SetHostile(tt.hostile)

			res := w.Run(step{Timeout: 120 * time.Second})

			if len(tt.want) > 0 {
				harness.FailedWith(t, res, tt.want...)
				harness.SubsetOf(t, res.Variables, want)
			} else {
				if res.Result != "Succeeded" {
					t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
				}
				if diff := cmp.Diff(want, res.Variables); diff != "" {
					t.Errorf("variables (-want +got):\n%s", diff)
				}
				warns := testworld.Issues(res, "warning")
				if len(warns) != tt.warnings || !strings.HasPrefix(warns[0], "Skipped a list entry that is not a valid Key Vault secret id: 'https://kv-e2e.vault.azure.net/keys/made-up-1'") {
					t.Fatalf("warnings %q", warns)
				}
				if got := warns[len(warns)-1]; got != "Skipped 90 more list entries that are not valid Key Vault secret ids (not shown)" {
					t.Errorf("last warning %q", got)
				}
			}
			if rss := harness.PeakRSS(t, res); rss > 64 {
				t.Errorf("peak RSS %.1f MiB", rss)
			}
			t.Logf("%d list calls; peak RSS %.1f MiB", testworld.ListCalls(w.Vault), harness.PeakRSS(t, res))
			harness.CheckTokenStaysHome(t, w.Cloud, w.Vault)
		})
	}
}
