// Package localcloud is a local fake of Microsoft Entra ID and Azure Key Vault
// that real Azure SDK clients reach under the real host names.
//
// A Cloud runs two loopback listeners: an HTTP CONNECT proxy and one TLS
// server whose certificate (signed by a CA generated at Start) covers
// login.microsoftonline.com and *.vault.azure.net (plus the China and US
// Government equivalents). A process started with Env() — HTTPS_PROXY pointing
// at the proxy and SSL_CERT_FILE at the CA — talks to "Azure" without any
// test-only code in it. Nothing ever leaves 127.0.0.1.
//
// A vault is either synthetic (AddVault: secrets a test puts, answered the
// way Key Vault answers, which conformance_test.go checks against Key
// Vault's recorded answers) or recorded (AddRecordedVault: every answer one
// Key Vault gave the Azure SDKs' tests, from pkg/testbed/recorded, served
// with the host name rewritten and nothing else; see Recording).
package localcloud

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Options configure Start.
type Options struct {
	// Dir receives ca.pem (the CA certificate only). Required.
	Dir string
	// Logf, when set, gets one line per proxied tunnel and per request.
	// It never sees secret values, client secrets or tokens.
	Logf func(format string, args ...any)
	// HTTP2 offers HTTP/2 as well as HTTP/1.1 on the TLS server, as Azure's
	// front doors do. Off, every concurrent request needs its own tunnel,
	// which is what a client's connection handling is measured against.
	HTTP2 bool
}

// Cloud is a running fake. Its methods are safe for concurrent use.
type Cloud struct {
	userLogf func(format string, args ...any)
	logMu    sync.Mutex
	logOff   bool // set once Close is done: stray net/http goroutines must not log into a finished test
	caFile   string
	caPool   *x509.CertPool
	client   *http.Transport // shared by HTTPClient so connections are reused
	tlsAddr  string
	proxyURL string

	tlsSrv   *http.Server
	proxySrv *http.Server

	closeOnce sync.Once
	closeErr  error
	stop      chan struct{}

	// active counts handlers and tunnel goroutines so Close can wait for them
	// (a late Logf call into a finished test panics).
	active sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	tunnels map[net.Conn]struct{}
	tenants map[string]bool // lower-case tenant ids
	apps    map[appKey]*app
	tokens  map[string]tokenInfo
	vaults  map[string]*Vault // lower-case host
	ext     extState          // the fakes beyond Entra and Key Vault (ext.go), under mu
	pki     *pki
	hostile cloudHostile // what hostile.go records, under mu
	events  []Event      // what the cloud saw (events.go), under mu
}

// Start generates the CA, writes opts.Dir/ca.pem and starts the proxy and the
// TLS server. The cloud stops when ctx is done or Close is called.
func Start(ctx context.Context, opts Options) (*Cloud, error) {
	if opts.Dir == "" {
		return nil, errors.New("start local cloud: Options.Dir is required")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start local cloud: %w", err)
	}
	p, err := newPKI(time.Now())
	if err != nil {
		return nil, fmt.Errorf("start local cloud: %w", err)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("start local cloud: create %s: %w", opts.Dir, err)
	}
	caFile := filepath.Join(opts.Dir, "ca.pem")
	if err := os.WriteFile(caFile, p.caPEM, 0o644); err != nil {
		return nil, fmt.Errorf("start local cloud: write CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)

	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	c := &Cloud{
		userLogf: logf,
		caFile:   caFile,
		caPool:   pool,
		stop:     make(chan struct{}),
		tunnels:  map[net.Conn]struct{}{},
		tenants:  map[string]bool{},
		apps:     map[appKey]*app{},
		tokens:   map[string]tokenInfo{},
		vaults:   map[string]*Vault{},
		pki:      p,
	}

	var lc net.ListenConfig
	tlsLn, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start local cloud: listen for TLS: %w", err)
	}
	proxyLn, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		_ = tlsLn.Close()
		return nil, fmt.Errorf("start local cloud: listen for proxy: %w", err)
	}
	c.tlsAddr = tlsLn.Addr().String()
	c.proxyURL = "http://" + proxyLn.Addr().String()
	c.client = &http.Transport{
		Proxy:               http.ProxyURL(&url.URL{Scheme: "http", Host: proxyLn.Addr().String()}),
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 64,
	}

	c.tlsSrv = &http.Server{
		Handler:           c.guard(http.HandlerFunc(c.serveTLS)),
		TLSConfig:         &tls.Config{GetCertificate: c.certificate, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12},
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(logfWriter(c.logf), "localcloud tls: ", 0),
	}
	if opts.HTTP2 {
		c.tlsSrv.TLSConfig.NextProtos = []string{"h2", "http/1.1"}
		c.tlsSrv.TLSNextProto = nil // net/http's own HTTP/2 server
	}
	c.proxySrv = &http.Server{
		Handler:           c.guard(http.HandlerFunc(c.serveProxy)),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(logfWriter(c.logf), "localcloud proxy: ", 0),
	}
	go func() { _ = c.tlsSrv.Serve(tls.NewListener(tlsLn, c.tlsSrv.TLSConfig)) }()
	go func() { _ = c.proxySrv.Serve(proxyLn) }()
	go func() {
		select {
		case <-ctx.Done():
			_ = c.Close()
		case <-c.stop:
		}
	}()
	return c, nil
}

// Close stops both servers, cuts every tunnel and waits for handlers to
// return. It is idempotent.
func (c *Cloud) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		for conn := range c.tunnels {
			_ = conn.Close()
		}
		c.mu.Unlock()
		close(c.stop)
		c.client.CloseIdleConnections()
		err1 := c.proxySrv.Close()
		err2 := c.tlsSrv.Close()
		err1 = errors.Join(err1, c.closeExt())
		c.active.Wait()
		c.logMu.Lock()
		c.logOff = true
		c.logMu.Unlock()
		if err := errors.Join(err1, err2); err != nil {
			c.closeErr = fmt.Errorf("close local cloud: %w", err)
		}
	})
	return c.closeErr
}

