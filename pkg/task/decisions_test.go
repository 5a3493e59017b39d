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

// The run's decisions, driven in-process against the local cloud: what it
// says for each bad input, refusal and failure, and what it asks of the
// vault. The agent contract (launcher, stages, signals, masking, the real
// binary) is tested end to end in cmd/gokeyvault.

func TestSelectedNames(t *testing.T) {
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "db-password", Value: "pw-123456"})
	w.Vault.Put(localcloud.Secret{Name: "api-key", Value: "key-abcdef"})
	w.Vault.Put(localcloud.Secret{Name: "old-key", Value: "old-value-1", Disabled: true})
	w.Vault.Put(localcloud.Secret{Name: "unrelated", Value: "never-asked"})

	res := w.Run(step{Filter: "db-password, missing-one ,old-key,api-key"})

	if res.Result != "Failed" {
		t.Fatalf("result %s, want Failed; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	want := map[string]agentrunner.Variable{"db-password": testworld.SecretVar("pw-123456"), "api-key": testworld.SecretVar("key-abcdef")}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	if n := testworld.ListCalls(w.Vault); n != 0 {
		t.Errorf("%d list calls; named secrets must be fetched directly", n)
	}
	if diff := cmp.Diff(map[string]int{"db-password": 1, "api-key": 1, "missing-one": 1, "old-key": 1}, testworld.SecretGets(w.Vault)); diff != "" {
		t.Errorf("gets (-want +got):\n%s", diff)
	}
	errs := testworld.Issues(res, "error")
	if len(errs) != 2 {
		t.Fatalf("want one error per failed secret, got %q", errs)
	}
	harness.MustContain(t, errs[0], "Secret 'missing-one': not found in vault kv-e2e", "SecretsFilter", "x-ms-request-id: ")
	harness.MustContain(t, errs[1], "Secret 'old-key': the secret is disabled", "az keyvault secret set-attributes --vault-name kv-e2e", "x-ms-request-id: ")
	harness.MustContain(t, res.Log[len(res.Log)-1], "2 of 4 secret(s) could not be downloaded from kv-e2e")
}

func TestVersionedName(t *testing.T) {
	w := newWorld(t)
	old := w.Vault.Put(localcloud.Secret{Name: "rotated", Value: "old-value-xyz"})
	w.Vault.Put(localcloud.Secret{Name: "rotated", Value: "new-value-xyz"})

	res := w.Run(step{Filter: "rotated/" + strings.ToUpper(old)})

	if res.Result != "Succeeded" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	want := map[string]agentrunner.Variable{"rotated/" + old: testworld.SecretVar("old-value-xyz"), "rotated": testworld.SecretVar("old-value-xyz")}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
}

func TestBadInputs(t *testing.T) {
	tests := []struct {
		name string
		s    step
		want []string
	}{
		{"vault name too short", step{Vault: "kv"}, []string{"input KeyVaultName", "2 characters long"}},
		{"vault URL", step{Vault: "https://kv-e2e.vault.azure.net"}, []string{"input KeyVaultName", "not its URL"}},
		{"vault double dash", step{Vault: "kv--e2e"}, []string{"input KeyVaultName", "'--'"}},
		{"filter with bad character", step{Filter: "db_password"}, []string{"input SecretsFilter", `'_' is not allowed`}},
		{"filter with only exclusions", step{Filter: "!test-*"}, []string{"input SecretsFilter", "only exclusions"}},
		{"filter empty", step{Filter: " , "}, []string{"input SecretsFilter is empty"}},
		{"bad version", step{Filter: "a/123"}, []string{"input SecretsFilter", "32 hexadecimal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			res := w.Run(tt.s)
			if res.Result != "Failed" {
				t.Fatalf("result %s, want Failed", res.Result)
			}
			if got := w.Cloud.ProxyLog(); len(got) != 0 {
				t.Errorf("requests were made before validation failed: %v", got)
			}
			errs := testworld.Issues(res, "error")
			if len(errs) != 1 {
				t.Fatalf("want one error, got %q", errs)
			}
			harness.MustContain(t, errs[0], tt.want...)
		})
	}
}

