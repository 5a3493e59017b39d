// The recorded world: vaults whose every answer is one Key Vault itself gave, taken from the Azure SDKs' recordings.

package testworld

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/recorded"
)

// The recorded world's vaults.
const (
	// RecordedVault serves recorded gets of a plain, a content-typed, a
	// tagged not-yet-valid (nbf 2030), an expired (2026-07-15) and a
	// disabled secret, a missing one's 404 and every certificate of
	// recorded.Certificates; its listing is composed (RecordedItems).
	RecordedVault = "kv-recorded"
	// RecordedPagesVault serves a recorded listing page by page, verbatim:
	// maxresults=1, four nextLinks with ":443", a literal $skiptoken and
	// maxresults, the last page empty with "nextLink": null. The recordings
	// hold no get of the four secrets it lists: their gets are 404s.
	RecordedPagesVault = "kv-recorded-pages"
)

// RecordedPageSize is the composed listing's page size: Key Vault pages
// are at most 25 items, and the recorded ones of 2026 held 0 to 2.
const RecordedPageSize = 5

// recordedGets are the recorded vault's gets.
func recordedGets() []recorded.Exchange {
	gets := []recorded.Exchange{
		recorded.MustEntry(recorded.SecretPlain, recorded.SecretPlainEntry),
		recorded.MustSecretGet(recorded.SecretContentType),
		recorded.MustEntry(recorded.SecretTaggedNotYetValid, recorded.SecretTaggedNotYetValidEntry),
		recorded.MustSecretGet(recorded.SecretExpired),
		recorded.MustEntry(recorded.SecretDisabled, 0),
		recorded.MustEntry(recorded.SecretMissing, recorded.SecretMissingEntry),
	}
	for _, c := range recorded.Certificates() {
		gets = append(gets, recorded.MustSecretGet(c.File))
	}
	return gets
}

// RecordedItems is the recorded vault's composed listing, sorted by name
// as Key Vault lists: an item derived from each successful recorded get
// (recorded.ListItem), and two recorded list items of disabled secrets
// that no get answers (a listing skips them without a get): sec-ct-3859
// (2026, contentType application/json) and 2455761926 (2023, a
// certificate's secret: managed, nbf, exp).
func RecordedItems() ([][]byte, error) {
	var items [][]byte
	for _, x := range recordedGets() {
		if x.Status != 200 {
			continue
		}
		it, err := x.ListItem()
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	for _, file := range []string{recorded.ListDisabled2026, recorded.ListManagedDisabled} {
		page, err := recorded.MustEntry(file, 0).ListItems()
		if err != nil {
			return nil, err
		}
		items = append(items, page[0])
	}
	sort.Slice(items, func(i, j int) bool { return itemName(items[i]) < itemName(items[j]) })
	return items, nil
}

// itemName is the lower-case secret name of a list item's id.
func itemName(item []byte) string {
	u, err := recorded.ItemID(item)
	if err != nil {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(u.Path, "/secrets/"))
}

// RecordedRecording is what RecordedVault serves.
func RecordedRecording() (localcloud.Recording, error) {
	items, err := RecordedItems()
	if err != nil {
		return localcloud.Recording{}, err
	}
	return localcloud.Recording{
		Challenge:   recorded.MustEntry(recorded.Challenge2026, 0),
		Gets:        recordedGets(),
		NotFound:    recorded.MustEntry(recorded.SecretMissing, recorded.SecretMissingEntry),
		Items:       items,
		PageSize:    RecordedPageSize,
		EmptyPages:  1,
		PageHeaders: recorded.MustEntry(recorded.ListDisabled2026, 0),
	}, nil
}

// RecordedPagesRecording is what RecordedPagesVault serves.
func RecordedPagesRecording() localcloud.Recording {
	var pages []recorded.Exchange
	for i := recorded.ListPagedFirst; i <= recorded.ListPagedLast; i++ {
		pages = append(pages, recorded.MustEntry(recorded.ListPaged, i))
	}
	return localcloud.Recording{
		Challenge: recorded.MustEntry(recorded.Challenge2026, 0),
		NotFound:  recorded.MustEntry(recorded.SecretMissing, recorded.SecretMissingEntry),
		Pages:     pages,
	}
}

// AddRecordedVaults adds RecordedVault and RecordedPagesVault to the
// world's cloud, in its tenant (the recordings' challenge names it).
func (w *World) AddRecordedVaults() (vault, pages *localcloud.Vault, err error) {
	rec, err := RecordedRecording()
	if err != nil {
		return nil, nil, fmt.Errorf("recorded world: %w", err)
	}
	if vault, err = w.Cloud.AddRecordedVault(RecordedVault, TenantID, rec); err != nil {
		return nil, nil, err
	}
	if pages, err = w.Cloud.AddRecordedVault(RecordedPagesVault, TenantID, RecordedPagesRecording()); err != nil {
		return nil, nil, err
	}
	return vault, pages, nil
}
