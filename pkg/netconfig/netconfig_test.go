package netconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/agentenv"
)

func TestProxy(t *testing.T) {
	agent := []string{"AGENT_PROXYURL=http://proxy.corp:8080", "AGENT_PROXYUSERNAME=alice", "SECRET_AGENT_PROXYPASSWORD=p@ss:word"}
	tests := []struct {
		name    string
		environ []string
		url     string
		want    string // proxy URL with credentials, "" for direct
	}{
		{"agent proxy with credentials", agent, "https://kv.vault.azure.net/secrets", "http://alice:p%40ss%3Aword@proxy.corp:8080"},
		{"agent proxy wins over HTTPS_PROXY", append(agent, "HTTPS_PROXY=http://other:3128"), "https://login.microsoftonline.com/t", "http://alice:p%40ss%3Aword@proxy.corp:8080"},
		{"agent proxy without scheme or user", []string{"AGENT_PROXYURL=proxy.corp:8080"}, "https://kv.vault.azure.net/", "http://proxy.corp:8080"},
		{"bypassed host", append(agent, `AGENT_PROXYBYPASSLIST=["vault\\.azure\\.net$"]`), "https://kv.vault.azure.net/secrets", ""},
		{"patterns are case-insensitive", append(agent, `AGENT_PROXYBYPASSLIST=["KV\\.VAULT"]`), "https://kv.vault.azure.net/", ""},
		{"patterns do not see the path", append(agent, `AGENT_PROXYBYPASSLIST=["secrets"]`), "https://kv.vault.azure.net/secrets", "http://alice:p%40ss%3Aword@proxy.corp:8080"},
		{"patterns see the scheme", append(agent, `AGENT_PROXYBYPASSLIST=["^https://kv\\.vault\\.azure\\.net$"]`), "https://kv.vault.azure.net/secrets", ""},
		{"default port omitted", append(agent, `AGENT_PROXYBYPASSLIST=[":443$"]`), "https://kv.vault.azure.net:443/secrets", "http://alice:p%40ss%3Aword@proxy.corp:8080"},
		{"other port included", append(agent, `AGENT_PROXYBYPASSLIST=[":8443$"]`), "https://build-cache:8443/x", ""},
		{"loopback is never proxied", agent, "http://127.0.0.1:41234/msi/token", ""},
		{"localhost is never proxied", agent, "http://localhost:40342/metadata/identity/oauth2/token", ""},
		{"IMDS is never proxied", agent, "http://169.254.169.254/metadata/identity/oauth2/token", ""},
		{"HTTPS_PROXY", []string{"HTTPS_PROXY=http://squid:3128"}, "https://kv.vault.azure.net/", "http://squid:3128"},
		{"https_proxy in lower case", []string{"https_proxy=http://squid:3128"}, "https://kv.vault.azure.net/", "http://squid:3128"},
		{"HTTPS_PROXY before https_proxy", []string{"https_proxy=http://lower:3128", "HTTPS_PROXY=http://upper:3128"}, "https://kv.vault.azure.net/", "http://upper:3128"},
		{"no_proxy in lower case", []string{"HTTPS_PROXY=http://squid:3128", "no_proxy=.vault.azure.net"}, "https://kv.vault.azure.net/", ""},
		{"Https_Proxy is not a proxy variable", []string{"Https_Proxy=http://squid:3128"}, "https://kv.vault.azure.net/", ""},
		{"NO_PROXY domain", []string{"HTTPS_PROXY=http://squid:3128", "NO_PROXY=.vault.azure.net"}, "https://kv.vault.azure.net/", ""},
		{"NO_PROXY not matching", []string{"HTTPS_PROXY=http://squid:3128", "NO_PROXY=.vault.azure.cn,example.com"}, "https://kv.vault.azure.net/", "http://squid:3128"},
		{"HTTP_PROXY for http", []string{"HTTPS_PROXY=http://squid:3128", "HTTP_PROXY=http://plain:80"}, "http://example.org/", "http://plain:80"},
		{"nothing set", nil, "https://kv.vault.azure.net/", ""},
		{"bypass list ignored without an agent proxy", []string{"HTTPS_PROXY=http://squid:3128", `AGENT_PROXYBYPASSLIST=[".*"]`}, "https://kv.vault.azure.net/", "http://squid:3128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(agentenv.NewEnv(tt.environ))
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(tt.url)
			got, err := c.Proxy(u)
			if err != nil {
				t.Fatal(err)
			}
			gotS := ""
			if got != nil {
				gotS = got.String()
			}
			if gotS != tt.want {
				t.Errorf("Proxy(%s) = %q, want %q", tt.url, gotS, tt.want)
			}
		})
	}
}

