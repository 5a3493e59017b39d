// Package keyvault downloads secrets from one vault: it walks the list
// pages when a request selects by listing, queues what each page selects,
// fetches the values with a bounded pool of workers (named secrets
// directly), and reports what was listed, skipped, downloaded and failed
// (Report). Its requests' retries, pacing and guards are pkg/reqpolicy's.
package keyvault

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/gokeyvault/gokeyvault/pkg/reqpolicy"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Options configures a Client.
type Options struct {
	VaultURL   string // https://<name>.<suffix>
	Credential azcore.TokenCredential
	// HTTP is the transport and the policies every try goes through (the
	// debug log); its retry policy applies to every request.
	HTTP transport.Pipeline
	// APIVersion overrides the SDK's Key Vault API version, for clouds that
	// lag behind the public one.
	APIVersion string
	// Concurrency bounds the gets in flight.
	Concurrency int
	// Now is the clock used for exp and nbf; nil means time.Now.
	Now func() time.Time
	// TenantID is the service connection's tenant: a vault challenge naming
	// another one is refused before any token is requested.
	TenantID string
	// Logf, when set, gets debug lines (an api-version fallback).
	Logf func(string)
}

// Client downloads secrets from one vault.
type Client struct {
	vaultURL    *url.URL
	secrets     *azsecrets.Client
	concurrency int
	now         func() time.Time
	limiter     *reqpolicy.Limiter
	maxPages    int // the most list pages a listing may take: maxPages, lowered by tests
	maxListed   int // the most entries a listing may bring: maxListed, lowered by tests
}

// workers is how many gets may be under way (reqpolicy.Workers).
func (c *Client) workers() int { return reqpolicy.Workers(c.concurrency) }

// PeakInFlight is the most gets that were in flight at once.
func (c *Client) PeakInFlight() int { return c.limiter.Peak() }

