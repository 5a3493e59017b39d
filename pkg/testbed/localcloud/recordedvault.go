// A vault made of recorded exchanges: Key Vault's own answers, served as they were recorded.

package localcloud

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/recorded"
)

// Recording is what a recorded vault serves. Every answer is a recorded
// one, served as it was recorded with the recorded vault host rewritten to
// the vault's own (ids, kids, nextLinks) and nothing else: the status, the
// headers (Content-Length recomputed, which changes only when the host's
// length did; x-ms-client-request-id echoed from the request as Key Vault
// does, when it carries one) and the body bytes.
//
// What the recordings cannot hold is decided as follows, and nothing else
// is invented:
//   - Authentication is checked as for any vault (the recordings sanitized
//     their tokens); a request without a valid token for the vault gets
//     Challenge.
//   - A get that no recorded get answers gets NotFound's status and headers
//     and its body with the recorded secret name replaced by the one asked
//     for: Key Vault's 404 SecretNotFound, shape and wording as recorded.
//   - Listings: with Pages, the recorded pages themselves, each answering
//     the request that carries its recorded $skiptoken, so a client follows
//     the recorded nextLinks. Without Pages, the recordings hold no listing
//     of these secrets, so pages are composed: Items (each a recorded list
//     item, or one derived from the secret's recorded get by
//     recorded.ListItem) in pages of PageSize, after EmptyPages empty pages
//     (Key Vault serves empty pages that continue: list-disabled-2026.json),
//     in the envelope Key Vault uses: {"value":[...],"nextLink":"https://
//     <host>:443/secrets?api-version=<asked>&$skiptoken=<token>" plus
//     "&maxresults=<n>" when asked}, the last with "nextLink":null. Their
//     headers are PageHeaders' (a recorded list page's); the skip tokens
//     are this vault's own, shaped like Key Vault's; one it did not give
//     out gets Key Vault's 400 as the synthetic vault words it (no recording
//     holds one).
type Recording struct {
	Challenge   recorded.Exchange
	Gets        []recorded.Exchange
	NotFound    recorded.Exchange
	Pages       []recorded.Exchange
	Items       [][]byte
	PageSize    int
	EmptyPages  int
	PageHeaders recorded.Exchange
}

// recordedAnswer is a recorded response about to be written.
type recordedAnswer struct {
	status int
	header http.Header
	body   []byte
}

// AddRecordedVault creates <name>.vault.azure.net serving rec, for
// tenantID's tokens; rec's challenge must name that tenant and the public
// cloud's audience, as the recordings' do (tenant
// 72f988bf-86f1-41af-91ab-2d7cd011db47, the test world's).
func (c *Cloud) AddRecordedVault(name, tenantID string, rec Recording) (*Vault, error) {
	if rec.Challenge.Status != http.StatusUnauthorized || rec.NotFound.Status != http.StatusNotFound {
		return nil, fmt.Errorf("recorded vault %s: want a recorded 401 challenge and a recorded 404", name)
	}
	if _, _, ok := rec.NotFound.SecretPath(); !ok {
		return nil, fmt.Errorf("recorded vault %s: the 404 must answer a secret get", name)
	}
	// The recorded challenge is served as recorded: it must name this
	// vault's tenant and audience, or no client gets past it.
	if ch := rec.Challenge.Header.Get("WWW-Authenticate"); strings.Contains(name, ".") ||
		!strings.Contains(ch, `https://login.microsoftonline.com/`+tenantID+`"`) || !strings.Contains(ch, `resource="https://vault.azure.net"`) {
		return nil, fmt.Errorf("recorded vault %s: the recorded challenge %q does not name a public-cloud vault of tenant %s", name, ch, tenantID)
	}
	seen := map[string]bool{}
	for _, p := range rec.Pages {
		tok := p.URL.Query().Get("$skiptoken")
		if seen[tok] {
			return nil, fmt.Errorf("recorded vault %s: two recorded pages answer $skiptoken %q", name, tok)
		}
		seen[tok] = true
	}
	if len(rec.Pages) == 0 && rec.PageSize < 1 {
		return nil, fmt.Errorf("recorded vault %s: composed pages need a PageSize", name)
	}
	v := c.AddVault(name, tenantID)
	v.mu.Lock()
	v.recording = &rec
	v.mu.Unlock()
	return v, nil
}

