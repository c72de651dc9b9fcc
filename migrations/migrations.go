// Package migrations owns Switchyard's ClickHouse schema: numbered SQL files
// embedded in the binary, and the runner that applies them.
//
// # Files
//
// Each migration is sql/NNNN_name.sql: a four-digit version, then a name of
// lower-case letters, digits and underscores. Migrations are append-only:
// once released, a file never changes (the runner stores each file's
// SHA-256 and refuses to run when an applied file was edited); a change is
// a new file.
//
// A file holds one or more statements. A statement ends with a ';' that is
// the last character of its line (trailing spaces aside); a ';' anywhere
// else, such as inside a string literal, does not end it. Lines whose first
// non-blank characters are "--" are comments and are dropped; a "--"
// comment after code on the same line is left to the server. Each statement
// is sent in an Exec of its own, because ClickHouse 18.16 has no
// multi-statement queries.
//
// Table and view names are left unqualified, so a migration applies to the
// database of the connection it runs on; tests give every test its own
// database this way.
//
// # Re-running
//
// ClickHouse has no transactional DDL: a migration that fails half-way
// leaves the statements before the failure applied. So every statement
// must be safe to run twice: CREATE ... IF NOT EXISTS, DROP ... IF EXISTS.
// 18.16 lacks `ADD COLUMN IF NOT EXISTS` and `DROP COLUMN IF EXISTS`; write
// them anyway, one column per ALTER, and the runner checks system.columns
// itself and sends the plain form only when needed.
//
// # Newer servers
//
// Improvements that need a newer server than 18.16 (TTL, codecs, skipping
// indexes, ...) go in their own file with a line
//
//	-- requires-clickhouse: 20.3
//
// naming the lowest release that can apply every statement in the file
// (checked against the ClickHouse changelog; when in doubt, the next LTS).
// The runner skips such a migration on older servers and reports it as
// skipped, not failed; a skipped migration stays pending, and the first Up
// after the server is upgraded applies it. What that means today:
//
//   - On ClickHouse 18.16 (what the tests run): every file without a gate
//     applies; 0005 codecs, 0006 skipping indexes, 0007 the DateTime64
//     started_at alias and 0008 insert deduplication are skipped. The
//     schema works without them: bodies are stored with LZ4, traces and
//     sessions are found through the look-up tables of 0001, replays are
//     folded by ReplacingMergeTree and fenced by the ingester (0002).
//   - On current ClickHouse (compose's image): everything applies.
//
// Retention is not a migration: its period is configuration, so
// internal/retention sets table TTLs (or drops old partitions on servers
// without TTL) at run time.
//
// # Concurrent runners
//
// Up takes a lock first, a table named schema_migrations_lock (see lock.go
// for why a table works as a mutex on ClickHouse), so two `switchyard
// migrate` or two ingesters starting at once apply each migration once: one
// applies, the others wait for it and then find nothing to do. A waiter logs
// who holds the lock and gives up with ErrLocked when its context ends. The
// holder sends heartbeats; a lock without one for Runner.LockStaleAfter (10
// minutes by default) is taken for the lock of a dead runner and broken,
// with a warning naming it.
//
// This package never drops user data on its own and never runs on start-up
// of a service implicitly: `switchyard migrate` (and dev mode, and tests)
// call Up.
package migrations

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

//go:embed sql/*.sql
var embedded embed.FS

// Migration is one parsed SQL file.
type Migration struct {
	Version uint32
	// Name is the file name between the version and ".sql".
	Name string
	// Checksum is the hex SHA-256 of the file's bytes.
	Checksum string
	// RequiresServer is the lowest server version that can apply the
	// migration ("20.3"), or empty for any.
	RequiresServer string
	Statements     []string
}

// ID is the file name without ".sql", e.g. "0001_base": how people and
// error messages refer to a migration.
func (m Migration) ID() string { return formatID(m.Version, m.Name) }

func formatID(version uint32, name string) string { return fmt.Sprintf("%04d_%s", version, name) }

var (
	fileNameRE = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)
	requiresRE = regexp.MustCompile(`^--\s*requires-clickhouse:\s*([0-9]+(?:\.[0-9]+)*)\s*$`)
)

// load reads and checks every .sql file at the root of fsys, in version
// order.
func load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var (
		migrations []Migration
		errs       []error
		seen       = map[uint32]string{}
	)
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		m, err := parseFile(fsys, e.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, dup := seen[m.Version]; dup {
			errs = append(errs, fmt.Errorf("migrations: %s and %s have the same version", other, e.Name()))
			continue
		}
		seen[m.Version] = e.Name()
		migrations = append(migrations, m)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(migrations, func(i, j int) bool { return migrations[i].Version < migrations[j].Version })
	return migrations, nil
}

func parseFile(fsys fs.FS, name string) (Migration, error) {
	match := fileNameRE.FindStringSubmatch(name)
	if match == nil {
		return Migration{}, fmt.Errorf("migrations: %s: file name must be NNNN_name.sql (lower-case name)", name)
	}
	version, _ := strconv.ParseUint(match[1], 10, 32)
	if version == 0 {
		return Migration{}, fmt.Errorf("migrations: %s: versions start at 0001", name)
	}
	text, err := fs.ReadFile(fsys, name)
	if err != nil {
		return Migration{}, fmt.Errorf("migrations: %w", err)
	}
	sum := sha256.Sum256(text)
	m := Migration{
		Version:    uint32(version),
		Name:       match[2],
		Checksum:   hex.EncodeToString(sum[:]),
		Statements: splitStatements(string(text)),
	}
	for _, line := range strings.Split(string(text), "\n") {
		if r := requiresRE.FindStringSubmatch(strings.TrimSpace(line)); r != nil {
			if m.RequiresServer != "" {
				return Migration{}, fmt.Errorf("migrations: %s: more than one requires-clickhouse line", name)
			}
			m.RequiresServer = r[1]
		}
	}
	if len(m.Statements) == 0 {
		return Migration{}, fmt.Errorf("migrations: %s: no statements", name)
	}
	return m, nil
}

// splitStatements implements the rule in the package doc: a statement ends
// at a line ending in ';'; whole-line "--" comments are dropped. The last
// statement may omit its ';'.
func splitStatements(text string) []string {
	var (
		statements []string
		current    strings.Builder
	)
	flush := func() {
		stmt := strings.TrimSpace(current.String())
		stmt = strings.TrimSpace(strings.TrimSuffix(stmt, ";"))
		if stmt != "" {
			statements = append(statements, stmt)
		}
		current.Reset()
	}
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		current.WriteString(strings.TrimRight(line, " \t\r"))
		current.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			flush()
		}
	}
	flush()
	return statements
}

// versionAtLeast reports whether server version have ("18.16.1") is at
// least want ("20.3"), comparing numerically part by part; missing parts
// count as 0.
func versionAtLeast(have, want string) bool {
	h, w := versionParts(have), versionParts(want)
	for i := 0; i < len(h) || i < len(w); i++ {
		var hv, wv int
		if i < len(h) {
			hv = h[i]
		}
		if i < len(w) {
			wv = w[i]
		}
		if hv != wv {
			return hv > wv
		}
	}
	return true
}

func versionParts(v string) []int {
	var parts []int
	for _, p := range strings.Split(v, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			break // a suffix such as "-testing" ends the numeric part
		}
		parts = append(parts, n)
	}
	return parts
}
