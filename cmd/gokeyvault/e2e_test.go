package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/harness"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

// edgeValues are the values users have seen AzureKeyVault@2 mangle.
func edgeValues() map[string]string {
	big := strings.Repeat("0123456789abcdef%;]\n", 1280) // 25,600 bytes
	return map[string]string{
		"plain":     "s3cr3t-plain-value",
		"percent":   "100%AZP25 %3B %0A %5D %%",
		"semicolon": "a;b]c=d",
		"json-ml":   "{\n  \"user\": \"app\",\n  \"ports\": [1, 2]\n}",
		"json-1l":   `{"user":"app","pw":"x;y]z"}`,
		"crlf":      "first line\r\nsecond line\r\n",
		"unicode":   "ünïcødé ☃ 🔑 日本",
		"big":       big[:25*1024],
		"pem":       "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n",
		"inject":    "harmless first line\n##vso[task.setvariable variable=PATH]x",
		"spaces":    "  padded value  ",
	}
}

func TestDownloadAll(t *testing.T) {
	for _, debug := range []bool{false, true} {
		t.Run(fmt.Sprintf("debug=%v", debug), func(t *testing.T) {
			w := newWorld(t)
			want := map[string]agentrunner.Variable{}
			for name, v := range edgeValues() {
				w.Vault.Put(localcloud.Secret{Name: name, Value: v})
				want[name] = testworld.SecretVar(v)
			}
			w.Vault.Put(localcloud.Secret{Name: "empty", Value: ""})
			want["empty"] = testworld.SecretVar("")
			// Enough secrets for several list pages.
			for i := 0; i < 40; i++ {
				name := fmt.Sprintf("filler-%02d", i)
				v := fmt.Sprintf("filler-value-%02d", i)
				w.Vault.Put(localcloud.Secret{Name: name, Value: v})
				want[name] = testworld.SecretVar(v)
			}
			now := time.Now()
			never := []localcloud.Secret{
				{Name: "disabled-one", Value: "value-of-disabled", Disabled: true},
				{Name: "expired-one", Value: "value-of-expired", Expires: now.Add(-time.Hour)},
				{Name: "future-one", Value: "value-of-future", NotBefore: now.Add(time.Hour)},
			}
			for _, s := range never {
				w.Vault.Put(s)
			}
			// The multi-line flag is put back to what the job had: unset.
			want["SYSTEM_UNSAFEALLOWMULTILINESECRET"] = agentrunner.Variable{}

			res := w.Run(step{Debug: debug})

			if res.Result != "Succeeded" {
				t.Fatalf("result %s, log:\n%s", res.Result, strings.Join(res.Log, "\n"))
			}
			if diff := cmp.Diff(want, res.Variables); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
			gets := testworld.SecretGets(w.Vault)
			for _, s := range never {
				if gets[s.Name] > 0 {
					t.Errorf("value of %s was requested", s.Name)
				}
			}
			for name, n := range gets {
				if n != 1 {
					t.Errorf("secret %s fetched %d times", name, n)
				}
			}
			// w.run has checked that no value of the vault (these
			// included) reached the log.
			if !debug && !harness.ForceDebug() {
				wantLog := []string{
					"GoKeyVault dev (commit unknown): vault kv-e2e (https://kv-e2e.vault.azure.net/), cloud AzureCloud",
					"TLS: trusting the certificates of SSL_CERT_FILE=" + w.Cloud.CAFile() + " (instead of the system's CA bundle)",
					"Downloading every enabled secret",
					"Found 55 secret(s): 52 enabled and valid, 3 skipped",
					"  skipped disabled-one: disabled",
					"  skipped expired-one: expired " + now.Add(-time.Hour).UTC().Format(time.RFC3339),
					"  skipped future-one: not valid before " + now.Add(time.Hour).UTC().Format(time.RFC3339),
					"Set 52 secret(s):",
				}
				// Every secret set is named, sorted.
				for _, name := range slices.Sorted(maps.Keys(want)) {
					if name != "SYSTEM_UNSAFEALLOWMULTILINESECRET" {
						wantLog = append(wantLog, "  "+name)
					}
				}
				wantLog = append(wantLog,
					"##[warning]Secret 'empty' is empty: variable empty is defined with an empty value",
					"Downloaded 52 secret(s) in X s",
					"Downloaded 52 secret(s) from kv-e2e",
				)
				if diff := cmp.Diff(wantLog, testworld.NormalLog(res)); diff != "" {
					t.Errorf("log (-want +got):\n%s", diff)
				}
			}
		})
	}
}