// serveRecorded answers r from the vault's recording.
func (v *Vault) serveRecorded(w http.ResponseWriter, r *http.Request, rec *Recording) {
	q := r.URL.Query()
	req := Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, APIVersion: q.Get("api-version"), At: time.Now()}
	var a recordedAnswer
	if _, msg := v.authenticate(r.Header.Get("Authorization")); msg != "" {
		a = v.replay(rec.Challenge)
	} else {
		req.Authorized = true
		a = v.answerRecorded(r, rec, &req)
	}
	req.Status = a.status
	v.record(req)
	v.cloud.logf("localcloud vault (recorded): %s https://%s%s -> %d", r.Method, v.host, r.URL.Path, a.status)

	h := w.Header()
	for k, vs := range a.header {
		h[k] = vs
	}
	h.Del("x-ms-client-request-id")
	if id := r.Header.Get("x-ms-client-request-id"); id != "" {
		h.Set("x-ms-client-request-id", id)
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

func (v *Vault) answerRecorded(r *http.Request, rec *Recording, req *Request) recordedAnswer {
	segs, ok := pathSegments(r.URL)
	switch {
	case ok && r.Method == http.MethodGet && len(segs) == 1 && strings.EqualFold(segs[0], "secrets"):
		if len(rec.Pages) > 0 {
			return v.recordedPage(r.URL.Query(), rec)
		}
		return v.composedPage(r.URL.Query(), rec)
	case ok && r.Method == http.MethodGet && (len(segs) == 2 || len(segs) == 3) && strings.EqualFold(segs[0], "secrets"):
		req.Secret = segs[1]
		version := ""
		if len(segs) == 3 {
			version = segs[2]
		}
		if x, found := recordedGet(rec.Gets, segs[1], version); found {
			return v.replay(x)
		}
		id := segs[1]
		if version != "" {
			id += "/" + version
		}
		return v.notFound(rec.NotFound, id)
	}
	return v.notFound(rec.NotFound, strings.Trim(r.URL.Path, "/"))
}

// recordedGet finds the recorded get answering a get of name (case
// insensitive, as Key Vault names are) at version ("" for the latest): a
// get recorded for that version, or for the latest when its body's id
// names that version; for the latest, a get recorded for the latest, or
// the name's one recorded versioned get.
func recordedGet(gets []recorded.Exchange, name, version string) (recorded.Exchange, bool) {
	var latest, versioned []recorded.Exchange
	for _, x := range gets {
		n, ver, ok := x.SecretPath()
		if !ok || !strings.EqualFold(n, name) {
			continue
		}
		if ver == "" {
			latest = append(latest, x)
		} else {
			versioned = append(versioned, x)
		}
	}
	if version == "" {
		if len(latest) == 1 {
			return latest[0], true
		}
		if len(latest) == 0 && len(versioned) == 1 {
			return versioned[0], true
		}
		return recorded.Exchange{}, false
	}
	for _, x := range versioned {
		if _, ver, _ := x.SecretPath(); strings.EqualFold(ver, version) {
			return x, true
		}
	}
	for _, x := range latest {
		var b struct{ ID string }
		if json.Unmarshal(x.Body, &b) == nil && strings.HasSuffix(strings.ToLower(b.ID), "/"+strings.ToLower(version)) {
			return x, true
		}
	}
	return recorded.Exchange{}, false
}

// replay is x as this vault serves it.
func (v *Vault) replay(x recorded.Exchange) recordedAnswer {
	return recordedAnswer{status: x.Status, header: x.Header.Clone(), body: x.BodyFor(v.host)}
}

// notFound is the recorded 404 naming id instead of the recorded secret.
func (v *Vault) notFound(nf recorded.Exchange, id string) recordedAnswer {
	a := v.replay(nf)
	name, _, _ := nf.SecretPath()
	quoted := jsonString(id)
	a.body = bytes.ReplaceAll(a.body, []byte(name), quoted[1:len(quoted)-1])
	return a
}

// jsonString is s as a JSON string, written as Key Vault writes one (no
// HTML escapes).
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// badSkipToken answers a $skiptoken the vault did not give out. The
// recordings hold no such answer; this is Key Vault's 400 as the synthetic
// vault gives it, with the headers of page's recording.
func (v *Vault) badSkipToken(page recorded.Exchange) recordedAnswer {
	a := v.replay(page)
	a.status = http.StatusBadRequest
	a.body = []byte(`{"error":{"code":"BadParameter","message":"The continuation token is invalid."}}`)
	return a
}

// recordedPage serves the recorded page whose request carried the asked
// $skiptoken (none for the first page).
func (v *Vault) recordedPage(q url.Values, rec *Recording) recordedAnswer {
	tok := q.Get("$skiptoken")
	for _, p := range rec.Pages {
		if p.URL.Query().Get("$skiptoken") == tok {
			return v.replay(p)
		}
	}
	return v.badSkipToken(rec.Pages[0])
}

// composedPage serves a page composed of the recording's items.
func (v *Vault) composedPage(q url.Values, rec *Recording) recordedAnswer {
	size := rec.PageSize
	if s := q.Get("maxresults"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 1 && n < size {
			size = n
		}
	}
	pos, ok := composedPosition(q.Get("$skiptoken"))
	if !ok {
		return v.badSkipToken(rec.PageHeaders)
	}
	var items [][]byte
	next := -1
	switch {
	case pos < rec.EmptyPages:
		next = pos + 1
	default:
		from := min(pos-rec.EmptyPages, len(rec.Items))
		to := min(from+size, len(rec.Items))
		items = rec.Items[from:to]
		if to < len(rec.Items) {
			next = rec.EmptyPages + to
		}
	}
	var body bytes.Buffer
	body.WriteString(`{"value":[`)
	for i, it := range items {
		if i > 0 {
			body.WriteByte(',')
		}
		if id, err := recorded.ItemID(it); err == nil {
			it = bytes.ReplaceAll(it, []byte("https://"+id.Host+"/"), []byte("https://"+v.host+"/"))
		}
		body.Write(it)
	}
	body.WriteString(`],"nextLink":`)
	if next < 0 {
		body.WriteString("null")
	} else {
		st, _ := json.Marshal(skipToken{NextMarker: strconv.Itoa(next)})
		link := fmt.Sprintf("https://%s:443/secrets?api-version=%s&$skiptoken=%s", v.host, url.QueryEscape(q.Get("api-version")), base64.RawURLEncoding.EncodeToString(st))
		if s := q.Get("maxresults"); s != "" {
			link += "&maxresults=" + url.QueryEscape(s)
		}
		body.Write(jsonString(link))
	}
	body.WriteByte('}')
	a := v.replay(rec.PageHeaders)
	a.body = body.Bytes()
	return a
}

// composedPosition reads the position a composed page's skip token names
// (none: the first page). Positions 0 to EmptyPages-1 are the empty pages;
// after them, item offsets.
func composedPosition(st string) (int, bool) {
	if st == "" {
		return 0, true
	}
	raw, err := base64.RawURLEncoding.DecodeString(st)
	if err != nil {
		return 0, false
	}
	var tok skipToken
	if json.Unmarshal(raw, &tok) != nil {
		return 0, false
	}
	pos, err := strconv.Atoi(tok.NextMarker)
	return pos, err == nil && pos >= 0
}
