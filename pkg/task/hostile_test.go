package task

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

const (
	evilHost      = "evil.vault.azure.net"
	vaultAudience = "https://vault.azure.net"
)

// shortBudget is the run's time budget for the tests that hang: each try
// then gets a third of it.
func shortBudget() map[string]agentrunner.Variable {
	return map[string]agentrunner.Variable{"GoKeyVault.Timeout": {Value: "3"}}
}

// A hostile cloud: the vault, or whatever answers in its name, tries to
// send the token elsewhere, keep the lister paging, hang the run, smuggle
// names that are not names, or present a certificate it should not. Each
// test turns on one of localcloud's Hostile switches and checks what the
// task does about it, and that the token never left the vault. The ones
// that measure the binary's memory stay end to end in cmd/gokeyvault.

// TestHostileNextLink: a nextLink that leaves the vault's scheme, host or
// port, or its secret list, is refused before any request goes there.
func TestHostileNextLink(t *testing.T) {
	foreign := "no request and no token went there"
	tests := []struct {
		name string
		link string
		want []string
	}{
		{"another vault", "https://" + evilHost + ":443/secrets?api-version=2026-04-01&$skiptoken=x",
			[]string{"refused to send a request to https://evil.vault.azure.net:443/secrets: only the vault itself may receive its token", foreign}},
		{"login host", "https://login.microsoftonline.com/secrets?x=1",
			[]string{"refused to send a request to https://login.microsoftonline.com/secrets", foreign}},
		{"another port", "https://kv-e2e.vault.azure.net:8443/secrets?api-version=2026-04-01",
			[]string{"refused to send a request to https://kv-e2e.vault.azure.net:8443/secrets", foreign}},
		{"plain http", "http://kv-e2e.vault.azure.net/secrets?api-version=2026-04-01",
			[]string{"refused to send a request to http://kv-e2e.vault.azure.net/secrets", foreign}},
		{"user info", "https://kv-e2e.vault.azure.net:443@" + evilHost + "/secrets",
			[]string{"refused to send a request to https://evil.vault.azure.net/secrets", foreign}},
		{"same vault, not the list", "https://kv-e2e.vault.azure.net:443/keys?api-version=2026-04-01",
			[]string{`the vault's nextLink points at "/keys", not the secret list; refused`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			want := twoSecrets(w)
			evil := w.Cloud.AddVault("evil", tenantID)
			evil.Put(localcloud.Secret{Name: "a", Value: "evil-value-of-a"})
			w.Vault.SetHostile(localcloud.Hostile{NextLink: tt.link})

			// A plain-http request would reach the proxy, and be seen,
			// rather than the network.
			res := w.Run(step{Env: []string{"HTTP_PROXY=" + w.Cloud.ProxyURL(), "http_proxy=" + w.Cloud.ProxyURL()}})

			harness.FailedWith(t, res, append([]string{"Could not list the secrets of vault kv-e2e: "}, tt.want...)...)
			harness.SubsetOf(t, res.Variables, want)
			if n := testworld.ListCalls(w.Vault); n != 1 {
				t.Errorf("%d list calls, want 1", n)
			}
			if got := evil.Requests(); len(got) != 0 {
				t.Errorf("the other vault got %d request(s): %+v", len(got), got)
			}
			for _, a := range w.Cloud.Arrivals() {
				if a.Host != w.Vault.Host() && a.Host != "login.microsoftonline.com" || a.Scheme != "https" || a.Path == "/secrets" && a.Host != w.Vault.Host() {
					t.Errorf("request followed the nextLink: %+v", a)
				}
			}
			for _, target := range w.Cloud.ProxyLog() {
				if target != testworld.LoginHost && target != testworld.VaultHost {
					t.Errorf("proxy asked for %s", target)
				}
			}
			harness.CheckTokenStaysHome(t, w.Cloud, w.Vault)
		})
	}
}

