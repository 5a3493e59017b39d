// Faults, the seeded 503s and the 403 denials; serveHTTP adds the latency, throttle.go throttles.

package localcloud

import (
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"time"
)

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

func newFaultRNG() *mrand.Rand { return mrand.New(mrand.NewPCG(0x6b76, 0x503)) }

func (v *Vault) fail503(f Faults) bool {
	if f.Fail503 <= 0 {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.rng.Float64() < f.Fail503
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
