package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/harness"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// Every service connection shape, cloud and network path, end to end: the
// real launcher and binary, through the agent runner, against the local
// cloud. Each run is in debug mode and checks which hosts the proxy was
// asked for and that no credential reached the output.

const (
	wifClientID = "7d2e4c1a-3b5f-4a6e-8c9d-0e1f2a3b4c5d"
	wifIssuer   = "https://vstoken.dev.azure.com/9d2c0a11-5b3e-4f7a-8c6d-1e2f3a4b5c6d"
	wifSubject  = "sc://gokeyvault-e2e/e2e project/kv-federated"
	miSystem    = "a1b2c3d4-0000-4000-8000-00000000005a"
	miUser      = "a1b2c3d4-0000-4000-8000-00000000005b"
	projectID   = "0e6f7a3c-1111-4222-8333-944455556666"
	planID      = "1a2b3c4d-1111-4222-8333-944455556666"
	jobID       = "5e6f7a8b-1111-4222-8333-944455556666"
	systemToken = "job-access-token-e2e.Zq9"
	proxyUser   = "agent-proxy-user"
	proxyPass   = "Pr0xy;pa:ss%word]"
)

const (
	hostDevOps  = "dev.azure.com:443"
	stackVault  = "kv-e2e." + localcloud.AzureStackVaultSuffix
	hostStackKV = stackVault + ":443"
)

// ---------------------------------------------------------------- certificate

type pemCert struct {
	cert     *x509.Certificate
	pem      string // openssl pkcs12 -nodes style: Bag Attributes, certificate, PKCS#8 key
	keyLines []string
}

func newPEMCert(t *testing.T, cn string) pemCert {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p8, _ := x509.MarshalPKCS8PrivateKey(key)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
	text := "Bag Attributes\n    localKeyID: 01 00 00 00 \n    friendlyName: " + cn + "\nsubject=CN = " + cn + "\nissuer=CN = " + cn + "\n" +
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) +
		"Bag Attributes\n    localKeyID: 01 00 00 00 \n    friendlyName: " + cn + "\nKey Attributes: <No Attributes>\n" + keyPEM
	var lines []string
	for _, l := range strings.Split(keyPEM, "\n") {
		if len(l) == 64 {
			lines = append(lines, l)
		}
	}
	return pemCert{cert: cert, pem: text, keyLines: lines}
}

func certConnection(tenant, pemText string, data map[string]string) *agentrunner.Endpoint {
	d := map[string]string{"subscriptionId": "c0ffee00-1111-2222-3333-444455556666", "environment": "AzureCloud", "scopeLevel": "Subscription"}
	for k, v := range data {
		d[k] = v
	}
	return &agentrunner.Endpoint{
		ID: connID, URL: "https://management.azure.com/", Scheme: "ServicePrincipal",
		Params: map[string]string{"tenantid": tenant, "serviceprincipalid": clientID, "authenticationType": "spnCertificate", "servicePrincipalCertificate": pemText},
		Data:   d,
	}
}