func TestWarningsAndErrors(t *testing.T) {
	tests := []struct {
		name         string
		environ      []string
		wantWarnings []string
		wantErr      string
	}{
		{"bad regex skipped", []string{"AGENT_PROXYURL=http://p:1", `AGENT_PROXYBYPASSLIST=["(?<=x)y", "ok"]`}, []string{`Proxy bypass pattern "(?<=x)y" (AGENT_PROXYBYPASSLIST) is not a regular expression GoKeyVault understands`}, ""},
		{"bypass list not JSON", []string{"AGENT_PROXYURL=http://p:1", "AGENT_PROXYBYPASSLIST=a,b"}, []string{"is not a JSON array of strings and is ignored"}, ""},
		{"skip certificate validation", []string{"AGENT_SKIPCERTVALIDATION=True"}, []string{"skip TLS certificate validation (AGENT_SKIPCERTVALIDATION)"}, ""},
		{"proxy URL scheme", []string{"AGENT_PROXYURL=ftp://user:secret@p:21"}, nil, `scheme "ftp" is not supported`},
		{"proxy URL unparsable", []string{"AGENT_PROXYURL=http://user:secret@[::1", "AGENT_PROXYUSERNAME=user"}, nil, "AGENT_PROXYURL is not a valid URL"},
		{"CA file missing", []string{"AGENT_CAINFO=/nonexistent/ca.pem"}, nil, "read the agent's CA certificate file /nonexistent/ca.pem (AGENT_CAINFO): no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(agentenv.NewEnv(tt.environ))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error quotes the proxy password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Warnings) != len(tt.wantWarnings) {
				t.Fatalf("warnings %q, want %d", c.Warnings, len(tt.wantWarnings))
			}
			for i, w := range tt.wantWarnings {
				if !strings.Contains(c.Warnings[i], w) {
					t.Errorf("warning %q does not contain %q", c.Warnings[i], w)
				}
			}
		})
	}
}

func TestCAInfo(t *testing.T) {
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "corp proxy CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), DNSNames: []string{"kv.vault.azure.net"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, _ := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	leaf, _ := x509.ParseCertificate(leafDER)

	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, append([]byte("# the proxy's CA\n"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	c, err := FromEnv(agentenv.NewEnv([]string{"AGENT_CAINFO=" + caFile}))
	if err != nil {
		t.Fatal(err)
	}
	roots := c.Transport().RootCAs
	if roots == nil {
		t.Fatal("no root pool")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "kv.vault.azure.net", Roots: roots}); err != nil {
		t.Errorf("a certificate issued by the AGENT_CAINFO CA does not verify: %v", err)
	}
	if got, want := c.Describe(), "network: no proxy; system CAs plus 1 from "+caFile+" (AGENT_CAINFO)"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	if _, err := FromEnv(agentenv.NewEnv([]string{"AGENT_CAINFO=" + empty})); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("file without certificates: %v", err)
	}
}

