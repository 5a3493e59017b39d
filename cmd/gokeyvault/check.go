package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/gokeyvault/gokeyvault/pkg/check"
	"github.com/gokeyvault/gokeyvault/pkg/task"
)

const checkUsage = `Usage: gokeyvault check --vault NAME [--filter FILTER] [--files ENTRIES]
                        [--cloud CLOUD] [--tenant ID] [--expiry-days N] [--expiry-fails]

Shows what a pipeline step with these inputs would get from the vault, before
you commit: each secret variable and the secret version behind it, each file
SecretsToFiles would write, each secret skipped and why, each one missing, and
each denial with the fix the task gives. It signs in as you, with the Azure
CLI (az login), else the Azure Developer CLI, else Azure PowerShell: a
pipeline gets what its service connection may read. No value is printed.

Flags:
  --vault NAME      the vault (the task's KeyVaultName)
  --filter FILTER   the task's SecretsFilter (default "*")
  --files ENTRIES   the task's SecretsToFiles; checks each conversion,
                    writes no file
  --cloud CLOUD     AzureCloud (default), AzureChinaCloud or AzureUSGovernment
  --tenant ID       the tenant to sign in to (default: the vault's)
  --expiry-days N   warn of secrets that expire within N days (the task's
                    ExpiryWarningDays; default 30, 0 for none)
  --expiry-fails    a secret that expires within those days fails the check,
                    as the task's ExpiryFails does
  -h, --help        show this help

Exit status: 0 a pipeline with these inputs would succeed, 1 it would fail
(or the check could not tell: it says why), 2 the command line is wrong.

Example:
  gokeyvault check --vault my-vault --filter '*, !test-*, legacy-key as LEGACY_KEY'
`

// checkRun runs a parsed check; main passes check.Run, tests their own.
type checkRun func(context.Context, check.Options) int

// runCheck parses check's arguments (those after "check") and runs it
// with run: -h prints the usage to stdout and exits 0, a bad command line
// says what is wrong on stderr and exits 2.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer, run checkRun) int {
	o, err := parseCheck(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, checkUsage)
		return check.ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "gokeyvault check: %v\nRun 'gokeyvault check -h' for usage.\n", err)
		return check.ExitUsage
	}
	o.Out = stdout
	return run(ctx, o)
}

// parseCheck reads check's flags into its options.
func parseCheck(args []string) (check.Options, error) {
	var o check.Options
	fs := flag.NewFlagSet("gokeyvault check", flag.ContinueOnError)
	// Errors are reported once, by runCheck, without the flag package's
	// own usage dump.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.Vault, "vault", "", "")
	fs.StringVar(&o.Filter, "filter", "*", "")
	fs.StringVar(&o.Files, "files", "", "")
	fs.StringVar(&o.Cloud, "cloud", "AzureCloud", "")
	fs.StringVar(&o.Tenant, "tenant", "", "")
	expiryDays := fs.String("expiry-days", "", "")
	fs.BoolVar(&o.Expiry.Fails, "expiry-fails", false, "")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.Expiry.Days, err = task.ParseExpiryDays("--expiry-days", *expiryDays); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q: check takes flags only", fs.Arg(0))
	case strings.TrimSpace(o.Vault) == "":
		return o, errors.New("--vault is required: the name of the vault the pipeline reads")
	case !tenantLike(o.Tenant):
		return o, fmt.Errorf("--tenant %q is not a tenant ID or domain (letters, digits, '.' and '-')", o.Tenant)
	}
	o.Cloud, err = check.CloudName(o.Cloud)
	return o, err
}

// tenantLike accepts what azidentity accepts as a tenant: "" or letters,
// digits, '.' and '-' (it would refuse anything else with a message about
// its own options).
func tenantLike(s string) bool {
	for _, r := range s {
		if !(r == '.' || r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return true
}
