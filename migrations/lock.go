package migrations

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The lock that keeps two runners (two `switchyard migrate`, two ingesters
// starting) from applying migrations to one database at the same time.
//
// ClickHouse has no locks, but CREATE TABLE without IF NOT EXISTS succeeds
// for exactly one of several concurrent callers: the server serialises DDL
// on a table name, on 18.16 as on current releases. So the lock is a table,
// schema_migrations_lock, in the database being migrated:
//
//   - acquire: create it. The holder's random token and a description of the
//     holder (host, pid) are the DEFAULTs of its columns, so they are part of
//     the table's definition from its first instant and a waiter reads them
//     from system.columns, with no row to wait for;
//   - hold: insert a heartbeat row every LockStaleAfter/10;
//   - release: drop it;
//   - wait: poll until the table is gone, then race to create it again;
//   - break: a lock whose last heartbeat (or, without one, whose creation) is
//     older than LockStaleAfter belongs to a runner that died. A waiter
//     renames it to a name of its own, checks that it moved the stale lock
//     and not a fresh one that replaced it meanwhile, and drops it, logging
//     a warning that names the old holder.
//
// A holder checks that the lock is still its own before each migration, so a
// runner whose lock was broken (it stalled for longer than LockStaleAfter)
// stops instead of racing the runner that broke it.

const (
	lockTable = "schema_migrations_lock"
	// DefaultLockStaleAfter is how long a lock may go without a heartbeat
	// before a waiter treats its holder as dead. Heartbeats come every tenth
	// of it, so only a holder that is gone, or stalled for minutes, loses
	// its lock.
	DefaultLockStaleAfter = 10 * time.Minute
	// waitReportEvery spaces the "still waiting" log lines.
	waitReportEvery = 30 * time.Second
	// tableAlreadyExists is ClickHouse's error code for CREATE TABLE of an
	// existing name, stable from 18.16 to current releases.
	tableAlreadyExists = 57
)

var (
	// ErrLocked reports that Up gave up waiting (its context ended) while
	// another runner held the migration lock. The error names the holder.
	ErrLocked = errors.New("another runner holds the migration lock")
	// ErrLockLost reports that the migration lock was broken by another
	// runner, which took this one for dead, while this one still ran.
	ErrLockLost = errors.New("the migration lock was taken over by another runner")
)

// migrationLock is a held lock.
type migrationLock struct {
	conn   driver.Conn
	token  string
	holder string
	log    *slog.Logger

	stopOnce sync.Once
	stop     chan struct{}
	stopped  chan struct{}
}

// lockState is what a waiter knows about a lock table.
type lockState struct {
	exists bool
	token  string
	holder string
	// age is the time since the last heartbeat, or since the table was
	// created when it has none yet.
	age time.Duration
}

func (s lockState) describe() string {
	return fmt.Sprintf("%s, last heartbeat %s ago", s.holder, s.age.Round(time.Second))
}

func (r *Runner) lockStaleAfter() time.Duration {
	if r.LockStaleAfter > 0 {
		return r.LockStaleAfter
	}
	return DefaultLockStaleAfter
}

func (r *Runner) logger() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

// acquireLock takes the database's migration lock, waiting while another
// live runner holds it and breaking it when its holder is dead. It gives up
// with ErrLocked when ctx ends.
func (r *Runner) acquireLock(ctx context.Context, conn driver.Conn) (*migrationLock, error) {
	staleAfter := r.lockStaleAfter()
	lock := &migrationLock{
		conn:    conn,
		token:   newToken(),
		holder:  holderDescription(),
		log:     r.logger(),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	poll := min(max(staleAfter/20, 50*time.Millisecond), 500*time.Millisecond)
	var (
		last       lockState // the holder last seen, for the error when we give up
		lastReport time.Time
	)
	// ended is why ctx ended, or nil. The driver's socket deadline is ctx's
	// deadline, so a query can fail with an i/o timeout a moment before ctx
	// reports the end itself.
	ended := func() error {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
		if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
			return context.DeadlineExceeded
		}
		return nil
	}
	gaveUp := func(err error) error {
		cause := ended()
		switch {
		case cause == nil:
			return err
		case !last.exists:
			return fmt.Errorf("migrations: take the lock: %w", cause)
		}
		return fmt.Errorf("migrations: %w (%s): gave up waiting: %w", ErrLocked, last.describe(), cause)
	}
	held := func() (*migrationLock, error) {
		if err := lock.beat(ctx); err != nil {
			// A lock without a heartbeat still ages from its creation;
			// drop it rather than leave it to time out.
			dropCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = conn.Exec(dropCtx, "DROP TABLE IF EXISTS "+lockTable)
			return nil, gaveUp(fmt.Errorf("migrations: record the lock holder: %w", err))
		}
		go lock.heartbeat(max(staleAfter/10, 10*time.Millisecond))
		return lock, nil
	}
	for {
		createErr := conn.Exec(ctx, lock.createDDL())
		if createErr == nil {
			return held()
		}
		if ended() != nil {
			return nil, gaveUp(createErr)
		}
		state, err := readLockState(ctx, conn, lockTable)
		if err != nil {
			return nil, gaveUp(err)
		}
		switch {
		case state.exists && state.token == lock.token:
			// The CREATE succeeded but its answer was lost.
			return held()
		case !state.exists:
			var exc *clickhouse.Exception
			if !errors.As(createErr, &exc) || exc.Code != tableAlreadyExists {
				return nil, fmt.Errorf("migrations: take the lock: %w", createErr)
			}
			continue // released between our CREATE and our look: race again
		case state.age >= staleAfter:
			if err := r.breakStaleLock(ctx, conn, state, lock.token); err != nil {
				return nil, gaveUp(err)
			}
			continue
		}
		last = state
		if time.Since(lastReport) >= waitReportEvery {
			lock.log.Info("migrations: waiting for the migration lock", "holder", state.holder,
				"last_heartbeat_ago", state.age.Round(time.Second), "stale_after", staleAfter)
			lastReport = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, gaveUp(ctx.Err())
		case <-time.After(poll):
		}
	}
}

// breakStaleLock removes the lock described by stale, and only that one: if
// another waiter broke it first and a fresh lock took its name, the fresh
// lock is put back.
func (r *Runner) breakStaleLock(ctx context.Context, conn driver.Conn, stale lockState, ownToken string) error {
	log := r.logger()
	log.Warn("migrations: breaking a stale migration lock; its holder stopped sending heartbeats and is taken for dead",
		"holder", stale.holder, "last_heartbeat_ago", stale.age.Round(time.Second), "stale_after", r.lockStaleAfter())
	aside := lockTable + "_stale_" + ownToken
	if err := conn.Exec(ctx, "RENAME TABLE "+lockTable+" TO "+aside); err != nil {
		if state, readErr := readLockState(ctx, conn, lockTable); readErr == nil && !state.exists {
			return nil // another waiter broke it, or its holder released it
		}
		return fmt.Errorf("migrations: break the stale lock of %s: %w", stale.holder, err)
	}
	moved, err := readLockState(ctx, conn, aside)
	if err != nil {
		return err
	}
	if moved.token != stale.token {
		// A fresh lock replaced the stale one between our look and our
		// RENAME. Give it back; if its name is taken again already, its
		// holder will find its lock gone at its next check and stop.
		if err := conn.Exec(ctx, "RENAME TABLE "+aside+" TO "+lockTable); err == nil {
			return nil
		}
		log.Error("migrations: moved a live migration lock aside and could not put it back; its holder will stop",
			"holder", moved.holder)
	}
	if err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+aside); err != nil {
		return fmt.Errorf("migrations: drop the stale lock of %s: %w", stale.holder, err)
	}
	return nil
}

