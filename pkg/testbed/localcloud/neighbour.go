package localcloud

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// NeighbourOptions describe another client of a vault.
type NeighbourOptions struct {
	Vault                            *Vault
	TenantID, ClientID, ClientSecret string // an app AddApp registered
	// Path is what it reads, e.g. "/secrets/app-config/<version>": a path
	// the task never asks for tells its requests apart in Vault.Requests.
	Path string
	Rate float64 // requests per second, kept whatever the vault answers
}

// Neighbour is another client of a vault, such as an application in
// production: it reads at a steady rate with a token from the cloud's
// Entra, through the proxy like any client, and does not slow down when
// the vault answers 429, so the share it gets shows how much a task leaves
// to others.
type Neighbour struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	answers []Answer
}

// Answer is one of a neighbour's requests.
type Answer struct {
	Sent   time.Time
	Status int // 0: no reply (the request failed or was cut short)
}

// StartNeighbour gets a token and starts reading; Stop ends it.
func (c *Cloud) StartNeighbour(ctx context.Context, o NeighbourOptions) (*Neighbour, error) {
	if o.Rate <= 0 {
		return nil, fmt.Errorf("start neighbour: rate %v is not positive", o.Rate)
	}
	hc := c.HTTPClient()
	tok, err := clientToken(ctx, hc, o)
	if err != nil {
		return nil, fmt.Errorf("start neighbour: %w", err)
	}
	// Stop ends the schedule; requests under way are answered, so that
	// every request the vault saw is one of the answers.
	sched, cancel := context.WithCancel(ctx)
	n := &Neighbour{cancel: cancel, done: make(chan struct{})}
	u := "https://" + o.Vault.host + o.Path + "?api-version=7.4"
	go func() {
		defer close(n.done)
		var wg sync.WaitGroup
		defer wg.Wait()
		interval := time.Duration(float64(time.Second) / o.Rate)
		next := time.Now()
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			select {
			case <-sched.Done():
				return
			case <-t.C:
			}
			// On schedule, not every interval from whenever the timer
			// fired: a late timer must not lower the rate.
			for !next.After(time.Now()) {
				wg.Add(1)
				go func(sent time.Time) {
					defer wg.Done()
					n.add(Answer{Sent: sent, Status: get(ctx, hc, u, tok)})
				}(time.Now())
				next = next.Add(interval)
			}
			t.Reset(time.Until(next))
		}
	}()
	return n, nil
}

// Stop ends the reading and waits for the requests under way.
func (n *Neighbour) Stop() {
	n.cancel()
	<-n.done
}

// Answers lists the requests sent so far, in the order they ended.
func (n *Neighbour) Answers() []Answer {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Answer(nil), n.answers...)
}

func (n *Neighbour) add(a Answer) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.answers = append(n.answers, a)
}

func get(ctx context.Context, hc *http.Client, u, tok string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// clientToken asks the vault's Entra for a token with the client
// credentials grant, as any confidential client does.
func clientToken(ctx context.Context, hc *http.Client, o NeighbourOptions) (string, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {o.ClientID},
		"client_secret": {o.ClientSecret},
		"scope":         {o.Vault.resource + "/.default"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.Vault.authority+"/"+o.TenantID+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("get a token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("get a token: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		return "", fmt.Errorf("get a token: Entra answered %s", resp.Status)
	}
	return body.AccessToken, nil
}
