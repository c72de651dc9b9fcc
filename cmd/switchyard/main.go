// Command switchyard is the Switchyard LLM gateway: one binary whose
// subcommands run each part (proxy, ingest, query), apply the ClickHouse
// migrations, simulate providers (mock) or run everything at once (dev).
//
// This is the only package that reads flags, handles signals, wires
// components together and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/switchyard/switchyard/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `switchyard — a self-hosted, observability-first LLM gateway

Usage:
  switchyard <command> [flags]

Commands:
  proxy     serve the OpenAI-compatible gateway (default :8080)
  ingest    consume request records from Kafka into ClickHouse
  query     serve the query API over ClickHouse (default :8081)
  migrate   apply the ClickHouse migrations ("migrate status" lists them)
  mock      serve simulated LLM providers (default :8089)
  dev       run everything on this machine: broker, ClickHouse, providers,
            proxy, ingest and query
  version   print the version

Run "switchyard <command> -h" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel()}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "proxy":
		err = withConfig(cmd, rest, stderr, func(cfg *config.Config) error { return runProxy(ctx, cfg, log) })
	case "ingest":
		err = withConfig(cmd, rest, stderr, func(cfg *config.Config) error { return runIngest(ctx, cfg, log) })
	case "query":
		err = withConfig(cmd, rest, stderr, func(cfg *config.Config) error { return runQuery(ctx, cfg, log) })
	case "migrate":
		err = runMigrate(ctx, rest, stdout, stderr)
	case "mock":
		err = runMockCommand(ctx, rest, stderr, log)
	case "dev":
		err = runDev(ctx, rest, stdout, stderr, log)
	case "version", "-v", "--version":
		fmt.Fprintln(stdout, "switchyard", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "switchyard: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(stderr, "switchyard:", err)
			return 2
		}
		fmt.Fprintf(stderr, "switchyard %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ error }

func logLevel() slog.Level {
	switch strings.ToLower(os.Getenv("SWITCHYARD_LOG")) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// withConfig parses "--config FILE" and calls f with the loaded config.
func withConfig(cmd string, args []string, stderr io.Writer, f func(*config.Config) error) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "switchyard.yaml", "the config file (see config/example.yaml)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q", cmd, fs.Arg(0))}
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	return f(cfg)
}