func (l *migrationLock) createDDL() string {
	return "CREATE TABLE " + lockTable + ` (
    token String DEFAULT ` + quoteString(l.token) + `,
    holder String DEFAULT ` + quoteString(l.holder) + `,
    heartbeat_at DateTime('UTC') DEFAULT now()
) ENGINE = Log`
}

// beat records a heartbeat, after checking that the lock is still ours.
// INSERT ... SELECT because an INSERT ... VALUES sent through Exec hangs on
// 18.16; the other columns take their DEFAULTs, the holder's own values.
func (l *migrationLock) beat(ctx context.Context) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	return l.conn.Exec(ctx, "INSERT INTO "+lockTable+" (heartbeat_at) SELECT now()")
}

func (l *migrationLock) heartbeat(every time.Duration) {
	defer close(l.stopped)
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-ticker.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(every, 10*time.Second))
		err := l.beat(ctx)
		cancel()
		switch {
		case errors.Is(err, ErrLockLost):
			l.log.Error("migrations: lost the migration lock to another runner", "holder", l.holder)
			return
		case err != nil:
			l.log.Warn("migrations: migration lock heartbeat failed; will retry", "err", err)
		}
	}
}

func (l *migrationLock) stopHeartbeat() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.stopped
}

// check returns ErrLockLost when the lock table is gone or someone else's.
func (l *migrationLock) check(ctx context.Context) error {
	state, err := readLockState(ctx, l.conn, lockTable)
	if err != nil {
		return err
	}
	if !state.exists || state.token != l.token {
		return fmt.Errorf("migrations: %w; stopping (this runner: %s)", ErrLockLost, l.holder)
	}
	return nil
}

