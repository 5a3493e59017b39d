// Command localcloud runs the local Entra ID + Key Vault fake for manual runs
// of the task binary. It prints the environment to hand the binary and serves
// until SIGINT or SIGTERM.
//
//	localcloud -vault kv1 -secret db-password=hunter2
//	localcloud -config cloud.json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
)

// config is the JSON file format; the sample flags build the same thing.
type config struct {
	Apps   []appConfig   `json:"apps"`
	Vaults []vaultConfig `json:"vaults"`
}

type appConfig struct {
	Tenant       string `json:"tenant"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	Expired      bool   `json:"expired"`
}

type vaultConfig struct {
	Name    string         `json:"name"`
	Tenant  string         `json:"tenant"`
	Secrets []secretConfig `json:"secrets"`
	Faults  faultsConfig   `json:"faults"`
}

type secretConfig struct {
	Name        string            `json:"name"`
	Value       string            `json:"value"`
	Version     string            `json:"version"`
	Disabled    bool              `json:"disabled"`
	Expires     time.Time         `json:"expires"`
	NotBefore   time.Time         `json:"notBefore"`
	ContentType string            `json:"contentType"`
	Tags        map[string]string `json:"tags"`
	Managed     bool              `json:"managed"`
}

type faultsConfig struct {
	Latency      string            `json:"latency"` // Go duration, e.g. "150ms"
	Rate         float64           `json:"rate"`
	RetryAfter   string            `json:"retryAfter"`
	Fail503      float64           `json:"fail503"`
	ListDenied   string            `json:"listDenied"`
	GetDenied    string            `json:"getDenied"`
	SecretDenied map[string]string `json:"secretDenied"`
	PageSize     int               `json:"pageSize"`
}

type secretFlags []string

func (s *secretFlags) String() string     { return strings.Join(*s, ",") }
func (s *secretFlags) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "localcloud:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("localcloud", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory for ca.pem (default: a new temporary directory)")
	configFile := fs.String("config", "", "JSON file with apps and vaults (replaces the sample flags)")
	tenant := fs.String("tenant", "72f988bf-0000-4000-8000-000000000001", "sample tenant id")
	clientID := fs.String("client-id", "00000000-0000-4000-8000-00000000c11e", "sample app (client) id")
	clientSecret := fs.String("client-secret", "local-client-secret", "sample app client secret")
	vault := fs.String("vault", "kv-local", "sample vault name")
	verbose := fs.Bool("v", false, "log every request to stderr")
	var secrets secretFlags
	fs.Var(&secrets, "secret", "sample secret name=value (repeatable; default: hello=world)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	var cfg config
	if *configFile != "" {
		b, err := os.ReadFile(*configFile)
		if err != nil {
			return fmt.Errorf("read config: %w", err)
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			return fmt.Errorf("parse config %s: %w", *configFile, err)
		}
	} else {
		if len(secrets) == 0 {
			secrets = secretFlags{"hello=world"}
		}
		cfg.Apps = []appConfig{{Tenant: *tenant, ClientID: *clientID, ClientSecret: *clientSecret}}
		vc := vaultConfig{Name: *vault, Tenant: *tenant}
		for _, s := range secrets {
			name, value, ok := strings.Cut(s, "=")
			if !ok || name == "" {
				return fmt.Errorf("-secret %q: want name=value", s)
			}
			vc.Secrets = append(vc.Secrets, secretConfig{Name: name, Value: value})
		}
		cfg.Vaults = []vaultConfig{vc}
	}

	if *dir == "" {
		d, err := os.MkdirTemp("", "localcloud-")
		if err != nil {
			return fmt.Errorf("create CA directory: %w", err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	opts := localcloud.Options{Dir: *dir}
	if *verbose {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	}
	c, err := localcloud.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer c.Close()

	if err := apply(c, cfg); err != nil {
		return err
	}
	for _, line := range c.Env() {
		fmt.Fprintln(stdout, line)
	}
	for _, a := range cfg.Apps {
		fmt.Fprintf(stderr, "app: tenant %s, client id %s\n", a.Tenant, a.ClientID)
	}
	for _, v := range cfg.Vaults {
		fmt.Fprintf(stderr, "vault: https://%s (%d secrets)\n", c.Vault(v.Name).Host(), len(v.Secrets))
	}
	fmt.Fprintln(stderr, "serving; press Ctrl-C to stop")
	<-ctx.Done()
	return nil
}

func apply(c *localcloud.Cloud, cfg config) error {
	for _, a := range cfg.Apps {
		if a.Tenant == "" || a.ClientID == "" {
			return errors.New("config: every app needs tenant and clientId")
		}
		c.AddApp(a.Tenant, a.ClientID, a.ClientSecret)
		if a.Expired {
			c.ExpireSecret(a.Tenant, a.ClientID)
		}
	}
	for _, vc := range cfg.Vaults {
		if vc.Name == "" || vc.Tenant == "" {
			return errors.New("config: every vault needs name and tenant")
		}
		if strings.Contains(vc.Name, ".") && !strings.HasSuffix(vc.Name, ".vault.azure.net") &&
			!strings.HasSuffix(vc.Name, ".vault.azure.cn") && !strings.HasSuffix(vc.Name, ".vault.usgovcloudapi.net") {
			return fmt.Errorf("config: vault %q: a full host must end in vault.azure.net, vault.azure.cn or vault.usgovcloudapi.net", vc.Name)
		}
		var latency time.Duration
		if vc.Faults.Latency != "" {
			d, err := time.ParseDuration(vc.Faults.Latency)
			if err != nil {
				return fmt.Errorf("config: vault %s latency: %w", vc.Name, err)
			}
			latency = d
		}
		v := c.AddVault(vc.Name, vc.Tenant)
		for _, s := range vc.Secrets {
			v.Put(localcloud.Secret{
				Name: s.Name, Value: s.Value, Version: s.Version, Disabled: s.Disabled,
				Expires: s.Expires, NotBefore: s.NotBefore, ContentType: s.ContentType, Tags: s.Tags, Managed: s.Managed,
			})
		}
		f := vc.Faults
		v.SetFaults(localcloud.Faults{
			Latency: latency, Rate: f.Rate, RetryAfter: f.RetryAfter, Fail503: f.Fail503,
			ListDenied: f.ListDenied, GetDenied: f.GetDenied, SecretDenied: f.SecretDenied, PageSize: f.PageSize,
		})
	}
	return nil
}
