package credential

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// fakeTransport answers requests in-process: no test in this package
// touches the network.
type fakeTransport struct {
	mu       sync.Mutex
	handle   func(*http.Request) (*http.Response, error)
	requests []*http.Request
}

func (f *fakeTransport) Do(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	resp, err := f.handle(req)
	if resp != nil {
		resp.Request = req
	}
	return resp, err
}

func (f *fakeTransport) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.requests {
		u := *r.URL
		u.RawQuery = ""
		out = append(out, r.Method+" "+u.String())
	}
	return out
}

func failTransport(t *testing.T) policy.Transporter {
	return &fakeTransport{handle: func(r *http.Request) (*http.Response, error) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
		return reply(500, ""), nil
	}}
}

func reply(status int, body string) *http.Response {
	return &http.Response{
		StatusCode: status,
		Status:     http.StatusText(status),
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(body)),
	}
}

func newTestPipeline(t policy.Transporter) runtime.Pipeline {
	return runtime.NewPipeline("test", "", runtime.PipelineOptions{}, &policy.ClientOptions{Transport: t, Retry: policy.RetryOptions{MaxRetries: -1}})
}

// testCert is a self-signed RSA certificate with its key, as PEM.
type testCert struct {
	cert     *x509.Certificate
	key      *rsa.PrivateKey
	certPEM  string
	keyPKCS8 string
	keyPKCS1 string
}

func newTestCert(t *testing.T, cn string) testCert {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{
		cert:     cert,
		key:      key,
		certPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		keyPKCS8: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})),
		keyPKCS1: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
	}
}

// opensslNodes is what openssl pkcs12 -in cert.pfx -nodes writes.
func (c testCert) opensslNodes() string {
	var b bytes.Buffer
	b.WriteString("Bag Attributes\n    localKeyID: 01 00 00 00 \n    friendlyName: pipelines\nsubject=CN = pipelines\nissuer=CN = pipelines\n")
	b.WriteString(c.certPEM)
	b.WriteString("Bag Attributes\n    localKeyID: 01 00 00 00 \n    friendlyName: pipelines\nKey Attributes: <No Attributes>\n")
	b.WriteString(c.keyPKCS8)
	return b.String()
}