// TestMissingConnection: the job has a connection, but not the one the
// input names.
func TestMissingConnection(t *testing.T) {
	w := newWorld(t)
	other := w.Endpoint()
	other.ID = "00000000-0000-0000-0000-000000000000"
	res := w.Run(step{Conn: &other})
	if res.Result != "Failed" || len(w.Cloud.ProxyLog()) != 0 {
		t.Fatalf("result %s, proxy %v", res.Result, w.Cloud.ProxyLog())
	}
	harness.MustContain(t, strings.Join(testworld.Issues(res, "error"), "\n"), "input azureSubscription", "is not available to this job")
}

func TestForbidden(t *testing.T) {
	tests := []struct {
		code string
		list bool // deny the list call rather than the gets
		want []string
	}{
		{"AccessDenied", true, []string{"Could not list the secrets of vault kv-e2e", "access policy", "secret List permission", "az keyvault set-policy --name kv-e2e", "--secret-permissions get list", "name the secrets in SecretsFilter"}},
		{"ForbiddenByRbac", true, []string{"Azure RBAC", `--role "Key Vault Secrets User"`, "az keyvault show --name kv-e2e"}},
		{"ForbiddenByFirewall", true, []string{"firewall", "az keyvault network-rule add --name kv-e2e"}},
		{"ForbiddenByConnection", true, []string{"public network access to vault kv-e2e is disabled", "private endpoint", "resolves kv-e2e.vault.azure.net to it"}},
		{"ForbiddenByPolicy", true, []string{"Azure Policy"}},
		{"AccessDenied", false, []string{"Secret 'a': access denied by the vault's access policy", "secret Get permission", "az keyvault set-policy --name kv-e2e"}},
		{"ForbiddenByRbac", false, []string{"Secret 'a': access denied by Azure RBAC", "Key Vault Secrets User"}},
	}
	for _, tt := range tests {
		name := tt.code + "/get"
		if tt.list {
			name = tt.code + "/list"
		}
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.Vault.Put(localcloud.Secret{Name: "a", Value: "value-a"})
			if tt.list {
				w.Vault.SetFaults(localcloud.Faults{ListDenied: tt.code})
			} else {
				w.Vault.SetFaults(localcloud.Faults{GetDenied: tt.code})
			}
			res := w.Run(step{})
			if res.Result != "Failed" {
				t.Fatalf("result %s", res.Result)
			}
			errs := testworld.Issues(res, "error")
			if len(errs) != 1 {
				t.Fatalf("want one error, got %q", errs)
			}
			harness.MustContain(t, errs[0], append(tt.want, "x-ms-request-id: ")...)
			if strings.Contains(strings.ToLower(errs[0]), "powershell") {
				t.Errorf("error suggests PowerShell: %s", errs[0])
			}
		})
	}
}

// TestAuthAndNetworkFailures: without the job's project variables there
// is no link to the connection's page, and the message says where to look
// instead. The Entra errors themselves are in TestEntraErrorsLinkTheConnection.
func TestAuthAndNetworkFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *world)
		s     step
		want  []string
	}{
		{"wrong client secret", nil, step{Secret: "wrong-secret-value-123"}, []string{"AADSTS7000215", "service principal key", "Service connections"}},
		{"unreachable vault", nil, step{Vault: "kv-does-not-exist"}, []string{"kv-does-not-exist.vault.azure.net", "could not reach"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.Vault.Put(localcloud.Secret{Name: "a", Value: "value-a"})
			if tt.setup != nil {
				tt.setup(w)
			}
			start := time.Now()
			res := w.Run(tt.s)
			if res.Result != "Failed" {
				t.Fatalf("result %s", res.Result)
			}
			errs := testworld.Issues(res, "error")
			if len(errs) != 1 {
				t.Fatalf("want one error, got %q", errs)
			}
			harness.MustContain(t, errs[0], tt.want...)
			t.Logf("failed in %v: %s", time.Since(start).Round(time.Millisecond), errs[0])
		})
	}
}

