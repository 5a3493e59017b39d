package localcloud

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Secret is one version of a Key Vault secret.
type Secret struct {
	Name, Value, Version string // Version: 32 lower-case hex digits, generated when empty
	Disabled             bool
	Expires, NotBefore   time.Time // zero = unset; exp / nbf in Unix seconds on the wire
	ContentType          string
	Tags                 map[string]string
	Managed              bool // backs a Key Vault certificate
}

// Faults make a vault misbehave. The zero value is a healthy vault.
//
// Throttling (throttle.go) is shared by every client of the vault, as Key
// Vault's is: Rate and Burst are a token bucket, Window and WindowLimit
// Key Vault's own limit (4,000 reads per 10 s); set either or both.
type Faults struct {
	Latency      time.Duration     // added before every Key Vault reply (not Entra)
	Rate         float64           // >0: requests/second accepted (token bucket); over it: 429 Throttled
	Burst        float64           // the bucket's size, full at SetFaults; 0: max(1, Rate/10)
	Window       time.Duration     // >0 with WindowLimit: at most WindowLimit requests accepted in any Window (sliding)
	WindowLimit  int               // e.g. 4000 with Window 10 s, Key Vault's limit per vault and region
	RetryAfter   string            // how 429s say when to come back: "seconds" (default), "ms", "none", "mixed" (rotate the three)
	Fail503      float64           // fraction 0..1 of requests answered 503 (seeded, deterministic sequence)
	ListDenied   string            // innererror code for the list call: AccessDenied, ForbiddenByRbac, ForbiddenByFirewall, ForbiddenByConnection, ForbiddenByPolicy
	GetDenied    string            // same, for every get
	SecretDenied map[string]string // secret name -> innererror code for its get
	PageSize     int               // list page size, 1..25; default 25

	window *slidingWindow // set by SetFaults when Window and WindowLimit are
}

// Request is one Key Vault request as the vault saw it.
type Request struct {
	Method, Path, RawQuery string
	Status                 int
	Authorized             bool   // carried a valid token for this vault
	Secret                 string // the name a get asked for
	APIVersion             string
	At                     time.Time
}

// Vault is one fake Key Vault. Its methods are safe for concurrent use,
// including while requests are being served.
type Vault struct {
	cloud     *Cloud
	name      string // first DNS label, as Key Vault names itself in messages
	host      string
	tenant    string
	authority string // e.g. https://login.microsoftonline.com
	resource  string // e.g. https://vault.azure.net
	subID     string
	// maxAPIVersion, when set, is the newest api-version this vault's cloud
	// serves (Azure Stack Hub lags behind the public cloud).
	maxAPIVersion string

	mu      sync.Mutex
	secrets map[string]*secretEntry // lower-case name
	// names is the sorted keys of secrets, rebuilt after a new name, so
	// that the fake's own work per list page (and the time it holds mu,
	// which every get waits for) stays small beside the latency it is told
	// to add.
	names     []string
	faults    Faults
	bucket    float64
	bucketAt  time.Time
	throttles int
	rng       *mrand.Rand
	hostile   hostileState // hostile.go
}

type secretEntry struct {
	name     string // as first created; Key Vault names are case-insensitive
	versions []storedVersion
}

type storedVersion struct {
	Secret
	created, updated time.Time
}

// keyVaultAppID is Key Vault's first-party application id, which Key Vault
// accepts as a token audience alongside its resource URI.
const keyVaultAppID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"

// vaultCloud maps a vault DNS suffix to its cloud's login host and audience.
func vaultCloud(host string) (authority, resource string, ok bool) {
	for _, e := range []struct{ suffix, login string }{
		{"vault.azure.net", "login.microsoftonline.com"},
		{"vault.azure.cn", "login.chinacloudapi.cn"},
		{"vault.usgovcloudapi.net", "login.microsoftonline.us"},
	} {
		if strings.HasSuffix(host, "."+e.suffix) {
			return "https://" + e.login, "https://" + e.suffix, true
		}
	}
	return "", "", false
}