func TestDescribeHidesThePassword(t *testing.T) {
	env := agentenv.NewEnv([]string{"AGENT_PROXYURL=http://proxy.corp:8080", "AGENT_PROXYUSERNAME=alice", "SECRET_AGENT_PROXYPASSWORD=hunter2-secret", `AGENT_PROXYBYPASSLIST=["a","b"]`, "AGENT_SKIPCERTVALIDATION=true"})
	c, err := FromEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	want := "network: proxy http://proxy.corp:8080 (AGENT_PROXYURL, user alice, 2 bypass pattern(s)); TLS certificate validation OFF (AGENT_SKIPCERTVALIDATION)"
	if got := c.Describe(); got != want {
		t.Errorf("Describe = %q\nwant       %q", got, want)
	}
	if diff := cmp.Diff([]string{"SECRET_AGENT_PROXYPASSWORD"}, env.Sensitive()); diff != "" {
		t.Errorf("Sensitive (-want +got):\n%s", diff)
	}
	env = agentenv.NewEnv([]string{"HTTPS_PROXY=http://bob:hunter3@squid:3128", "NO_PROXY=.corp"})
	c, _ = FromEnv(env)
	if got, want := c.Describe(), "network: proxy http://squid:3128 (HTTPS_PROXY, NO_PROXY .corp)"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

// TestPipelineVariablesSteerNothing: a proxy or trust store variable that
// a pipeline variable may have set (the agent lists the job's variables)
// is not used, with a warning naming the variable and what to do instead;
// the machine's own, and the agent's settings, still are. A trust store
// variable is handed back to be removed from the process.
func TestPipelineVariablesSteerNothing(t *testing.T) {
	proxyWarning := func(vars, env string) string {
		return "The pipeline variable " + vars + " sets " + env + ", which GoKeyVault ignores: a pipeline variable, which any earlier step can set too, must not choose the proxy that carries the service connection's credentials and the secrets. Configure the agent's proxy instead (config.sh or config.cmd --proxyurl, or the agent's .proxy file), or set " + env + " in the agent machine's environment"
	}
	agentWarning := func(use, vars, env string) string {
		return ignoredWarning(use, env, []string{strings.Trim(vars, "'")}, false)
	}
	trustWarning := "The pipeline variable 'ssl_cert_file' sets SSL_CERT_FILE, which GoKeyVault ignores: a pipeline variable, which any earlier step can set too, must not choose which certificates are trusted for the service connection's credentials and the secrets. Give the agent the CA instead (config.sh or config.cmd --sslcacert, which tasks receive as Agent.CAInfo), or set SSL_CERT_FILE in the agent machine's environment"
	tests := []struct {
		name     string
		environ  []string
		want     string // the proxy for https://kv.vault.azure.net/
		warnings []string
		unset    []string
		trust    string
	}{
		{"https_proxy and ssl_cert_file as pipeline variables", []string{"HTTPS_PROXY=http://evil:8080", "SSL_CERT_FILE=/tmp/evil.pem", `VSTS_PUBLIC_VARIABLES=["https_proxy", "ssl_cert_file", "system.debug"]`},
			"", []string{proxyWarning("'https_proxy'", "HTTPS_PROXY"), trustWarning}, []string{"SSL_CERT_FILE"}, ""},
		{"the machine's in the other case is used", []string{"HTTPS_PROXY=http://evil:8080", "https_proxy=http://corp:3128", `VSTS_PUBLIC_VARIABLES=["HTTPS_PROXY"]`},
			"http://corp:3128", []string{proxyWarning("'HTTPS_PROXY'", "HTTPS_PROXY")}, nil, ""},
		// The variable's env name is one of both spellings; the list does
		// not say which, so both count.
		{"set with preservecase, maybe", []string{"https_proxy=http://evil:8080", `VSTS_PUBLIC_VARIABLES=["https_proxy"]`},
			"", []string{proxyWarning("'https_proxy'", "https_proxy")}, nil, ""},
		{"a pipeline NO_PROXY", []string{"HTTPS_PROXY=http://corp:3128", "NO_PROXY=.vault.azure.net", `VSTS_PUBLIC_VARIABLES=["no.proxy"]`},
			"http://corp:3128", []string{proxyWarning("'no.proxy'", "NO_PROXY")}, nil, ""},
		{"the agent's own settings are the agent's", []string{"AGENT_PROXYURL=http://agent-proxy:8080", "HTTPS_PROXY=http://evil:8080", `VSTS_PUBLIC_VARIABLES=["agent.proxyurl", "https_proxy"]`},
			"http://agent-proxy:8080", []string{proxyWarning("'https_proxy'", "HTTPS_PROXY")}, nil, ""},
		{"the machine's own", []string{"HTTPS_PROXY=http://corp:3128", "SSL_CERT_FILE=/etc/corp.pem", `VSTS_PUBLIC_VARIABLES=["system.debug"]`},
			"http://corp:3128", nil, nil, "TLS: trusting the certificates of SSL_CERT_FILE=/etc/corp.pem (instead of the system's CA bundle)"},
		// The agent passes its own settings as job variables (agent.proxyurl
		// reaches the task as AGENT_PROXYURL): another spelling is a
		// pipeline variable writing the same name.
		{"the agent's settings under other spellings", []string{"AGENT_PROXYURL=http://evil:8080", "AGENT_PROXYUSERNAME=u", "AGENT_CAINFO=/tmp/evil.pem", "AGENT_SKIPCERTVALIDATION=true",
			`VSTS_PUBLIC_VARIABLES=["agent_proxyurl", "AGENT_CAINFO", "agent_skipcertvalidation", "agent.proxyusername"]`},
			"", []string{agentWarning(proxyUse, "'agent_proxyurl'", "AGENT_PROXYURL"), agentWarning(trustUse, "'AGENT_CAINFO'", "AGENT_CAINFO"), agentWarning(trustUse, "'agent_skipcertvalidation'", "AGENT_SKIPCERTVALIDATION")}, nil, ""},
		{"the agent's proxy password under another spelling", []string{"AGENT_PROXYURL=http://agent-proxy:8080", "AGENT_PROXYUSERNAME=u", "SECRET_AGENT_PROXYPASSWORD=evil",
			`VSTS_PUBLIC_VARIABLES=["agent.proxyurl", "agent.proxyusername"]`, `VSTS_SECRET_VARIABLES=["agent_proxypassword"]`},
			"http://u:@agent-proxy:8080", []string{agentWarning(proxyUse, "'agent_proxypassword'", "SECRET_AGENT_PROXYPASSWORD")}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(agentenv.NewEnv(tt.environ))
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse("https://kv.vault.azure.net/")
			got, _ := c.Proxy(u)
			gotS := ""
			if got != nil {
				gotS = got.String()
			}
			if gotS != tt.want {
				t.Errorf("proxy %q, want %q", gotS, tt.want)
			}
			if diff := cmp.Diff(tt.warnings, c.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.unset, c.Unset); diff != "" {
				t.Errorf("to unset (-want +got):\n%s", diff)
			}
			if runtime.GOOS == "linux" && c.Trust != tt.trust {
				t.Errorf("trust line %q, want %q", c.Trust, tt.trust)
			}
		})
	}
}

