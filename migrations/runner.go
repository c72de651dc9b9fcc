package migrations

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ErrChecksumMismatch reports that an applied migration's file was edited
// after it was applied.
var ErrChecksumMismatch = errors.New("applied migration was modified")

// State is where a migration stands in a database.
type State string

const (
	// StateApplied: recorded in schema_migrations with the file's checksum.
	StateApplied State = "applied"
	// StatePending: not applied yet; Up will apply it.
	StatePending State = "pending"
	// StateSkipped: not applied because the server is older than the
	// migration requires; Up applies it once the server is upgraded.
	StateSkipped State = "skipped"
	// StateModified: applied, but the file has changed since.
	StateModified State = "modified"
	// StateUnknown: recorded as applied, but this binary has no such file:
	// a newer Switchyard migrated the database.
	StateUnknown State = "unknown"
)

// Result is one migration's state, as Up left it or Status found it.
type Result struct {
	Version  uint32
	Name     string
	Checksum string
	State    State
	// AppliedAt is when the migration was recorded, zero if it was not.
	AppliedAt time.Time
	// Reason explains a skipped or modified migration.
	Reason string
}

// ID is the migration's file name without ".sql".
func (r Result) ID() string { return formatID(r.Version, r.Name) }

func (r Result) String() string {
	if r.Reason != "" {
		return fmt.Sprintf("%s %s (%s)", r.ID(), r.State, r.Reason)
	}
	return fmt.Sprintf("%s %s", r.ID(), r.State)
}

// Runner applies the migrations found in FS.
type Runner struct {
	// FS holds the NNNN_name.sql files at its root.
	FS fs.FS
	// Log receives the lock's waits and breaks; nil means slog.Default().
	Log *slog.Logger
	// LockStaleAfter is how long the migration lock may go without a
	// heartbeat before a waiting runner breaks it; zero means
	// DefaultLockStaleAfter.
	LockStaleAfter time.Duration
	// ServerVersion, when set, is used for the requires-clickhouse gates
	// instead of the server's version(). Tests use it to see what a newer
	// (or older) server would be given; leave it empty otherwise.
	ServerVersion string
}

// New returns a runner over the migrations embedded in the binary.
func New() *Runner {
	sub, err := fs.Sub(embedded, "sql")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return &Runner{FS: sub}
}

// Up applies Switchyard's embedded migrations; see Runner.Up.
func Up(ctx context.Context, conn driver.Conn) ([]Result, error) { return New().Up(ctx, conn) }

// Status reports Switchyard's embedded migrations; see Runner.Status.
func Status(ctx context.Context, conn driver.Conn) ([]Result, error) {
	return New().Status(ctx, conn)
}

// Migrations returns the runner's migrations in version order, or every
// problem with the files.
func (r *Runner) Migrations() ([]Migration, error) { return load(r.FS) }

