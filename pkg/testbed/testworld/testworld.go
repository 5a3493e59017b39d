// Package testworld is the test bed's usual world: a local cloud with a
// service principal (client secret) registered in its tenant, one vault,
// and the service connection a job would have for them. The e2e tests, the
// in-process tests of pkg/task, the demo, the bench and the package test
// all start from it.
package testworld

import (
	"context"
	"fmt"
	"os"

	"github.com/gokeyvault/gokeyvault/pkg/testbed/agentrunner"
	"github.com/gokeyvault/gokeyvault/pkg/testbed/localcloud"
)

// The world's identities: stable, so that logs and messages compare.
const (
	TenantID       = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	ClientID       = "0b7a3c2e-5f4d-4e6a-9c8b-1d2e3f4a5b6c"
	ConnID         = "4f6c2a55-8d3e-4c1b-9a0f-1e2d3c4b5a69"
	SubscriptionID = "c0ffee00-1111-2222-3333-444455556666"
	// ClientSecret is the service principal's secret unless Options says.
	ClientSecret = "Kq8~client-secret-VALUE.7Zp"
	// Collection and Project are the job's Azure DevOps organization and
	// project, when a test gives the job them (system.collectionUri,
	// system.teamProject).
	Collection = "https://dev.azure.com/gokeyvault-e2e/"
	Project    = "e2e project"
)

// Options shape a world.
type Options struct {
	Dir          string // receives the local cloud's CA certificate; required
	Vault        string // the vault's name; default "kv-e2e"
	ClientSecret string // default ClientSecret
	// Cloud is passed to localcloud.Start (its Dir is set here).
	Cloud localcloud.Options
}

// World is a running world.
type World struct {
	Cloud  *localcloud.Cloud
	Vault  *localcloud.Vault
	Name   string // the vault's
	Secret string // the service principal's client secret
}

// Start starts the world's cloud and registers its app and vault. It stops
// when ctx is done or Close is called.
func Start(ctx context.Context, o Options) (*World, error) {
	if o.Vault == "" {
		o.Vault = "kv-e2e"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = ClientSecret
	}
	co := o.Cloud
	co.Dir = o.Dir
	c, err := localcloud.Start(ctx, co)
	if err != nil {
		return nil, fmt.Errorf("start the test world: %w", err)
	}
	c.AddApp(TenantID, ClientID, o.ClientSecret)
	return &World{Cloud: c, Vault: c.AddVault(o.Vault, TenantID), Name: o.Vault, Secret: o.ClientSecret}, nil
}

// Close stops the world's cloud.
func (w *World) Close() error { return w.Cloud.Close() }

// Endpoint is the service connection, as the agent receives it: a service
// principal with a client secret, in the public cloud.
func (w *World) Endpoint() agentrunner.Endpoint {
	return agentrunner.Endpoint{
		ID:     ConnID,
		URL:    "https://management.azure.com/",
		Scheme: "ServicePrincipal",
		Params: map[string]string{
			"tenantid":            TenantID,
			"serviceprincipalid":  ClientID,
			"authenticationType":  "spnKey",
			"serviceprincipalkey": w.Secret,
		},
		Data: map[string]string{
			"subscriptionId":   SubscriptionID,
			"subscriptionName": "test world",
			"environment":      "AzureCloud",
			"scopeLevel":       "Subscription",
		},
	}
}

// Inputs are the task's inputs for the world's connection and vault.
func (w *World) Inputs(filter string) map[string]string {
	return map[string]string{"azureSubscription": ConnID, "KeyVaultName": w.Name, "SecretsFilter": filter}
}

// Env is what the agent process would pass on: the way to the local cloud,
// PATH, and home as HOME.
func (w *World) Env(home string) []string {
	return append(w.Cloud.Env(), "PATH="+os.Getenv("PATH"), "HOME="+home)
}

// Options is a step of the task in taskDir against the world: its
// connection, its vault, filter, and its environment.
func (w *World) Options(taskDir, filter, home string) agentrunner.Options {
	return agentrunner.Options{
		TaskDir:   taskDir,
		Inputs:    w.Inputs(filter),
		Endpoints: []agentrunner.Endpoint{w.Endpoint()},
		Env:       w.Env(home),
	}
}
