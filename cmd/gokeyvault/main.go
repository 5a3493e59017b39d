// Command gokeyvault is the GoKeyVault@1 task binary. The agent starts it
// through task/launcher.js (always with --stage and --parent-pipe); it reads
// the inputs and service connection from the environment and talks to the
// agent through logging commands on stdout.
//
// "gokeyvault check ..." is the same binary on a developer's machine: what
// a pipeline with given inputs would get, with the developer's sign-in.
// "gokeyvault version" says what the binary is: version, commit, Go and
// module versions, from the build information the toolchain recorded. A
// subcommand is recognised only as the first argument, and the task takes
// no argument that is not a flag, so neither can be mistaken for the
// other.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/gokeyvault/gokeyvault/pkg/buildstamp"
	"github.com/gokeyvault/gokeyvault/pkg/check"
	"github.com/gokeyvault/gokeyvault/pkg/task"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// version is stamped at build time from the VERSION file.
var version = "dev"

func main() {
	// Go's standard library logs through the standard logger (net/http's
	// HTTP/2 client logs request headers, tokens included, under
	// GODEBUG=http2debug): nothing it prints may reach the agent's log, nor
	// a developer's terminal.
	log.SetOutput(io.Discard)
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(checkMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "version" {
		os.Exit(versionMain(os.Args[2:], os.Stdout))
	}
	os.Exit(run())
}

// checkMain is gokeyvault check: plain text for a person, no logging
// command, not even for a panic.
func checkMain(args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintln(os.Stderr, "gokeyvault check stopped on an internal error; please report it")
			code = check.ExitWouldFail
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runCheck(ctx, args, os.Stdout, os.Stderr, check.Run)
}

// versionMain is gokeyvault version: what this binary is, for a person or a
// reviewer comparing it with a build of their own.
func versionMain(args []string, stdout io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stdout, "gokeyvault version takes no argument, got %q\n", args)
		return 2
	}
	if err := buildstamp.Read(version).Write(stdout); err != nil {
		return 1
	}
	return 0
}

func run() (code int) {
	out := vso.NewWriter(os.Stdout, vso.Encoding{})
	// No panic trace may reach the log: it could quote memory holding a
	// secret, and it tells the user nothing they can act on. This covers
	// the main goroutine; pkg/keyvault's list and get goroutines recover
	// on their own.
	defer func() {
		if r := recover(); r != nil {
			out.Error("GoKeyVault stopped on an internal error; please report it with the debug log (system.debug=true)")
			code = 1
		}
	}()

	fs := flag.NewFlagSet("gokeyvault", flag.ContinueOnError)
	fs.SetOutput(os.Stdout)
	stage := fs.String("stage", "main", "job stage the agent runs: main or prejob")
	parentPipe := fs.Bool("parent-pipe", false, "stdin is the launcher's lifeline: exit when it closes")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: gokeyvault --stage main|prejob [--parent-pipe]   (the task's launcher runs this)")
		fmt.Fprintln(fs.Output(), "       gokeyvault check --vault NAME [flags]           (see gokeyvault check -h)")
		fmt.Fprintln(fs.Output(), "       gokeyvault version                              (version, commit, Go and module versions)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stdout, "unexpected argument %q: the task takes flags only; gokeyvault check, first on the command line, checks a vault from your machine\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		fmt.Println(version)
		return 0
	}
	if *stage != string(task.StageMain) && *stage != string(task.StagePreJob) {
		fmt.Fprintf(os.Stdout, "unknown --stage %q: use main or prejob\n", *stage)
		return 2
	}

	// SIGHUP (a closed terminal, an agent stopped by its service manager)
	// ends the run like SIGTERM: dying at once could leave the agent's
	// multi-line permission raised.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if *parentPipe {
		// The agent never signals this process, only node; if node dies
		// the pipe closes and this process must not linger holding the
		// agent's log pipe.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			cancel()
		}()
	}

	return task.Run(ctx, task.Options{
		Stage:    task.Stage(*stage),
		Environ:  os.Environ(),
		Out:      os.Stdout,
		Unsetenv: func(n string) { _ = os.Unsetenv(n) },
		Version:  version,
		Commit:   buildstamp.Read(version).Commit(),
	})
}
