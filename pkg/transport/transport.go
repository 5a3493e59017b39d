// Package transport builds the one HTTP transport every request of the task
// goes through: the agent's proxy and TLS settings, connection reuse, and
// errors classified so that the Azure SDK's retry policy does not spend a
// minute retrying what can never succeed (an unknown host, an untrusted
// certificate, a proxy that refuses the tunnel).
package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Options configures the transport.
type Options struct {
	// Proxy picks the proxy for a request; nil means http.ProxyFromEnvironment
	// (HTTPS_PROXY, NO_PROXY).
	Proxy func(*http.Request) (*url.URL, error)
	// RootCAs replaces the system roots when set.
	RootCAs *x509.CertPool
	// InsecureSkipVerify mirrors the agent's AGENT_SKIPCERTVALIDATION.
	InsecureSkipVerify bool
	// MaxConnsPerHost bounds parallel connections to one host; requests
	// beyond it wait for a free connection instead of opening new tunnels.
	MaxConnsPerHost int
}

// New returns an HTTP client suitable as an azcore Transporter.
func New(o Options) *Client {
	proxy := o.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	conns := o.MaxConnsPerHost
	if conns <= 0 {
		conns = 16
	}
	t := &http.Transport{
		Proxy: proxy,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig: &tls.Config{
			RootCAs:            o.RootCAs,
			InsecureSkipVerify: o.InsecureSkipVerify, //nolint:gosec // only when the agent is configured to skip validation
			MinVersion:         tls.VersionTLS12,
		},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConns:          2 * conns,
		MaxIdleConnsPerHost:   conns,
		MaxConnsPerHost:       conns,
		IdleConnTimeout:       90 * time.Second,
		OnProxyConnectResponse: func(_ context.Context, proxyURL *url.URL, req *http.Request, resp *http.Response) error {
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			return &ProxyError{Proxy: Redact(proxyURL), Target: req.Host, StatusCode: resp.StatusCode, Status: resp.Status, SentCredentials: proxyURL.User != nil}
		},
	}
	return &Client{rt: t, proxy: proxy}
}

// Client is an azcore policy.Transporter. It sends each request with the
// transport itself, not an http.Client: no endpoint the task talks to
// redirects, and an http.Client would follow a 3xx with the Authorization
// header to the same host on any scheme or port, and post a 307's body (a
// client secret) again to any host.
type Client struct {
	rt    *http.Transport
	proxy func(*http.Request) (*url.URL, error)
}

// Do sends the request and marks errors that retrying cannot fix. A
// redirect is one of them.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		// As http.Client reports it: the method and the URL, which say
		// which of the task's hosts failed.
		method := req.Method
		if method == "" {
			method = http.MethodGet // as net/http reads an empty method
		}
		err = &url.Error{Op: method[:1] + strings.ToLower(method[1:]), URL: req.URL.Redacted(), Err: err}
		return nil, c.classify(req, err)
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		resp.Body.Close()
		return nil, &RedirectError{Host: req.URL.Host, Status: resp.Status, Location: origin(resp.Header.Get("Location"), req.URL)}
	}
	return resp, nil
}

// RedirectError is a 3xx answer, which no Azure endpoint the task talks to
// (Key Vault, Entra ID, Azure DevOps, managed identity, Azure Stack Hub)
// ever gives: something between the agent and Azure, or a server posing as
// it, wants the request elsewhere.
type RedirectError struct {
	Host     string // who answered
	Status   string // e.g. "307 Temporary Redirect"
	Location string // the redirect's scheme://host[:port], "" when it had none
}

func (e *RedirectError) Error() string {
	to := "without a Location"
	if e.Location != "" {
		to = "to " + e.Location
	}
	return fmt.Sprintf("%s answered %s, a redirect %s, which Azure never sends: not followed, so neither the request nor its credentials went there (check for a proxy or DNS entry that intercepts %s)", e.Host, e.Status, to, e.Host)
}

// NonRetriable tells azcore's retry policy not to try again.
func (e *RedirectError) NonRetriable() {}

// Explained marks the message as saying what to do.
func (e *RedirectError) Explained() {}

// origin renders where a Location points, resolved against the request,
// as scheme://host[:port]: never its path or query, which may carry
// anything.
func origin(location string, base *url.URL) string {
	if location == "" {
		return ""
	}
	u, err := base.Parse(location)
	if err != nil || u.Host == "" {
		return "(a Location that is not a URL)"
	}
	return u.Scheme + "://" + u.Host
}

// CloseIdleConnections releases pooled connections.
func (c *Client) CloseIdleConnections() { c.rt.CloseIdleConnections() }

