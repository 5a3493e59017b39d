package localcloud

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// identityAPIVersion is the App Service managed identity protocol version
// azidentity speaks.
const identityAPIVersion = "2019-08-01"

type identityState struct {
	endpoint, header string
	system           *managedIdentity
	user             map[string]managedIdentity // lower-case client id
}

type managedIdentity struct{ tenant, clientID string }

// EnableManagedIdentity starts a managed identity endpoint on a loopback
// port, speaking the App Service protocol that azidentity (through MSAL)
// uses when IDENTITY_ENDPOINT and IDENTITY_HEADER are set. It returns those
// two variables for the task's environment. The Instance Metadata Service
// an Azure VM has lives at 169.254.169.254, which is not loopback: tests
// reach the same credential code through this seam instead.
func (c *Cloud) EnableManagedIdentity() ([]string, error) {
	c.mu.Lock()
	if st := c.ext.identity; st != nil {
		c.mu.Unlock()
		return identityEnv(st), nil
	}
	c.mu.Unlock()
	addr, err := c.serveLoopback(http.HandlerFunc(c.serveIdentity))
	if err != nil {
		return nil, fmt.Errorf("start the managed identity endpoint: %w", err)
	}
	st := &identityState{
		endpoint: "http://" + addr + "/msi/token",
		header:   newUUID(),
		user:     map[string]managedIdentity{},
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ext.identity == nil {
		c.ext.identity = st
	}
	return identityEnv(c.ext.identity), nil
}

func identityEnv(st *identityState) []string {
	return []string{"IDENTITY_ENDPOINT=" + st.endpoint, "IDENTITY_HEADER=" + st.header}
}

// AddManagedIdentity assigns an identity of tenantID to the fake machine:
// its system-assigned identity, or a user-assigned one that requests name
// by clientID. The tenant becomes known. EnableManagedIdentity must have
// been called.
func (c *Cloud) AddManagedIdentity(tenantID, clientID string, userAssigned bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.ext.identity
	if st == nil {
		panic("localcloud: AddManagedIdentity before EnableManagedIdentity")
	}
	c.tenants[strings.ToLower(tenantID)] = true
	mi := managedIdentity{tenant: strings.ToLower(tenantID), clientID: clientID}
	if userAssigned {
		st.user[strings.ToLower(clientID)] = mi
	} else {
		st.system = &mi
	}
}

func (c *Cloud) serveIdentity(w http.ResponseWriter, r *http.Request) {
	rw := &statusWriter{ResponseWriter: w}
	defer func() { c.recordHost(r, "managed-identity", rw.status) }()
	w = rw
	c.mu.Lock()
	st := c.ext.identity
	var system *managedIdentity
	user := map[string]managedIdentity{}
	if st != nil {
		system = st.system
		for k, v := range st.user {
			user[k] = v
		}
	}
	c.mu.Unlock()
	if st == nil || r.URL.Path != "/msi/token" {
		identityError(w, http.StatusNotFound, "Not found")
		return
	}
	if r.Method != http.MethodGet {
		identityError(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-IDENTITY-HEADER")), []byte(st.header)) != 1 {
		identityError(w, http.StatusUnauthorized, "The request is missing the X-IDENTITY-HEADER header or it is not valid.")
		return
	}
	q := r.URL.Query()
	resource := q.Get("resource")
	if q.Get("api-version") != identityAPIVersion || resource == "" {
		identityError(w, http.StatusBadRequest, "The api-version "+identityAPIVersion+" and a resource are required.")
		return
	}
	var mi managedIdentity
	if id := q.Get("client_id"); id != "" {
		u, ok := user[strings.ToLower(id)]
		if !ok {
			identityError(w, http.StatusBadRequest, "Unable to load the proper Managed Identity. No identity with client ID "+id+" is assigned to this resource.")
			return
		}
		mi = u
	} else {
		if system == nil {
			identityError(w, http.StatusBadRequest, "Unable to load the proper Managed Identity. No system-assigned identity is enabled on this resource.")
			return
		}
		mi = *system
	}
	tok := randomToken()
	expires := time.Now().Add(tokenLifetime)
	c.issue(tok, tokenInfo{tenant: mi.tenant, client: mi.clientID, audience: strings.TrimRight(resource, "/"), expires: expires})
	writeJSON(w, http.StatusOK, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, map[string]string{
		"access_token": tok,
		"expires_on":   strconv.FormatInt(expires.Unix(), 10),
		"resource":     resource,
		"token_type":   "Bearer",
		"client_id":    mi.clientID,
	})
}

func identityError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, map[string]any{
		"statusCode":    status,
		"message":       msg,
		"correlationId": newUUID(),
	})
}
