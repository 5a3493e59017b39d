package localcloud

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Hostile makes a vault attack its client instead of serving it: what a
// compromised front end, a TLS-inspecting proxy gone wrong or a spoofed DNS
// entry could send. The zero value is a well-behaved vault. Switches apply
// after authentication, to replies that would have been 200 (the challenge
// switches to the 401), so a client meets them with a valid token in hand.
type Hostile struct {
	// NextLink replaces the first list page's nextLink, verbatim. Point it
	// at a host the cloud serves (another vault, a login host) so that a
	// client that followed it would show up in Arrivals with its token, or
	// at another port or scheme of the vault itself.
	NextLink string
	// NextLinkLoop ends every list page with the same nextLink, which
	// serves the first page again.
	NextLinkLoop bool
	// EndlessPages ends every list page with a fresh nextLink: after the
	// real pages, empty pages forever.
	EndlessPages bool
	// NextLinkBytes > 0 pads every nextLink, with a query parameter, to
	// this many bytes.
	NextLinkBytes int
	// ExtraEntries > 0 adds this many made-up entries to every list page,
	// with names never listed before: disabled secrets, or with
	// ExtraInvalid, ids that are not secret ids.
	ExtraEntries int
	ExtraInvalid bool

	// HugeValue > 0 answers every get with a 200 whose body is this many
	// bytes (a JSON secret bundle with a padded value), streamed; with
	// HugeOnly, only the gets of that secret (the others are answered as
	// usual).
	HugeValue int64
	HugeOnly  string
	// HugeListPage > 0 answers every list call with a page of this many
	// bytes, streamed.
	HugeListPage int64
	// DeclareLength sends Content-Length with HugeValue and HugeListPage
	// bodies; without it they are chunked, so only reading tells their size.
	DeclareLength bool
	// TrickleGet > 0 writes each get reply's body one byte per interval.
	TrickleGet time.Duration
	// NeverEndingGet sends a get reply's headers, then nothing, until the
	// client or the cloud hangs up.
	NeverEndingGet bool

	// BadIDs adds the entries of BadListIDs to the first list page, and
	// repeats valid entries: the first page's first entry again with its
	// name upper-cased, and the vault's first secret on every later page.
	BadIDs bool

	// ChallengeTenant names this tenant in the 401 challenge instead of
	// the vault's.
	ChallengeTenant string
	// ChallengeResource names this resource in the challenge, e.g.
	// "https://evil.example".
	ChallengeResource string
	// ChallengeAuthorization replaces the challenge's whole authorization
	// value, e.g. "x" or "https://login.microsoftonline.com" (no tenant).
	ChallengeAuthorization string

	// TLS serves the vault's host with a bad certificate.
	TLS TLSFault

	// Redirect answers every request that would have been a 200 (list and
	// get) with this redirect instead.
	Redirect Redirect
}

// Redirect is a 3xx answer: Status (301, 302, 307, 308...) and Location.
// The zero value redirects nothing.
type Redirect struct {
	Status   int
	Location string
}

// write sends the redirect with an HTML body, as a web server would.
func (rd Redirect) write(w http.ResponseWriter) {
	w.Header().Set("Location", rd.Location)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(rd.Status)
	_, _ = fmt.Fprintf(w, "<a href=\"%s\">Moved</a>.\n", rd.Location)
}

// TLSFault is a certificate a client must refuse.
type TLSFault string

const (
	// TLSWrongName: signed by the cloud's CA, but for another host name.
	TLSWrongName TLSFault = "wrong-name"
	// TLSUnknownCA: for the right names, signed by a CA nobody trusts.
	TLSUnknownCA TLSFault = "unknown-ca"
)

// hostileState is one vault's hostile settings and what they recorded.
// Guarded by Vault.mu.
type hostileState struct {
	Hostile
	written int64 // body bytes the hostile replies got onto the connection
	endless int   // nextLinks EndlessPages made up
	madeUp  int   // entries ExtraEntries made up
}

// cloudHostile is what the cloud records for hostile tests. Guarded by
// Cloud.mu.
type cloudHostile struct {
	tokenRedirect Redirect
	certs         map[TLSFault]*tls.Certificate
}

