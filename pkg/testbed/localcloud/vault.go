package localcloud

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Secret is one version of a Key Vault secret.
type Secret struct {
	Name, Value, Version string // Version: 32 lower-case hex digits, generated when empty
	Disabled             bool
	Expires, NotBefore   time.Time // zero = unset; exp / nbf in Unix seconds on the wire
	ContentType          string
	Tags                 map[string]string
	Managed              bool // backs a Key Vault certificate
}

// Request is one Key Vault request as the vault saw it.
type Request struct {
	Method, Path, RawQuery string
	Status                 int
	Authorized             bool   // carried a valid token for this vault
	Secret                 string // the name a get asked for
	APIVersion             string
	At                     time.Time
}

// Vault is one fake Key Vault. Its methods are safe for concurrent use,
// including while requests are being served.
type Vault struct {
	cloud     *Cloud
	name      string // first DNS label, as Key Vault names itself in messages
	host      string
	tenant    string
	authority string // e.g. https://login.microsoftonline.com
	resource  string // e.g. https://vault.azure.net
	subID     string
	// maxAPIVersion, when set, is the newest api-version this vault's cloud
	// serves (Azure Stack Hub lags behind the public cloud).
	maxAPIVersion string

	mu      sync.Mutex
	secrets map[string]*secretEntry // lower-case name
	// names is the sorted keys of secrets, rebuilt after a new name, so
	// that the fake's own work per list page (and the time it holds mu,
	// which every get waits for) stays small beside the latency it is told
	// to add.
	names     []string
	faults    Faults
	bucket    float64
	bucketAt  time.Time
	throttles int
	rng       *mrand.Rand
	hostile   hostileState // hostile.go
	// recording, when set, is what the vault serves instead of its secrets
	// (recordedvault.go).
	recording *Recording
}

type secretEntry struct {
	name     string // as first created; Key Vault names are case-insensitive
	versions []storedVersion
}

type storedVersion struct {
	Secret
	created, updated time.Time
}

// AddVault creates (or replaces) <name>.vault.azure.net whose challenge names
// tenantID. A name containing a dot is taken as the full host, e.g.
// "kv1.vault.azure.cn", so the China and US Government clouds work too, and
// "kv1.vault.local.azurestack.external" once EnableAzureStack was called
// (its tenant is "adfs" on an AD FS stack). The tenant becomes known to Entra.
func (c *Cloud) AddVault(name, tenantID string) *Vault {
	host := strings.ToLower(name)
	if !strings.Contains(host, ".") {
		host += ".vault.azure.net"
	}
	authority, resource, ok := vaultCloud(host)
	if !ok {
		authority, resource, ok = c.stackVaultCloud(host)
	}
	if !ok {
		panic(fmt.Sprintf("localcloud: AddVault(%q): host must end in vault.azure.net, vault.azure.cn, vault.usgovcloudapi.net or (after EnableAzureStack) %s", name, AzureStackVaultSuffix))
	}
	short := strings.SplitN(host, ".", 2)[0]
	v := &Vault{
		cloud:     c,
		name:      short,
		host:      host,
		tenant:    tenantID,
		authority: authority,
		resource:  resource,
		subID:     stableUUID("subscription", host),
		secrets:   map[string]*secretEntry{},
		rng:       newFaultRNG(),
	}
	v.maxAPIVersion = c.stackMaxAPIVersion(host)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tenants[strings.ToLower(tenantID)] = true
	c.vaults[host] = v
	return v
}

// Vault returns the vault added under name (short name or full host), or nil.
func (c *Cloud) Vault(name string) *Vault {
	host := strings.ToLower(name)
	if !strings.Contains(host, ".") {
		host += ".vault.azure.net"
	}
	return c.vaultByHost(host)
}

func (c *Cloud) vaultByHost(host string) *Vault {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vaults[host]
}

// Host is the vault's DNS name, e.g. "kv1.vault.azure.net".
func (v *Vault) Host() string { return v.host }

// Put stores s as the newest version of its name and returns the version.
func (v *Vault) Put(s Secret) (version string) {
	if s.Version == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		s.Version = hex.EncodeToString(b)
	}
	s.Version = strings.ToLower(s.Version)
	if s.Tags != nil {
		tags := make(map[string]string, len(s.Tags))
		for k, val := range s.Tags {
			tags[k] = val
		}
		s.Tags = tags
	}
	now := time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	key := strings.ToLower(s.Name)
	e := v.secrets[key]
	if e == nil {
		e = &secretEntry{name: s.Name}
		v.secrets[key] = e
		v.names = nil
	}
	s.Name = e.name
	kept := e.versions[:0]
	for _, old := range e.versions {
		if old.Version != s.Version {
			kept = append(kept, old)
		}
	}
	e.versions = append(kept, storedVersion{Secret: s, created: now, updated: now})
	return s.Version
}

// SetFaults replaces the vault's faults. It also refills the throttling
// bucket, empties the window and restarts the 503 sequence, so equal
// settings replay equally.
func (v *Vault) SetFaults(f Faults) {
	if f.SecretDenied != nil {
		m := make(map[string]string, len(f.SecretDenied))
		for k, val := range f.SecretDenied {
			m[k] = val
		}
		f.SecretDenied = m
	}
	f.window = newSlidingWindow(f.Window, f.WindowLimit)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.faults = f
	v.bucketAt = time.Time{}
	v.throttles = 0
	v.rng = newFaultRNG()
}
