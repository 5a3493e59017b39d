package localcloud

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"
)

// extState is what the fakes beyond Entra and Key Vault keep: the
// authenticating proxy, Azure DevOps' OIDC endpoints, the managed identity
// endpoint and an Azure Stack Hub region. Guarded by Cloud.mu.
type extState struct {
	proxyUser, proxyPassword string // non-empty user: the proxy requires Basic credentials
	proxyAuthFailures        int

	devops   *devopsState
	identity *identityState
	stack    *AzureStackOptions

	servers []*http.Server
}

// HostRequest is one request to a fake other than Entra's v2 endpoints and
// Key Vault: Azure DevOps, the managed identity endpoint, Azure Stack Hub's
// Resource Manager metadata and AD FS (Cloud.HostRequests).
type HostRequest struct {
	// Host is the TLS host name, or "managed-identity" for the loopback
	// managed identity endpoint.
	Host, Method, Path string
	Query              string // never holds a credential in these protocols
	Status             int
}

func (c *Cloud) recordHost(r *http.Request, host string, status int) {
	c.record(Event{Kind: HostReplyEvent, HostRequest: HostRequest{Host: host, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status}})
	c.logf("localcloud %s: %s %s -> %d", host, r.Method, r.URL.Path, status)
}

// serveExt routes the extra TLS hosts; it reports whether it handled r.
func (c *Cloud) serveExt(w http.ResponseWriter, r *http.Request, host string) bool {
	c.mu.Lock()
	devops, stack := c.ext.devops, c.ext.stack
	c.mu.Unlock()
	rw := &statusWriter{ResponseWriter: w}
	switch {
	case devops != nil && host == DevOpsHost:
		c.serveDevOps(rw, r, devops)
	case stack != nil && host == AzureStackARMHost:
		c.serveStackARM(rw, r, *stack)
	case stack != nil && stack.ADFS && host == AzureStackADFSHost:
		c.serveADFS(rw, r, host)
	default:
		return false
	}
	c.recordHost(r, host, rw.status)
	return true
}

// extHost says whether the proxy should tunnel to host.
func (c *Cloud) extHost(host string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.ext.devops != nil && host == DevOpsHost:
		return true
	case c.ext.stack != nil && host == AzureStackARMHost:
		return true
	case c.ext.stack != nil && c.ext.stack.ADFS && host == AzureStackADFSHost:
		return true
	}
	return false
}

// serveLoopback starts an extra plain-HTTP server on a loopback port. It is
// closed with the cloud, and its handlers are waited for like the others.
func (c *Cloud) serveLoopback(h http.Handler) (addr string, err error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen on loopback: %w", err)
	}
	srv := &http.Server{
		Handler:           c.guard(h),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(logfWriter(c.logf), "localcloud: ", 0),
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = ln.Close()
		return "", errors.New("local cloud closed")
	}
	c.ext.servers = append(c.ext.servers, srv)
	c.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), nil
}

func (c *Cloud) closeExt() error {
	c.mu.Lock()
	servers := c.ext.servers
	c.ext.servers = nil
	c.mu.Unlock()
	var errs []error
	for _, s := range servers {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