// AddVault creates (or replaces) <name>.vault.azure.net whose challenge names
// tenantID. A name containing a dot is taken as the full host, e.g.
// "kv1.vault.azure.cn", so the China and US Government clouds work too, and
// "kv1.vault.local.azurestack.external" once EnableAzureStack was called
// (its tenant is "adfs" on an AD FS stack). The tenant becomes known to Entra.
func (c *Cloud) AddVault(name, tenantID string) *Vault {
	host := strings.ToLower(name)
	if !strings.Contains(host, ".") {
		host += ".vault.azure.net"
	}
	authority, resource, ok := vaultCloud(host)
	if !ok {
		authority, resource, ok = c.stackVaultCloud(host)
	}
	if !ok {
		panic(fmt.Sprintf("localcloud: AddVault(%q): host must end in vault.azure.net, vault.azure.cn, vault.usgovcloudapi.net or (after EnableAzureStack) %s", name, AzureStackVaultSuffix))
	}
	short := strings.SplitN(host, ".", 2)[0]
	v := &Vault{
		cloud:     c,
		name:      short,
		host:      host,
		tenant:    tenantID,
		authority: authority,
		resource:  resource,
		subID:     stableUUID("subscription", host),
		secrets:   map[string]*secretEntry{},
		rng:       newFaultRNG(),
	}
	v.maxAPIVersion = c.stackMaxAPIVersion(host)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tenants[strings.ToLower(tenantID)] = true
	c.vaults[host] = v
	return v
}

// Vault returns the vault added under name (short name or full host), or nil.
func (c *Cloud) Vault(name string) *Vault {
	host := strings.ToLower(name)
	if !strings.Contains(host, ".") {
		host += ".vault.azure.net"
	}
	return c.vaultByHost(host)
}

func (c *Cloud) vaultByHost(host string) *Vault {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vaults[host]
}

// Host is the vault's DNS name, e.g. "kv1.vault.azure.net".
func (v *Vault) Host() string { return v.host }

// Put stores s as the newest version of its name and returns the version.
func (v *Vault) Put(s Secret) (version string) {
	if s.Version == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		s.Version = hex.EncodeToString(b)
	}
	s.Version = strings.ToLower(s.Version)
	if s.Tags != nil {
		tags := make(map[string]string, len(s.Tags))
		for k, val := range s.Tags {
			tags[k] = val
		}
		s.Tags = tags
	}
	now := time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	key := strings.ToLower(s.Name)
	e := v.secrets[key]
	if e == nil {
		e = &secretEntry{name: s.Name}
		v.secrets[key] = e
		v.names = nil
	}
	s.Name = e.name
	kept := e.versions[:0]
	for _, old := range e.versions {
		if old.Version != s.Version {
			kept = append(kept, old)
		}
	}
	e.versions = append(kept, storedVersion{Secret: s, created: now, updated: now})
	return s.Version
}

// SetFaults replaces the vault's faults. It also refills the throttling
// bucket, empties the window and restarts the 503 sequence, so equal
// settings replay equally.
func (v *Vault) SetFaults(f Faults) {
	if f.SecretDenied != nil {
		m := make(map[string]string, len(f.SecretDenied))
		for k, val := range f.SecretDenied {
			m[k] = val
		}
		f.SecretDenied = m
	}
	f.window = newSlidingWindow(f.Window, f.WindowLimit)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.faults = f
	v.bucketAt = time.Time{}
	v.throttles = 0
	v.rng = newFaultRNG()
}

func newFaultRNG() *mrand.Rand { return mrand.New(mrand.NewPCG(0x6b76, 0x503)) }

// reply is a Key Vault response before it is written.
type reply struct {
	status int
	header http.Header
	body   any
}

func (v *Vault) serveHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	v.mu.Lock()
	f := v.faults
	hs := v.hostile.Hostile
	v.mu.Unlock()

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

// authenticate returns the token's claims, or Key Vault's 401 message.
func (v *Vault) authenticate(authz string) (tokenInfo, string) {
	scheme, tok, _ := strings.Cut(authz, " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return tokenInfo{}, "AKV10000: Request is missing a Bearer or PoP token."
	}
	ti, ok := v.cloud.lookupToken(strings.TrimSpace(tok))
	switch {
	case !ok:
		return tokenInfo{}, "AKV10019: Invalid token signature."
	case time.Now().After(ti.expires):
		return tokenInfo{}, "AKV10020: Token is expired."
	case ti.audience != v.resource && ti.audience != keyVaultAppID:
		return tokenInfo{}, fmt.Sprintf("AKV10022: Invalid audience. Expected %s or %s, found: %s.", v.resource, keyVaultAppID, ti.audience)
	case !strings.EqualFold(ti.tenant, v.tenant):
		return tokenInfo{}, fmt.Sprintf("AKV10032: Invalid issuer. Expected one of https://sts.windows.net/%s/, found https://sts.windows.net/%s/.", v.tenant, ti.tenant)
	}
	return ti, ""
}