// TestHostilePaging: paging ends, whatever nextLinks the vault sends, and
// no secret is fetched twice.
func TestHostilePaging(t *testing.T) {
	t.Run("loop", func(t *testing.T) {
		w := newWorld(t)
		want := twoSecrets(w)
		w.Vault.SetHostile(localcloud.Hostile{NextLinkLoop: true})

		res := w.Run(step{})

		harness.FailedWith(t, res, "Could not list the secrets of vault kv-e2e: ", "the vault sent the same nextLink twice; stopped listing rather than loop")
		harness.SubsetOf(t, res.Variables, want)
		if n := testworld.ListCalls(w.Vault); n != 2 {
			t.Errorf("%d list calls, want 2 (the first page, then the looping link once)", n)
		}
		for name, n := range testworld.SecretGets(w.Vault) {
			if n > 1 {
				t.Errorf("secret %s fetched %d times", name, n)
			}
		}
		harness.CheckTokenStaysHome(t, w.Cloud, w.Vault)
	})
	t.Run("endless", func(t *testing.T) {
		w := newWorld(t)
		want := twoSecrets(w)
		w.Vault.SetHostile(localcloud.Hostile{EndlessPages: true})

		start := time.Now()
		res := w.Run(step{Variables: shortBudget()})
		took := time.Since(start)

		harness.FailedWith(t, res, "The time budget of 3s ran out before vault kv-e2e was fully downloaded: 2 secret(s) set",
			"the secret list did not finish", "GoKeyVault.Timeout")
		if diff := cmp.Diff(want, res.Variables); diff != "" {
			t.Errorf("variables (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]int{"a": 1, "b": 1}, testworld.SecretGets(w.Vault)); diff != "" {
			t.Errorf("gets (-want +got):\n%s", diff)
		}
		if n := testworld.ListCalls(w.Vault); n < 10 {
			t.Errorf("only %d list calls: the vault's endless pages were not followed", n)
		}
		if took > 6*time.Second {
			t.Errorf("the run took %v with a 3 s budget", took)
		}
		harness.CheckTokenStaysHome(t, w.Cloud, w.Vault)
	})
}

// TestHostileSlowReplies: a reply that trickles, or stops after its
// headers, is cut by the per-try timeout and retried; the run's budget ends
// it, naming what is missing.
func TestHostileSlowReplies(t *testing.T) {
	tests := []struct {
		name    string
		hostile localcloud.Hostile
	}{
		{"trickle", localcloud.Hostile{TrickleGet: 100 * time.Millisecond}},
		{"never ending", localcloud.Hostile{NeverEndingGet: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each waits out its budget; nothing else is shared.
			t.Parallel()
			w := newWorld(t)
			twoSecrets(w)
			w.Vault.SetHostile(tt.hostile)

			start := time.Now()
			res := w.Run(step{Variables: shortBudget()})
			took := time.Since(start)

			harness.FailedWith(t, res, "The time budget of 3s ran out before vault kv-e2e was fully downloaded: 0 secret(s) set; 2 not downloaded: a, b. ")
			if len(res.Variables) != 0 {
				t.Errorf("variables set: %v", res.Variables)
			}
			// Each try is cut at a third of the budget, so each secret
			// is tried again before the budget ends.
			for _, name := range []string{"a", "b"} {
				if n := testworld.SecretGets(w.Vault)[name]; n < 2 {
					t.Errorf("secret %s tried %d time(s): the per-try timeout did not cut the first try", name, n)
				}
			}
			if took > 6*time.Second {
				t.Errorf("the run took %v with a 3 s budget", took)
			}
			harness.CheckTokenStaysHome(t, w.Cloud, w.Vault)
		})
	}
}

// TestHostileIDs: list entries whose ids do not parse, or whose names are
// not Key Vault names, are skipped with a warning that quotes them safely;
// the valid secrets arrive, each fetched once, even when listed twice.
func TestHostileIDs(t *testing.T) {
	w := newWorld(t)
	want := map[string]agentrunner.Variable{}
	for _, n := range []string{"alpha", "beta", "gamma", "delta", "PATH-like"} {
		w.Vault.Put(localcloud.Secret{Name: n, Value: "value-of-" + n})
		want[n] = testworld.SecretVar("value-of-" + n)
	}
	w.Vault.SetFaults(localcloud.Faults{PageSize: 2})
	w.Vault.SetHostile(localcloud.Hostile{BadIDs: true})

	res := w.Run(step{})

	if res.Result != "Succeeded" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"alpha": 1, "beta": 1, "gamma": 1, "delta": 1, "PATH-like": 1}, testworld.SecretGets(w.Vault)); diff != "" {
		t.Errorf("gets (-want +got):\n%s", diff)
	}
	if len(res.Errors) != 0 {
		t.Errorf("logging commands rejected: %q", res.Errors)
	}
	for _, c := range res.Commands {
		if strings.EqualFold(c.Area+"."+c.Event, "task.setvariable") {
			if _, ok := want[c.Properties["variable"]]; !ok {
				t.Errorf("setvariable for %q", c.Properties["variable"])
			}
		}
	}
	const prefix = "Skipped a list entry that is not a valid Key Vault secret id: "
	q := func(s string) string { return prefix + "'" + s + "'" }
	base := "https://kv-e2e.vault.azure.net/secrets/"
	wantWarnings := []string{
		q(base + "%zz"),
		q(base + "semi;colon"),
		q(base + "close]bracket"),
		q(base + "has space"),
		q(base + "line feed"),
		// The agent would run "##vso[" anywhere in a line.
		q(base + "**vso[task.setvariable variable=PATH]x"),
		q(base + "%23%23vso%5Btask.setvariable%20variable=PATH%5Dx"),
		q(base + "escaped%3Bsemicolon"),
		q(base + strings.Repeat("a", 78) + "..."),
		q(base + "ok-name/" + strings.Repeat("0", 32) + "/extra"),
		// The first ten are named, the rest counted.
		"Skipped 3 more list entries that are not valid Key Vault secret ids (not shown)",
	}
	if diff := cmp.Diff(wantWarnings, testworld.Issues(res, "warning")); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	harness.MustContain(t, strings.Join(res.Log, "\n"), "Found 5 secret(s): 5 enabled and valid, 0 skipped")
	harness.CheckTokenStaysHome(t, w.Cloud, w.Vault)
}

