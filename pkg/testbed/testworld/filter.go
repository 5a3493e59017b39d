package testworld

import (
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
)

// FilterVault fills v with the secrets the filter tests select from
// (names, patterns, tags, disabled, expired and not yet valid ones, and two
// versions of cert) and returns the old version of cert.
func FilterVault(v *localcloud.Vault) (oldCert string) {
	now := time.Now()
	for _, s := range []localcloud.Secret{
		{Name: "app-a", Value: "v-app-a"},
		{Name: "app-b-db", Value: "v-app-b-db"},
		{Name: "app-legacy", Value: "v-app-legacy"},
		{Name: "app-old", Value: "v-app-old", Disabled: true},
		{Name: "test-a", Value: "v-test-a"},
		{Name: "db-prod", Value: "v-db-prod", Tags: map[string]string{"Env": "prod"}},
		{Name: "web-prod", Value: "v-web-prod", Tags: map[string]string{"env": "prod", "team": "web"}},
		{Name: "db-dev", Value: "v-db-dev", Tags: map[string]string{"env": "dev"}},
		{Name: "legacy-key", Value: "v-legacy-key"},
		{Name: "gone-off", Value: "v-gone-off", Disabled: true},
		{Name: "last-year", Value: "v-last-year", Expires: now.Add(-time.Hour)},
		{Name: "next-year", Value: "v-next-year", NotBefore: now.Add(time.Hour)},
	} {
		v.Put(s)
	}
	oldCert = v.Put(localcloud.Secret{Name: "cert", Value: "v-cert-old"})
	v.Put(localcloud.Secret{Name: "cert", Value: "v-cert-new"})
	return oldCert
}
