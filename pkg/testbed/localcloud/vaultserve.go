// Serving a vault request: Key Vault's order of checks, routing, list and get, the reply's headers.

package localcloud

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (v *Vault) serveHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	v.mu.Lock()
	f := v.faults
	hs := v.hostile.Hostile
	recording := v.recording
	v.mu.Unlock()
	if recording != nil {
		v.serveRecorded(w, r, recording)
		return
	}

	rec := Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, APIVersion: r.URL.Query().Get("api-version"), At: at}
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			v.record(rec) // Status 0: the client or Close gave up first
			return
		}
	}
	rp := v.handle(r, f, &rec)
	stream := v.hostileReply(r, hs, &rp)
	rec.Status = rp.status
	v.record(rec)
	v.cloud.logf("localcloud vault: %s https://%s%s -> %d", r.Method, v.host, r.URL.Path, rp.status)

	h := w.Header()
	for k, vs := range rp.header {
		h[k] = vs
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "-1")
	h.Set("x-ms-request-id", newUUID())
	h.Set("x-ms-keyvault-service-version", "1.9.2588.1")
	h.Set("x-ms-keyvault-region", "westeurope")
	h.Set("x-ms-keyvault-network-info", "conn_type=Ipv4;addr=203.0.113.7;act_addr_fam=InterNetwork;")
	h.Set("Strict-Transport-Security", "max-age=31536000;includeSubDomains")
	h.Set("X-Content-Type-Options", "nosniff")
	if id := r.Header.Get("x-ms-client-request-id"); id != "" {
		h.Set("x-ms-client-request-id", id)
	}
	if stream != nil {
		stream(w, r)
		return
	}
	writeJSON(w, rp.status, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, rp.body)
}

// record logs a request that ended.
func (v *Vault) record(rec Request) {
	v.cloud.record(Event{Kind: VaultReplyEvent, Host: v.host, Request: rec})
}

// handle decides the reply in Key Vault's order: authentication, request
// validation, throttling, availability, authorization, then the operation.
func (v *Vault) handle(r *http.Request, f Faults, rec *Request) reply {
	ti, authMsg := v.authenticate(r.Header.Get("Authorization"))
	if authMsg != "" {
		return reply{
			status: http.StatusUnauthorized,
			header: http.Header{"Www-Authenticate": {fmt.Sprintf(`Bearer authorization="%s/%s", resource="%s"`, v.authority, v.tenant, v.resource)}},
			body:   kvError("Unauthorized", authMsg, ""),
		}
	}
	rec.Authorized = true
	if rec.APIVersion == "" {
		return badParameter("The 'api-version' query parameter is missing.")
	}
	if msg := v.unsupportedAPIVersion(rec.APIVersion); msg != "" {
		return badParameter(msg)
	}
	if rp, limited := v.throttle(f); limited {
		return rp
	}
	if v.fail503(f) {
		return reply{status: http.StatusServiceUnavailable, header: http.Header{}, body: kvError("ServiceUnavailable",
			"The service is temporarily unavailable. Please retry the request.", "")}
	}

	segs, ok := pathSegments(r.URL)
	if !ok || len(segs) == 0 || len(segs) > 3 || !strings.EqualFold(segs[0], "secrets") {
		return reply{status: http.StatusNotFound, header: http.Header{}, body: kvError("NotFound", "The requested URI does not exist: "+r.URL.Path, "")}
	}
	if r.Method != http.MethodGet {
		return reply{status: http.StatusMethodNotAllowed, header: http.Header{"Allow": {http.MethodGet}}, body: kvError("MethodNotAllowed",
			fmt.Sprintf("The requested resource does not support http method '%s'.", r.Method), "")}
	}
	if len(segs) == 1 {
		if code := f.ListDenied; code != "" {
			return v.forbidden(code, ti, "list", "")
		}
		return v.list(r.URL.Query(), rec.APIVersion, f)
	}
	name, version := segs[1], ""
	if len(segs) == 3 {
		version = segs[2]
	}
	rec.Secret = name
	code := f.GetDenied
	for k, c := range f.SecretDenied {
		if strings.EqualFold(k, name) {
			code = c
		}
	}
	if code != "" {
		return v.forbidden(code, ti, "get", name)
	}
	return v.get(name, version)
}

