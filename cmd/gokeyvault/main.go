// Command gokeyvault is the GoKeyVault@1 task binary. The agent starts it
// through task/launcher.js; it reads the inputs and service connection from
// the environment and talks to the agent through logging commands on stdout.
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

	"github.com/gokeyvault/gokeyvault/pkg/task"
	"github.com/gokeyvault/gokeyvault/pkg/vso"
)

// version is stamped at build time from the VERSION file.
var version = "dev"

func main() {
	os.Exit(run())
}

func run() (code int) {
	// Go's standard library logs through the standard logger (net/http's
	// HTTP/2 client logs request headers, tokens included, under
	// GODEBUG=http2debug): nothing it prints may reach the agent's log.
	log.SetOutput(io.Discard)
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
	if err := fs.Parse(os.Args[1:]); err != nil {
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
	})
}
