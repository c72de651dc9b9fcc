// Package chdb opens Switchyard's connections to ClickHouse.
//
// It always uses the native protocol: clickhouse-go's HTTP protocol fails
// on ClickHouse 18.16 ("Unknown setting client_protocol_version"), and the
// native protocol is also the faster one for batch inserts. Open creates
// the configured database when it is missing, so that a fresh server needs
// no manual step before `switchyard migrate`.
//
// This package owns connection settings only; schemas belong to the
// migrations package and queries to their users.
package chdb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchyard/switchyard/config"
)

const (
	// maxOpenConns bounds the pool per process. The ingester inserts from a
	// few goroutines and the query API serves small, fast queries; more
	// connections would only add server threads on a small machine.
	maxOpenConns    = 10
	maxIdleConns    = 5
	connMaxLifetime = time.Hour
	// defaultDialTimeout applies when the config leaves DialTimeout zero,
	// as configs built in code (tests) do.
	defaultDialTimeout = 5 * time.Second
)

// identifier is what config.Validate accepts as a database name. Open
// checks it again because the name is spliced into SQL.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Options returns the client options for cfg with Switchyard's pool and
// compression settings, for callers that need to adjust them (a larger pool,
// extra settings) before clickhouse.Open. It does not create the database.
func Options(cfg config.ClickHouse) *clickhouse.Options {
	dialTimeout := cfg.DialTimeout
	if dialTimeout <= 0 {
		dialTimeout = defaultDialTimeout
	}
	return &clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     cfg.Addr,
		Auth: clickhouse.Auth{
			Database: cfg.Database,
			Username: cfg.Username,
			Password: cfg.Password,
		},
		ClientInfo: clickhouse.ClientInfo{
			Products: []struct{ Name, Version string }{{Name: "switchyard"}},
		},
		Compression:     compression(cfg),
		DialTimeout:     dialTimeout,
		MaxOpenConns:    maxOpenConns,
		MaxIdleConns:    maxIdleConns,
		ConnMaxLifetime: connMaxLifetime,
		// Spread load when several servers are listed; a dead one is
		// skipped at dial time.
		ConnOpenStrategy: clickhouse.ConnOpenRoundRobin,
	}
}

// compression returns the block compression of cfg.Compression. Over a
// network, LZ4 is cheap on CPU and bodies compress several-fold; to a
// server on the same machine it only costs CPU on both sides (a quarter of
// the ingester's, and the server's to decompress), so auto leaves it off
// when every address is a loopback one.
func compression(cfg config.ClickHouse) *clickhouse.Compression {
	switch cfg.Compression {
	case config.CompressionNone:
		return nil
	case config.CompressionZSTD:
		return &clickhouse.Compression{Method: clickhouse.CompressionZSTD}
	case config.CompressionLZ4:
		return &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	}
	for _, a := range cfg.Addr {
		if !loopback(a) {
			return &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
		}
	}
	return nil
}

// loopback reports whether a host:port names this machine.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Open connects to cfg.Database over the native protocol, creating the
// database first if it does not exist, and pings it. The caller closes the
// connection.
func Open(ctx context.Context, cfg config.ClickHouse) (driver.Conn, error) {
	if len(cfg.Addr) == 0 {
		return nil, errors.New("chdb: no ClickHouse address configured")
	}
	if !identifier.MatchString(cfg.Database) {
		return nil, fmt.Errorf("chdb: database name %q must be letters, digits and underscores", cfg.Database)
	}
	createErr := createDatabase(ctx, cfg)

	conn, err := clickhouse.Open(Options(cfg))
	if err == nil {
		err = conn.Ping(ctx)
		if err != nil {
			conn.Close()
		}
	}
	if err != nil {
		// A user without the right to create databases can still use one
		// that an operator created, so a failed CREATE matters only when
		// the database is not usable either.
		if createErr != nil {
			return nil, fmt.Errorf("chdb: connect to %s database %q: %w (creating it failed too: %v)", cfg.Addr, cfg.Database, err, createErr)
		}
		return nil, fmt.Errorf("chdb: connect to %s database %q: %w", cfg.Addr, cfg.Database, err)
	}
	return conn, nil
}

// createDatabase connects without a database, because connecting to one
// that does not exist yet fails the handshake.
func createDatabase(ctx context.Context, cfg config.ClickHouse) error {
	opts := Options(cfg)
	opts.Auth.Database = ""
	opts.MaxOpenConns, opts.MaxIdleConns = 1, 1
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+cfg.Database+"`")
}
