package migrations_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/migrations"
)

// countingMigrations are not idempotent on purpose: each application of a
// migration adds a row to applications, so a migration applied twice shows.
// The sleeps keep the first runner busy long enough for the others to
// arrive while it holds the lock.
func countingMigrations() fstest.MapFS {
	files := fstest.MapFS{
		"0001_applications.sql": {Data: []byte(`CREATE TABLE IF NOT EXISTS applications (migration String) ENGINE = Log;
INSERT INTO applications (migration) SELECT '0001';
`)},
	}
	for v := 2; v <= 4; v++ {
		files[fmt.Sprintf("%04d_step.sql", v)] = &fstest.MapFile{Data: []byte(fmt.Sprintf(
			"INSERT INTO applications (migration) SELECT '%04d' FROM system.one WHERE sleep(0.2) = 0;\n", v))}
	}
	return files
}

// syncBuffer is a log destination that several goroutines write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLog() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func countRows(t *testing.T, conn driver.Conn, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(ctxT(t), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func lockTables(t *testing.T, conn driver.Conn) []string {
	t.Helper()
	return queryStrings(t, conn, "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'schema_migrations_lock%'")
}

func TestConcurrentRunnersApplyEachMigrationOnce(t *testing.T) {
	t.Parallel()
	config := testenv.EmptyClickHouse(t)
	files := countingMigrations()
	const runners = 4

	var (
		start   = make(chan struct{})
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied = map[string]int{}
		errs    []error
	)
	log, logs := newLog()
	for i := 0; i < runners; i++ {
		conn := testenv.Conn(t, config) // a connection pool per runner, as per process
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results, err := (&migrations.Runner{FS: files, Log: log}).Up(ctxT(t), conn)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			for _, r := range results {
				if r.State == migrations.StateApplied {
					applied[r.ID()]++
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	conn := testenv.Conn(t, config)
	for _, id := range []string{"0001_applications", "0002_step", "0003_step", "0004_step"} {
		if applied[id] != 1 {
			t.Errorf("%s reported applied by %d runners, want 1", id, applied[id])
		}
		if n := countRows(t, conn, "SELECT count() FROM applications WHERE migration = ?", id[:4]); n != 1 {
			t.Errorf("%s ran %d times", id, n)
		}
	}
	if n := countRows(t, conn, "SELECT count() FROM schema_migrations"); n != 4 {
		t.Errorf("schema_migrations has %d rows, want 4", n)
	}
	if left := lockTables(t, conn); len(left) != 0 {
		t.Errorf("lock tables left behind: %v", left)
	}
	t.Logf("runner logs:\n%s", logs)
}

// TestConcurrentUpOfEmbeddedMigrations is the two-ingesters-start-at-once
// case with the real schema.
func TestConcurrentUpOfEmbeddedMigrations(t *testing.T) {
	t.Parallel()
	config := testenv.EmptyClickHouse(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	log, _ := newLog()
	for i := range errs {
		conn := testenv.Conn(t, config)
		wg.Add(1)
		go func() {
			defer wg.Done()
			runner := migrations.New()
			runner.Log = log
			_, errs[i] = runner.Up(ctxT(t), conn)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	conn := testenv.Conn(t, config)
	if n := countRows(t, conn, "SELECT toUInt64(count() - uniqExact(version)) FROM schema_migrations"); n != 0 {
		t.Errorf("%d migrations recorded more than once", n)
	}
}

func TestHeldLockMakesOthersWaitAndNamesTheHolder(t *testing.T) {
	t.Parallel()
	config := testenv.EmptyClickHouse(t)
	holderConn, waiterConn := testenv.Conn(t, config), testenv.Conn(t, config)
	files := countingMigrations()

	held, err := (&migrations.Runner{FS: files}).AcquireLock(ctxT(t), holderConn)
	if err != nil {
		t.Fatal(err)
	}

	log, logs := newLog()
	waiter := &migrations.Runner{FS: files, Log: log}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	results, err := waiter.Up(ctx, waiterConn)
	if !errors.Is(err, migrations.ErrLocked) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Up while another runner holds the lock: %v, %v; want ErrLocked after the deadline", ids(results), err)
	}
	if !strings.Contains(err.Error(), held.Holder()) {
		t.Errorf("error %q does not name the holder %q", err, held.Holder())
	}
	if !strings.Contains(logs.String(), "waiting for the migration lock") || !strings.Contains(logs.String(), held.Holder()) {
		t.Errorf("the waiter did not log whom it waits for:\n%s", logs)
	}
	if n := countRows(t, waiterConn, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'applications'"); n != 0 {
		t.Fatal("the waiter migrated without the lock")
	}

	// Once the holder releases, a waiter gets the lock and migrates.
	done := make(chan error, 1)
	var got []migrations.Result
	go func() {
		var err error
		got, err = waiter.Up(ctxT(t), waiterConn)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Up returned while the lock was held: %v", err)
	default:
	}
	if err := held.Release(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("after the release, Up applied %v, want 4 migrations", ids(got))
	}
}

func TestLiveLockIsNotBroken(t *testing.T) {
	t.Parallel()
	config := testenv.EmptyClickHouse(t)
	holderConn, waiterConn := testenv.Conn(t, config), testenv.Conn(t, config)
	files := countingMigrations()

	// Heartbeats every 100 ms; the waiter would break a lock 3 s quiet.
	held, err := (&migrations.Runner{FS: files, LockStaleAfter: time.Second}).AcquireLock(ctxT(t), holderConn)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release(ctxT(t))
	log, _ := newLog()
	waiter := &migrations.Runner{FS: files, Log: log, LockStaleAfter: 3 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	if _, err := waiter.Up(ctx, waiterConn); !errors.Is(err, migrations.ErrLocked) {
		t.Fatalf("Up beside a live holder: %v, want ErrLocked", err)
	}
	if err := held.Check(ctxT(t)); err != nil {
		t.Fatalf("the live holder lost its lock: %v", err)
	}
}

func TestStaleLockIsBroken(t *testing.T) {
	t.Parallel()
	config := testenv.EmptyClickHouse(t)
	deadConn, waiterConn := testenv.Conn(t, config), testenv.Conn(t, config)
	files := countingMigrations()

	dead, err := (&migrations.Runner{FS: files}).AcquireLock(ctxT(t), deadConn)
	if err != nil {
		t.Fatal(err)
	}
	dead.Crash() // no more heartbeats, lock table left behind

	log, logs := newLog()
	const staleAfter = 2 * time.Second
	waiter := &migrations.Runner{FS: files, Log: log, LockStaleAfter: staleAfter}
	started := time.Now()
	results, err := waiter.Up(ctxT(t), waiterConn)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 4 {
		t.Fatalf("Up after breaking the lock applied %v, want 4 migrations", ids(results))
	}
	if waited := time.Since(started); waited < staleAfter-time.Second {
		t.Errorf("the lock was broken after %s, before it was %s old", waited, staleAfter)
	}
	if !strings.Contains(logs.String(), "breaking a stale migration lock") || !strings.Contains(logs.String(), dead.Holder()) {
		t.Errorf("breaking the lock was not logged loudly with its holder:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("breaking the lock was not a warning:\n%s", logs)
	}
	if err := dead.Check(ctxT(t)); !errors.Is(err, migrations.ErrLockLost) {
		t.Errorf("the dead runner's lock check: %v, want ErrLockLost", err)
	}
	if left := lockTables(t, waiterConn); len(left) != 0 {
		t.Errorf("lock tables left behind: %v", left)
	}
}
