package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// azureCLI signs in with the Azure CLI, asking it what azidentity's
// AzureCLICredential asks (az account get-access-token -o json --resource
// R [--tenant T]), but running az itself: azidentity's runner ends only the
// shell it starts, so a hanging az's own children outlive it, and it reads
// all that az prints, however much. Here az runs in a process group of its
// own, which is ended whole when the timeout passes or the check stops,
// and at most maxToolOutput bytes of its output are read.
type azureCLI struct {
	tenant  string        // --tenant, when the token request names none
	timeout time.Duration // for one run of az
	path    string        // "": az found on PATH
}

// azTimeout bounds one run of az: it signs in through the network, and a
// first run after an upgrade can take some seconds.
const azTimeout = 30 * time.Second

// maxToolOutput bounds what is read of a sign-in tool's output: a token
// reply is a few KiB.
const maxToolOutput = 1 << 20

// GetToken runs az for the one scope asked.
func (c *azureCLI) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if len(opts.Scopes) != 1 || !toolScope(opts.Scopes[0]) {
		return azcore.AccessToken{}, fmt.Errorf("the Azure CLI needs exactly one scope of letters, digits and ._-/: (got %q)", opts.Scopes)
	}
	tenant := opts.TenantID
	if tenant == "" {
		tenant = c.tenant
	}
	if opts.Claims != "" {
		return azcore.AccessToken{}, errors.New("the vault asks for a sign-in with more claims (multifactor authentication): run az login again and check again")
	}
	if !toolTenant(tenant) {
		// The vault's challenge names it, and on Windows az is a batch
		// file, whose command line cmd.exe interprets.
		return azcore.AccessToken{}, fmt.Errorf("the vault names tenant %q, which is not a tenant ID or domain (letters, digits, '.' and '-'): check that this is your vault", vso.Clip(tenant, 80))
	}
	args := []string{"account", "get-access-token", "-o", "json", "--resource", strings.TrimSuffix(opts.Scopes[0], "/.default")}
	if tenant != "" {
		args = append(args, "--tenant", tenant)
	}
	az := c.path
	if az == "" {
		found, err := exec.LookPath("az")
		if err != nil {
			return azcore.AccessToken{}, azidentity.NewCredentialUnavailableError("the Azure CLI (az) is not installed: not found on PATH")
		}
		az = found
	}
	out, err := runTool(ctx, c.timeout, az, args...)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	return cliToken(out)
}

// toolScope is what azidentity lets through to a command line.
func toolScope(s string) bool {
	for _, r := range s {
		if !(r == '.' || r == '-' || r == '_' || r == '/' || r == ':' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return s != ""
}

// toolTenant reports whether a tenant ("" for none) may go on a command
// line: a tenant ID or a domain, as azidentity accepts them.
func toolTenant(s string) bool {
	for _, r := range s {
		if !(r == '.' || r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return true
}

// cliToken reads az's reply: the token and when it expires, as a Unix time
// (expires_on, az 2.54 and later) or a local time (expiresOn).
func cliToken(out []byte) (azcore.AccessToken, error) {
	var t struct {
		AccessToken string `json:"accessToken"`
		ExpiresOn   int64  `json:"expires_on"`
		ExpiresAt   string `json:"expiresOn"`
	}
	if err := json.Unmarshal(out, &t); err != nil || t.AccessToken == "" {
		return azcore.AccessToken{}, errors.New("the Azure CLI's reply holds no token (az account get-access-token)")
	}
	exp := time.Unix(t.ExpiresOn, 0)
	if t.ExpiresOn == 0 {
		var err error
		if exp, err = time.ParseInLocation("2006-01-02 15:04:05.999999", t.ExpiresAt, time.Local); err != nil {
			return azcore.AccessToken{}, fmt.Errorf("the Azure CLI's reply says the token expires at %q, not a time", vso.Clip(t.ExpiresAt, 40))
		}
	}
	return azcore.AccessToken{Token: t.AccessToken, ExpiresOn: exp.UTC()}, nil
}

// runTool runs a sign-in tool and returns what it printed on stdout. It
// ends the tool's whole process group when timeout passes or ctx ends,
// and fails once the tool printed more than maxToolOutput bytes; a tool
// that fails is explained by the end of what it printed on stderr.
func runTool(ctx context.Context, timeout time.Duration, path string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.Command(path, args...)
	// A process that left the group but kept the tool's output open
	// (setsid) must not hold Wait past the tool's own end.
	cmd.WaitDelay = time.Second
	stdout, stderr := newBounded(maxToolOutput), newBounded(64<<10)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	g, err := startGroup(cmd)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	name := toolName(path)
	select {
	case err = <-done:
		if errors.Is(err, exec.ErrWaitDelay) {
			// The tool ended; what holds its output open is left behind,
			// and goes with its group below.
			err = nil
		}
	case <-ctx.Done():
		g.end()
		<-done
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%s did not answer within %s and was stopped, with every process it started", name, timeout)
		}
		return nil, ctx.Err()
	case <-stdout.full:
		g.end()
		<-done
		return nil, fmt.Errorf("%s printed more than %d KiB, far more than a token, and was stopped, with every process it started", name, maxToolOutput>>10)
	}
	// Whatever it started and left behind goes with it.
	g.end()
	if err != nil {
		// The tool's own words, which the sign-in's message goes on from.
		msg := strings.TrimRight(strings.TrimSpace(stderr.String()), ".")
		if msg == "" {
			msg = err.Error()
		}
		return nil, errors.New(name + ": " + vso.Clip(msg, 400))
	}
	return stdout.Bytes(), nil
}

func toolName(path string) string {
	i := strings.LastIndexAny(path, `/\`)
	return path[i+1:]
}

// bounded keeps at most max bytes of what is written to it and, past that,
// takes no more (the tool then gets an error on its output) and closes
// full. It has no ReadFrom (a bytes.Buffer's would read past max).
type bounded struct {
	mu   sync.Mutex
	buf  []byte
	max  int
	full chan struct{}
}

func newBounded(max int) *bounded { return &bounded{max: max, full: make(chan struct{})} }

func (b *bounded) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > b.max {
		select {
		case <-b.full:
		default:
			close(b.full)
		}
		return 0, io.ErrShortWrite
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *bounded) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf
}

func (b *bounded) String() string { return string(b.Bytes()) }