// schemaMigrationsDDL keeps the history in the same database as the schema
// it describes, so a database copied or dropped carries its own history.
const schemaMigrationsDDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime('UTC')
) ENGINE = MergeTree ORDER BY version`

// Up applies every pending migration in version order to the connection's
// database and returns what it did: one result per migration applied now
// (StateApplied) or skipped for the server's version (StateSkipped). Run
// again, it applies nothing. It refuses to start when an applied migration
// was modified, and stops at the first failing statement; fix the cause
// and run it again.
//
// Runners in several processes may call Up on one database at once: Up
// takes the database's migration lock (see lock.go) first, so one applies
// the migrations and the others wait, then find nothing left to do. A
// waiter gives up with ErrLocked, naming the holder, when ctx ends; a lock
// whose holder died is broken after LockStaleAfter, with a warning.
func (r *Runner) Up(ctx context.Context, conn driver.Conn) (results []Result, err error) {
	migrations, err := r.Migrations()
	if err != nil {
		return nil, err
	}
	lock, err := r.acquireLock(ctx, conn)
	if err != nil {
		return nil, err
	}
	defer func() {
		if releaseErr := lock.release(ctx); releaseErr != nil {
			err = errors.Join(err, releaseErr)
		}
	}()
	if err := conn.Exec(ctx, schemaMigrationsDDL); err != nil {
		return nil, fmt.Errorf("migrations: create schema_migrations: %w", err)
	}
	applied, err := readApplied(ctx, conn)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, m := range migrations {
		if a, ok := applied[m.Version]; ok && a.Checksum != m.Checksum {
			errs = append(errs, checksumError(m, a))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	var serverVersion string
	for _, m := range migrations {
		if _, ok := applied[m.Version]; ok {
			continue
		}
		if m.RequiresServer != "" {
			if serverVersion == "" {
				if serverVersion, err = r.serverVersion(ctx, conn); err != nil {
					return results, err
				}
			}
			if !versionAtLeast(serverVersion, m.RequiresServer) {
				results = append(results, Result{
					Version: m.Version, Name: m.Name, Checksum: m.Checksum, State: StateSkipped,
					Reason: skipReason(m, serverVersion),
				})
				continue
			}
		}
		// A runner that stalled past LockStaleAfter may have lost the lock
		// to one that took it for dead; it must not go on beside it.
		if err := lock.check(ctx); err != nil {
			return results, err
		}
		for i, stmt := range m.Statements {
			if err := execIdempotent(ctx, conn, stmt); err != nil {
				return results, fmt.Errorf("migrations: %s statement %d (%s): %w", m.ID(), i+1, firstLine(stmt), err)
			}
		}
		appliedAt := time.Now().UTC().Truncate(time.Second)
		if err := record(ctx, conn, m, appliedAt); err != nil {
			return results, err
		}
		results = append(results, Result{
			Version: m.Version, Name: m.Name, Checksum: m.Checksum, State: StateApplied, AppliedAt: appliedAt,
		})
	}
	return results, nil
}

// Status reports every migration known to the runner or recorded in the
// database, in version order, without changing anything. It fails only
// when it cannot read; a modified migration is reported as StateModified.
func (r *Runner) Status(ctx context.Context, conn driver.Conn) ([]Result, error) {
	migrations, err := r.Migrations()
	if err != nil {
		return nil, err
	}
	var exists uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'schema_migrations'`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("migrations: look for schema_migrations: %w", err)
	}
	applied := map[uint32]appliedMigration{}
	if exists > 0 {
		if applied, err = readApplied(ctx, conn); err != nil {
			return nil, err
		}
	}
	var (
		results       []Result
		serverVersion string
		known         = map[uint32]bool{}
	)
	for _, m := range migrations {
		known[m.Version] = true
		res := Result{Version: m.Version, Name: m.Name, Checksum: m.Checksum, State: StatePending}
		if a, ok := applied[m.Version]; ok {
			res.AppliedAt = a.AppliedAt
			res.State = StateApplied
			if a.Checksum != m.Checksum {
				res.State = StateModified
				res.Reason = fmt.Sprintf("applied with checksum %.12s, file now %.12s", a.Checksum, m.Checksum)
			}
		} else if m.RequiresServer != "" {
			if serverVersion == "" {
				if serverVersion, err = r.serverVersion(ctx, conn); err != nil {
					return nil, err
				}
			}
			if !versionAtLeast(serverVersion, m.RequiresServer) {
				res.State = StateSkipped
				res.Reason = skipReason(m, serverVersion)
			}
		}
		results = append(results, res)
	}
	for version, a := range applied {
		if !known[version] {
			results = append(results, Result{
				Version: version, Name: a.Name, Checksum: a.Checksum, State: StateUnknown, AppliedAt: a.AppliedAt,
				Reason: "recorded in the database but not in this binary; a newer Switchyard applied it",
			})
		}
	}
	sortResults(results)
	return results, nil
}

type appliedMigration struct {
	Name      string
	Checksum  string
	AppliedAt time.Time
}

