package task

import (
	"fmt"
	"sort"
	"time"
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
	expires := map[string]time.Time{} // secret (name or name/version) -> its expiry
	for _, a := range d.Selection.Set {
		if !a.Expires.IsZero() {
			expires[a.Secret.String()] = a.Expires
		}
	}
	for _, f := range d.Files {
		if !f.Expires.IsZero() {
			expires[f.Entry.Ref.String()] = f.Expires
		}
	}
	secrets := make([]string, 0, len(expires))
	for s := range expires {
		secrets = append(secrets, s)
	}
	sort.Strings(secrets)
	var out []Issue
	for _, s := range secrets {
		exp := expires[s]
		date := exp.UTC().Format(time.RFC3339)
		switch left := exp.Sub(d.At); {
		case left <= 0:
			out = append(out, Issue{Expiring, fmt.Sprintf("Secret '%s' expired on %s, %s ago, and is set because an entry names it: renew it in vault %s", s, date, daysIn(-left), req.Vault)})
		case left <= time.Duration(days)*24*time.Hour:
			out = append(out, Issue{Expiring, fmt.Sprintf("Secret '%s' expires on %s, in %s: renew it in vault %s before then", s, date, daysIn(left), req.Vault)})
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
