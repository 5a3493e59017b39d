package task

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

// expiring says of each secret the run set or wrote whether it expires
// within req's expiry days of the download's end, or expired already (a
// secret an entry names is set whatever its date): one line each, sorted
// by secret. A pipeline is the earliest place anyone looks at the secrets
// a release uses.
func expiring(req Request, d Downloaded) []Issue {
	days := req.Expiry.Days
	if days == 0 {
		return nil
	}
	// One line a secret (name, or name/version), however many variables
	// and files it fills and however the entries spell it.
	type dated struct {
		name    string
		expires time.Time
	}
	secrets := map[string]dated{}
	add := func(ref vaultref.Secret, exp time.Time) {
		key := strings.ToLower(ref.String())
		if _, seen := secrets[key]; !seen && !exp.IsZero() {
			secrets[key] = dated{ref.String(), exp}
		}
	}
	for _, a := range d.Selection.Set {
		add(a.Secret, a.Expires)
	}
	for _, f := range d.Files {
		add(f.Entry.Ref, f.Expires)
	}
	keys := make([]string, 0, len(secrets))
	for k := range secrets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Issue
	for _, k := range keys {
		s := secrets[k]
		date := s.expires.UTC().Format(time.RFC3339)
		switch left := s.expires.Sub(d.At); {
		case left <= 0:
			out = append(out, Issue{Expiring, fmt.Sprintf("Secret '%s' expired on %s, %s ago, and the step uses it because an entry names it: renew it in vault %s", s.name, date, daysIn(-left), req.Vault)})
		case left <= time.Duration(days)*24*time.Hour:
			out = append(out, Issue{Expiring, fmt.Sprintf("Secret '%s' expires on %s, in %s: renew it in vault %s before then", s.name, date, daysIn(left), req.Vault)})
		}
	}
	return out
}

// daysIn says how many whole days d is.
func daysIn(d time.Duration) string {
	n := int(d / (24 * time.Hour))
	if n == 0 {
		return "less than a day"
	}
	return fmt.Sprintf("%d day(s)", n)
}
