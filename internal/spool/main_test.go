package spool

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/config"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashHelperEnv); dir != "" {
		os.Exit(runCrashHelper(dir))
	}
	goleak.VerifyTestMain(m)
}

// testConfig is a small spool that rolls often. Tests that do not test
// durability use "never" so they do not wait for the disk.
func testConfig(dir string) config.Spool {
	return config.Spool{
		Dir:           dir,
		MaxBytes:      1 << 20,
		SegmentBytes:  2 << 10,
		Fsync:         config.FsyncNever,
		FsyncInterval: 5 * time.Millisecond,
	}
}

// logRecorder keeps what the spool logs so tests can check that recovery
// said what it did.
type logRecorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logRecorder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logRecorder) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func openSpool(t testing.TB, cfg config.Spool) (*Spool, *logRecorder) {
	t.Helper()
	logs := &logRecorder{}
	s, err := Open(cfg, logs.logger())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, logs
}

func closeSpool(t testing.TB, s *Spool) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// payload is record i: JSON-like, of varied length.
func payload(i int) []byte {
	return fmt.Appendf(nil, `{"id":%d,"pad":"%s"}`, i, strings.Repeat("x", i*37%300))
}

func appendRecords(t testing.TB, s *Spool, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := s.Append(payload(i)); err != nil {
			t.Fatalf("Append(%d): %v", i, err)
		}
	}
}

// drain reads and acknowledges everything pending.
func drain(t testing.TB, s *Spool, maxRecords, maxBytes int) []string {
	t.Helper()
	var got []string
	for {
		b, err := s.Read(maxRecords, maxBytes)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if b.Len() == 0 {
			return got
		}
		for _, r := range b.Records() {
			got = append(got, string(r))
		}
		if err := s.Ack(b); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
}

// want is the payloads of records ids, as drain returns them.
func want(ids ...int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(payload(id))
	}
	return out
}

func idRange(from, to int) []int {
	var ids []int
	for i := from; i < to; i++ {
		ids = append(ids, i)
	}
	return ids
}

func equalRecords(t testing.TB, got, wantRecords []string) {
	t.Helper()
	if len(got) != len(wantRecords) {
		t.Fatalf("got %d records, want %d\nfirst got: %.60q", len(got), len(wantRecords), got)
	}
	for i := range got {
		if got[i] != wantRecords[i] {
			t.Fatalf("record %d = %.60q, want %.60q", i, got[i], wantRecords[i])
		}
	}
}

func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"+segmentExt))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func dirSegmentBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	for _, name := range segmentFiles(t, dir) {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}
