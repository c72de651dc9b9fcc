package chdb_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/chdb"
	"github.com/switchyard/switchyard/internal/chserver"
	"github.com/switchyard/switchyard/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestOpenCreatesMissingDatabase(t *testing.T) {
	cfg := testenv.EmptyClickHouse(t)
	cfg.Database += "_created_by_open"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	conn, err := chdb.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Cleanup(func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database) })

	var current string
	if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&current); err != nil {
		t.Fatal(err)
	}
	if current != cfg.Database {
		t.Fatalf("currentDatabase() = %q, want %q", current, cfg.Database)
	}

	// Opening an existing database is the common case.
	again, err := chdb.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()

	// A result spanning many compressed blocks checks LZ4 both ways.
	var total uint64
	if err := again.QueryRow(ctx, "SELECT sum(length(s)) FROM (SELECT toString(number) AS s FROM system.numbers LIMIT 200000)").Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total == 0 {
		t.Fatal("empty result")
	}
}

func TestOpenRejectsUnsafeDatabaseName(t *testing.T) {
	for _, name := range []string{"", "a-b", "x; DROP DATABASE default", "`x`", "1abc"} {
		cfg := config.ClickHouse{Addr: []string{"127.0.0.1:1"}, Database: name}
		if conn, err := chdb.Open(context.Background(), cfg); err == nil {
			conn.Close()
			t.Errorf("Open accepted database name %q", name)
		} else if !strings.Contains(err.Error(), "database name") {
			t.Errorf("%q: error %v does not name the problem", name, err)
		}
	}
}

func TestOpenUnreachableServerFails(t *testing.T) {
	port, err := chserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.ClickHouse{Addr: []string{"127.0.0.1:" + strconv.Itoa(port)}, Database: "switchyard", DialTimeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := chdb.Open(ctx, cfg)
	if err == nil {
		conn.Close()
		t.Fatal("Open succeeded with no server")
	}
	if !strings.Contains(err.Error(), cfg.Addr[0]) {
		t.Errorf("error does not name the address: %v", err)
	}
}

// TestCompressions moves blocks of bodies both ways with each compression
// setting.
func TestCompressions(t *testing.T) {
	base := testenv.EmptyClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body := strings.Repeat("All cars for track 7 go over the hump. ", 30)
	for _, c := range []string{config.CompressionAuto, config.CompressionNone, config.CompressionLZ4, config.CompressionZSTD} {
		t.Run(c, func(t *testing.T) {
			cfg := base
			cfg.Compression = c
			conn, err := chdb.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			table := "compression_" + c
			if err := conn.Exec(ctx, "CREATE TABLE "+table+" (n UInt32, body String) ENGINE = MergeTree ORDER BY n"); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) }()
			batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" (n, body)")
			if err != nil {
				t.Fatal(err)
			}
			const rows = 20000
			wantSize := uint64(0)
			for i := 0; i < rows; i++ {
				b := body + strconv.Itoa(i)
				wantSize += uint64(len(b))
				if err := batch.Append(uint32(i), b); err != nil {
					t.Fatal(err)
				}
			}
			if err := batch.Send(); err != nil {
				t.Fatal(err)
			}
			var n, size uint64
			if err := conn.QueryRow(ctx, "SELECT count(), sum(length(body)) FROM "+table).Scan(&n, &size); err != nil {
				t.Fatal(err)
			}
			rowsBack, err := conn.Query(ctx, "SELECT body FROM "+table+" ORDER BY n")
			if err != nil {
				t.Fatal(err)
			}
			defer rowsBack.Close()
			read := 0
			for rowsBack.Next() {
				var b string
				if err := rowsBack.Scan(&b); err != nil {
					t.Fatal(err)
				}
				if b != body+strconv.Itoa(read) {
					t.Fatalf("row %d: %q", read, b)
				}
				read++
			}
			if n != rows || read != rows || size != wantSize {
				t.Fatalf("stored %d rows of %d bytes, read %d", n, size, read)
			}
		})
	}
}

func TestCompressionChoice(t *testing.T) {
	for _, tc := range []struct {
		addr        []string
		compression string
		want        bool
	}{
		{[]string{"127.0.0.1:9000"}, config.CompressionAuto, false},
		{[]string{"localhost:9000", "[::1]:9000"}, config.CompressionAuto, false},
		{[]string{"127.0.0.1:9000", "ch-2:9000"}, config.CompressionAuto, true},
		{[]string{"127.0.0.1:9000"}, config.CompressionLZ4, true},
		{[]string{"ch:9000"}, config.CompressionNone, false},
		{[]string{"ch:9000"}, "", true},
	} {
		opts := chdb.Options(config.ClickHouse{Addr: tc.addr, Compression: tc.compression})
		if got := opts.Compression != nil; got != tc.want {
			t.Errorf("%v %q: compressed %v", tc.addr, tc.compression, got)
		}
	}
}

func TestOptionsUseNativeProtocolAndPool(t *testing.T) {
	opts := chdb.Options(config.ClickHouse{Addr: []string{"h:9000"}, Database: "db", Username: "u", Password: "p"})
	if opts.Protocol.String() != "native" {
		t.Errorf("protocol = %v", opts.Protocol)
	}
	if opts.Auth.Database != "db" || opts.Auth.Username != "u" || opts.Auth.Password != "p" {
		t.Errorf("auth = %+v", opts.Auth)
	}
	if opts.MaxOpenConns <= 0 || opts.Compression == nil || opts.DialTimeout <= 0 {
		t.Errorf("pool/compression/dial timeout not set: %+v", opts)
	}
}
