// Package testenv gives tests the real services Switchyard talks to: a
// ClickHouse server (one per test binary, with a fresh database per test)
// and an in-process Kafka broker (kfake, which speaks the real protocol).
//
// Use it from TestMain so that the server is stopped when the tests end:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// A missing ClickHouse binary skips the tests that need it on a laptop and
// fails them in CI (CI=true): a service that is absent in CI must never
// turn into a green run.
//
// Environment:
//
//	SWITCHYARD_TEST_CLICKHOUSE         host:port of a running server (native
//	                                   protocol) to use instead of starting
//	                                   one, e.g. a current release in Docker
//	SWITCHYARD_TEST_CLICKHOUSE_BINARY  the server binary to start instead of
//	                                   the one found on PATH
//
// This package is for tests only; nothing in a production path imports it.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/chdb"
	"github.com/switchyard/switchyard/internal/chserver"
	"github.com/switchyard/switchyard/migrations"
)

const (
	envAddr   = "SWITCHYARD_TEST_CLICKHOUSE"
	envBinary = "SWITCHYARD_TEST_CLICKHOUSE_BINARY"

	// startTimeout is generous because a loaded CI machine starting
	// several test binaries at once is slower than the usual 0.1 s.
	startTimeout = time.Minute
	opTimeout    = 30 * time.Second
)

// shared is the one ClickHouse server of this test binary. Starting it once
// per binary, not per test, keeps a package's tests fast; a database per
// test keeps them independent, and parallel.
var shared struct {
	once   sync.Once
	server *chserver.Server // nil when SWITCHYARD_TEST_CLICKHOUSE is used
	dir    string
	addr   string
	admin  driver.Conn
	err    error
}

var databaseSeq atomic.Uint64

// Main runs the tests, stops this binary's ClickHouse server if a test
// started one, and exits with the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	if err := stopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func stopShared() error {
	var errs []error
	if shared.admin != nil {
		errs = append(errs, shared.admin.Close())
	}
	if shared.server != nil {
		errs = append(errs, shared.server.Stop())
	}
	if shared.dir != "" {
		errs = append(errs, os.RemoveAll(shared.dir))
	}
	return errors.Join(errs...)
}

// ClickHouse returns the config of a new database, private to this test,
// with every migration applied. The database is dropped when the test ends.
func ClickHouse(t testing.TB) config.ClickHouse {
	t.Helper()
	cfg := EmptyClickHouse(t)
	conn := Conn(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := migrations.Up(ctx, conn); err != nil {
		t.Fatalf("testenv: migrate %s: %v", cfg.Database, err)
	}
	return cfg
}

// EmptyClickHouse returns the config of a new, empty database private to
// this test, dropped when the test ends. Migration tests start here.
func EmptyClickHouse(t testing.TB) config.ClickHouse {
	t.Helper()
	admin, addr := sharedServer(t)
	cfg := config.ClickHouse{
		Addr:        []string{addr},
		Database:    databaseName(t.Name()),
		Username:    "default",
		DialTimeout: 5 * time.Second,
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := admin.Exec(ctx, "CREATE DATABASE `"+cfg.Database+"`"); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := admin.Exec(ctx, "DROP DATABASE IF EXISTS `"+cfg.Database+"`"); err != nil {
			t.Errorf("testenv: drop database %s: %v", cfg.Database, err)
		}
	})
	return cfg
}

// Conn opens a connection to cfg's database, closed when the test ends.
func Conn(t testing.TB, cfg config.ClickHouse) driver.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	conn, err := chdb.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// PrivateClickHouse starts a server for this test alone, stopped when the
// test ends, for tests that stop, kill or restart ClickHouse. Most tests
// want ClickHouse instead.
func PrivateClickHouse(t testing.TB) *chserver.Server {
	t.Helper()
	dir := t.TempDir() // before Cleanup(Stop): cleanups run last-in first-out
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	server, err := chserver.Start(ctx, chserver.Options{Dir: dir, Binary: os.Getenv(envBinary)})
	if err != nil {
		missingOrFatal(t, err)
	}
	t.Cleanup(func() {
		if err := server.Stop(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return server
}

func sharedServer(t testing.TB) (driver.Conn, string) {
	t.Helper()
	shared.once.Do(startShared)
	if shared.err != nil {
		missingOrFatal(t, shared.err)
	}
	return shared.admin, shared.addr
}

func startShared() {
	shared.addr = os.Getenv(envAddr)
	if shared.addr == "" {
		dir, err := os.MkdirTemp("", "switchyard-clickhouse-")
		if err != nil {
			shared.err = err
			return
		}
		shared.dir = dir
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		server, err := chserver.Start(ctx, chserver.Options{Dir: dir, Binary: os.Getenv(envBinary)})
		if err != nil {
			shared.err = err
			return
		}
		shared.server = server
		shared.addr = server.TCPAddr()
	}
	// The admin connection creates and drops the tests' databases, so it
	// connects to the database every server has.
	opts := chdb.Options(config.ClickHouse{Addr: []string{shared.addr}, Database: "default", Username: "default"})
	admin, err := clickhouse.Open(opts)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		err = admin.Ping(ctx)
	}
	if err != nil {
		shared.err = fmt.Errorf("connect to ClickHouse at %s: %w", shared.addr, err)
		return
	}
	shared.admin = admin
}

// missingOrFatal skips the test when ClickHouse is not installed, except in
// CI, and fails it for every other error.
func missingOrFatal(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, chserver.ErrNotFound) {
		if inCI() {
			t.Fatalf("testenv: ClickHouse is required in CI: %v", err)
		}
		t.Skipf("testenv: %v", err)
	}
	t.Fatalf("testenv: %v", err)
}

func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// databaseName makes a name that says which test owns the database (handy
// when one is left behind on a shared server) and that cannot collide
// with another test or another test binary using the same server.
func databaseName(testName string) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range testName {
		if b.Len() >= 40 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	fmt.Fprintf(&b, "_%d_%d", os.Getpid(), databaseSeq.Add(1))
	return b.String()
}

// RequireClickHouseBinary fails (in CI) or skips the test when no ClickHouse
// server binary is installed, for tests that start servers themselves.
func RequireClickHouseBinary(t testing.TB) {
	t.Helper()
	if _, err := chserver.Find(os.Getenv(envBinary)); err != nil {
		missingOrFatal(t, err)
	}
}
