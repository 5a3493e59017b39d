// Package keyvault downloads secret values from one vault: it lists (for '*')
// and fetches values concurrently, starting the first get as soon as the
// first list page has arrived, and reports what it skipped and why.
package keyvault

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/gokeyvault/gokeyvault/pkg/inputs"
)

// Options configures a Client.
type Options struct {
	VaultURL   string // https://<name>.<suffix>
	Credential azcore.TokenCredential
	Transport  policy.Transporter
	Retry      policy.RetryOptions
	// APIVersion overrides the SDK's Key Vault API version, for clouds that
	// lag behind the public one.
	APIVersion string
	// Concurrency bounds the gets in flight.
	Concurrency int
	// PerRetry policies run on every try (debug logging, guards).
	PerRetry []policy.Policy
	// Now is the clock used for exp and nbf; nil means time.Now.
	Now func() time.Time
}

// Client downloads secrets from one vault.
type Client struct {
	vault       string
	secrets     *azsecrets.Client
	concurrency int
	now         func() time.Time
}

// New returns a Client.
func New(o Options) (*Client, error) {
	u, err := url.Parse(o.VaultURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("vault URL %q is not an https URL", o.VaultURL)
	}
	co := &azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport:        o.Transport,
		Retry:            o.Retry,
		APIVersion:       o.APIVersion,
		PerRetryPolicies: o.PerRetry,
		Telemetry:        policy.TelemetryOptions{ApplicationID: "GoKeyVault"},
	}}
	sc, err := azsecrets.NewClient(o.VaultURL, o.Credential, co)
	if err != nil {
		return nil, fmt.Errorf("create Key Vault client for %s: %w", o.VaultURL, err)
	}
	c := &Client{vault: u.Host, secrets: sc, concurrency: o.Concurrency, now: o.Now}
	if c.concurrency <= 0 {
		c.concurrency = 16
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Value is one downloaded secret.
type Value struct {
	Name    string // the secret's name
	Version string // the version asked for; "" for the latest
	Value   string
}

// Skip is a listed secret whose value was deliberately not requested.
type Skip struct {
	Name   string
	Reason string
}

// Failure is a secret that could not be downloaded.
type Failure struct {
	Name    string
	Version string
	Err     error
}

// Report summarises a download.
type Report struct {
	Listed     int // secrets the list returned (0 for named downloads)
	Skipped    []Skip
	Downloaded int
	Failures   []Failure
}

// ListError is a failure of the list call itself.
type ListError struct {
	Vault string
	Err   error
}

func (e *ListError) Error() string { return fmt.Sprintf("list secrets in %s: %v", e.Vault, e.Err) }
func (e *ListError) Unwrap() error { return e.Err }

// All downloads every enabled, currently valid secret of the vault. sink is
// called concurrently, once per value, as soon as it arrives.
func (c *Client) All(ctx context.Context, sink func(Value)) (Report, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan inputs.Secret, c.concurrency)
	var t tally
	var listErr error
	listDone := make(chan struct{})
	go func() {
		defer close(listDone)
		defer close(jobs)
		listErr = c.list(ctx, &t, jobs)
		if listErr != nil {
			cancel()
		}
	}()
	c.fetch(ctx, jobs, &t, sink)
	<-listDone
	if listErr != nil {
		return t.report(), &ListError{Vault: c.vault, Err: listErr}
	}
	return t.report(), nil
}

// Named downloads the given secrets directly, without listing, so that an
// identity with Get but no List permission works.
func (c *Client) Named(ctx context.Context, want []inputs.Secret, sink func(Value)) (Report, error) {
	jobs := make(chan inputs.Secret, len(want))
	for _, s := range want {
		jobs <- s
	}
	close(jobs)
	var t tally
	c.fetch(ctx, jobs, &t, sink)
	return t.report(), nil
}

// list walks the list pages and queues what should be fetched.
func (c *Client) list(ctx context.Context, rep *tally, jobs chan<- inputs.Secret) error {
	pager := c.secrets.NewListSecretPropertiesPager(nil)
	now := c.now()
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, item := range page.Value {
			if item == nil || item.ID == nil {
				continue
			}
			name, ok := SecretName(string(*item.ID))
			if !ok {
				continue
			}
			skip := skipReason(item.Attributes, now)
			rep.addListed(name, skip)
			if skip != "" {
				continue
			}
			select {
			case jobs <- inputs.Secret{Name: name}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

func skipReason(a *azsecrets.SecretAttributes, now time.Time) string {
	if a == nil {
		return ""
	}
	switch {
	case a.Enabled != nil && !*a.Enabled:
		return "disabled"
	case a.Expires != nil && !a.Expires.After(now):
		return "expired " + a.Expires.UTC().Format(time.RFC3339)
	case a.NotBefore != nil && a.NotBefore.After(now):
		return "not valid before " + a.NotBefore.UTC().Format(time.RFC3339)
	}
	return ""
}

// fetch runs the bounded pool of gets.
func (c *Client) fetch(ctx context.Context, jobs <-chan inputs.Secret, rep *tally, sink func(Value)) {
	var wg sync.WaitGroup
	for i := 0; i < c.concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range jobs {
				v, err := c.get(ctx, s)
				if err != nil {
					rep.addFailure(Failure{Name: s.Name, Version: s.Version, Err: err})
					continue
				}
				sink(v)
				rep.addDownloaded()
			}
		}()
	}
	wg.Wait()
}

func (c *Client) get(ctx context.Context, s inputs.Secret) (v Value, err error) {
	// A panic inside the SDK on one hostile reply must not take down the
	// run, nor print a stack trace: it becomes this secret's failure.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("get secret %s: unexpected reply from the vault", s.Name)
		}
	}()
	resp, err := c.secrets.GetSecret(ctx, s.Name, s.Version, nil)
	if err != nil {
		return Value{}, err
	}
	if resp.Value == nil {
		return Value{Name: s.Name, Version: s.Version}, nil
	}
	return Value{Name: s.Name, Version: s.Version, Value: *resp.Value}, nil
}

// SecretName extracts the name from a secret id such as
// https://v.vault.azure.net/secrets/name[/version], refusing anything that is
// not a valid Key Vault secret name instead of panicking like the SDK does.
func SecretName(id string) (string, bool) {
	u, err := url.Parse(id)
	if err != nil {
		return "", false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "secrets" {
		return "", false
	}
	if inputs.ValidateSecretName(parts[1]) != nil {
		return "", false
	}
	return parts[1], true
}

// IsNotFound reports whether err is Key Vault's 404.
func IsNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == 404
}