// New returns a Client.
func New(o Options) (*Client, error) {
	u, err := url.Parse(o.VaultURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("vault URL %q is not an https URL", o.VaultURL)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = reqpolicy.RunGetsInFlight
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	co := o.HTTP.ClientOptions()
	lim := reqpolicy.Install(&co, reqpolicy.Vault{URL: u, TenantID: o.TenantID, APIVersion: o.APIVersion, GetsInFlight: o.Concurrency, Now: o.Now, Logf: o.Logf})
	sc, err := azsecrets.NewClient(o.VaultURL, o.Credential, &azsecrets.ClientOptions{ClientOptions: co})
	if err != nil {
		return nil, fmt.Errorf("create Key Vault client for %s: %w", o.VaultURL, err)
	}
	return &Client{vaultURL: u, secrets: sc, concurrency: o.Concurrency, now: o.Now, limiter: lim, maxPages: maxPages, maxListed: maxListed}, nil
}

// Value is one downloaded secret.
type Value struct {
	Name    string // the secret's name
	Version string // the version asked for; "" for the latest
	// Resolved is the version the vault answered with, from the reply's
	// id: what the latest was when fetched ("" if the id names none).
	Resolved    string
	Value       string
	ContentType string
	// Expires and NotBefore are the version's exp and nbf, zero when
	// unset: a secret fetched by name is fetched whatever they say.
	Expires, NotBefore time.Time
	// Managed: the secret backs a Key Vault certificate (Key Vault made
	// its value from the certificate and its key).
	Managed bool
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
	Listed int // valid secrets the list returned (0 without a listing)
	// Selected counts the listed secrets the request selected; Skipped
	// are those of them not fetched (disabled, expired, not yet valid).
	Selected int
	// Invalid lists, rendered safely, the first few list entries whose id
	// is not a valid secret id; they are skipped, never turned into
	// variables. InvalidCount counts them all.
	Invalid      []string
	InvalidCount int
	Skipped      []Skip
	Downloaded   int
	Failures     []Failure
	// Shared, when not nil, is the one cause of every failure: the token
	// was refused, or nothing reached the vault. Reported once, it stands
	// for all of them.
	Shared error
}

// ListError is a failure of the list call itself.
type ListError struct {
	Vault string
	Err   error
}

func (e *ListError) Error() string { return fmt.Sprintf("list secrets in %s: %v", e.Vault, e.Err) }
func (e *ListError) Unwrap() error { return e.Err }

// Request says what Download fetches.
type Request struct {
	// Named are fetched by name, whatever a listing says: an identity
	// with only the Get permission can download them.
	Named []vaultref.Secret
	// Select, when set, lists the vault and is asked about each valid
	// secret it lists: true fetches its latest value. Of those it
	// selects, disabled, expired and not yet valid secrets are skipped,
	// not fetched.
	Select func(name string, tags map[string]string) bool
}

// Download fetches what req asks for. sink is called concurrently, once
// per value, as soon as it arrives. The error is the listing's: named
// secrets are fetched even when the listing fails.
func (c *Client) Download(ctx context.Context, req Request, sink func(Value)) (Report, error) {
	if req.Select == nil {
		return c.named(ctx, req.Named, sink), nil
	}
	jobs := newQueue()
	var t tally
	var listErr error
	listDone := make(chan struct{})
	go func() {
		defer close(listDone)
		defer jobs.close()
		// A panic while reading a hostile page must end the listing, not
		// the process with a stack trace.
		defer func() {
			if r := recover(); r != nil {
				listErr = errors.New("the vault's list reply could not be read")
			}
		}()
		listErr = c.list(ctx, &t, jobs, req)
	}()
	c.fetch(ctx, jobs, &t, sink, c.workers())
	<-listDone
	if listErr != nil {
		return t.report(), &ListError{Vault: c.vaultURL.Host, Err: listErr}
	}
	return t.report(), nil
}

// sharedCause is the one cause behind all of fs, if there is one: no
// failure got an answer from the vault about its secret, and either the
// token was refused (it would be for every secret) or there is more than
// one (the network, not the secret). If any secret got an answer of its
// own (a 403, a 404), each failure stands on its own.
func sharedCause(fs []Failure) error {
	var auth error
	for _, f := range fs {
		var afe *azidentity.AuthenticationFailedError
		switch {
		case errors.As(f.Err, &afe):
			if auth == nil {
				auth = f.Err
			}
		case aboutSecret(f.Err):
			return nil
		}
	}
	switch {
	case auth != nil:
		return auth
	case len(fs) > 1:
		return fs[0].Err
	}
	return nil
}

// named fetches secrets by name. The first get goes alone: it meets the
// vault's challenge and gets the token, so the others start with the token
// instead of each collecting a 401 of their own.
func (c *Client) named(ctx context.Context, want []vaultref.Secret, sink func(Value)) Report {
	var t tally
	if len(want) == 0 {
		return t.report()
	}
	first := newQueue()
	first.push(want[0])
	first.close()
	c.fetch(ctx, first, &t, sink, 1)
	if rep := t.report(); len(rep.Failures) == 1 && !aboutSecret(rep.Failures[0].Err) {
		// The vault never answered about the first secret: the token, the
		// network or the TLS handshake failed, and would fail the same
		// way for each of the others. They fail with that cause rather
		// than repeat the failure (and a token request) per secret.
		for _, s := range want[1:] {
			t.addFailure(Failure{Name: s.Name, Version: s.Version, Err: rep.Failures[0].Err})
		}
		return t.report()
	}
	jobs := newQueue()
	for _, s := range want[1:] {
		jobs.push(s)
	}
	jobs.close()
	c.fetch(ctx, jobs, &t, sink, min(c.workers(), len(want)-1))
	return t.report()
}

// list walks the list pages and queues what should be fetched: the named
// secrets once the first page has answered (its request met the vault's
// challenge; the page's failure does not stop them), then what each page
// selects. Each nextLink is checked before it is followed: the SDK would
// follow any URL, with the vault's token attached.
func (c *Client) list(ctx context.Context, rep *tally, jobs *queue, req Request) error {
	pager := c.secrets.NewListSecretPropertiesPager(nil)
	l := lister{now: c.now(), seenLinks: map[[sha256.Size]byte]bool{}, seenNames: map[string]bool{}, req: req, rep: rep}
	for pages := 1; pager.More(); pages++ {
		if pages > c.maxPages {
			return &MisbehaviorError{What: fmt.Sprintf("the vault kept sending pages past %d; stopped listing", c.maxPages)}
		}
		page, err := pager.NextPage(ctx)
		if pages == 1 {
			for _, s := range req.Named {
				jobs.push(s)
			}
		}
		if err != nil {
			return err
		}
		if n := len(page.Value); n > maxPageItems {
			return &MisbehaviorError{What: fmt.Sprintf("a list page from the vault holds %d entries; Key Vault sends at most %d: stopped listing", n, maxPageItems)}
		}
		if l.entries += len(page.Value); l.entries > c.maxListed {
			return &MisbehaviorError{What: fmt.Sprintf("the vault listed more than %d secrets, more than GoKeyVault reads: stopped listing. If the vault really holds that many, name the secrets the pipeline needs in SecretsFilter", c.maxListed)}
		}
		more := page.NextLink != nil && *page.NextLink != ""
		jobs.pushPage(l.page(page.Value), !more)
		if more {
			if err := checkNextLink(*page.NextLink, c.vaultURL, l.seenLinks); err != nil {
				return err
			}
		}
	}
	return nil
}

// lister is what a listing keeps from page to page.
type lister struct {
	now       time.Time
	seenLinks map[[sha256.Size]byte]bool
	seenNames map[string]bool
	entries   int
	req       Request
	rep       *tally
}

// page returns what a page's entries select.
func (l *lister) page(items []*azsecrets.SecretProperties) []vaultref.Secret {
	var fetch []vaultref.Secret
	for _, item := range items {
		if item == nil || item.ID == nil {
			l.rep.addInvalid("(an entry without an id)")
			continue
		}
		name, ok := vaultref.NameFromID(string(*item.ID))
		if !ok {
			l.rep.addInvalid(vso.Clip(string(*item.ID), 120))
			continue
		}
		// Key Vault names are case-insensitive; a name listed twice is
		// fetched and set once.
		if l.seenNames[strings.ToLower(name)] {
			continue
		}
		l.seenNames[strings.ToLower(name)] = true
		l.rep.addListed()
		if !l.req.Select(name, tagsOf(item.Tags)) {
			continue
		}
		skip := skipReason(item.Attributes, l.now)
		l.rep.addSelected(name, skip)
		if skip == "" {
			fetch = append(fetch, vaultref.Secret{Name: name})
		}
	}
	return fetch
}

func tagsOf(t map[string]*string) map[string]string {
	out := make(map[string]string, len(t))
	for k, v := range t {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

func skipReason(a *azsecrets.SecretAttributes, now time.Time) string {
	if a == nil {
		return ""
	}
	if a.Enabled != nil && !*a.Enabled {
		return "disabled"
	}
	var exp, nbf time.Time
	if a.Expires != nil {
		exp = *a.Expires
	}
	if a.NotBefore != nil {
		nbf = *a.NotBefore
	}
	return unusable(exp, nbf, now)
}

// Now is the client's clock: the one its listing's skips use.
func (c *Client) Now() time.Time { return c.now() }

// Unusable says why v is not valid now, by the client's clock (the one the
// listing's skips use): expired or not yet valid; "" when it is.
func (c *Client) Unusable(v Value) string { return unusable(v.Expires, v.NotBefore, c.now()) }

// unusable says why a version with these dates (zero: none) is not valid
// at now.
func unusable(expires, notBefore, now time.Time) string {
	switch {
	case !expires.IsZero() && !expires.After(now):
		return "expired " + expires.UTC().Format(time.RFC3339)
	case !notBefore.IsZero() && notBefore.After(now):
		return "not valid before " + notBefore.UTC().Format(time.RFC3339)
	}
	return ""
}

// fetch runs the bounded pool of gets.
func (c *Client) fetch(ctx context.Context, jobs *queue, rep *tally, sink func(Value), workers int) {
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				s, ok := jobs.pop(ctx)
				if !ok {
					return
				}
				v, err := c.get(ctx, s)
				if err == nil {
					err = deliver(sink, v)
				}
				if err != nil {
					rep.addFailure(Failure{Name: s.Name, Version: s.Version, Err: err})
					continue
				}
				rep.addDownloaded()
			}
		}()
	}
	wg.Wait()
}

