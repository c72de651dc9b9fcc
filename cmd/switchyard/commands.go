package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/chdb"
	"github.com/switchyard/switchyard/migrations"
)

// runMigrate applies pending migrations, or with "status" lists them.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "switchyard.yaml", "the config file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	status := false
	switch {
	case fs.NArg() == 0:
	case fs.NArg() == 1 && fs.Arg(0) == "status":
		status = true
	default:
		return usageError{fmt.Errorf("migrate: unexpected arguments %v (only \"status\" is known)", fs.Args())}
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	conn, err := chdb.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	defer conn.Close()
	var results []migrations.Result
	if status {
		results, err = migrations.Status(ctx, conn)
	} else {
		results, err = migrations.Up(ctx, conn)
	}
	for _, r := range results {
		fmt.Fprintln(stdout, r.String())
	}
	return err
}

// runMockCommand serves the simulated providers: those of --config's mock
// section, or dev mode's three by default.
func runMockCommand(ctx context.Context, args []string, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("mock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "a config file whose mock section to serve (default: dev mode's simulated providers)")
	listen := fs.String("listen", "", "address to listen on (default: the config's mock.listen, :8089)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	var cfg *config.Config
	var err error
	if *path != "" {
		cfg, err = config.Load(*path)
	} else {
		cfg, err = config.Parse([]byte(renderDevConfig(defaultDevPorts())), os.LookupEnv)
		if err == nil {
			cfg.Mock.Listen = config.DefaultMockListen
		}
	}
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Mock.Listen = *listen
	}
	app, err := newMockApp(cfg.Mock, log.With("service", "mock"))
	if err != nil {
		return err
	}
	return app.run(ctx)
}

func defaultDevPorts() devPorts {
	return devPorts{Host: "127.0.0.1", ProxyPort: 8080, QueryPort: 8081, IngestPort: 8082, MockPort: 8089,
		KafkaPort: 19092, ClickHousePort: 19000, ClickHouseHTTP: 18123, DataDir: ".dev"}
}
