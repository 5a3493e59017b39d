package keyvault

import (
	"crypto/sha256"
	"fmt"
	"net/url"
	"strings"

	"github.com/gokeyvault/gokeyvault/pkg/reqpolicy"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Limits on what a listing may bring (the size of each reply is capped
// by reqpolicy).
const (
	// maxPages bounds a listing: a server that keeps sending nextLinks,
	// empty pages among them, is broken or hostile.
	maxPages = 25000
	// maxPageItems is the most entries a list page may hold: Key Vault
	// sends at most 25.
	maxPageItems = 25
	// maxNextLink bounds a nextLink's length: Key Vault's are a few
	// hundred bytes (the vault's URL and a $skiptoken).
	maxNextLink = 8 << 10
	// maxListed bounds the entries a listing may bring, valid or not, so
	// that what the task keeps per secret (its name, its place in the
	// queue) stays small: a vault that really holds more should be read
	// by naming the secrets.
	maxListed = 25000
	// maxInvalidShown is how many invalid list entries are named one by
	// one; the rest are counted.
	maxInvalidShown = 10
)

// MisbehaviorError is a reply no Key Vault sends: a page too large, a
// nextLink too long or seen before, a listing without end. The listing
// stops.
type MisbehaviorError struct{ What string }

func (e *MisbehaviorError) Error() string { return e.What }

// Explained marks the message as saying what to do.
func (e *MisbehaviorError) Explained() {}

// NonRetriable stops the SDK's retries.
func (e *MisbehaviorError) NonRetriable() {}

// checkNextLink accepts a nextLink only if it is of a sane length, stays
// on the vault's list endpoint and has not been seen before. seen holds
// digests, not links: a listing may take thousands of pages.
func checkNextLink(link string, vault *url.URL, seen map[[sha256.Size]byte]bool) error {
	if len(link) > maxNextLink {
		return &MisbehaviorError{What: fmt.Sprintf("the vault's nextLink is %d KiB long; Key Vault's are a few hundred bytes: stopped listing", len(link)>>10)}
	}
	u, err := url.Parse(link)
	if err != nil {
		return &MisbehaviorError{What: "the vault's nextLink does not parse; refused"}
	}
	if !reqpolicy.SameOrigin(u, vault) {
		return &reqpolicy.ForeignHostError{URL: u.Scheme + "://" + u.Host + u.Path}
	}
	if strings.TrimSuffix(u.Path, "/") != "/secrets" {
		return &MisbehaviorError{What: fmt.Sprintf("the vault's nextLink points at %q, not the secret list; refused", vso.Clip(u.Path, 80))}
	}
	sum := sha256.Sum256([]byte(link))
	if seen[sum] {
		return &MisbehaviorError{What: "the vault sent the same nextLink twice; stopped listing rather than loop"}
	}
	seen[sum] = true
	return nil
}