// TestNamedSecretsWrongCredentialAskOnce: with named secrets and a wrong
// client secret, the first get's failure stands for all: one message, and
// Entra is not asked again for every secret.
func TestNamedSecretsWrongCredentialAskOnce(t *testing.T) {
	w := newWorld(t)
	for _, n := range []string{"a", "b", "c", "d"} {
		w.Vault.Put(localcloud.Secret{Name: n, Value: "value-" + n})
	}
	res := w.Run(step{Filter: "a,b,c,d", Secret: "wrong-secret-value-123"})
	if res.Result != "Failed" {
		t.Fatalf("result %s", res.Result)
	}
	errs := testworld.Issues(res, "error")
	if len(errs) != 1 {
		t.Fatalf("want one error, got %q", errs)
	}
	harness.MustContain(t, errs[0], "AADSTS7000215")
	// The pre-fetch and the first get's own attempt; none for b, c, d.
	if n := w.Cloud.TokenRequests(); n > 2 {
		t.Errorf("%d token requests for one wrong secret", n)
	}
	if gets := testworld.SecretGets(w.Vault); len(gets) != 0 {
		t.Errorf("gets reached the vault with no token: %v", gets)
	}
}

// TestTimeBudget: when the run's budget runs out, the run fails and names
// what is missing; nothing is dropped silently.
func TestTimeBudget(t *testing.T) {
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "fast", Value: "fast-value"})
	w.Vault.Put(localcloud.Secret{Name: "slow-one", Value: "slow-value-1"})
	w.Vault.Put(localcloud.Secret{Name: "slow-two", Value: "slow-value-2"})
	// Every reply takes longer than the whole budget.
	w.Vault.SetFaults(localcloud.Faults{Latency: 4 * time.Second})

	res := w.Run(step{Filter: "fast,slow-one,slow-two", Variables: map[string]agentrunner.Variable{"GoKeyVault.Timeout": {Value: "2"}}})

	if res.Result != "Failed" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	errs := testworld.Issues(res, "error")
	if len(errs) != 1 {
		t.Fatalf("want one error, got %q", errs)
	}
	harness.MustContain(t, errs[0], "time budget of 2s ran out", "3 not downloaded: fast, slow-one, slow-two", "GoKeyVault.Timeout")
}

