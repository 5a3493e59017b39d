package localcloud

import (
	"slices"
	"sort"
	"time"
)

// EventKind says what an Event records.
type EventKind int

// The kinds of events, each with the field of Event it fills.
const (
	// TunnelEvent: the proxy was asked for a CONNECT, allowed or not (Host is
	// the target, host:port).
	TunnelEvent EventKind = iota + 1
	// HandshakeEvent: the TLS server began a handshake (Host is the client's
	// server name), successful or not.
	HandshakeEvent
	// ArrivalEvent: an HTTP request reached the cloud (Arrival).
	ArrivalEvent
	// VaultReplyEvent: a Key Vault request ended (Request; Event.At is its end,
	// Request.At its start).
	VaultReplyEvent
	// TokenRequestEvent: a POST reached a token endpoint, failed ones included.
	TokenRequestEvent
	// TokenIssuedEvent: an access token was issued (Token).
	TokenIssuedEvent
	// HostReplyEvent: a request to a fake other than Entra's v2 endpoints and
	// Key Vault ended (HostRequest).
	HostReplyEvent
)

// Event is one thing the cloud saw. Every observation the cloud offers is
// a view of its one log of events, in the order they happened.
type Event struct {
	Kind        EventKind
	At          time.Time
	Host        string // TunnelEvent, HandshakeEvent, VaultReplyEvent: the host
	Arrival     Arrival
	Request     Request
	Token       IssuedToken
	HostRequest HostRequest
}

// Events returns the cloud's log of events.
func (c *Cloud) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events)
}

func (c *Cloud) record(e Event) {
	e.At = time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
}

// eventsOf returns the events of one kind.
func (c *Cloud) eventsOf(k EventKind) []Event {
	var out []Event
	for _, e := range c.Events() {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// ProxyLog lists every CONNECT target in arrival order, e.g.
// "login.microsoftonline.com:443", including refused ones.
func (c *Cloud) ProxyLog() []string {
	var out []string
	for _, e := range c.eventsOf(TunnelEvent) {
		out = append(out, e.Host)
	}
	return out
}

// Handshakes counts the TLS handshakes the server began for host (the
// client's SNI), successful or not.
func (c *Cloud) Handshakes(host string) int {
	n := 0
	for _, e := range c.eventsOf(HandshakeEvent) {
		if e.Host == hostOnly(host) {
			n++
		}
	}
	return n
}

// Arrivals lists every request in arrival order.
func (c *Cloud) Arrivals() []Arrival {
	var out []Arrival
	for _, e := range c.eventsOf(ArrivalEvent) {
		out = append(out, e.Arrival)
	}
	return out
}

// TokenRequests counts POSTs to any token endpoint, failed ones included.
func (c *Cloud) TokenRequests() int { return len(c.eventsOf(TokenRequestEvent)) }

// IssuedTokens lists the tenant and audience of every access token issued,
// sorted.
func (c *Cloud) IssuedTokens() []IssuedToken {
	var out []IssuedToken
	for _, e := range c.eventsOf(TokenIssuedEvent) {
		out = append(out, e.Token)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tenant != out[j].Tenant {
			return out[i].Tenant < out[j].Tenant
		}
		return out[i].Audience < out[j].Audience
	})
	return out
}

// HostRequests lists the requests to the fakes other than Entra's v2
// endpoints and Key Vault, in completion order.
func (c *Cloud) HostRequests() []HostRequest {
	var out []HostRequest
	for _, e := range c.eventsOf(HostReplyEvent) {
		out = append(out, e.HostRequest)
	}
	return out
}

// Requests returns every request the vault served so far, in completion
// order.
func (v *Vault) Requests() []Request {
	var out []Request
	for _, e := range v.cloud.eventsOf(VaultReplyEvent) {
		if e.Host == v.host {
			out = append(out, e.Request)
		}
	}
	return out
}

// MaxInFlight is the peak number of requests the vault was serving at
// once, from the requests that have ended.
func (v *Vault) MaxInFlight() int {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, e := range v.cloud.eventsOf(VaultReplyEvent) {
		if e.Host == v.host {
			edges = append(edges, edge{e.Request.At, 1}, edge{e.At, -1})
		}
	}
	// At the same instant an end comes before a start: those two did not
	// overlap.
	sort.Slice(edges, func(i, j int) bool {
		if !edges[i].at.Equal(edges[j].at) {
			return edges[i].at.Before(edges[j].at)
		}
		return edges[i].delta < edges[j].delta
	})
	n, peak := 0, 0
	for _, e := range edges {
		n += e.delta
		peak = max(peak, n)
	}
	return peak
}
