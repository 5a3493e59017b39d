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
)

const (
	tenantID     = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	clientID     = "0b7a3c2e-5f4d-4e6a-9c8b-1d2e3f4a5b6c"
	clientSecret = "demo-client-secret"
	connID       = "4f6c2a55-8d3e-4c1b-9a0f-1e2d3c4b5a69"
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

	cloud, err := localcloud.Start(ctx, localcloud.Options{Dir: dir})
	if err != nil {
		return fmt.Errorf("start the local cloud: %w", err)
	}
	defer cloud.Close()
	cloud.AddApp(tenantID, clientID, clientSecret)
	vault := cloud.AddVault("demo-vault", tenantID)
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

	fmt.Println("==> local cloud: Entra ID and vault demo-vault.vault.azure.net behind proxy", cloud.ProxyURL())
	fmt.Println("==> running task/ as the agent would: GoKeyVault@1 KeyVaultName=demo-vault SecretsFilter=*")
	fmt.Println("---- step log (masked) ----")
	res, err := agentrunner.Run(ctx, agentrunner.Options{
		TaskDir: "task",
		Inputs:  map[string]string{"azureSubscription": connID, "KeyVaultName": "demo-vault", "SecretsFilter": "*"},
		Endpoints: []agentrunner.Endpoint{{
			ID:     connID,
			URL:    "https://management.azure.com/",
			Scheme: "ServicePrincipal",
			Params: map[string]string{"tenantid": tenantID, "serviceprincipalid": clientID, "authenticationType": "spnKey", "serviceprincipalkey": clientSecret},
			Data:   map[string]string{"subscriptionId": "c0ffee00-1111-2222-3333-444455556666", "environment": "AzureCloud"},
		}},
		Env:    append(cloud.Env(), "PATH="+os.Getenv("PATH"), "HOME="+dir),
		Output: os.Stdout,
	})
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
