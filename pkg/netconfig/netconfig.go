// Package netconfig reads a self-hosted agent's network settings — its
// proxy, proxy credentials and bypass list, extra CA certificates and
// certificate-validation switch — plus the standard HTTPS_PROXY / NO_PROXY
// variables, and turns them into transport options.
//
// The agent's settings (AGENT_PROXYURL and the others, which the agent sets
// from its own configuration) and the agent machine's environment are the
// agent's word. A pipeline variable becomes an environment variable of
// every later step, and an earlier step can set one: a proxy or a trust
// store named by a pipeline variable (https_proxy, ssl_cert_file) could
// send the service connection's credentials and every secret through a
// proxy that reads them, so it is not used, and a warning says how to give
// the agent that setting instead.
//
// Precedence follows the agent: when AGENT_PROXYURL is set it is the only
// proxy (HTTPS_PROXY is ignored), and a request bypasses it when its
// "scheme://host[:port]" matches one of AGENT_PROXYBYPASSLIST's regular
// expressions, case-insensitively, or when it goes to a loopback address
// (the agent's VstsAgentWebProxy.IsBypassed). Link-local addresses (the
// Azure Instance Metadata Service at 169.254.169.254) are always reached
// directly too: they exist only on the agent's own network link, so no
// proxy can reach them on its behalf.
package netconfig

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"

	"golang.org/x/net/http/httpproxy"

	"github.com/gokeyvault/gokeyvault/pkg/agentenv"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
)

// Config is the network configuration of one run.
type Config struct {
	// Warnings are for the step log: settings that lower security or that
	// could not be honoured.
	Warnings []string
	// Trust, when not empty, is a line for the step log: the environment
	// replaces the system's trust store.
	Trust string
	// Unset are the trust store variables a pipeline variable set: the
	// caller removes them from the process environment before any TLS
	// connection, since Go reads them there when it first loads the
	// system's certificates.
	Unset []string

	proxyURL *url.URL // the agent proxy, nil when HTTPS_PROXY/NO_PROXY apply
	bypass   []*regexp.Regexp
	env      httpproxy.Config
	envNames []string // the variables env was read from
	envProxy func(*url.URL) (*url.URL, error)
	caFile   string
	caCerts  []*x509.Certificate
	insecure bool
}

// FromEnv reads the configuration. It fails only on settings that cannot
// be honoured safely: an AGENT_PROXYURL that is not a URL, or an
// AGENT_CAINFO file that cannot be read or holds no certificate (running
// without the CA the agent was given would fail later with a less helpful
// TLS error).
func FromEnv(e *agentenv.Env) (*Config, error) {
	c := &Config{}
	c.env = httpproxy.Config{
		HTTPSProxy: c.fromMachine(e, proxyUse, "HTTPS_PROXY", "https_proxy"),
		HTTPProxy:  c.fromMachine(e, proxyUse, "HTTP_PROXY", "http_proxy"),
		NoProxy:    c.fromMachine(e, proxyUse, "NO_PROXY", "no_proxy"),
	}
	if raw := strings.TrimSpace(c.fromAgent(e, proxyUse, agentenv.AgentProxyURL)); raw != "" {
		u, err := parseProxyURL(raw)
		if err != nil {
			return nil, fmt.Errorf("the agent's proxy setting AGENT_PROXYURL is not a valid URL (%v): fix the agent's proxy configuration (.proxy file or --proxyurl)", err)
		}
		user := c.fromAgent(e, proxyUse, agentenv.AgentProxyUsername)
		pass := ""
		for _, n := range []string{agentenv.SecretPrefix + agentenv.AgentProxyPassword, agentenv.AgentProxyPassword} {
			if pass == "" && c.fromAgent(e, proxyUse, n) != "" {
				pass = e.Secret(n)
			}
		}
		if user != "" {
			u.User = url.UserPassword(user, pass)
		}
		c.proxyURL = u
		bypass, warnings := parseBypassList(c.fromAgent(e, proxyUse, agentenv.AgentProxyBypassList))
		c.bypass = bypass
		c.Warnings = append(c.Warnings, warnings...)
	}
	c.envProxy = c.env.ProxyFunc()

	if file := strings.TrimSpace(c.fromAgent(e, trustUse, agentenv.AgentCAInfo)); file != "" {
		certs, err := loadCA(file)
		if err != nil {
			return nil, err
		}
		c.caFile, c.caCerts = file, certs
	}
	c.Trust = c.trustLine(e, runtime.GOOS)
	if agentenv.TaskLibTrue(c.fromAgent(e, trustUse, agentenv.AgentSkipCertValidation)) {
		c.insecure = true
		c.Warnings = append(c.Warnings, "The agent is configured to skip TLS certificate validation (AGENT_SKIPCERTVALIDATION): server certificates are not checked, so anyone on the network path could read the secrets. Give the agent the CA of any TLS-inspecting proxy (--sslcacert) instead.")
	}
	return c, nil
}