func TestCertificateConnection(t *testing.T) {
	good := newPEMCert(t, "gokeyvault-e2e")
	other := newPEMCert(t, "unregistered")
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	certOnly := good.pem[:strings.Index(good.pem, "Bag Attributes\n    localKeyID: 01 00 00 00 \n    friendlyName: gokeyvault-e2e\nKey")]
	tests := []struct {
		name      string
		pem       string
		wantHosts []string
		wantErr   []string
	}{
		{name: "openssl pkcs12 -nodes PEM", pem: good.pem, wantHosts: []string{testworld.LoginHost, testworld.VaultHost}},
		{name: "encrypted key", pem: certOnly + "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n",
			wantErr: []string{"service connection " + connID, "encrypted", "openssl pkcs12 -in cert.pfx -nodes -out cert.pem"}},
		{name: "EC key", pem: certOnly + string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})),
			wantErr: []string{"EC private key", "need an RSA key", "openssl req -x509 -newkey rsa:2048"}},
		{name: "no key", pem: certOnly, wantErr: []string{"has no private key", "openssl pkcs12 -in cert.pfx -nodes"}},
		{name: "certificate not registered", pem: other.pem, wantHosts: []string{testworld.LoginHost, testworld.VaultHost},
			wantErr: []string{"AADSTS700027", "not registered on the app registration", "Certificates & secrets"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.Cloud.AddCertApp(tenantID, clientID, good.cert)
			w.Vault.Put(localcloud.Secret{Name: "db-password", Value: "pw-cert-123"})
			start := time.Now()
			res := w.Run(step{Debug: true, Conn: certConnection(tenantID, tt.pem, nil), Creds: append(good.keyLines, other.keyLines...)})
			if len(tt.wantErr) == 0 {
				harness.Succeeded(t, res, map[string]string{"db-password": "pw-cert-123"})
			} else {
				harness.FailedWith(t, res, tt.wantErr...)
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("failing took %v", took)
				}
			}
			w.CheckHosts(res, tt.wantHosts)
		})
	}
}

// ------------------------------------------------- workload identity federation

func wifConnection(subject, issuer string) *agentrunner.Endpoint {
	return &agentrunner.Endpoint{
		ID: connID, URL: "https://management.azure.com/", Scheme: "WorkloadIdentityFederation",
		Params: map[string]string{"tenantid": tenantID, "serviceprincipalid": wifClientID, "workloadIdentityFederationSubject": subject, "workloadIdentityFederationIssuer": issuer},
		Data:   map[string]string{"subscriptionId": "c0ffee00-1111-2222-3333-444455556666", "environment": "AzureCloud", "scopeLevel": "Subscription"},
	}
}

