package testworld

import (
	"regexp"
	"sort"
	"strings"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
)

const (
	LoginHost = "login.microsoftonline.com:443"
	VaultHost = "kv-e2e.vault.azure.net:443"
)

func DebugVars(extra map[string]agentrunner.Variable) map[string]agentrunner.Variable {
	v := map[string]agentrunner.Variable{"system.debug": {Value: "true"}}
	for k, x := range extra {
		v[k] = x
	}
	return v
}

func (w *World) ProxiedHosts() []string {
	seen := map[string]bool{}
	out := []string{}
	for _, h := range w.Cloud.ProxyLog() {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	sort.Strings(out)
	return out
}

func SecretVar(v string) agentrunner.Variable { return agentrunner.Variable{Value: v, Secret: true} }

func Issues(r *agentrunner.Result, typ string) []string {
	var out []string
	for _, i := range r.Issues {
		if i.Type == typ {
			out = append(out, i.Message)
		}
	}
	return out
}

func SecretGets(v *localcloud.Vault) map[string]int {
	gets := map[string]int{}
	for _, r := range v.Requests() {
		if r.Secret != "" && r.Status != 401 {
			gets[r.Secret]++
		}
	}
	return gets
}

func ListCalls(v *localcloud.Vault) int {
	n := 0
	for _, r := range v.Requests() {
		if strings.TrimRight(r.Path, "/") == "/secrets" && r.Status != 401 {
			n++
		}
	}
	return n
}

func NormalLog(r *agentrunner.Result) []string {
	duration := regexp.MustCompile(`in \d+\.\d\d s`)
	out := make([]string, len(r.Log))
	for i, l := range r.Log {
		out[i] = duration.ReplaceAllString(l, "in X s")
	}
	return out
}