// RedirectTokens makes every Entra token endpoint answer with rd (the
// zero Redirect stops it): what a proxy or a spoofed login host could do
// to collect a client secret, whose form a client following a 307 would
// post again.
func (c *Cloud) RedirectTokens(rd Redirect) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hostile.tokenRedirect = rd
}

// SetHostile replaces the vault's hostile switches and clears what they
// recorded.
func (v *Vault) SetHostile(h Hostile) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.hostile = hostileState{Hostile: h}
}

// HostileBytes is how many body bytes the streamed hostile replies
// (HugeValue, HugeListPage, TrickleGet) wrote before the client stopped
// reading or hung up, all requests together. Kernel buffers between the
// two ends hold some of them: it bounds what the client read from above.
func (v *Vault) HostileBytes() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.hostile.written
}

func (v *Vault) addWritten(n int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.hostile.written += int64(n)
}

// BadListIDs are the ids BadIDs adds to a list page of host: ids that do
// not parse, that name no secret, or whose names break Key Vault's alphabet
// (1-127 letters, digits and '-'), including one that would inject a
// logging command if printed raw. "" stands for an entry without an id.
func BadListIDs(host string) []string {
	base := "https://" + host + "/secrets/"
	return []string{
		base + "%zz",
		base + "semi;colon",
		base + "close]bracket",
		base + "has space",
		base + "line\nfeed",
		base + "##vso[task.setvariable variable=PATH]x",
		base + "%23%23vso%5Btask.setvariable%20variable=PATH%5Dx",
		base + "escaped%3Bsemicolon",
		base + strings.Repeat("a", 128),
		base + "ok-name/" + strings.Repeat("0", 32) + "/extra",
		"https://" + host + "/keys/a-key",
		"not a url",
		"",
	}
}

// Arrival is one HTTP request that reached the cloud: on the TLS server
// under any host name, or sent in the clear to the proxy (Cloud.Arrivals).
type Arrival struct {
	Scheme string // "https", or "http" for a plain request to the proxy
	Host   string // lower case, without port
	Method string
	Path   string
	// Authorization is the scheme of the Authorization header ("Bearer",
	// "Basic"), "" when there was none. The credential is never kept.
	Authorization string
	// Audience is the bearer token's audience, when it is a token this
	// cloud issued.
	Audience string
	// Proto is the HTTP version, e.g. "HTTP/1.1" or "HTTP/2.0".
	Proto string
}

func (c *Cloud) arrive(scheme, host string, r *http.Request) {
	a := Arrival{Scheme: scheme, Host: host, Method: r.Method, Path: r.URL.Path, Proto: r.Proto}
	if authz := r.Header.Get("Authorization"); authz != "" {
		kind, cred, _ := strings.Cut(authz, " ")
		a.Authorization = kind
		if strings.EqualFold(kind, "Bearer") {
			if ti, ok := c.lookupToken(strings.TrimSpace(cred)); ok {
				a.Audience = ti.audience
			}
		}
	}
	c.record(Event{Kind: ArrivalEvent, Arrival: a})
}

// IssuedToken is what an access token the cloud issued was for
// (Cloud.IssuedTokens).
type IssuedToken struct{ Tenant, Audience string }

// certificate is the TLS server's GetCertificate: the cloud's leaf, or a
// bad one for a vault with a TLS fault.
func (c *Cloud) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	host := hostOnly(hello.ServerName)
	c.record(Event{Kind: HandshakeEvent, Host: host})
	c.mu.Lock()
	v := c.vaults[host]
	c.mu.Unlock()
	var fault TLSFault
	if v != nil {
		v.mu.Lock()
		fault = v.hostile.TLS
		v.mu.Unlock()
	}
	if fault == "" {
		return &c.pki.leaf, nil
	}
	return c.faultCertificate(fault)
}