func TestTrustLine(t *testing.T) {
	tests := []struct {
		env  []string
		goos string
		want string
	}{
		{nil, "linux", ""},
		{[]string{"SSL_CERT_FILE=/etc/corp/ca.pem"}, "linux", "TLS: trusting the certificates of SSL_CERT_FILE=/etc/corp/ca.pem (instead of the system's CA bundle)"},
		{[]string{"SSL_CERT_DIR=/a:/b"}, "freebsd", "TLS: trusting the certificates of SSL_CERT_DIR=/a:/b (instead of the system's certificate directories)"},
		{[]string{"SSL_CERT_FILE=/f", "SSL_CERT_DIR=/d"}, "linux",
			"TLS: trusting the certificates of SSL_CERT_FILE=/f (instead of the system's CA bundle) and SSL_CERT_DIR=/d (instead of the system's certificate directories)"},
		// Go uses the platform's verifier there: the variables change nothing.
		{[]string{"SSL_CERT_FILE=/f"}, "darwin", ""},
		{[]string{"SSL_CERT_FILE=/f"}, "windows", ""},
	}
	for _, tt := range tests {
		if got := (&Config{}).trustLine(agentenv.NewEnv(tt.env), tt.goos); got != tt.want {
			t.Errorf("trustLine(%v, %s) = %q, want %q", tt.env, tt.goos, got, tt.want)
		}
	}
}