func TestWorkloadIdentityFederation(t *testing.T) {
	jobVars := map[string]agentrunner.Variable{
		"system.collectionUri": {Value: testworld.Collection},
		"system.teamProject":   {Value: testworld.Project},
		"system.teamProjectId": {Value: projectID},
		"system.hostType":      {Value: "build"},
		"system.planId":        {Value: planID},
		"system.jobId":         {Value: jobID},
	}
	tests := []struct {
		name       string
		requestURI bool // the agent sets SYSTEM_OIDCREQUESTURI
		fail503    int
		appSubject string
		appIssuer  string
		wantErr    []string
		wantDevOps []string // method path -> status of the Azure DevOps requests
	}{
		{
			name: "SYSTEM_OIDCREQUESTURI, a 503 retried", requestURI: true, fail503: 1,
			wantDevOps: []string{
				"POST /gokeyvault-e2e/" + projectID + "/_apis/distributedtask/hubs/build/plans/" + planID + "/jobs/" + jobID + "/oidctoken 503",
				"POST /gokeyvault-e2e/" + projectID + "/_apis/distributedtask/hubs/build/plans/" + planID + "/jobs/" + jobID + "/oidctoken 200",
			},
		},
		{
			name: "distributed task API, a 503 retried", fail503: 1,
			wantDevOps: []string{
				"OPTIONS /gokeyvault-e2e/_apis 200",
				"POST /gokeyvault-e2e/" + projectID + "/_apis/distributedtask/hubs/build/plans/" + planID + "/jobs/" + jobID + "/oidctoken 503",
				"POST /gokeyvault-e2e/" + projectID + "/_apis/distributedtask/hubs/build/plans/" + planID + "/jobs/" + jobID + "/oidctoken 200",
			},
		},
		{
			name: "subject mismatch", requestURI: true, appSubject: "sc://gokeyvault-e2e/e2e project/another-connection",
			wantErr: []string{"AADSTS700213", "issuer '" + wifIssuer + "'", "subject '" + wifSubject + "'", "Federated credentials", "_settings/adminservices?resourceId=" + connID},
		},
		{
			name: "issuer mismatch", requestURI: true, appIssuer: "https://vstoken.dev.azure.com/00000000-0000-0000-0000-000000000000",
			wantErr: []string{"AADSTS70021", "issuer '" + wifIssuer + "'", "subject '" + wifSubject + "'"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // the retried 503s wait a second each
			w := newWorld(t)
			if _, err := w.Cloud.EnableDevOps("gokeyvault-e2e", systemToken); err != nil {
				t.Fatal(err)
			}
			w.Cloud.AddPipelineConnection(connID, wifIssuer, wifSubject)
			appSubject, appIssuer := wifSubject, wifIssuer
			if tt.appSubject != "" {
				appSubject = tt.appSubject
			}
			if tt.appIssuer != "" {
				appIssuer = tt.appIssuer
			}
			w.Cloud.AddFederatedApp(tenantID, wifClientID, appIssuer, appSubject)
			w.Cloud.FailOIDCRequests(tt.fail503)
			w.Vault.Put(localcloud.Secret{Name: "api-key", Value: "key-federated-1"})
			vars := testworld.DebugVars(jobVars)
			if tt.requestURI {
				vars["system.oidcRequestUri"] = agentrunner.Variable{Value: w.Cloud.OIDCRequestURI(projectID, "build", planID, jobID)}
			}
			res := w.Run(step{Conn: wifConnection(wifSubject, wifIssuer), Variables: vars, Token: systemToken})

			tokens := w.Cloud.OIDCTokens()
			if len(tokens) != 1 {
				t.Fatalf("%d OIDC tokens issued, want 1", len(tokens))
			}
			// The token is registered the moment it arrives: before it
			// only the debug lines of the request that brought it, and
			// nowhere after but in that registration.
			at := slices.Index(res.Raw, "##vso[task.setsecret]"+tokens[0])
			if at < 0 {
				t.Fatalf("the OIDC token was never registered with task.setsecret")
			}
			for i, l := range res.Raw[:at] {
				if !strings.HasPrefix(l, "##vso[task.debug]") || !strings.Contains(l, " https://dev.azure.com/") {
					t.Errorf("output line %d, before the token's task.setsecret: %q", i, l)
				}
			}
			for i, l := range res.Raw[at+1:] {
				if strings.Contains(l, tokens[0]) {
					t.Errorf("OIDC token in output line %d", at+1+i)
				}
			}
			if !res.Masked(tokens[0]) {
				t.Errorf("OIDC token visible in the step log")
			}
			var devops []string
			for _, r := range w.Cloud.HostRequests() {
				if r.Host == localcloud.DevOpsHost {
					devops = append(devops, r.Method+" "+r.Path+" "+strconv.Itoa(r.Status))
				}
			}
			if len(tt.wantDevOps) > 0 {
				if diff := cmp.Diff(tt.wantDevOps, devops); diff != "" {
					t.Errorf("Azure DevOps requests (-want +got):\n%s", diff)
				}
			}
			if len(tt.wantErr) == 0 {
				harness.Succeeded(t, res, map[string]string{"api-key": "key-federated-1"})
			} else {
				harness.FailedWith(t, res, tt.wantErr...)
			}
			w.CheckHosts(res, []string{hostDevOps, testworld.LoginHost, testworld.VaultHost}, systemToken)
		})
	}
}

// banner is the task's first line of its own, naming the vault and cloud.
func banner(res *agentrunner.Result) string {
	for _, l := range res.Log {
		if strings.HasPrefix(l, "GoKeyVault ") {
			return l
		}
	}
	return ""
}

// ------------------------------------------------------------ managed identity

func miConnection(msiClientID string) *agentrunner.Endpoint {
	data := map[string]string{"subscriptionId": "c0ffee00-1111-2222-3333-444455556666", "environment": "AzureCloud", "scopeLevel": "Subscription"}
	if msiClientID != "" {
		data["msiclientId"] = msiClientID
	}
	return &agentrunner.Endpoint{ID: connID, URL: "https://management.azure.com/", Scheme: "ManagedServiceIdentity", Params: map[string]string{"tenantid": tenantID}, Data: data}
}