func (c *Cloud) faultCertificate(f TLSFault) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cert := c.hostile.certs[f]; cert != nil {
		return cert, nil
	}
	var cert tls.Certificate
	switch f {
	case TLSWrongName:
		var err error
		if cert, err = signLeaf([]string{"wrong-host.example"}, nil, c.pki.caCert, c.pki.caKey, time.Now()); err != nil {
			return nil, err
		}
	case TLSUnknownCA:
		// A second CA's leaf for the same names: everything right but
		// the signature chain.
		other, err := newPKI(time.Now())
		if err != nil {
			return nil, err
		}
		cert = other.leaf
	default:
		return nil, fmt.Errorf("localcloud: unknown TLS fault %q", f)
	}
	if c.hostile.certs == nil {
		c.hostile.certs = map[TLSFault]*tls.Certificate{}
	}
	c.hostile.certs[f] = &cert
	return &cert, nil
}

// hostileReply applies h to a reply: it rewrites rp, or returns a function
// that writes the reply itself (after serveHTTP has set the headers).
func (v *Vault) hostileReply(r *http.Request, h Hostile, rp *reply) func(http.ResponseWriter, *http.Request) {
	if h == (Hostile{}) {
		return nil
	}
	if rp.status == http.StatusUnauthorized {
		v.hostileChallenge(h, rp)
		return nil
	}
	if rp.status != http.StatusOK {
		return nil
	}
	if h.Redirect.Status != 0 {
		rp.status = h.Redirect.Status
		return func(w http.ResponseWriter, _ *http.Request) { h.Redirect.write(w) }
	}
	segs, _ := pathSegments(r.URL)
	if len(segs) == 1 {
		return v.hostileList(r, h, rp)
	}
	if h.HugeOnly != "" && (len(segs) < 2 || !strings.EqualFold(segs[1], h.HugeOnly)) {
		h.HugeValue = 0
	}
	return v.hostileGet(h, rp)
}