// ProxyError is a proxy's refusal to open a tunnel, or a proxy that cannot
// be connected to at all (StatusCode 0).
type ProxyError struct {
	Proxy      string // without credentials
	Target     string
	StatusCode int
	Status     string
	// SentCredentials says the request carried proxy credentials.
	SentCredentials bool
	// Err is the connection failure when StatusCode is 0.
	Err error
}

func (e *ProxyError) Error() string {
	switch e.StatusCode {
	case 0:
		return fmt.Sprintf("could not connect to the proxy %s to reach %s (%s): check the agent's proxy setting (AGENT_PROXYURL, or HTTPS_PROXY) and that the proxy is running", e.Proxy, e.Target, RootCause(e.Err))
	case http.StatusProxyAuthRequired:
		if e.SentCredentials {
			return fmt.Sprintf("proxy %s rejected the proxy credentials to reach %s (407): check the agent's proxy user name (AGENT_PROXYUSERNAME) and password (the secret agent.proxypassword)", e.Proxy, e.Target)
		}
		return fmt.Sprintf("proxy %s requires credentials to reach %s (407): set the agent's proxy user name and password (AGENT_PROXYUSERNAME and the secret agent.proxypassword), or include them in HTTPS_PROXY", e.Proxy, e.Target)
	case http.StatusBadGateway, http.StatusGatewayTimeout, http.StatusServiceUnavailable:
		return fmt.Sprintf("proxy %s could not reach %s (%s): check that the host name is right and resolves from the proxy", e.Proxy, e.Target, e.Status)
	default:
		return fmt.Sprintf("proxy %s refused the connection to %s (%s)", e.Proxy, e.Target, e.Status)
	}
}

// NonRetriable tells azcore's retry policy not to try again: a proxy that
// refuses a tunnel, or cannot resolve the host, says the same next time.
func (e *ProxyError) NonRetriable() {}

func (e *ProxyError) Unwrap() error { return e.Err }

// Explained marks the message as saying what to do.
func (e *ProxyError) Explained() {}

// RootCause is the innermost error's message, e.g. "connection refused":
// what a person can act on, without the layers of wrapping around it.
func RootCause(err error) string {
	if err == nil {
		return "no reason given"
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// PermanentError wraps a transport failure that retrying cannot fix.
type PermanentError struct {
	Err error
	// Hint says what to change.
	Hint string
}

func (e *PermanentError) Error() string {
	if e.Hint == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + e.Hint
}

func (e *PermanentError) Unwrap() error { return e.Err }

// NonRetriable marks the error for azcore's retry policy.
func (e *PermanentError) NonRetriable() {}

// Explained marks the message as saying what to do.
func (e *PermanentError) Explained() {}

func (c *Client) classify(req *http.Request, err error) error {
	var pe *ProxyError
	if errors.As(err, &pe) {
		return err
	}
	// net/http reports a failed dial to the proxy as "proxyconnect".
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "proxyconnect" && req.Context().Err() == nil {
		proxy := "(unknown)"
		if u, perr := c.proxy(req); perr == nil && u != nil {
			proxy = Redact(u)
		}
		return &ProxyError{Proxy: proxy, Target: req.URL.Host, Err: op.Err}
	}
	return classify(err)
}

func classify(err error) error {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return &PermanentError{Err: err, Hint: fmt.Sprintf("the host name %s does not resolve; check the vault name and the agent's DNS", dnsErr.Name)}
	}
	var unknownAuth x509.UnknownAuthorityError
	if errors.As(err, &unknownAuth) {
		return &PermanentError{Err: err, Hint: "the server's certificate is not signed by a trusted authority; if a proxy inspects TLS, give the agent its CA (AGENT_CAINFO or the agent's --sslcacert)"}
	}
	var hostErr x509.HostnameError
	if errors.As(err, &hostErr) {
		return &PermanentError{Err: err, Hint: fmt.Sprintf("the certificate presented is not valid for %s; a proxy or DNS entry may be redirecting the request (a TLS-inspecting proxy must issue certificates for the hosts it intercepts, and the agent must trust its CA through AGENT_CAINFO)", hostErr.Host)}
	}
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) {
		return &PermanentError{Err: err, Hint: "the server's certificate is invalid (expired or not yet valid?); check the agent's clock and any TLS-inspecting proxy"}
	}
	var verify *tls.CertificateVerificationError
	if errors.As(err, &verify) {
		return &PermanentError{Err: err, Hint: "TLS verification failed; if a proxy inspects TLS, give the agent its CA (AGENT_CAINFO)"}
	}
	return err
}

// Redact drops credentials from a proxy URL before it is printed.
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	return c.String()
}