// readApplied folds duplicate rows (two runners racing) into the first
// application of each version.
func readApplied(ctx context.Context, conn driver.Conn) (map[uint32]appliedMigration, error) {
	rows, err := conn.Query(ctx, `SELECT version, argMin(name, applied_at), argMin(checksum, applied_at), min(applied_at)
FROM schema_migrations GROUP BY version`)
	if err != nil {
		return nil, fmt.Errorf("migrations: read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[uint32]appliedMigration{}
	for rows.Next() {
		var (
			version uint32
			a       appliedMigration
		)
		if err := rows.Scan(&version, &a.Name, &a.Checksum, &a.AppliedAt); err != nil {
			return nil, fmt.Errorf("migrations: read schema_migrations: %w", err)
		}
		applied[version] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrations: read schema_migrations: %w", err)
	}
	return applied, nil
}

func record(ctx context.Context, conn driver.Conn, m Migration, appliedAt time.Time) error {
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, checksum, applied_at)")
	if err != nil {
		return fmt.Errorf("migrations: record %s: %w", m.ID(), err)
	}
	defer batch.Close()
	if err := batch.Append(m.Version, m.Name, m.Checksum, appliedAt); err != nil {
		return fmt.Errorf("migrations: record %s: %w", m.ID(), err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("migrations: record %s: %w", m.ID(), err)
	}
	return nil
}

// serverVersion is the version the requires-clickhouse gates compare with.
func (r *Runner) serverVersion(ctx context.Context, conn driver.Conn) (string, error) {
	if r.ServerVersion != "" {
		return r.ServerVersion, nil
	}
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return "", fmt.Errorf("migrations: read server version: %w", err)
	}
	return version, nil
}

func checksumError(m Migration, a appliedMigration) error {
	return fmt.Errorf("migrations: %s: %w: applied with checksum %s, the file now has %s; migrations are append-only, so restore the file and add a new migration",
		m.ID(), ErrChecksumMismatch, a.Checksum, m.Checksum)
}

func skipReason(m Migration, serverVersion string) string {
	return fmt.Sprintf("needs ClickHouse %s or newer, server is %s", m.RequiresServer, serverVersion)
}

// Column and index changes that some supported servers cannot make
// conditional. One action per ALTER, so that the check covers the whole
// statement.
var (
	addColumnRE  = regexp.MustCompile("(?is)^ALTER\\s+TABLE\\s+([`\\w.]+)\\s+ADD\\s+COLUMN\\s+IF\\s+NOT\\s+EXISTS\\s+([`\\w]+)(\\s.*)$")
	dropColumnRE = regexp.MustCompile("(?is)^ALTER\\s+TABLE\\s+([`\\w.]+)\\s+DROP\\s+COLUMN\\s+IF\\s+EXISTS\\s+([`\\w]+)\\s*$")
	addIndexRE   = regexp.MustCompile("(?is)^ALTER\\s+TABLE\\s+([`\\w.]+)\\s+ADD\\s+INDEX\\s+IF\\s+NOT\\s+EXISTS\\s+([`\\w]+)(\\s.*)$")
)

// execIdempotent runs one statement, emulating ADD COLUMN IF NOT EXISTS,
// DROP COLUMN IF EXISTS (with a look at system.columns; 18.16 rejects both)
// and ADD INDEX IF NOT EXISTS (with a look at the table's definition; the
// first servers with skipping indexes may lack the clause). The plain form
// is sent on every server, so one file serves all versions.
func execIdempotent(ctx context.Context, conn driver.Conn, stmt string) error {
	if m := addColumnRE.FindStringSubmatch(stmt); m != nil {
		exists, err := columnExists(ctx, conn, m[1], m[2])
		if err != nil || exists {
			return err
		}
		return conn.Exec(ctx, "ALTER TABLE "+m[1]+" ADD COLUMN "+m[2]+m[3])
	}
	if m := dropColumnRE.FindStringSubmatch(stmt); m != nil {
		exists, err := columnExists(ctx, conn, m[1], m[2])
		if err != nil || !exists {
			return err
		}
		return conn.Exec(ctx, "ALTER TABLE "+m[1]+" DROP COLUMN "+m[2])
	}
	if m := addIndexRE.FindStringSubmatch(stmt); m != nil {
		createQuery, err := createTableQuery(ctx, conn, m[1])
		if err != nil || hasIndex(createQuery, m[2]) {
			return err
		}
		return conn.Exec(ctx, "ALTER TABLE "+m[1]+" ADD INDEX "+m[2]+m[3])
	}
	return conn.Exec(ctx, stmt)
}

func createTableQuery(ctx context.Context, conn driver.Conn, table string) (string, error) {
	database, table, args := tableRef(table)
	args = append(args, table)
	var query string
	if err := conn.QueryRow(ctx, "SELECT create_table_query FROM system.tables WHERE database = "+database+" AND name = ?", args...).Scan(&query); err != nil {
		return "", fmt.Errorf("look up table %s: %w", table, err)
	}
	return query, nil
}

// hasIndex reports whether a CREATE TABLE statement, as the server prints
// it, declares the skipping index name.
func hasIndex(createQuery, name string) bool {
	name = strings.Trim(name, "`")
	re := regexp.MustCompile("(?i)[(,]\\s*INDEX\\s+`?" + regexp.QuoteMeta(name) + "`?\\s")
	return re.MatchString(createQuery)
}

// tableRef splits a possibly qualified, possibly back-quoted table name
// into the SQL for its database and the bare name, with the database
// name as a bind argument when it is given.
func tableRef(table string) (database, name string, args []any) {
	table = strings.ReplaceAll(table, "`", "")
	if db, name, qualified := strings.Cut(table, "."); qualified {
		return "?", name, []any{db}
	}
	return "currentDatabase()", table, nil
}

func columnExists(ctx context.Context, conn driver.Conn, table, column string) (bool, error) {
	database, table, args := tableRef(table)
	column = strings.ReplaceAll(column, "`", "")
	args = append(args, table, column)
	var n uint64
	query := "SELECT count() FROM system.columns WHERE database = " + database + " AND table = ? AND name = ?"
	if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		return false, fmt.Errorf("look up column %s.%s: %w", table, column, err)
	}
	return n > 0, nil
}

func firstLine(stmt string) string {
	line, _, _ := strings.Cut(stmt, "\n")
	if len(line) > 80 {
		line = line[:80] + "..."
	}
	return line
}

func sortResults(results []Result) {
	sort.Slice(results, func(i, j int) bool { return results[i].Version < results[j].Version })
}