// Transport is the transport's Proxy, RootCAs and InsecureSkipVerify; the
// caller adds its own connection limits. Call it once the variables in
// Unset are gone: the system's certificates are loaded here.
func (c *Config) Transport() transport.Options {
	o := transport.Options{Proxy: c.proxyFor, InsecureSkipVerify: c.insecure}
	if len(c.caCerts) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		for _, cert := range c.caCerts {
			pool.AddCert(cert)
		}
		o.RootCAs = pool
	}
	return o
}

// The uses a variable of the machine's may have, for the warning when a
// pipeline variable set it instead.
const (
	proxyUse = "proxy"
	trustUse = "trust"
)

// fromMachine returns the first of names that is set and that no pipeline
// variable may have set, trimmed; each one a pipeline variable may have
// set is skipped with a warning.
func (c *Config) fromMachine(e *agentenv.Env, use string, names ...string) string {
	for _, n := range names {
		v := strings.TrimSpace(e.Get(n))
		if v == "" {
			continue
		}
		if vars, _ := e.Pipeline(n); len(vars) > 0 {
			c.Warnings = append(c.Warnings, ignoredWarning(use, n, vars, true))
			if use == trustUse {
				c.Unset = append(c.Unset, n)
			}
			continue
		}
		if use == proxyUse {
			c.envNames = append(c.envNames, n)
		}
		return v
	}
	return ""
}

// fromAgent reads one of the agent's own settings; one a pipeline variable
// of another spelling may have set is not the agent's word: it is ignored,
// with a warning.
func (c *Config) fromAgent(e *agentenv.Env, use, name string) string {
	v, steered := e.AgentVariable(name)
	if len(steered) > 0 {
		c.Warnings = append(c.Warnings, ignoredWarning(use, name, steered, false))
	}
	return v
}

// ignoredWarning says that the variable env, which the pipeline variables
// vars may have set, is not used, why, and what to do instead; machine
// says that env is one the agent machine's environment may set.
func ignoredWarning(use, env string, vars []string, machine bool) string {
	quoted := make([]string, len(vars))
	for i, v := range vars {
		quoted[i] = "'" + v + "'"
	}
	what := "The pipeline variable " + strings.Join(quoted, ", ")
	if len(vars) > 1 {
		what = "The pipeline variables " + strings.Join(quoted, ", ")
	}
	orMachine := ""
	if machine {
		orMachine = ", or set " + env + " in the agent machine's environment"
	}
	if use == trustUse {
		return fmt.Sprintf("%s sets %s, which GoKeyVault ignores: a pipeline variable, which any earlier step can set too, must not choose which certificates are trusted for the service connection's credentials and the secrets. Give the agent the CA instead (config.sh or config.cmd --sslcacert, which tasks receive as Agent.CAInfo)%s", what, env, orMachine)
	}
	return fmt.Sprintf("%s sets %s, which GoKeyVault ignores: a pipeline variable, which any earlier step can set too, must not choose the proxy that carries the service connection's credentials and the secrets. Configure the agent's proxy instead (config.sh or config.cmd --proxyurl, or the agent's .proxy file)%s", what, env, orMachine)
}

// trustLine says where TLS trust comes from when SSL_CERT_FILE or
// SSL_CERT_DIR replace the system's CA bundle or certificate directories,
// which Go honours on Linux and the other Unix systems but not on macOS or
// Windows. One a pipeline variable set is ignored, with a warning.
func (c *Config) trustLine(e *agentenv.Env, goos string) string {
	if goos == "darwin" || goos == "ios" || goos == "windows" {
		return ""
	}
	var parts []string
	if f := c.fromMachine(e, trustUse, "SSL_CERT_FILE"); f != "" {
		parts = append(parts, "SSL_CERT_FILE="+f+" (instead of the system's CA bundle)")
	}
	if d := c.fromMachine(e, trustUse, "SSL_CERT_DIR"); d != "" {
		parts = append(parts, "SSL_CERT_DIR="+d+" (instead of the system's certificate directories)")
	}
	if len(parts) == 0 {
		return ""
	}
	return "TLS: trusting the certificates of " + strings.Join(parts, " and ")
}

// Proxy returns the proxy used for u, nil for a direct connection.
func (c *Config) Proxy(u *url.URL) (*url.URL, error) {
	if alwaysDirect(u.Hostname()) {
		return nil, nil
	}
	if c.proxyURL != nil {
		if c.bypassed(u) {
			return nil, nil
		}
		return c.proxyURL, nil
	}
	return c.envProxy(u)
}

func (c *Config) proxyFor(req *http.Request) (*url.URL, error) { return c.Proxy(req.URL) }