// deliver hands v to sink. This runs on a worker goroutine, out of reach of
// main's recover: a panic in the sink must not end the run with a stack
// trace either, so it becomes this secret's failure.
func deliver(sink func(Value), v Value) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &secretError{fmt.Sprintf("set secret %s: internal error", v.Name)}
		}
	}()
	sink(v)
	return nil
}

func (c *Client) get(ctx context.Context, s vaultref.Secret) (v Value, err error) {
	// A panic inside the SDK on one hostile reply must not take down the
	// run, nor print a stack trace: it becomes this secret's failure.
	defer func() {
		if r := recover(); r != nil {
			err = &secretError{fmt.Sprintf("get secret %s: unexpected reply from the vault", s.Name)}
		}
	}()
	resp, err := c.secrets.GetSecret(ctx, s.Name, s.Version, nil)
	if err != nil {
		return Value{}, err
	}
	v = Value{Name: s.Name, Version: s.Version}
	if resp.Value != nil {
		v.Value = *resp.Value
	}
	if resp.ContentType != nil {
		v.ContentType = *resp.ContentType
	}
	v.Managed = resp.Managed != nil && *resp.Managed
	if resp.ID != nil {
		v.Resolved, _ = vaultref.VersionFromID(string(*resp.ID))
	}
	if a := resp.Attributes; a != nil {
		if a.Expires != nil {
			v.Expires = *a.Expires
		}
		if a.NotBefore != nil {
			v.NotBefore = *a.NotBefore
		}
	}
	return v, nil
}

// aboutSecret reports whether err is this secret's own: the vault answered
// about it (a 403, a 404, a reply too large or unreadable), or setting it
// failed. Any other failure came before such an answer (the token, the
// network, the TLS handshake), and every other request would meet it too.
func aboutSecret(err error) bool {
	var re *azcore.ResponseError
	var big *reqpolicy.ReplyTooLargeError
	var own *secretError
	return errors.As(err, &re) || errors.As(err, &big) || errors.As(err, &own)
}

// secretError is a failure of one secret's reply or of setting it, which
// says nothing about the others.
type secretError struct{ msg string }

func (e *secretError) Error() string { return e.msg }