func (v *Vault) fail503(f Faults) bool {
	if f.Fail503 <= 0 {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.rng.Float64() < f.Fail503
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

// skipToken is the shape of Key Vault's opaque $skiptoken (base64 JSON).
type skipToken struct {
	NextMarker     string `json:"NextMarker"`
	TargetLocation int    `json:"TargetLocation"`
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
		link := fmt.Sprintf("https://%s:443/secrets?api-version=%s&$skiptoken=%s&maxresults=%d",
			v.host, url.QueryEscape(apiVersion), base64.RawURLEncoding.EncodeToString(st), maxResults)
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

type listPage struct {
	Value    []secretItem `json:"value"`
	NextLink *string      `json:"nextLink"`
}

// forbidden builds the 403 Key Vault returns for each kind of denial.
func (v *Vault) forbidden(code string, ti tokenInfo, op, secret string) reply {
	caller := fmt.Sprintf("appid=%s;oid=%s;iss=https://sts.windows.net/%s/", ti.client, stableUUID("oid", ti.tenant, strings.ToLower(ti.client)), ti.tenant)
	where := v.name + ";location=westeurope"
	var msg string
	switch code {
	case "AccessDenied":
		msg = fmt.Sprintf("The user, group or application '%s' does not have secrets %s permission on key vault '%s'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287", caller, op, where)
	case "ForbiddenByRbac":
		action, resource := "Microsoft.KeyVault/vaults/secrets/readMetadata/action", "/subscriptions/"+v.subID+"/resourcegroups/rg-"+v.name+"/providers/microsoft.keyvault/vaults/"+v.name
		if op == "get" {
			action, resource = "Microsoft.KeyVault/vaults/secrets/getSecret/action", resource+"/secrets/"+secret
		}
		msg = fmt.Sprintf("Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: %s\r\nAction: '%s'\r\nResource: '%s'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: %s\r\n", caller, action, resource, where)
	case "ForbiddenByFirewall":
		msg = fmt.Sprintf("Client address is not authorized and caller is not a trusted service.\r\nClient address: 203.0.113.7\r\nCaller: %s\r\nVault: %s", caller, where)
	case "ForbiddenByConnection":
		msg = fmt.Sprintf("Public network access is disabled and request is not from a trusted service nor via an approved private link.\r\nCaller: %s\r\nVault: %s", caller, where)
	case "ForbiddenByPolicy":
		msg = fmt.Sprintf("Operation %s is not allowed by an Azure Policy assignment on this key vault.\r\nCaller: %s\r\nVault: %s", op, caller, where)
	default:
		msg = fmt.Sprintf("Operation %s is not allowed.\r\nCaller: %s\r\nVault: %s", op, caller, where)
	}
	return reply{status: http.StatusForbidden, header: http.Header{}, body: kvError("Forbidden", msg, code)}
}

type attributes struct {
	Enabled         bool   `json:"enabled"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoveryLevel   string `json:"recoveryLevel"`
	RecoverableDays int    `json:"recoverableDays"`
}

type secretItem struct {
	ID          string            `json:"id,omitempty"` // never empty, but for a hostile list entry
	Attributes  attributes        `json:"attributes"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Managed     bool              `json:"managed,omitempty"`
}

type secretBundle struct {
	Value       string            `json:"value"`
	ContentType string            `json:"contentType,omitempty"`
	ID          string            `json:"id"`
	Attributes  attributes        `json:"attributes"`
	Tags        map[string]string `json:"tags,omitempty"`
	Kid         string            `json:"kid,omitempty"`
	Managed     bool              `json:"managed,omitempty"`
}

func attributesOf(sv storedVersion) attributes {
	unix := func(t time.Time) *int64 {
		if t.IsZero() {
			return nil
		}
		u := t.Unix()
		return &u
	}
	return attributes{
		Enabled:         !sv.Disabled,
		NotBefore:       unix(sv.NotBefore),
		Expires:         unix(sv.Expires),
		Created:         sv.created.Unix(),
		Updated:         sv.updated.Unix(),
		RecoveryLevel:   "Recoverable+Purgeable",
		RecoverableDays: 90,
	}
}

type kvErrorBody struct {
	Error kvErrorDetail `json:"error"`
}

type kvErrorDetail struct {
	Code       string       `json:"code"`
	Message    string       `json:"message"`
	InnerError *kvInnerCode `json:"innererror,omitempty"`
}

type kvInnerCode struct {
	Code string `json:"code"`
}

func kvError(code, msg, inner string) kvErrorBody {
	b := kvErrorBody{Error: kvErrorDetail{Code: code, Message: msg}}
	if inner != "" {
		b.Error.InnerError = &kvInnerCode{Code: inner}
	}
	return b
}

func badParameter(msg string) reply {
	return reply{status: http.StatusBadRequest, header: http.Header{}, body: kvError("BadParameter", msg, "")}
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
