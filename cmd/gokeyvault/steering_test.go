package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/harness"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// Pipeline variables become environment variables of every later step, and
// an earlier step of the job can set them (##vso[task.setvariable]): what
// the environment says is not all the agent's word. None of them may
// steer where the service connection's credentials, the job's token or
// the secrets go.

// TestPipelineVariableFillsNoConnectionField: a pipeline variable named
// like a field of the connection that the connection lacks: with the id
// in upper case (how a pipeline variable's name reaches the environment),
// or in the agent's own case (a step's setvariable with
// preservecase=true). Neither sends the client secret to another login
// host: the run signs in at the connection's own.
func TestPipelineVariableFillsNoConnectionField(t *testing.T) {
	const attacker = "https://login.attacker.example/"
	for _, tt := range []struct {
		name string
		v    agentrunner.Variable
		key  string
	}{
		{"id in upper case", agentrunner.Variable{Value: attacker}, "ENDPOINT_DATA_" + strings.ToUpper(connID) + "_ACTIVEDIRECTORYAUTHORITY"},
		{"the agent's own name, case preserved", agentrunner.Variable{Value: attacker, PreserveCase: true}, "ENDPOINT_DATA_" + connID + "_ACTIVEDIRECTORYAUTHORITY"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			want := w.Put(map[string]string{"db-password": "v-steer-1"})

			res := w.Run(step{Variables: map[string]agentrunner.Variable{tt.key: tt.v}})

			harness.Succeeded(t, res, map[string]string{"db-password": "v-steer-1"})
			harness.SubsetOf(t, res.Variables, want)
			w.CheckHosts(res, []string{testworld.LoginHost, testworld.VaultHost})
		})
	}
}

// interceptor is the proxy a pipeline variable names: it takes CONNECT to
// any host, answers the TLS handshake with a certificate for that host
// from its own CA (the one the pipeline variable ssl_cert_file names), and
// records what then comes through it, as a proxy that reads the traffic
// would.
type interceptor struct {
	url    string
	caFile string

	mu   sync.Mutex
	seen []string // CONNECT targets, then each request read through them
}

func newInterceptor(t *testing.T) *interceptor {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "interceptor CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	i := &interceptor{caFile: filepath.Join(t.TempDir(), "interceptor-ca.pem")}
	if err := os.WriteFile(i.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	issue := func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), DNSNames: []string{hello.ServerName}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &caKey.PublicKey, caKey)
		if err != nil {
			return nil, err
		}
		return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: caKey}, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	i.url = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.record("CONNECT " + r.Host)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		tc := tls.Server(conn, &tls.Config{GetCertificate: issue})
		req, err := http.ReadRequest(bufio.NewReader(tc))
		if err != nil {
			return
		}
		i.record("read " + req.Method + " " + req.URL.Path)
		_, _ = io.WriteString(tc, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return i
}

func (i *interceptor) record(s string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.seen = append(i.seen, s)
}

func (i *interceptor) saw() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]string(nil), i.seen...)
}

// TestPipelineProxyAndTrustIgnored: HTTPS_PROXY and SSL_CERT_FILE set as
// pipeline variables would send the whole run, client secret, token and
// values, through a proxy that reads it. Neither is used: each is named
// in a warning that says how to give the agent the setting instead, the
// run goes through the agent machine's own proxy (https_proxy, which no
// pipeline variable set) and trusts the agent's own CA (Agent.CAInfo),
// and the interceptor sees nothing.
//
// The pipeline variables are spelled in upper case: a variable spelled
// https_proxy may have been written under either spelling (a step's
// setvariable can keep the case), so both would be ignored, and this run
// would then have no way to the local cloud but a direct one. The
// machine's own proxy is given in lower case alone, after which the
// pipeline's comes in the environment: a task that looked the variable up
// without regard to case, as GoKeyVault used to, took the pipeline's.
func TestPipelineProxyAndTrustIgnored(t *testing.T) {
	w := newWorld(t)
	want := w.Put(map[string]string{"db-password": "v-steer-2"})
	evil := newInterceptor(t)
	o := w.Options(taskDir, "*", t.TempDir())
	var env []string
	for _, kv := range o.Env {
		if !strings.HasPrefix(kv, "HTTPS_PROXY=") {
			env = append(env, kv)
		}
	}
	o.Env = env
	o.Variables = map[string]agentrunner.Variable{
		"HTTPS_PROXY":   {Value: evil.url},
		"SSL_CERT_FILE": {Value: evil.caFile},
		"agent.cainfo":  {Value: w.Cloud.CAFile()},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := agentrunner.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}

	harness.Succeeded(t, res, map[string]string{"db-password": "v-steer-2"})
	for k := range o.Variables {
		delete(res.Variables, k)
	}
	harness.SubsetOf(t, res.Variables, want)
	if saw := evil.saw(); len(saw) != 0 {
		t.Errorf("the pipeline's proxy saw %q", saw)
	}
	wantWarnings := []string{
		"The pipeline variable 'HTTPS_PROXY' sets HTTPS_PROXY, which GoKeyVault ignores: a pipeline variable, which any earlier step can set too, must not choose the proxy that carries the service connection's credentials and the secrets. Configure the agent's proxy instead (config.sh or config.cmd --proxyurl, or the agent's .proxy file), or set HTTPS_PROXY in the agent machine's environment",
		"The pipeline variable 'SSL_CERT_FILE' sets SSL_CERT_FILE, which GoKeyVault ignores: a pipeline variable, which any earlier step can set too, must not choose which certificates are trusted for the service connection's credentials and the secrets. Give the agent the CA instead (config.sh or config.cmd --sslcacert, which tasks receive as Agent.CAInfo), or set SSL_CERT_FILE in the agent machine's environment",
	}
	if diff := cmp.Diff(wantWarnings, testworld.Issues(res, "warning")); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	w.CheckHosts(res, []string{testworld.LoginHost, testworld.VaultHost}, w.Secret)
	harness.CheckNoValueLeaks(t, res, w.Cloud.SecretValues())
}