// TestManagedIdentityConnection reaches the managed identity through the
// IDENTITY_ENDPOINT seam (the App Service protocol azidentity supports):
// an Azure VM's Instance Metadata Service is at 169.254.169.254, which a
// test must never dial. The agent without an identity is an agent whose
// endpoint refuses connections, the same failure a non-Azure machine gets
// from IMDS; the unit tests of pkg/credential cover IMDS itself.
func TestManagedIdentityConnection(t *testing.T) {
	tests := []struct {
		name         string
		msiClientID  string
		noEndpoint   bool
		wantClientID string // client_id the identity endpoint was asked for
		wantErr      []string
	}{
		{name: "system-assigned"},
		{name: "user-assigned", msiClientID: miUser, wantClientID: miUser},
		{name: "agent without a managed identity", noEndpoint: true, wantErr: []string{"this agent has no managed identity", "nothing answered at http://127.0.0.1:1/msi/token", "connection refused", "workload identity federation"}},
		{name: "user-assigned identity not on the agent", msiClientID: "00000000-dead-4000-8000-000000000000", wantClientID: "00000000-dead-4000-8000-000000000000",
			wantErr: []string{"user-assigned managed identity 00000000-dead-4000-8000-000000000000", "is not assigned to this agent's machine", "az vm identity assign"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			env, err := w.Cloud.EnableManagedIdentity()
			if err != nil {
				t.Fatal(err)
			}
			w.Cloud.AddManagedIdentity(tenantID, miSystem, false)
			w.Cloud.AddManagedIdentity(tenantID, miUser, true)
			header := strings.TrimPrefix(env[1], "IDENTITY_HEADER=")
			if tt.noEndpoint {
				env = []string{"IDENTITY_ENDPOINT=http://127.0.0.1:1/msi/token", "IDENTITY_HEADER=" + header}
			}
			w.Vault.Put(localcloud.Secret{Name: "db-password", Value: "pw-identity-1"})
			start := time.Now()
			res := w.Run(step{Conn: miConnection(tt.msiClientID), Variables: testworld.DebugVars(nil), Env: env, Creds: []string{header}})
			took := time.Since(start)

			var asked []string
			for _, r := range w.Cloud.HostRequests() {
				q, _ := url.ParseQuery(r.Query)
				asked = append(asked, q.Get("client_id")+" "+strconv.Itoa(r.Status))
			}
			if len(tt.wantErr) == 0 {
				harness.Succeeded(t, res, map[string]string{"db-password": "pw-identity-1"})
				// One token, fetched once; no Entra request at all.
				if diff := cmp.Diff([]string{tt.wantClientID + " 200"}, asked); diff != "" {
					t.Errorf("identity requests (-want +got):\n%s", diff)
				}
				w.CheckHosts(res, []string{testworld.VaultHost}, header)
				return
			}
			harness.FailedWith(t, res, tt.wantErr...)
			if took > 4*time.Second {
				t.Errorf("failing took %v; an agent without an identity must fail in seconds", took)
			}
			// Nothing reaches the vault without a token.
			w.CheckHosts(res, nil, header)
		})
	}
}

// ----------------------------------------------------------------------- clouds

