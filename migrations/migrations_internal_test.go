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