// TestTimeBudgetNotANumber: a budget that is not a number of seconds is
// named in a warning and the default applies.
func TestTimeBudgetNotANumber(t *testing.T) {
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "a", Value: "value-a"})
	res := w.Run(step{Variables: map[string]agentrunner.Variable{"GoKeyVault.Timeout": {Value: "soon"}}})
	if res.Result != "Succeeded" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	want := []string{`The pipeline variable GoKeyVault.Timeout is "soon", not a number of seconds; using 5m0s`}
	if diff := cmp.Diff(want, testworld.Issues(res, "warning")); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestEntraErrorsLinkTheConnection(t *testing.T) {
	page := "https://dev.azure.com/gokeyvault-e2e/e2e%20project/_settings/adminservices?resourceId=" + connID
	goneTenant := "88888888-2222-4333-8444-555555555555"
	otherTenant := "77777777-2222-4333-8444-555555555555"
	tests := []struct {
		name  string
		setup func(w *world)
		s     step
		want  []string
	}{
		{"wrong client secret", nil, step{Secret: "wrong-secret-value-123"}, []string{"AADSTS7000215", "service principal key", page}},
		{"expired client secret", func(w *world) { w.Cloud.ExpireSecret(tenantID, clientID) }, step{}, []string{"AADSTS7000222", "expired", page}},
		{"app not in tenant", func(w *world) { w.Cloud.AddVault("kv-other", "11111111-2222-3333-4444-555555555555") },
			step{Vault: "kv-other", Tenant: "11111111-2222-3333-4444-555555555555"}, []string{"AADSTS700016", "not found in tenant 11111111-2222-3333-4444-555555555555", page}},
		{"tenant unknown to Entra", func(w *world) {
			w.Cloud.AddVault("kv-gone", goneTenant)
			w.Cloud.RemoveTenant(goneTenant)
		}, step{Vault: "kv-gone", Tenant: goneTenant}, []string{"tenant " + goneTenant + " was not found at login.microsoftonline.com (AADSTS90002)", "environment", page}},
		{"vault in another tenant than the connection", func(w *world) { w.Cloud.AddApp(otherTenant, clientID, clientSecret) },
			step{Tenant: otherTenant}, []string{"vault kv-e2e belongs to tenant " + tenantID + ", but the service connection is for tenant " + otherTenant}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.Vault.Put(localcloud.Secret{Name: "a", Value: "value-a"})
			if tt.setup != nil {
				tt.setup(w)
			}
			s := tt.s
			s.Debug = true
			s.Variables = map[string]agentrunner.Variable{"system.collectionUri": {Value: testworld.Collection}, "system.teamProject": {Value: testworld.Project}}
			res := w.Run(s)
			harness.FailedWith(t, res, tt.want...)
			vaultHost := "kv-e2e.vault.azure.net:443"
			if s.Vault != "" {
				vaultHost = s.Vault + ".vault.azure.net:443"
			}
			w.CheckHosts(res, []string{testworld.LoginHost, vaultHost}, s.Secret)
		})
	}
}

// TestRenamedAndListed: a secret a pattern selects and a renamed entry
// names is fetched once and sets both variables; the listing's rules still
// decide its own name (an expired one is skipped, its rename set, as a
// named secret is set whatever its dates).
func TestRenamedAndListed(t *testing.T) {
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "legacy-key", Value: "v-legacy"})
	w.Vault.Put(localcloud.Secret{Name: "old", Value: "v-old", Expires: time.Now().Add(-time.Hour)})
	w.Vault.Put(localcloud.Secret{Name: "app", Value: "v-app"})

	res := w.Run(step{Filter: "*, Legacy-Key as LEGACY_KEY, old as OLD_VALUE"})

	if res.Result != "Succeeded" {
		t.Fatalf("result %s; log:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	if diff := cmp.Diff(map[string]int{"app": 1, "Legacy-Key": 1, "old": 1}, testworld.SecretGets(w.Vault)); diff != "" {
		t.Errorf("gets (-want +got):\n%s", diff)
	}
	want := map[string]agentrunner.Variable{
		"app":        testworld.SecretVar("v-app"),
		"legacy-key": testworld.SecretVar("v-legacy"),
		"LEGACY_KEY": testworld.SecretVar("v-legacy"),
		"OLD_VALUE":  testworld.SecretVar("v-old"),
	}
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	harness.MustContain(t, strings.Join(testworld.NormalLog(res), "\n"),
		"Found 3 secret(s): 2 enabled and valid, 1 skipped\n  * selected 3\n  skipped old: expired ",
		"Set 4 secret(s):\n  Legacy-Key -> LEGACY_KEY\n  app\n  legacy-key\n  old -> OLD_VALUE\n")
}

// TestEmptyRenamed: the warning for an empty secret names the secret and
// the variables it set, not the variable as if it were the secret.
func TestEmptyRenamed(t *testing.T) {
	w := newWorld(t)
	w.Vault.Put(localcloud.Secret{Name: "db", Value: ""})

	res := w.Run(step{Filter: "db as DB_PASSWORD"})

	if diff := cmp.Diff([]string{"Secret 'db' is empty: variable DB_PASSWORD is defined with an empty value"}, testworld.Issues(res, "warning")); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}
