// Package check is gokeyvault check: what a pipeline step with given
// inputs would get from a vault, found from a developer's machine with
// their own sign-in, before anything is committed or run.
//
// It builds the task's Request with the task's constructor
// (task.NewRequest), downloads with task.Preview and summarises with
// task.Summarise, so it cannot disagree with a run about what a filter
// selects, which variable a secret sets, what a file entry converts to, or
// how a failure is explained and fixed; its report is a rendering of the
// run's Outcome. It prints names, versions, content types and sizes:
// never a value, a token or a file's content, and no logging command, even
// when run inside a pipeline.
package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/gokeyvault/gokeyvault/pkg/cloud"
	"github.com/gokeyvault/gokeyvault/pkg/credential"
	"github.com/gokeyvault/gokeyvault/pkg/endpoint"
	"github.com/gokeyvault/gokeyvault/pkg/keyvault"
	"github.com/gokeyvault/gokeyvault/pkg/reqpolicy"
	"github.com/gokeyvault/gokeyvault/pkg/supervise"
	"github.com/gokeyvault/gokeyvault/pkg/task"
	"github.com/gokeyvault/gokeyvault/pkg/transport"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// Options is one check: the step's inputs, and where the check runs.
type Options struct {
	Vault  string // KeyVaultName
	Filter string // SecretsFilter
	Files  string // SecretsToFiles
	Cloud  string // as CloudName gives it: AzureCloud, AzureChinaCloud or AzureUSGovernment
	Tenant string // the tenant to sign in to; "" lets the vault's challenge say
	// Expiry is what the check says of secrets close to their expiry
	// date, as the task's ExpiryWarningDays and ExpiryFails; zero Days
	// says nothing (the command line's default is the task's, 30).
	Expiry task.Expiry

	Out io.Writer
	// SignIn is the credential; nil: the developer tools' (DevCredential).
	SignIn *SignIn
	// Transport carries every request; nil: one that follows HTTPS_PROXY
	// and NO_PROXY and trusts the system's roots (and SSL_CERT_FILE).
	Transport policy.Transporter
	// Timeout bounds the whole check; 0 is the task's default budget.
	Timeout time.Duration
}

// Exit statuses.
const (
	ExitOK        = 0 // a pipeline with these inputs would succeed
	ExitWouldFail = 1 // it would fail (or the check could not tell)
	ExitUsage     = 2 // the command line is wrong
)

// Run runs the check, prints what it found to o.Out and returns the exit
// status. Once ctx is done (Ctrl-C) or the budget is spent, the check ends
// within task.StopGrace and says so, whatever is still under way.
func Run(ctx context.Context, o Options) int {
	gate := supervise.NewGate(o.Out)
	p := newPrinter(gate)
	defer p.flush()
	req, cl, err := o.request()
	if err != nil {
		p.verdict("A pipeline with these inputs would fail before any request: " + err.Error())
		return ExitWouldFail
	}
	signIn := o.SignIn
	if signIn == nil {
		if signIn, err = DevCredential(o.Tenant); err != nil {
			p.verdict("Could not check: " + err.Error())
			return ExitWouldFail
		}
	}
	vault, err := o.client(cl, signIn)
	if err != nil {
		p.verdict("Could not check: " + err.Error())
		return ExitWouldFail
	}
	ctx, cancel := context.WithTimeout(ctx, req.Budget)
	defer cancel()
	p.header(o, req, cl)
	p.flush()
	progress := &task.Progress{}
	body := func() int {
		d := task.Preview(ctx, req, vault, progress)
		out := task.Summarise(req, task.DiagnoseContext(req.Vault, cl), d)
		code, _ := gate.Last(func(w io.Writer) int {
			q := newPrinter(w)
			defer q.flush()
			q.report(d, out, signIn.Used())
			if out.Result != vso.Succeeded {
				return ExitWouldFail
			}
			return ExitOK
		})
		return code
	}
	return supervise.Run(ctx, gate, task.StopGrace, body, supervise.Stop{Last: func(w io.Writer) int {
		q := newPrinter(w)
		defer q.flush()
		q.stopped(task.Stopped(req, ctx.Err(), progress))
		return ExitWouldFail
	}})
}

// request is the task's Request for the inputs, made as a run makes it
// (refused as the task would refuse them, with the task's messages), and
// the vault's cloud.
func (o Options) request() (task.Request, cloud.Cloud, error) {
	req, err := task.NewRequest(o.Vault, o.Filter, o.Files, o.Timeout)
	if err != nil {
		return req, cloud.Cloud{}, err
	}
	req.Expiry = o.Expiry
	// The connection the task's messages may mention: the cloud and the
	// tenant, no identity. The cloud's name is one CloudName accepted.
	cl, err := cloud.Resolve(&endpoint.Connection{Environment: o.Cloud, TenantID: o.Tenant})
	return req, cl, err
}

// client is the vault's client, with the task's guards (no token to any
// other host, bounded replies) and fewer retries: a person is waiting.
func (o Options) client(cl cloud.Cloud, signIn azcore.TokenCredential) (*keyvault.Client, error) {
	tr := o.Transport
	if tr == nil {
		// Room for the list call beside the gets, as the task leaves it.
		tr = transport.New(transport.Options{MaxConnsPerHost: reqpolicy.ConnsPerHost(reqpolicy.CheckGetsInFlight)})
	}
	// The tenant is not checked against the vault's challenge here: the
	// sign-in refuses another tenant than --tenant with a message for a
	// developer, not for a service connection.
	return keyvault.New(keyvault.Options{
		VaultURL:    cl.VaultURL(strings.TrimSpace(o.Vault)),
		Credential:  credential.NewSerial(signIn), // one token request at a time, as a run's
		HTTP:        transport.Pipeline{Transport: tr, Retry: reqpolicy.CheckVaultRetry()},
		Concurrency: reqpolicy.CheckGetsInFlight,
	})
}

// CloudName is the cloud's name as the task knows it; "" is AzureCloud.
func CloudName(name string) (string, error) {
	if strings.TrimSpace(name) == "" {
		return "AzureCloud", nil
	}
	if c, ok := cloud.Named(name); ok {
		return c, nil
	}
	return "", errors.New("--cloud " + fmt.Sprintf("%q", vso.Clip(name, 40)) + " is not a cloud the check knows: use AzureCloud, AzureChinaCloud or AzureUSGovernment")
}