func TestSovereignClouds(t *testing.T) {
	tests := []struct {
		name      string
		data      map[string]string
		vaultHost string
		login     string
		cloud     string
	}{
		{"China, environment only", map[string]string{"environment": "AzureChinaCloud"}, "kv-e2e.vault.azure.cn", "login.chinacloudapi.cn", "AzureChinaCloud"},
		{"China, endpoint data", map[string]string{"environment": "AzureChinaCloud", "activeDirectoryAuthority": "https://login.chinacloudapi.cn/", "AzureKeyVaultDnsSuffix": "vault.azure.cn", "AzureKeyVaultServiceEndpointResourceId": "https://vault.azure.cn"}, "kv-e2e.vault.azure.cn", "login.chinacloudapi.cn", "AzureChinaCloud"},
		{"US Government, environment only", map[string]string{"environment": "AzureUSGovernment"}, "kv-e2e.vault.usgovcloudapi.net", "login.microsoftonline.us", "AzureUSGovernment"},
		{"US Government, endpoint data without a name", map[string]string{"environmentAuthorityUrl": "https://login.microsoftonline.us/", "AzureKeyVaultDnsSuffix": ".vault.usgovcloudapi.net", "AzureKeyVaultServiceEndpointResourceId": "https://vault.usgovcloudapi.net/"}, "kv-e2e.vault.usgovcloudapi.net", "login.microsoftonline.us", "AzureUSGovernment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.Cloud.AddVault(tt.vaultHost, tenantID).Put(localcloud.Secret{Name: "sovereign", Value: "value-" + tt.cloud})
			conn := w.Endpoint()
			conn.Data = map[string]string{"subscriptionId": "c0ffee00-1111-2222-3333-444455556666", "scopeLevel": "Subscription"}
			for k, v := range tt.data {
				conn.Data[k] = v
			}
			res := w.Run(step{Conn: &conn, Variables: testworld.DebugVars(nil)})
			harness.Succeeded(t, res, map[string]string{"sovereign": "value-" + tt.cloud})
			harness.MustContain(t, banner(res), "vault kv-e2e (https://"+tt.vaultHost+"/), cloud "+tt.cloud)
			w.CheckHosts(res, []string{tt.login + ":443", tt.vaultHost + ":443"})
		})
	}
}

func stackConnection(scheme map[string]string, data map[string]string) *agentrunner.Endpoint {
	d := map[string]string{"subscriptionId": "c0ffee00-1111-2222-3333-444455556666", "environment": "AzureStack", "scopeLevel": "Subscription"}
	for k, v := range data {
		d[k] = v
	}
	p := map[string]string{"tenantid": "adfs", "serviceprincipalid": clientID}
	for k, v := range scheme {
		p[k] = v
	}
	return &agentrunner.Endpoint{ID: connID, URL: "https://" + localcloud.AzureStackARMHost + "/", Scheme: "ServicePrincipal", Params: p, Data: d}
}