// ProxyURL is the proxy's URL, e.g. "http://127.0.0.1:41234".
func (c *Cloud) ProxyURL() string { return c.proxyURL }

// CertPool holds the CA the TLS server chains to, and nothing else.
func (c *Cloud) CertPool() *x509.CertPool { return c.caPool }

// CAFile is the path of the PEM CA certificate the TLS server chains to.
func (c *Cloud) CAFile() string { return c.caFile }

// Env is what a child process needs to reach the fake: the proxy (both
// spellings, Go reads either) and the CA, with NO_PROXY cleared so an
// inherited bypass list cannot route around the fake.
func (c *Cloud) Env() []string {
	return []string{
		"HTTPS_PROXY=" + c.proxyURL,
		"SSL_CERT_FILE=" + c.caFile,
		"https_proxy=" + c.proxyURL,
		"NO_PROXY=",
		"no_proxy=",
	}
}

// HTTPClient returns a client that goes through the proxy and trusts only the
// fake's CA: what an in-process test hands to azcore as its Transport.
func (c *Cloud) HTTPClient() *http.Client {
	return &http.Client{Transport: c.client}
}

func (c *Cloud) logf(format string, args ...any) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	if !c.logOff {
		c.userLogf(format, args...)
	}
}

// guard admits a request only while the cloud is open, so Close can wait for
// every handler it let in.
func (c *Cloud) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.enter() {
			http.Error(w, "local cloud closed", http.StatusServiceUnavailable)
			return
		}
		defer c.active.Done()
		h.ServeHTTP(w, r)
	})
}

func (c *Cloud) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.active.Add(1)
	return true
}

// serveTLS routes by Host, exactly as Azure's front doors do.
func (c *Cloud) serveTLS(w http.ResponseWriter, r *http.Request) {
	host := hostOnly(r.Host)
	c.arrive("https", host, r)
	if loginHostInfo(host).instance != "" {
		c.serveEntra(w, r, host)
		return
	}
	if v := c.vaultByHost(host); v != nil {
		v.serveHTTP(w, r)
		return
	}
	if c.serveExt(w, r, host) {
		return
	}
	c.logf("localcloud: %s %s%s -> 421 (no such host)", r.Method, host, r.URL.Path)
	http.Error(w, "misdirected request", http.StatusMisdirectedRequest)
}

// knownHost says whether the proxy may open a tunnel to host: the login
// hosts and vaults that exist now. Anything else fails like a DNS miss.
func (c *Cloud) knownHost(host string) bool {
	if loginHostInfo(host).instance != "" || c.extHost(host) {
		return true
	}
	return c.vaultByHost(host) != nil
}

func (c *Cloud) serveProxy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		c.arrive("http", hostOnly(r.Host), r)
		c.logf("localcloud proxy: %s %s -> 405", r.Method, r.URL.Redacted())
		w.Header().Set("Allow", http.MethodConnect)
		http.Error(w, "only CONNECT is supported", http.StatusMethodNotAllowed)
		return
	}
	target := r.Host
	c.record(Event{Kind: TunnelEvent, Host: target})
	if !c.proxyAuthorized(w, r) {
		return
	}

	host, port, err := net.SplitHostPort(target)
	if err != nil || port != "443" || !c.knownHost(strings.ToLower(host)) {
		c.logf("localcloud proxy: CONNECT %s -> 502", target)
		http.Error(w, "cannot resolve "+target, http.StatusBadGateway)
		return
	}
	// The only address this proxy ever dials is its own loopback TLS server.
	var d net.Dialer
	backend, err := d.DialContext(r.Context(), "tcp", c.tlsAddr)
	if err != nil {
		c.logf("localcloud proxy: CONNECT %s -> 502 (%v)", target, err)
		http.Error(w, "backend unavailable", http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		_ = backend.Close()
		http.Error(w, "cannot tunnel", http.StatusInternalServerError)
		return
	}
	client, buf, err := hj.Hijack()
	if err != nil {
		_ = backend.Close()
		return
	}
	if !c.track(client, backend) {
		_ = client.Close()
		_ = backend.Close()
		return
	}
	c.logf("localcloud proxy: CONNECT %s -> 200", target)
	if _, err := client.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		c.untrack(client, backend)
		return
	}
	// Bytes the client pipelined behind the CONNECT are already buffered.
	if n := buf.Reader.Buffered(); n > 0 {
		pending, _ := buf.Reader.Peek(n)
		if _, err := backend.Write(pending); err != nil {
			c.untrack(client, backend)
			return
		}
	}
	c.active.Add(2) // balanced by pipe; safe: this handler itself holds active
	go c.pipe(backend, client)
	go c.pipe(client, backend)
}

// pipe copies one direction and tears the whole tunnel down when it ends.
func (c *Cloud) pipe(dst, src net.Conn) {
	defer c.active.Done()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	c.untrack(dst, src)
}

func (c *Cloud) track(conns ...net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	for _, conn := range conns {
		c.tunnels[conn] = struct{}{}
	}
	return true
}

func (c *Cloud) untrack(conns ...net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range conns {
		_ = conn.Close()
		delete(c.tunnels, conn)
	}
}

// logfWriter sends net/http's own complaints (e.g. a client that dropped a
// tunnel before the TLS handshake) to Logf instead of the process's stderr.
type logfWriter func(format string, args ...any)

func (l logfWriter) Write(p []byte) (int, error) {
	l("%s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func hostOnly(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}