// validSecretName applies Key Vault's naming rule: 1-127 letters, digits
// and '-'.
func validSecretName(name string) bool {
	if len(name) < 1 || len(name) > 127 {
		return false
	}
	for _, r := range name {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func (v *Vault) get(name, version string) reply {
	v.mu.Lock()
	e := v.secrets[strings.ToLower(name)]
	var sv storedVersion
	found := false
	if e != nil {
		if version == "" {
			sv, found = e.versions[len(e.versions)-1], true
		} else {
			for _, cand := range e.versions {
				if strings.EqualFold(cand.Version, version) {
					sv, found = cand, true
				}
			}
		}
	}
	v.mu.Unlock()

	if !found {
		if e == nil && !validSecretName(name) {
			return badParameter("The request URI contains an invalid name: " + name)
		}
		id := name
		if version != "" {
			id += "/" + version
		}
		return reply{status: http.StatusNotFound, header: http.Header{}, body: kvError("SecretNotFound", fmt.Sprintf(
			"A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", id), "")}
	}
	if sv.Disabled {
		return reply{status: http.StatusForbidden, header: http.Header{}, body: kvError("Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled")}
	}
	body := secretBundle{
		Value:       sv.Value,
		ContentType: sv.ContentType,
		ID:          "https://" + v.host + "/secrets/" + sv.Name + "/" + sv.Version,
		Attributes:  attributesOf(sv),
		Tags:        sv.Tags,
		Managed:     sv.Managed,
	}
	if sv.Managed {
		body.Kid = "https://" + v.host + "/keys/" + sv.Name + "/" + sv.Version
	}
	return reply{status: http.StatusOK, header: http.Header{}, body: body}
}

func (v *Vault) list(q url.Values, apiVersion string, f Faults) reply {
	maxResults := 25
	if s := q.Get("maxresults"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 25 {
			return badParameter("Invalid maxresults value " + strconv.Quote(s) + ". The value must be between 1 and 25.")
		}
		maxResults = n
	}
	size := f.PageSize
	if size <= 0 || size > 25 {
		size = 25
	}
	size = min(size, maxResults)
	marker := ""
	if st := q.Get("$skiptoken"); st != "" {
		raw, err := base64.RawURLEncoding.DecodeString(st)
		var tok skipToken
		if err == nil {
			err = json.Unmarshal(raw, &tok)
		}
		if err != nil || tok.NextMarker == "" {
			return badParameter("The continuation token is invalid.")
		}
		marker = tok.NextMarker
	}

	v.mu.Lock()
	if v.names == nil {
		v.names = make([]string, 0, len(v.secrets))
		for k := range v.secrets {
			v.names = append(v.names, k)
		}
		sort.Strings(v.names)
	}
	from, _ := slices.BinarySearch(v.names, marker)
	keys := v.names[from:min(len(v.names), from+size+1)]
	var next *string
	if len(keys) > size {
		st, _ := json.Marshal(skipToken{NextMarker: keys[size]})
		// Key Vault echoes maxresults only when the request had it.
		link := fmt.Sprintf("https://%s:443/secrets?api-version=%s&$skiptoken=%s",
			v.host, url.QueryEscape(apiVersion), base64.RawURLEncoding.EncodeToString(st))
		if q.Has("maxresults") {
			link += "&maxresults=" + strconv.Itoa(maxResults)
		}
		next = &link
		keys = keys[:size]
	}
	items := make([]secretItem, 0, len(keys))
	for _, k := range keys {
		e := v.secrets[k]
		sv := e.versions[len(e.versions)-1]
		items = append(items, secretItem{
			ID:          "https://" + v.host + "/secrets/" + e.name,
			Attributes:  attributesOf(sv),
			ContentType: sv.ContentType,
			Tags:        sv.Tags,
			Managed:     sv.Managed,
		})
	}
	v.mu.Unlock()
	return reply{status: http.StatusOK, header: http.Header{}, body: listPage{items, next}}
}

// pathSegments splits the escaped path so an escaped "/" inside a name stays
// part of the name. Leading empty segments ("//secrets") are tolerated like
// Key Vault does; one trailing slash is dropped ("/secrets/x/" is the latest
// version of x).
func pathSegments(u *url.URL) ([]string, bool) {
	p := strings.TrimLeft(u.EscapedPath(), "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil, true
	}
	raw := strings.Split(p, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		d, err := url.PathUnescape(s)
		if err != nil || d == "" {
			return nil, false
		}
		segs[i] = d
	}
	return segs, true
}