// TestOIDCRequestURISteered: system.oidcRequestUri is a job variable, which
// an earlier step can set: one on plain http (a listener on this machine)
// or on another host than the job's collection gets no request, so the
// job's access token goes nowhere; the run fails saying why.
func TestOIDCRequestURISteered(t *testing.T) {
	listener := &interceptor{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		listener.record(r.Method + " " + r.URL.Path + " Authorization=" + r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusServiceUnavailable)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	for _, tt := range []struct {
		name, uri string
	}{
		{"plain http to a listener", "http://" + ln.Addr().String() + "/org/p/oidctoken"},
		{"another host", "https://login.attacker.example/org/p/oidctoken"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if _, err := w.Cloud.EnableDevOps("gokeyvault-e2e", systemToken); err != nil {
				t.Fatal(err)
			}
			w.Cloud.AddPipelineConnection(connID, wifIssuer, wifSubject)
			w.Cloud.AddFederatedApp(tenantID, wifClientID, wifIssuer, wifSubject)
			w.Vault.Put(localcloud.Secret{Name: "api-key", Value: "key-federated-2"})
			vars := map[string]agentrunner.Variable{
				"system.collectionUri":  {Value: testworld.Collection},
				"system.oidcRequestUri": {Value: tt.uri},
			}

			res := w.Run(step{Conn: wifConnection(wifSubject, wifIssuer), Variables: vars, Token: systemToken})

			shown := strings.SplitN(tt.uri, "?", 2)[0]
			harness.FailedWith(t, res, "could not get the workload identity federation token for service connection "+connID+
				" from Azure DevOps (SYSTEM_OIDCREQUESTURI, POST "+shown+"): refused: the job's access token goes there, and it is not an https URL on the host of the collection the job runs in (dev.azure.com). "+
				"SYSTEM_OIDCREQUESTURI is the job variable system.oidcRequestUri, which Azure DevOps sets: remove any variable of that name from the pipeline and from the steps before this one")
			if saw := listener.saw(); len(saw) != 0 {
				t.Errorf("the listener got %q", saw)
			}
			if n := len(w.Cloud.OIDCTokens()); n != 0 {
				t.Errorf("%d OIDC tokens issued", n)
			}
			w.CheckHosts(res, nil, systemToken)
		})
	}
}

// TestDottedDecodePercents: a job variable spelled decode.percents reaches
// the task as DECODE_PERCENTS, but the agent reads only its own setting
// of that exact name: '%' is still escaped as the agent (decoding, by
// default) unescapes it, and every value arrives byte for byte.
func TestDottedDecodePercents(t *testing.T) {
	w := newWorld(t)
	want := w.Put(map[string]string{"pct": "100%", "literal": "x%AZP25y", "escape": "a%0Ab%3Bc"})

	res := w.Run(step{Variables: map[string]agentrunner.Variable{"decode.percents": {Value: "false"}}})

	harness.Succeeded(t, res, nil)
	if diff := cmp.Diff(want, res.Variables); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
}
