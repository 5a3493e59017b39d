// Command demo runs GoKeyVault end to end on the built-in local cloud: it
// starts fake Entra ID and Key Vault services behind a local proxy, fills a
// sample vault, runs task/ the way the agent does, and prints the masked
// step log and the variables the job would get.
//
// Run it with `make demo` (which builds the binary into task/bin first).
package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/testworld"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dir, err := os.MkdirTemp("", "gokeyvault-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	world, err := testworld.Start(ctx, testworld.Options{Dir: dir, Vault: "demo-vault", ClientSecret: "demo-client-secret"})
	if err != nil {
		return fmt.Errorf("start the local cloud: %w", err)
	}
	defer world.Close()
	vault := world.Vault
	now := time.Now()
	for _, s := range []localcloud.Secret{
		{Name: "db-password", Value: "p@ss;word]100%"},
		{Name: "api-key", Value: "AKIA-demo-1234567890"},
		{Name: "app-settings", Value: "{\n  \"feature\": true,\n  \"retries\": 3\n}", ContentType: "application/json"},
		{Name: "tls-cert", Value: "-----BEGIN CERTIFICATE-----\nMIIBdemo\n-----END CERTIFICATE-----\n"},
		{Name: "empty-setting", Value: ""},
		{Name: "old-password", Value: "retired", Disabled: true},
		{Name: "last-year-token", Value: "expired-token", Expires: now.AddDate(-1, 0, 0)},
		{Name: "next-month-key", Value: "not-yet", NotBefore: now.AddDate(0, 1, 0)},
	} {
		vault.Put(s)
	}

	fmt.Println("==> local cloud: Entra ID and vault demo-vault.vault.azure.net behind proxy", world.Cloud.ProxyURL())
	fmt.Println("==> running task/ as the agent would: GoKeyVault@1 KeyVaultName=demo-vault SecretsFilter=*")
	fmt.Println("---- step log (masked) ----")
	opts := world.Options("task", "*", dir)
	opts.Output = os.Stdout
	res, err := agentrunner.Run(ctx, opts)
	if err != nil {
		return fmt.Errorf("run the task: %w", err)
	}
	fmt.Println("---- variables the job gets (values shown quoted; they are masked in real logs) ----")
	for _, n := range slices.Sorted(maps.Keys(res.Variables)) {
		v := res.Variables[n]
		kind := "variable"
		if v.Secret {
			kind = "secret  "
		}
		fmt.Printf("%s %-34s = %q\n", kind, n, v.Value)
	}
	fmt.Printf("---- result: %s (exit code %d); %d requests reached the vault ----\n", res.Result, res.ExitCode, len(vault.Requests()))
	if res.Result != "Succeeded" {
		return fmt.Errorf("the task ended %s:\n%s", res.Result, strings.Join(res.Log, "\n"))
	}
	return nil
}
