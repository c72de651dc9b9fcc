package chserver_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/chserver"
)

// requireBinary skips the test when no ClickHouse binary is installed,
// except in CI (CI=true), where that fails it. This package cannot use
// internal/testenv, which imports it.
func requireBinary(t *testing.T) {
	t.Helper()
	if _, err := chserver.Find(""); errors.Is(err, chserver.ErrNotFound) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ClickHouse is required in CI: %v", err)
		}
		t.Skip(err)
	}
}

// startServer starts a server in a temp dir (see requireBinary).
func startServer(t *testing.T, opts chserver.Options) *chserver.Server {
	t.Helper()
	requireBinary(t)
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := chserver.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

func TestStartQueryStop(t *testing.T) {
	s := startServer(t, chserver.Options{})

	version, err := s.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if version == "" || !strings.Contains(version, ".") {
		t.Fatalf("version = %q", version)
	}
	t.Logf("ClickHouse %s on %s (http %d)", version, s.TCPAddr(), s.HTTPPort())

	conn, err := net.DialTimeout("tcp", s.TCPAddr(), time.Second)
	if err != nil {
		t.Fatalf("native port: %v", err)
	}
	conn.Close()

	for _, name := range []string{"config.xml", "users.xml", "data"} {
		if _, err := os.Stat(filepath.Join(s.Dir(), name)); err != nil {
			t.Error(err)
		}
	}

	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := net.DialTimeout("tcp", s.TCPAddr(), time.Second); err == nil {
		t.Fatal("native port still answers after Stop")
	}
}

func TestFixedPortsAndRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	tcpPort, err := chserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	httpPort, err := chserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if tcpPort == httpPort {
		t.Skip("FreePort returned the same port twice; nothing to test")
	}
	s := startServer(t, chserver.Options{Dir: dir, TCPPort: tcpPort, HTTPPort: httpPort})
	if s.TCPAddr() != net.JoinHostPort("127.0.0.1", strconv.Itoa(tcpPort)) || s.HTTPPort() != httpPort {
		t.Fatalf("ports: tcp %s http %d, want %d and %d", s.TCPAddr(), s.HTTPPort(), tcpPort, httpPort)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	// A second server on the same directory must start: dev mode restarts
	// on the data of its previous run.
	s2 := startServer(t, chserver.Options{Dir: dir})
	if _, err := s2.Version(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestPortInUseFailsWithLog(t *testing.T) {
	requireBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().(*net.TCPAddr).Port
	httpPort, err := chserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := chserver.Start(ctx, chserver.Options{Dir: t.TempDir(), TCPPort: busy, HTTPPort: httpPort})
	if err == nil {
		s.Stop()
		t.Fatal("Start succeeded on a port in use")
	}
	if !strings.Contains(err.Error(), "Address already in use") {
		t.Fatalf("error does not carry the server's log: %v", err)
	}
	t.Log(err)
}

func TestExitedServerReportsOnStop(t *testing.T) {
	s := startServer(t, chserver.Options{})
	// Simulate a crash: the caller must hear about it from Stop.
	chserver.KillForTest(t, s)
	<-s.Done()
	if err := s.Stop(); err == nil {
		t.Fatal("Stop after a crash returned nil")
	}
}

func TestFindExplicitMissingBinary(t *testing.T) {
	_, err := chserver.Find(filepath.Join(t.TempDir(), "no-such-clickhouse"))
	if !errors.Is(err, chserver.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	_, err = chserver.Start(context.Background(), chserver.Options{Dir: t.TempDir(), Binary: "no-such-clickhouse-binary"})
	if !errors.Is(err, chserver.ErrNotFound) {
		t.Fatalf("Start err = %v, want ErrNotFound", err)
	}
}

func TestStartRespectsContext(t *testing.T) {
	requireBinary(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := chserver.Start(ctx, chserver.Options{Dir: t.TempDir()})
	if err == nil {
		// The server can win the race against a canceled context only if
		// it answered before the first check; that is not a failure.
		s.Stop()
		return
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestFreePort(t *testing.T) {
	port, err := chserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("port %d from FreePort is not free: %v", port, err)
	}
	ln.Close()
}

func TestFindPrefersPathAndRunsSingleBinaryAsServer(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "clickhouse")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	cmd, err := chserver.Find("")
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Path != fake || len(cmd.Args) != 1 || cmd.Args[0] != "server" {
		t.Fatalf("Find = %+v, want %s run as `clickhouse server`", cmd, fake)
	}

	server := filepath.Join(dir, "clickhouse-server")
	if err := os.WriteFile(server, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if cmd, err = chserver.Find(""); err != nil || cmd.Path != server || len(cmd.Args) != 0 {
		t.Fatalf("Find = %+v, %v, want %s first", cmd, err, server)
	}
}

func TestEarlyExitReportsStderr(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "clickhouse-server")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'Cannot parse config: boom' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := chserver.Start(context.Background(), chserver.Options{Dir: t.TempDir(), Binary: fake})
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err = %v, want the exit status and the server's stderr", err)
	}
}