func TestAzureStack(t *testing.T) {
	cert := newPEMCert(t, "stack")
	secretAuth := map[string]string{"authenticationType": "spnKey", "serviceprincipalkey": clientSecret}
	certAuth := map[string]string{"authenticationType": "spnCertificate", "servicePrincipalCertificate": cert.pem}
	hostARM := localcloud.AzureStackARMHost + ":443"
	hostADFS := localcloud.AzureStackADFSHost + ":443"
	tests := []struct {
		name       string
		adfs       bool
		auth       map[string]string
		tenant     string
		data       map[string]string
		apiVersion string // GoKeyVault.ApiVersion
		wantHosts  []string
		wantErr    []string
		// wantVersions are the api-versions the vault saw, in order, when
		// not all apiVersion.
		wantVersions []string
	}{
		{name: "AD FS, client secret", adfs: true, auth: secretAuth, data: map[string]string{"enableAdfsAuthentication": "true"}, apiVersion: "2016-10-01", wantHosts: []string{hostARM, hostADFS, hostStackKV}},
		{name: "AD FS, certificate (RS256 assertion)", adfs: true, auth: certAuth, data: map[string]string{"enableAdfsAuthentication": "true"}, apiVersion: "2016-10-01", wantHosts: []string{hostARM, hostADFS, hostStackKV}},
		{name: "Microsoft Entra ID", auth: secretAuth, tenant: tenantID, apiVersion: "2016-10-01", wantHosts: []string{hostARM, testworld.LoginHost, hostStackKV}},
		// Out of the box: the SDK's version is refused once, then the one
		// the stack names serves the run.
		{name: "API version the stack does not serve: falls back once", adfs: true, auth: secretAuth, data: map[string]string{"enableAdfsAuthentication": "true"}, wantHosts: []string{hostARM, hostADFS, hostStackKV},
			wantVersions: []string{"2026-04-01", "2026-04-01", "2016-10-01", "2016-10-01"}},
		// A version the user sets is kept, even one the stack refuses.
		{name: "GoKeyVault.ApiVersion the stack does not serve", adfs: true, auth: secretAuth, data: map[string]string{"enableAdfsAuthentication": "true"}, apiVersion: "2019-09-01", wantHosts: []string{hostARM, hostADFS, hostStackKV},
			wantErr: []string{"Key Vault in this cloud does not support API version 2019-09-01", "GoKeyVault.ApiVersion", "(it names 2016-10-01)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.Cloud.EnableAzureStack(localcloud.AzureStackOptions{ADFS: tt.adfs})
			tenant := "adfs"
			if !tt.adfs {
				tenant = tt.tenant
			}
			w.Cloud.AddApp(tenant, clientID, clientSecret)
			if tt.auth["authenticationType"] == "spnCertificate" {
				w.Cloud.AddCertApp(tenant, clientID, cert.cert)
			}
			v := w.Cloud.AddVault(stackVault, tenant)
			v.Put(localcloud.Secret{Name: "stack-secret", Value: "value-on-the-stack"})
			conn := stackConnection(tt.auth, tt.data)
			if tt.tenant != "" {
				conn.Params["tenantid"] = tt.tenant
			}
			vars := testworld.DebugVars(nil)
			if tt.apiVersion != "" {
				vars["GoKeyVault.ApiVersion"] = agentrunner.Variable{Value: tt.apiVersion}
			}
			res := w.Run(step{Conn: conn, Variables: vars, Creds: cert.keyLines})
			if len(tt.wantErr) > 0 {
				harness.FailedWith(t, res, tt.wantErr...)
			} else {
				harness.Succeeded(t, res, map[string]string{"stack-secret": "value-on-the-stack"})
				harness.MustContain(t, banner(res), "vault kv-e2e (https://"+stackVault+"/), cloud AzureStack")
				want := tt.wantVersions
				var got []string
				for _, r := range v.Requests() {
					got = append(got, r.APIVersion)
					if want == nil && r.APIVersion != tt.apiVersion {
						t.Errorf("vault request %s with api-version %q", r.Path, r.APIVersion)
					}
				}
				if want != nil {
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("api-versions the vault saw (-want +got):\n%s", diff)
					}
					harness.MustContain(t, strings.Join(res.Log, "\n"), "##[debug]Key Vault in this cloud does not serve api-version 2026-04-01; using 2016-10-01 from now on")
				}
			}
			w.CheckHosts(res, tt.wantHosts)
		})
	}
}

// ---------------------------------------------------------------------- network