// Describe summarises the configuration for the debug log. It never
// includes the proxy password.
func (c *Config) Describe() string {
	var parts []string
	switch {
	case c.proxyURL != nil:
		p := fmt.Sprintf("proxy %s (AGENT_PROXYURL", transport.Redact(c.proxyURL))
		if c.proxyURL.User != nil {
			p += ", user " + c.proxyURL.User.Username()
		}
		p += fmt.Sprintf(", %d bypass pattern(s))", len(c.bypass))
		parts = append(parts, p)
	case c.env.HTTPSProxy != "":
		p := "proxy " + redactString(c.env.HTTPSProxy) + " (" + c.envNames[0]
		if c.env.NoProxy != "" {
			p += ", " + c.envNames[len(c.envNames)-1] + " " + c.env.NoProxy
		}
		parts = append(parts, p+")")
	default:
		parts = append(parts, "no proxy")
	}
	if c.caFile != "" {
		parts = append(parts, fmt.Sprintf("system CAs plus %d from %s (AGENT_CAINFO)", len(c.caCerts), c.caFile))
	}
	if c.insecure {
		parts = append(parts, "TLS certificate validation OFF (AGENT_SKIPCERTVALIDATION)")
	}
	return "network: " + strings.Join(parts, "; ")
}

// bypassed matches the agent's VstsAgentWebProxy.IsMatchInBypassList: the
// patterns see "scheme://host" plus ":port" when the port is not the
// scheme's default.
func (c *Config) bypassed(u *url.URL) bool {
	target := strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname())
	if p := u.Port(); p != "" && !(u.Scheme == "https" && p == "443") && !(u.Scheme == "http" && p == "80") {
		target += ":" + p
	}
	for _, re := range c.bypass {
		if re.MatchString(target) {
			return true
		}
	}
	return false
}

func alwaysDirect(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsLinkLocalUnicast())
}

// parseBypassList reads the JSON array of regular expressions. Patterns Go
// cannot compile (e.g. .NET lookarounds) are skipped with a warning, as the
// agent skips the ones .NET cannot compile.
func parseBypassList(raw string) ([]*regexp.Regexp, []string) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	var patterns []string
	if err := json.Unmarshal([]byte(raw), &patterns); err != nil {
		return nil, []string{"The agent's proxy bypass list (AGENT_PROXYBYPASSLIST) is not a JSON array of strings and is ignored: every request goes through the proxy"}
	}
	var out []*regexp.Regexp
	var warnings []string
	for _, p := range patterns {
		if strings.TrimSpace(p) == "" {
			continue
		}
		re, err := regexp.Compile("(?i)" + p)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("Proxy bypass pattern %q (AGENT_PROXYBYPASSLIST) is not a regular expression GoKeyVault understands and is ignored: %v", p, err))
			continue
		}
		out = append(out, re)
	}
	return out, warnings
}

// maxCAFile bounds the CA file: a bundle of every public CA is 250 KB.
const maxCAFile = 4 << 20

// readCAFile reads a regular file of at most maxCAFile bytes: the run is
// not yet under its budget's watch when it reads it, and a FIFO or
// /dev/zero would hang it or exhaust its memory.
func readCAFile(file string) ([]byte, error) {
	// Before the open too: opening a FIFO waits for a writer.
	if fi, err := os.Stat(file); err != nil {
		return nil, errors.Unwrap(err)
	} else if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, errors.Unwrap(err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCAFile+1))
	switch {
	case err != nil:
		return nil, errors.Unwrap(err)
	case len(b) > maxCAFile:
		return nil, fmt.Errorf("larger than %d MiB", maxCAFile>>20)
	}
	return b, nil
}

func parseProxyURL(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, which may hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, ue.Err
		}
		return nil, errors.New("cannot parse")
	}
	if u.Host == "" {
		return nil, errors.New("no host")
	}
	switch u.Scheme {
	case "http", "https", "socks5":
	default:
		return nil, fmt.Errorf("scheme %q is not supported (use http, https or socks5)", u.Scheme)
	}
	return u, nil
}

// loadCA reads every certificate in file.
func loadCA(file string) ([]*x509.Certificate, error) {
	b, err := readCAFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the agent's CA certificate file %s (AGENT_CAINFO): %w; fix the agent's --sslcacert setting", file, err)
	}
	var certs []*x509.Certificate
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("the agent's CA certificate file %s (AGENT_CAINFO) holds a certificate that cannot be parsed: %v", file, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("the agent's CA certificate file %s (AGENT_CAINFO) holds no PEM certificate: export the CA as PEM (-----BEGIN CERTIFICATE-----)", file)
	}
	return certs, nil
}

func redactString(raw string) string {
	u, err := parseProxyURL(raw)
	if err != nil {
		return "(unparsable)"
	}
	return transport.Redact(u)
}
