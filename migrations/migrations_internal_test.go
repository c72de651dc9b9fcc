package migrations

import (
	"reflect"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want []string
	}{
		{"one without semicolon", "SELECT 1", []string{"SELECT 1"}},
		{"two", "SELECT 1;\nSELECT 2;\n", []string{"SELECT 1", "SELECT 2"}},
		{"multi-line with trailing space and CRLF", "CREATE TABLE t (\r\n  a UInt8\r\n) ENGINE = Memory;  \r\nSELECT 2", []string{"CREATE TABLE t (\n  a UInt8\n) ENGINE = Memory", "SELECT 2"}},
		{"whole-line comments dropped, even ending in ;", "-- header;\nSELECT 1 -- inline stays\n;\n  -- indented;\n", []string{"SELECT 1 -- inline stays"}},
		{"semicolon inside a line does not split", "SELECT 'a;b', 1;\n", []string{"SELECT 'a;b', 1"}},
		{"only comments", "-- nothing\n\n", nil},
		{"empty statements skipped", ";\n;\nSELECT 1;", []string{"SELECT 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := splitStatements(tc.text); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("splitStatements(%q)\n got %q\nwant %q", tc.text, got, tc.want)
			}
		})
	}
}

func TestVersionAtLeast(t *testing.T) {
	for _, tc := range []struct {
		have, want string
		ok         bool
	}{
		{"18.16.1", "20.3", false},
		{"20.3", "20.3", true},
		{"20.3.1", "20.3", true},
		{"24.8.4.13", "20.3", true},
		{"19.17.6.36", "19.17.7", false},
		{"25.1.1.1-testing", "25.1", true},
		{"9.1", "18.16", false},
	} {
		if got := versionAtLeast(tc.have, tc.want); got != tc.ok {
			t.Errorf("versionAtLeast(%q, %q) = %v, want %v", tc.have, tc.want, got, tc.ok)
		}
	}
}

func TestAddIndexEmulation(t *testing.T) {
	m := addIndexRE.FindStringSubmatch("ALTER TABLE requests ADD INDEX IF NOT EXISTS idx_user `user` TYPE bloom_filter GRANULARITY 4")
	if m == nil || m[1] != "requests" || m[2] != "idx_user" || m[3] != " `user` TYPE bloom_filter GRANULARITY 4" {
		t.Fatalf("addIndexRE = %q", m)
	}
	if addIndexRE.MatchString("ALTER TABLE requests MATERIALIZE INDEX idx_user") {
		t.Error("addIndexRE matches MATERIALIZE INDEX")
	}

	// As current releases print a table with indexes, on one line.
	const createQuery = "CREATE TABLE db.requests (`request_id` String, `trace_id` String, `user` String, " +
		"INDEX idx_trace_id trace_id TYPE bloom_filter GRANULARITY 4, INDEX `idx_user` `user` TYPE bloom_filter GRANULARITY 4) " +
		"ENGINE = ReplacingMergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (ts, request_id) SETTINGS index_granularity = 8192"
	for name, want := range map[string]bool{
		"idx_trace_id": true,
		"idx_user":     true,
		"`idx_user`":   true,
		"idx_trace":    false, // a prefix of an existing name
		"idx_key_id":   false,
		"request_id":   false, // a column, not an index
	} {
		if got := hasIndex(createQuery, name); got != want {
			t.Errorf("hasIndex(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestLockLiterals(t *testing.T) {
	for _, s := range []string{"plain", "it's", `back\slash`, "vm pid 42"} {
		if got := unquoteString(quoteString(s)); got != s {
			t.Errorf("unquoteString(quoteString(%q)) = %q", s, got)
		}
	}
	if got := sanitize("host-1.example.com's box"); got != "host-1.example.com_s_box" {
		t.Errorf("sanitize = %q", got)
	}
}