func TestAgentNetwork(t *testing.T) {
	dead := "http://127.0.0.1:1"
	tests := []struct {
		name      string
		auth      bool // the proxy requires Basic credentials
		vars      map[string]string
		secret    map[string]string // secret variables
		env       []string
		wantHosts []string
		// mayHosts may have been asked too: a run that fails at its
		// first request to the vault (the proxy's 407, an untrusted
		// certificate) ends before or after its early token request
		// reached the proxy.
		mayHosts []string
		wantErr  []string
		wantWarn string
	}{
		{
			name: "agent proxy with credentials wins over HTTPS_PROXY", auth: true,
			vars: map[string]string{"agent.proxyurl": "{proxy}", "agent.proxyusername": proxyUser}, secret: map[string]string{"agent.proxypassword": proxyPass},
			env: []string{"HTTPS_PROXY=" + dead, "https_proxy=" + dead}, wantHosts: []string{testworld.LoginHost, testworld.VaultHost},
		},
		{
			name: "proxy needs credentials", auth: true, vars: map[string]string{"agent.proxyurl": "{proxy}"},
			wantHosts: []string{testworld.VaultHost}, mayHosts: []string{testworld.LoginHost}, wantErr: []string{"requires credentials", "(407)", "AGENT_PROXYUSERNAME"},
		},
		{
			name: "proxy rejects the credentials", auth: true,
			vars: map[string]string{"agent.proxyurl": "{proxy}", "agent.proxyusername": proxyUser}, secret: map[string]string{"agent.proxypassword": "not-" + proxyPass},
			wantHosts: []string{testworld.VaultHost}, mayHosts: []string{testworld.LoginHost}, wantErr: []string{"rejected the proxy credentials", "(407)"},
		},
		{
			name: "proxy refuses connections", vars: map[string]string{"agent.proxyurl": dead},
			wantErr: []string{"could not connect to the proxy http://127.0.0.1:1", "connection refused", "AGENT_PROXYURL"},
		},
		{
			// Which URLs a pattern matches is unit-tested in pkg/netconfig: a
			// bypassed Azure host would be dialled directly, which a test
			// must not do.
			name: "bypass list read, a pattern Go cannot compile skipped",
			vars: map[string]string{"agent.proxyurl": "{proxy}", "agent.proxybypasslist": `["(?<=x)y", "\\.intranet\\.example\\.com$", "^https://build-cache:8443$"]`},
			env:  []string{"HTTPS_PROXY=" + dead}, wantHosts: []string{testworld.LoginHost, testworld.VaultHost}, wantWarn: `Proxy bypass pattern "(?<=x)y"`,
		},
		{
			name: "HTTPS_PROXY with a NO_PROXY list", env: []string{"NO_PROXY=.vault.azure.cn,example.com,10.0.0.0/8", "no_proxy=.vault.azure.cn,example.com,10.0.0.0/8"},
			wantHosts: []string{testworld.LoginHost, testworld.VaultHost},
		},
		{
			name: "AGENT_CAINFO added to the system roots", vars: map[string]string{"agent.cainfo": "{ca}"},
			env: []string{"SSL_CERT_FILE="}, wantHosts: []string{testworld.LoginHost, testworld.VaultHost},
		},
		{
			name: "no CA: untrusted certificate", env: []string{"SSL_CERT_FILE="},
			wantHosts: []string{testworld.VaultHost}, mayHosts: []string{testworld.LoginHost}, wantErr: []string{"not signed by a trusted authority", "AGENT_CAINFO"},
		},
		{
			name: "AGENT_SKIPCERTVALIDATION", vars: map[string]string{"agent.skipcertvalidation": "true"}, env: []string{"SSL_CERT_FILE="},
			wantHosts: []string{testworld.LoginHost, testworld.VaultHost}, wantWarn: "skip TLS certificate validation (AGENT_SKIPCERTVALIDATION)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.auth {
				w.Cloud.RequireProxyAuth(proxyUser, proxyPass)
			}
			w.Vault.Put(localcloud.Secret{Name: "db-password", Value: "pw-network-1"})
			expand := strings.NewReplacer("{proxy}", w.Cloud.ProxyURL(), "{ca}", w.Cloud.CAFile())
			vars := testworld.DebugVars(nil)
			for k, v := range tt.vars {
				vars[k] = agentrunner.Variable{Value: expand.Replace(v)}
			}
			for k, v := range tt.secret {
				vars[k] = agentrunner.Variable{Value: v, Secret: true}
			}
			start := time.Now()
			res := w.Run(step{Variables: vars, Env: tt.env, Creds: []string{proxyPass, "not-" + proxyPass}})
			if len(tt.wantErr) > 0 {
				harness.FailedWith(t, res, tt.wantErr...)
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("failing took %v", took)
				}
			} else {
				harness.Succeeded(t, res, map[string]string{"db-password": "pw-network-1"})
			}
			if tt.wantWarn != "" {
				harness.MustContain(t, strings.Join(testworld.Issues(res, "warning"), "\n"), tt.wantWarn)
			}
			w.CheckHostsMay(res, tt.wantHosts, tt.mayHosts, proxyPass, "not-"+proxyPass)
		})
	}
}

// --------------------------------------------------------------- Entra errors