// release stops the heartbeat and drops the lock if it is still ours. It
// runs even when ctx has ended, so that a cancelled Up does not leave its
// lock to time out.
func (l *migrationLock) release(ctx context.Context) error {
	l.stopHeartbeat()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := l.check(ctx); err != nil {
		return err
	}
	if err := l.conn.Exec(ctx, "DROP TABLE IF EXISTS "+lockTable); err != nil {
		return fmt.Errorf("migrations: release the lock: %w", err)
	}
	return nil
}

// readLockState reads a lock table's holder from its column DEFAULTs and its
// age from its heartbeats, or from its creation time when it has none.
func readLockState(ctx context.Context, conn driver.Conn, table string) (lockState, error) {
	rows, err := conn.Query(ctx, "SELECT name, default_expression FROM system.columns WHERE database = currentDatabase() AND table = ?", table)
	if err != nil {
		return lockState{}, fmt.Errorf("migrations: read the lock: %w", err)
	}
	defer rows.Close()
	var state lockState
	for rows.Next() {
		var name, expression string
		if err := rows.Scan(&name, &expression); err != nil {
			return lockState{}, fmt.Errorf("migrations: read the lock: %w", err)
		}
		state.exists = true
		switch name {
		case "token":
			state.token = unquoteString(expression)
		case "holder":
			state.holder = unquoteString(expression)
		}
	}
	if err := rows.Err(); err != nil {
		return lockState{}, fmt.Errorf("migrations: read the lock: %w", err)
	}
	if !state.exists {
		return state, nil
	}

	var (
		beats  uint64
		ageSec int64
	)
	err = conn.QueryRow(ctx, "SELECT count(), toInt64(now()) - toInt64(max(heartbeat_at)) FROM "+table).Scan(&beats, &ageSec)
	if err == nil && beats == 0 {
		err = conn.QueryRow(ctx, "SELECT toInt64(now()) - toInt64(metadata_modification_time) FROM system.tables WHERE database = currentDatabase() AND name = ?", table).Scan(&ageSec)
	}
	if err != nil {
		// Dropped or renamed between the two looks: a lock that is no
		// longer there.
		if again, lookErr := tableExists(ctx, conn, table); lookErr == nil && !again {
			return lockState{}, nil
		}
		return lockState{}, fmt.Errorf("migrations: read the lock's age: %w", err)
	}
	state.age = time.Duration(max(ageSec, 0)) * time.Second
	return state, nil
}

func tableExists(ctx context.Context, conn driver.Conn, table string) (bool, error) {
	var n uint64
	err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", table).Scan(&n)
	return n > 0, err
}

func newToken() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// holderDescription says who holds a lock, for the people reading a
// waiter's log: host and process.
func holderDescription() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s pid %d", sanitize(host), os.Getpid())
}

// sanitize keeps the characters of host names, so that the description
// needs no escaping inside a SQL string literal.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}

func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// unquoteString reads back a string literal as the server prints it in
// system.columns.default_expression.
func unquoteString(literal string) string {
	literal = strings.TrimSpace(literal)
	if len(literal) < 2 || literal[0] != '\'' || literal[len(literal)-1] != '\'' {
		return literal
	}
	return strings.NewReplacer(`\\`, `\`, `\'`, `'`).Replace(literal[1 : len(literal)-1])
}
