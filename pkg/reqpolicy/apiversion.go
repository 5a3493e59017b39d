package reqpolicy

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// stackAPIVersion is what Azure Stack Hub's Key Vault serves (and what
// AzureKeyVault@2 asks for): the fallback when a vault names none.
const stackAPIVersion = "2016-10-01"

// unsupportedVersion matches Key Vault's answer to an api-version a cloud
// (Azure Stack Hub, a lagging sovereign cloud) does not serve yet, and the
// version it suggests.
var unsupportedVersion = regexp.MustCompile(`(?i)version \(?([0-9]{4}-[0-9]{2}-[0-9]{2}[a-z.-]*)\)? is not (?:recognized|supported)(?:.*latest supported version \(([^)]+)\))?`)

// UnsupportedVersion reads Key Vault's message for an api-version it does
// not serve: the version asked for, and the latest it serves if it says.
func UnsupportedVersion(message string) (asked, latest string, ok bool) {
	m := unsupportedVersion.FindStringSubmatch(message)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// versionPolicy falls back, once for the whole run, to an api-version the
// vault serves when it answers that it does not serve the SDK's: the
// version it names, or Azure Stack Hub's. Every request after that asks
// for it. A version the user set (GoKeyVault.ApiVersion) is left alone.
type versionPolicy struct {
	fixed bool         // the user chose the version
	logf  func(string) // nil: no debug line
	mu    sync.Mutex
	use   string // the fallback, once chosen
}

func (p *versionPolicy) Do(req *policy.Request) (*http.Response, error) {
	p.rewrite(req)
	resp, err := req.Next()
	if err != nil || p.fixed || resp.StatusCode != http.StatusBadRequest {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		// A reply over its cap, or cut short: its error, not half a body.
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	asked, latest, ok := UnsupportedVersion(string(body))
	if !ok || !p.fallBack(asked, latest) {
		return resp, nil
	}
	p.rewrite(req)
	return req.Next()
}

// fallBack chooses the fallback; false when one was chosen already (the
// vault refused it too: its answer stands).
func (p *versionPolicy) fallBack(asked, latest string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.use != "" && p.use != asked {
		return true // another request chose it meanwhile
	}
	if p.use != "" {
		return false
	}
	p.use = latest
	if p.use == "" {
		p.use = stackAPIVersion
	}
	if p.logf != nil {
		p.logf("Key Vault in this cloud does not serve api-version " + asked + "; using " + p.use + " from now on")
	}
	return true
}

func (p *versionPolicy) rewrite(req *policy.Request) {
	p.mu.Lock()
	use := p.use
	p.mu.Unlock()
	if use == "" {
		return
	}
	u := req.Raw().URL
	q := u.Query()
	q.Set("api-version", use)
	u.RawQuery = q.Encode()
}
