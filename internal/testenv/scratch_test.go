package testenv_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/chdb"
	"github.com/switchyard/switchyard/internal/chserver"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/migrations"
)

func TestScratch(t *testing.T) {
	s := testenv.PrivateClickHouse(t)
	ctx := context.Background()
	cfg := config.ClickHouse{Addr: []string{s.TCPAddr()}, Database: "mydb", Username: "default"}
	conn, err := chdb.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.Up(ctx, conn); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	b, _ := os.ReadFile(filepath.Join(s.Dir(), "data/metadata/mydb/trace_index_mv.sql"))
	t.Logf("%s", b)
	dir := s.Dir()
	s.Stop()
	s2, err := chserver.Start(ctx, chserver.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Stop()
	cfg.Addr = []string{s2.TCPAddr()}
	cfg.Database = "default"
	conn, err = chdb.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "INSERT INTO mydb.requests (request_id, trace_id, session_id, started_at_ms) VALUES ('r1', 'tr1', 's1', 1700000000123)"); err != nil {
		t.Fatal(err)
	}
	var n uint64
	conn.QueryRow(ctx, "SELECT count() FROM mydb.trace_index").Scan(&n)
	t.Log("trace_index rows", n)
	conn.QueryRow(ctx, "SELECT count() FROM mydb.session_index").Scan(&n)
	t.Log("session_index rows", n)
	var ts string
	conn.QueryRow(ctx, "SELECT toString(ts) FROM mydb.requests").Scan(&ts)
	t.Log("ts", ts)
}