// TestHostileChallenge: a challenge that names another tenant or resource,
// or that the SDK could not parse, is refused before any token is asked
// for it.
func TestHostileChallenge(t *testing.T) {
	const otherTenant = "99999999-2222-3333-4444-555555555555"
	tests := []struct {
		name    string
		hostile localcloud.Hostile
		want    []string
	}{
		{"foreign tenant", localcloud.Hostile{ChallengeTenant: otherTenant},
			[]string{"vault kv-e2e belongs to tenant " + otherTenant + ", but the service connection is for tenant " + tenantID}},
		{"foreign resource", localcloud.Hostile{ChallengeResource: "https://evil.example"},
			[]string{`the vault's authentication challenge was refused: it names the resource "https://evil.example", which is not Key Vault's`}},
		{"authorization not a URL", localcloud.Hostile{ChallengeAuthorization: "x"},
			[]string{`the vault's authentication challenge was refused: the authorization is not an https URL (authorization "x")`}},
		{"authorization without tenant", localcloud.Hostile{ChallengeAuthorization: "https://login.microsoftonline.com"},
			[]string{`the vault's authentication challenge was refused: the authorization names no tenant (authorization "https://login.microsoftonline.com")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			twoSecrets(w)
			w.Vault.SetHostile(tt.hostile)

			res := w.Run(step{})

			harness.FailedWith(t, res, append([]string{"Could not list the secrets of vault kv-e2e: "}, tt.want...)...)
			if len(res.Variables) != 0 {
				t.Errorf("variables set: %v", res.Variables)
			}
			// Only the token the connection is for was ever issued.
			for _, tok := range w.Cloud.IssuedTokens() {
				if tok != (localcloud.IssuedToken{Tenant: tenantID, Audience: vaultAudience}) {
					t.Errorf("token issued for %+v", tok)
				}
			}
			for _, r := range w.Vault.Requests() {
				if r.Status != 401 {
					t.Errorf("request past the challenge: %+v", r)
				}
			}
			harness.CheckTokenStaysHome(t, w.Cloud, w.Vault)
		})
	}
}

// TestHostileTLS: a certificate for another name, or from an unknown CA,
// fails the run at once with a message naming the host and AGENT_CAINFO;
// it is not retried.
func TestHostileTLS(t *testing.T) {
	tests := []struct {
		fault  localcloud.TLSFault
		filter string
		want   []string
	}{
		{localcloud.TLSWrongName, "*", []string{"Could not list the secrets of vault kv-e2e: ", "kv-e2e.vault.azure.net", "not valid for", "AGENT_CAINFO"}},
		{localcloud.TLSUnknownCA, "*", []string{"Could not list the secrets of vault kv-e2e: ", "kv-e2e.vault.azure.net", "not signed by a trusted authority", "AGENT_CAINFO"}},
		// Named secrets: the first get fails before the vault answers, so
		// the others are not tried; one message for all.
		{localcloud.TLSWrongName, "a,b", []string{"Could not download secrets from vault kv-e2e: ", "kv-e2e.vault.azure.net", "not valid for", "AGENT_CAINFO"}},
		{localcloud.TLSUnknownCA, "a,b", []string{"Could not download secrets from vault kv-e2e: ", "kv-e2e.vault.azure.net", "not signed by a trusted authority", "AGENT_CAINFO"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.fault)+"/"+tt.filter, func(t *testing.T) {
			w := newWorld(t)
			twoSecrets(w)
			w.Vault.SetHostile(localcloud.Hostile{TLS: tt.fault})

			start := time.Now()
			res := w.Run(step{Filter: tt.filter})
			took := time.Since(start)

			harness.FailedWith(t, res, tt.want...)
			// One request, the list or the first get, tried once.
			if n := w.Cloud.Handshakes(w.Vault.Host()); n != 1 {
				t.Errorf("%d TLS handshakes with the vault, want 1 (no retry, no second request)", n)
			}
			for _, a := range w.Cloud.Arrivals() {
				if a.Host == w.Vault.Host() {
					t.Errorf("request reached the vault over the bad certificate: %+v", a)
				}
			}
			if took > 5*time.Second {
				t.Errorf("the run took %v", took)
			}
		})
	}
}

// TestHostileRedirect: Key Vault, Entra ID and the others never redirect.
// Go would follow a 3xx with the token to the same host on any scheme or
// port, and re-post a 307's form (with the client secret) to any host; the
// task follows none, fails that request at once, naming the status and
// where it pointed (never the Location's query), and does not retry it.
func TestHostileRedirect(t *testing.T) {
	const query = "?api-version=2026-04-01&sig=not-for-the-log"
	tests := []struct {
		name   string
		vault  localcloud.Redirect // the vault's 200s become this
		token  localcloud.Redirect // Entra's token endpoint answers this
		filter string
		want   []string
	}{
		{name: "get to plain http on the vault's host", filter: "a,b",
			vault: localcloud.Redirect{Status: 307, Location: "http://kv-e2e.vault.azure.net/secrets/a" + query},
			want:  []string{"Could not download secrets from vault kv-e2e: ", "kv-e2e.vault.azure.net answered 307 Temporary Redirect, a redirect to http://kv-e2e.vault.azure.net, which Azure never sends"}},
		{name: "get to another port of the vault", filter: "a,b",
			vault: localcloud.Redirect{Status: 302, Location: "https://kv-e2e.vault.azure.net:8443/secrets/a" + query},
			want:  []string{"answered 302 Found, a redirect to https://kv-e2e.vault.azure.net:8443, which Azure never sends"}},
		{name: "get to another host", filter: "a,b",
			vault: localcloud.Redirect{Status: 307, Location: "https://" + evilHost + "/secrets/a" + query},
			want:  []string{"answered 307 Temporary Redirect, a redirect to https://evil.vault.azure.net, which Azure never sends"}},
		{name: "list to another host, relative to the vault", filter: "*",
			vault: localcloud.Redirect{Status: 308, Location: "//" + evilHost + "/secrets" + query},
			want:  []string{"Could not list the secrets of vault kv-e2e: ", "answered 308 Permanent Redirect, a redirect to https://evil.vault.azure.net, which Azure never sends"}},
		{name: "token to another host", filter: "*",
			token: localcloud.Redirect{Status: 307, Location: "https://" + evilHost + "/collect" + query},
			want:  []string{"Could not list the secrets of vault kv-e2e: login.microsoftonline.com answered 307 Temporary Redirect, a redirect to https://evil.vault.azure.net, which Azure never sends"}},
		{name: "token to plain http", filter: "a",
			token: localcloud.Redirect{Status: 307, Location: "http://login.microsoftonline.com/" + tenantID + "/oauth2/v2.0/token"},
			want:  []string{"login.microsoftonline.com answered 307 Temporary Redirect, a redirect to http://login.microsoftonline.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			twoSecrets(w)
			evil := w.Cloud.AddVault("evil", tenantID)
			w.Vault.SetHostile(localcloud.Hostile{Redirect: tt.vault})
			w.Cloud.RedirectTokens(tt.token)

			// Plain-http requests go to the proxy, where they are seen.
			res := w.Run(step{Filter: tt.filter, Env: []string{"HTTP_PROXY=" + w.Cloud.ProxyURL(), "http_proxy=" + w.Cloud.ProxyURL()}})

			msg := harness.FailedWith(t, res, tt.want...)
			if strings.Contains(msg, "not-for-the-log") {
				t.Errorf("the message quotes the Location's query: %s", msg)
			}
			if len(res.Variables) != 0 {
				t.Errorf("variables set: %v", res.Variables)
			}
			if got := evil.Requests(); len(got) != 0 {
				t.Errorf("the redirect's target got %d request(s)", len(got))
			}
			for _, a := range w.Cloud.Arrivals() {
				if a.Scheme != "https" || a.Host != w.Vault.Host() && a.Host != "login.microsoftonline.com" {
					t.Errorf("a request followed the redirect: %+v", a)
				}
			}
			for _, target := range w.Cloud.ProxyLog() {
				if target != testworld.LoginHost && target != testworld.VaultHost {
					t.Errorf("proxy asked for %s", target)
				}
			}
			// Not retried: one redirected request for the vault; for Entra,
			// the early token request and the first request's own.
			redirected := 0
			for _, r := range w.Vault.Requests() {
				if r.Status >= 300 && r.Status < 400 {
					redirected++
				}
			}
			if tt.vault.Status != 0 && redirected != 1 {
				t.Errorf("%d redirected vault requests, want 1", redirected)
			}
			if n := w.Cloud.TokenRequests(); tt.token.Status != 0 && n > 2 {
				t.Errorf("%d token requests", n)
			}
			harness.CheckTokenStaysHome(t, w.Cloud, w.Vault)
		})
	}
}

// TestHostileOneHugeSecret: a reply too large for one secret is that
// secret's failure, whichever place it has among the names: the others are
// fetched and set, and the log names the one that failed.
func TestHostileOneHugeSecret(t *testing.T) {
	for _, filter := range []string{"huge, a, b", "a, huge, b"} {
		t.Run(filter, func(t *testing.T) {
			w := newWorld(t)
			for _, n := range []string{"huge", "a", "b"} {
				w.Vault.Put(localcloud.Secret{Name: n, Value: "value-of-" + n})
			}
			w.Vault.SetHostile(localcloud.Hostile{HugeValue: 1 << 20, HugeOnly: "huge"})

			res := w.Run(step{Filter: filter})

			harness.FailedWith(t, res, "Secret 'huge': the vault's reply is larger than 256 KiB")
			want := map[string]agentrunner.Variable{"a": testworld.SecretVar("value-of-a"), "b": testworld.SecretVar("value-of-b")}
			if diff := cmp.Diff(want, res.Variables); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
			harness.MustContain(t, res.Log[len(res.Log)-1], "1 of 3 secret(s) could not be downloaded from kv-e2e")
		})
	}
}
