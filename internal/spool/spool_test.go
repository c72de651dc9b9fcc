package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
)

func TestAppendReadAckAcrossSegmentRolls(t *testing.T) {
	dir := t.TempDir()
	s, _ := openSpool(t, testConfig(dir))
	// Calls of one to four records, so rolls also happen inside a call.
	for i := 0; i < 500; {
		var batch [][]byte
		for n := 0; n <= i%4 && i < 500; n++ {
			batch = append(batch, payload(i))
			i++
		}
		if err := s.Append(batch...); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Records != 500 || st.Appended != 500 || st.Segments < 20 || st.Bytes != dirSegmentBytes(t, dir) {
		t.Fatalf("after appends: %+v (segment files hold %d bytes)", st, dirSegmentBytes(t, dir))
	}

	// Read leaves records in place until Ack.
	first, err := s.Read(7, 1500)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Read(7, 1500)
	if err != nil {
		t.Fatal(err)
	}
	if first.Len() == 0 || first.Len() != again.Len() || string(first.Records()[0]) != string(again.Records()[0]) {
		t.Fatalf("second Read without Ack returned %d records, first %d", again.Len(), first.Len())
	}

	equalRecords(t, drain(t, s, 7, 1500), want(idRange(0, 500)...))
	st = s.Stats()
	if st.Records != 0 || st.Acked != 500 || st.Segments != 1 || st.Corrupt != 0 {
		t.Fatalf("after draining: %+v", st)
	}
	if files := segmentFiles(t, dir); len(files) != 1 || st.Bytes != dirSegmentBytes(t, dir) {
		t.Fatalf("acknowledged segments not deleted: %d files, %d bytes on disk, stats say %d", len(files), dirSegmentBytes(t, dir), st.Bytes)
	}
}

func TestReadLimits(t *testing.T) {
	s, _ := openSpool(t, testConfig(t.TempDir()))
	rec := []byte(strings.Repeat("r", 100))
	for range 10 {
		if err := s.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		maxRecords, maxBytes, want int
	}{
		{3, 1 << 20, 3},
		{100, 250, 2}, // a third would pass maxBytes
		{100, 10, 1},  // at least one record, however large
		{0, 0, 1},     // nonsense limits still make progress
		{100, 1000, 10},
	} {
		b, err := s.Read(tc.maxRecords, tc.maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		if b.Len() != tc.want || b.Bytes() != int64(100*tc.want) {
			t.Errorf("Read(%d, %d) = %d records of %d bytes, want %d", tc.maxRecords, tc.maxBytes, b.Len(), b.Bytes(), tc.want)
		}
	}
}

func TestAckRejectsStaleBatch(t *testing.T) {
	s, _ := openSpool(t, testConfig(t.TempDir()))
	appendRecords(t, s, 0, 5)
	b, err := s.Read(2, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(b); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(b); !errors.Is(err, ErrStaleBatch) {
		t.Fatalf("second Ack of a batch: %v, want ErrStaleBatch", err)
	}
	if err := s.Ack(Batch{}); err != nil {
		t.Fatalf("Ack of an empty batch: %v", err)
	}
	equalRecords(t, drain(t, s, 10, 1<<20), want(2, 3, 4))
}

func TestReopenResumesAtAcknowledgedPosition(t *testing.T) {
	for _, policy := range []string{config.FsyncAlways, config.FsyncInterval, config.FsyncNever} {
		t.Run(policy, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			cfg.Fsync = policy
			s, _ := openSpool(t, cfg)
			appendRecords(t, s, 0, 200)
			for acked := 0; acked < 80; {
				b, err := s.Read(10, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Ack(b); err != nil {
					t.Fatal(err)
				}
				acked += b.Len()
			}
			closeSpool(t, s)

			s, _ = openSpool(t, cfg)
			if st := s.Stats(); st.Records != 120 || st.Corrupt != 0 {
				t.Fatalf("reopened: %+v, want 120 pending", st)
			}
			appendRecords(t, s, 200, 230)
			equalRecords(t, drain(t, s, 13, 4000), want(idRange(80, 230)...))
			closeSpool(t, s)

			s, _ = openSpool(t, cfg)
			if got := drain(t, s, 10, 1<<20); len(got) != 0 {
				t.Fatalf("reopened after draining: %d records came back", len(got))
			}
		})
	}
}

// TestCrashImage opens a copy of a spool directory taken while the spool
// is open and never closed: what a machine would find after a crash, had
// everything written reached the disk.
func TestCrashImage(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Fsync = config.FsyncAlways
	s, _ := openSpool(t, cfg)
	appendRecords(t, s, 0, 100)
	for acked := 0; acked < 30; {
		b, err := s.Read(10, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(b); err != nil {
			t.Fatal(err)
		}
		acked += b.Len()
	}
	image := t.TempDir()
	copyDir(t, cfg.Dir, image)

	cfg2 := cfg
	cfg2.Dir = image
	crashed, _ := openSpool(t, cfg2)
	equalRecords(t, drain(t, crashed, 10, 1<<20), want(idRange(30, 100)...))
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == lockFile {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFullAllOrNothingAndReclaim(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MaxBytes, cfg.SegmentBytes = 8<<10, 2<<10
	s, _ := openSpool(t, cfg)
	rec := []byte(strings.Repeat("f", 200))

	appended := 0
	for {
		before := s.Stats()
		err := s.Append(rec, rec, rec, rec, rec)
		if errors.Is(err, ErrFull) {
			if after := s.Stats(); after.Records != before.Records || after.Bytes != before.Bytes || after.Full != before.Full+1 {
				t.Fatalf("a refused Append changed the spool: before %+v, after %+v", before, after)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		appended += 5
	}
	// Single records may still fit where five did not.
	for s.Append(rec) == nil {
		appended++
	}
	st := s.Stats()
	if st.Bytes > cfg.MaxBytes || st.Bytes != dirSegmentBytes(t, dir) || st.Records != int64(appended) {
		t.Fatalf("at the cap: %+v, %d bytes on disk, %d appended, cap %d", st, dirSegmentBytes(t, dir), appended, cfg.MaxBytes)
	}
	if err := s.Append(make([]byte, cfg.MaxBytes)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append of a record larger than the cap: %v, want ErrTooLarge", err)
	}

	if got := drain(t, s, 10, 1<<20); len(got) != appended {
		t.Fatalf("drained %d records, appended %d", len(got), appended)
	}
	if st := s.Stats(); st.Bytes > cfg.SegmentBytes || st.Bytes != dirSegmentBytes(t, dir) {
		t.Fatalf("space not reclaimed after Ack: %+v", st)
	}
	if err := s.Append(rec, rec, rec, rec, rec); err != nil {
		t.Fatalf("Append after reclaiming: %v", err)
	}
}

// TestFullWithOneSegmentCap checks the spool cannot wedge when its cap
// equals its segment size: the only segment is full and fully
// acknowledged, so nothing would ever roll it.
func TestFullWithOneSegmentCap(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MaxBytes, cfg.SegmentBytes = 4<<10, 4<<10
	s, _ := openSpool(t, cfg)
	rec := []byte(strings.Repeat("o", 500))
	for round := range 3 {
		n := 0
		for s.Append(rec) == nil {
			n++
		}
		if n == 0 {
			t.Fatalf("round %d: the spool is wedged full: %+v", round, s.Stats())
		}
		if got := drain(t, s, 100, 1<<20); len(got) != n {
			t.Fatalf("round %d: drained %d of %d", round, len(got), n)
		}
	}
	closeSpool(t, s)
	s, _ = openSpool(t, cfg)
	if got := drain(t, s, 100, 1<<20); len(got) != 0 {
		t.Fatalf("%d acknowledged records came back after reopening", len(got))
	}
}

func TestConcurrentAppendersAndReader(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Fsync = config.FsyncInterval
	cfg.FsyncInterval = time.Millisecond
	cfg.SegmentBytes = 8 << 10
	cfg.MaxBytes = 64 << 20
	s, _ := openSpool(t, cfg)

	const writers, perWriter = 8, 300
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; {
				batch := [][]byte{fmt.Appendf(nil, "%d-%d", w, i)}
				if i%5 == 0 && i+1 < perWriter {
					i++
					batch = append(batch, fmt.Appendf(nil, "%d-%d", w, i))
				}
				i++
				if err := s.Append(batch...); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}

	next := make([]int, writers) // the next record expected from each writer
	seen := 0
	deadline := time.After(30 * time.Second)
	for seen < writers*perWriter {
		b, err := s.Read(50, 64<<10)
		if err != nil {
			t.Fatal(err)
		}
		if b.Len() == 0 {
			select {
			case <-s.Wait():
			case <-deadline:
				t.Fatalf("reader starved after %d records: %+v", seen, s.Stats())
			}
			continue
		}
		for _, r := range b.Records() {
			w, i, _ := strings.Cut(string(r), "-")
			wi, _ := strconv.Atoi(w)
			ii, _ := strconv.Atoi(i)
			if ii != next[wi] {
				t.Fatalf("writer %d: got record %d, want %d", wi, ii, next[wi])
			}
			next[wi]++
			seen++
		}
		if err := s.Ack(b); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if st := s.Stats(); st.Records != 0 || st.Appended != writers*perWriter || st.Acked != writers*perWriter {
		t.Fatalf("after the run: %+v", st)
	}
}

func TestLockRefusesSecondOpen(t *testing.T) {
	cfg := testConfig(t.TempDir())
	s, _ := openSpool(t, cfg)
	if s2, err := Open(cfg, nil); !errors.Is(err, ErrLocked) {
		if s2 != nil {
			s2.Close()
		}
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	closeSpool(t, s)
	s, err := Open(cfg, nil)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	closeSpool(t, s)
}

func TestAppendRefusals(t *testing.T) {
	s, _ := openSpool(t, testConfig(t.TempDir()))
	if err := s.Append([]byte("ok"), nil); !errors.Is(err, ErrEmptyRecord) {
		t.Errorf("Append of an empty record: %v", err)
	}
	if err := s.Append(make([]byte, MaxRecordBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append above MaxRecordBytes: %v", err)
	}
	if st := s.Stats(); st.Records != 0 {
		t.Errorf("refused Appends wrote records: %+v", st)
	}
	appendRecords(t, s, 0, 3)
	b, err := s.Read(10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	closeSpool(t, s)
	closeSpool(t, s) // idempotent
	if err := s.Append(payload(9)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if _, err := s.Read(1, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if err := s.Ack(b); !errors.Is(err, ErrClosed) {
		t.Errorf("Ack after Close: %v", err)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	_, err := Open(config.Spool{Fsync: "sometimes"}, nil)
	for _, want := range []string{"dir is empty", "max_bytes", "segment_bytes", `unknown fsync policy "sometimes"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open with a bad config: %v, want it to mention %q", err, want)
		}
	}
}

func TestWaitSignalsAppend(t *testing.T) {
	s, _ := openSpool(t, testConfig(t.TempDir()))
	select {
	case <-s.Wait():
		t.Fatal("Wait fired before any Append")
	default:
	}
	appendRecords(t, s, 0, 1)
	select {
	case <-s.Wait():
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not fire after Append")
	}
	closeSpool(t, s)
	if _, ok := <-s.Wait(); ok {
		t.Fatal("Wait's channel still open after Close")
	}
}

func TestDamagedPositionReplaysFromOldest(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.SegmentBytes = 1 << 20
	s, logs := openSpool(t, cfg)
	appendRecords(t, s, 0, 20)
	b, err := s.Read(10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(b); err != nil {
		t.Fatal(err)
	}
	closeSpool(t, s)
	if err := os.WriteFile(filepath.Join(cfg.Dir, positionFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, logs = openSpool(t, cfg)
	// Duplicates, never losses.
	equalRecords(t, drain(t, s, 7, 1<<20), want(idRange(0, 20)...))
	if !strings.Contains(logs.String(), "position file unreadable") {
		t.Errorf("damaged position not logged:\n%s", logs)
	}
}

// TestFailedAppendRollsBack makes the roll in the middle of an Append fail
// (the next segment's name is taken) and checks that nothing of the call
// stays: the frames already written to the current segment are truncated
// away, and the spool goes on once the obstacle is gone.
func TestFailedAppendRollsBack(t *testing.T) {
	dir := t.TempDir()
	s, _ := openSpool(t, testConfig(dir))
	appendRecords(t, s, 0, 3)
	before := s.Stats()
	sizeBefore := dirSegmentBytes(t, dir)
	blocker := filepath.Join(dir, segmentName(2))
	if err := os.Mkdir(blocker, 0o700); err != nil {
		t.Fatal(err)
	}
	var batch [][]byte
	for i := 3; i < 40; i++ { // more than a segment holds
		batch = append(batch, payload(i))
	}
	if err := s.Append(batch...); err == nil {
		t.Fatal("Append succeeded although its roll could not create a segment")
	}
	if after := s.Stats(); after != before || dirSegmentBytes(t, dir) != sizeBefore {
		t.Fatalf("a failed Append left traces: before %+v (%d bytes), after %+v (%d bytes)",
			before, sizeBefore, after, dirSegmentBytes(t, dir))
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(batch...); err != nil {
		t.Fatal(err)
	}
	equalRecords(t, drain(t, s, 10, 1<<20), want(idRange(0, 40)...))
}