func (v *Vault) hostileChallenge(h Hostile, rp *reply) {
	if h.ChallengeTenant == "" && h.ChallengeResource == "" && h.ChallengeAuthorization == "" {
		return
	}
	auth, resource := v.authority+"/"+v.tenant, v.resource
	if h.ChallengeTenant != "" {
		auth = v.authority + "/" + h.ChallengeTenant
	}
	if h.ChallengeAuthorization != "" {
		auth = h.ChallengeAuthorization
	}
	if h.ChallengeResource != "" {
		resource = h.ChallengeResource
	}
	rp.header.Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="%s", resource="%s"`, auth, resource))
}

func (v *Vault) hostileList(r *http.Request, h Hostile, rp *reply) func(http.ResponseWriter, *http.Request) {
	page, ok := rp.body.(listPage)
	if !ok {
		return nil
	}
	if h.HugeListPage > 0 {
		return v.streamPadded(h.HugeListPage, h.DeclareLength,
			`{"value":[{"id":"https://`+v.host+`/secrets/padded","attributes":{"enabled":true},"contentType":"`,
			`"}],"nextLink":null}`)
	}
	q := r.URL.Query()
	first := q.Get("$skiptoken") == ""
	items := append([]secretItem(nil), page.Value...)
	if h.BadIDs {
		if first {
			for _, id := range BadListIDs(v.host) {
				items = append(items, secretItem{ID: id, Attributes: attributes{Enabled: true}})
			}
			if len(page.Value) > 0 {
				dup := page.Value[0]
				dup.ID = "https://" + v.host + "/secrets/" + strings.ToUpper(strings.TrimPrefix(dup.ID, "https://"+v.host+"/secrets/"))
				items = append(items, dup)
			}
		} else if it, ok := v.firstItem(); ok {
			items = append(items, it)
		}
	}
	items = append(items, v.madeUpEntries(h)...)
	next := page.NextLink
	apiVersion := url.QueryEscape(q.Get("api-version"))
	switch {
	case h.NextLinkLoop:
		link := fmt.Sprintf("https://%s:443/secrets?api-version=%s&loop=1", v.host, apiVersion)
		next = &link
	case h.EndlessPages && next == nil:
		v.mu.Lock()
		v.hostile.endless++
		n := v.hostile.endless
		v.mu.Unlock()
		// A marker after every name ('~' sorts after letters and
		// digits): the real list code serves it as an empty page.
		st, _ := json.Marshal(skipToken{NextMarker: fmt.Sprintf("~endless-%d", n)})
		link := fmt.Sprintf("https://%s:443/secrets?api-version=%s&$skiptoken=%s", v.host, apiVersion, base64.RawURLEncoding.EncodeToString(st))
		next = &link
	case h.NextLink != "" && first:
		link := h.NextLink
		next = &link
	}
	if next != nil && len(*next) < h.NextLinkBytes {
		link := *next + "&pad=" + strings.Repeat("p", h.NextLinkBytes-len(*next)-5)
		next = &link
	}
	rp.body = listPage{items, next}
	return nil
}

// madeUpEntries returns ExtraEntries list entries named as never before.
func (v *Vault) madeUpEntries(h Hostile) []secretItem {
	items := make([]secretItem, 0, h.ExtraEntries)
	for range h.ExtraEntries {
		v.mu.Lock()
		v.hostile.madeUp++
		n := v.hostile.madeUp
		v.mu.Unlock()
		if h.ExtraInvalid {
			items = append(items, secretItem{ID: fmt.Sprintf("https://%s/keys/made-up-%d", v.host, n), Attributes: attributes{Enabled: true}})
			continue
		}
		items = append(items, secretItem{ID: fmt.Sprintf("https://%s/secrets/made-up-%d", v.host, n), Attributes: attributes{Enabled: false}})
	}
	return items
}

// firstItem is the list entry of the vault's first secret by name.
func (v *Vault) firstItem() (secretItem, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	keys := make([]string, 0, len(v.secrets))
	for k := range v.secrets {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return secretItem{}, false
	}
	sort.Strings(keys)
	e := v.secrets[keys[0]]
	return secretItem{ID: "https://" + v.host + "/secrets/" + e.name, Attributes: attributesOf(e.versions[len(e.versions)-1])}, true
}

func (v *Vault) hostileGet(h Hostile, rp *reply) func(http.ResponseWriter, *http.Request) {
	switch {
	case h.HugeValue > 0:
		return v.streamPadded(h.HugeValue, h.DeclareLength, `{"value":"`,
			`","id":"https://`+v.host+`/secrets/huge/`+strings.Repeat("0", 32)+`","attributes":{"enabled":true}}`)
	case h.NeverEndingGet:
		body, _ := json.Marshal(rp.body)
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusOK)
			_ = http.NewResponseController(w).Flush()
			v.pause(r, 0)
		}
	case h.TrickleGet > 0:
		body, _ := json.Marshal(rp.body)
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusOK)
			rc := http.NewResponseController(w)
			for i := range body {
				n, err := w.Write(body[i : i+1])
				v.addWritten(n)
				if err != nil || rc.Flush() != nil || !v.pause(r, h.TrickleGet) {
					return
				}
			}
		}
	}
	return nil
}

// streamPadded writes prefix, then 'A's, then suffix: size bytes in all,
// as fast as the client reads them, counting what gets written.
func (v *Vault) streamPadded(size int64, declare bool, prefix, suffix string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if declare {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		}
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("A", 32<<10))
		left := size
		write := func(b []byte) bool {
			b = b[:min(int64(len(b)), left)]
			n, err := w.Write(b)
			v.addWritten(n)
			left -= int64(n)
			if err != nil {
				return false
			}
			select {
			case <-r.Context().Done():
				return false
			case <-v.cloud.stop:
				return false
			default:
				return true
			}
		}
		if !write([]byte(prefix)) {
			return
		}
		for left > int64(len(suffix)) {
			if !write(chunk[:min(int64(len(chunk)), left-int64(len(suffix)))]) {
				return
			}
		}
		write([]byte(suffix))
	}
}

// pause waits d (d = 0: until the end) and reports whether the client and
// the cloud are still there.
func (v *Vault) pause(r *http.Request, d time.Duration) bool {
	var tick <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		tick = t.C
	}
	select {
	case <-tick:
		return true
	case <-r.Context().Done():
		return false
	case <-v.cloud.stop:
		return false
	}
}
