package spool

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
)

// oneSegment writes records 0..n-1 into a single closed segment and
// returns its path and each frame's offset (plus the end, at index n).
func oneSegment(t *testing.T, cfg config.Spool, n int) (string, []int64) {
	t.Helper()
	s, _ := openSpool(t, cfg)
	appendRecords(t, s, 0, n)
	closeSpool(t, s)
	files := segmentFiles(t, cfg.Dir)
	if len(files) != 1 {
		t.Fatalf("%d segments, want 1", len(files))
	}
	offsets := []int64{headerSize}
	for i := range n {
		offsets = append(offsets, offsets[i]+frameHeaderSize+int64(len(payload(i))))
	}
	return files[0], offsets
}

func bigSegments(dir string) config.Spool {
	cfg := testConfig(dir)
	cfg.SegmentBytes = 1 << 20
	return cfg
}

func mutateFile(t *testing.T, path string, mutate func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, mutate(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTornTailTruncated(t *testing.T) {
	const n = 20
	for _, tc := range []struct {
		name   string
		mutate func(data []byte, offsets []int64) []byte
		kept   int // records that survive
	}{
		{"partial frame header", func(d []byte, _ []int64) []byte { return append(d, 0x10, 0, 0) }, n},
		{"partial payload", func(d []byte, _ []int64) []byte { return d[:len(d)-5] }, n - 1},
		{"header only of the last frame", func(d []byte, o []int64) []byte { return d[:o[n-1]+frameHeaderSize] }, n - 1},
		{"checksum mismatch at the end", func(d []byte, _ []int64) []byte { d[len(d)-1] ^= 0xff; return d }, n - 1},
		{"zero-filled tail", func(d []byte, _ []int64) []byte { return append(d, make([]byte, 4096)...) }, n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := bigSegments(t.TempDir())
			path, offsets := oneSegment(t, cfg, n)
			mutateFile(t, path, func(d []byte) []byte { return tc.mutate(d, offsets) })

			s, logs := openSpool(t, cfg)
			if st := s.Stats(); st.Corrupt != 0 || st.Records != int64(tc.kept) {
				t.Fatalf("after recovery: %+v, want %d records and nothing corrupt", st, tc.kept)
			}
			if !strings.Contains(logs.String(), "torn tail truncated") {
				t.Errorf("truncation not logged:\n%s", logs)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != offsets[tc.kept] {
				t.Fatalf("segment is %d bytes after recovery, want %d (%v)", fi.Size(), offsets[tc.kept], err)
			}
			// Appends continue right after the last good record.
			if err := s.Append(payload(100)); err != nil {
				t.Fatal(err)
			}
			equalRecords(t, drain(t, s, 6, 1<<20), want(append(idRange(0, tc.kept), 100)...))
		})
	}
}

func TestMidSegmentCorruptionSkipped(t *testing.T) {
	const n, bad = 20, 7
	setLength := func(v uint32) func([]byte, []int64) {
		return func(d []byte, o []int64) { binary.LittleEndian.PutUint32(d[o[bad]:], v) }
	}
	for _, tc := range []struct {
		name   string
		mutate func(data []byte, offsets []int64)
	}{
		{"flipped payload byte", func(d []byte, o []int64) { d[o[bad]+frameHeaderSize+3] ^= 0x01 }},
		{"flipped checksum byte", func(d []byte, o []int64) { d[o[bad]+5] ^= 0x80 }},
		{"length beyond the file", setLength(0xfffffff0)},
		{"length above the maximum", setLength(MaxRecordBytes + 1)},
		{"length zero", setLength(0)},
		{"length a little long", func(d []byte, o []int64) {
			binary.LittleEndian.PutUint32(d[o[bad]:], uint32(o[bad+1]-o[bad]-frameHeaderSize+3))
		}},
		{"length a little short", func(d []byte, o []int64) {
			binary.LittleEndian.PutUint32(d[o[bad]:], uint32(o[bad+1]-o[bad]-frameHeaderSize-3))
		}},
		{"sector of garbage", func(d []byte, o []int64) {
			for i := o[bad] + 2; i < o[bad+1]-2; i++ {
				d[i] = byte(i*131 + 7)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := bigSegments(t.TempDir())
			path, offsets := oneSegment(t, cfg, n)
			mutateFile(t, path, func(d []byte) []byte { tc.mutate(d, offsets); return d })

			s, logs := openSpool(t, cfg)
			if st := s.Stats(); st.Corrupt != 1 || st.Records != n-1 {
				t.Fatalf("after recovery: %+v, want 1 corrupt region and %d records", st, n-1)
			}
			if !strings.Contains(logs.String(), "level=ERROR msg=\"spool: corrupt record skipped\"") {
				t.Errorf("corruption not logged as an error:\n%s", logs)
			}
			ids := append(idRange(0, bad), idRange(bad+1, n)...)
			equalRecords(t, drain(t, s, 4, 1<<20), want(ids...))
			if st := s.Stats(); st.Records != 0 || st.Corrupt != 1 {
				t.Fatalf("after draining: %+v", st)
			}
		})
	}
}

// TestCorruptEndOfClosedSegment: a bad last frame of a segment that is not
// the newest is corruption, not a torn write — closed segments were
// complete — so it is counted, and the next segment is read on.
func TestCorruptEndOfClosedSegment(t *testing.T) {
	cfg := testConfig(t.TempDir())
	s, _ := openSpool(t, cfg)
	appendRecords(t, s, 0, 40)
	closeSpool(t, s)
	files := segmentFiles(t, cfg.Dir)
	if len(files) < 3 {
		t.Fatalf("%d segments, want at least 3", len(files))
	}
	var lost string
	mutateFile(t, files[0], func(d []byte) []byte {
		// Find the last frame, remember it, and damage its last byte.
		off := int64(headerSize)
		for {
			next := off + frameHeaderSize + int64(binary.LittleEndian.Uint32(d[off:]))
			if next == int64(len(d)) {
				lost = string(d[off+frameHeaderSize:])
				break
			}
			off = next
		}
		d[len(d)-1] ^= 0xff
		return d
	})
	s, _ = openSpool(t, cfg)
	if st := s.Stats(); st.Corrupt != 1 || st.Records != 39 {
		t.Fatalf("after recovery: %+v", st)
	}
	var wantRecords []string
	for _, r := range want(idRange(0, 40)...) {
		if r != lost {
			wantRecords = append(wantRecords, r)
		}
	}
	equalRecords(t, drain(t, s, 5, 1<<20), wantRecords)
}

func TestCorruptionFoundByRead(t *testing.T) {
	cfg := bigSegments(t.TempDir())
	s, logs := openSpool(t, cfg)
	appendRecords(t, s, 0, 10)
	files := segmentFiles(t, cfg.Dir)
	f, err := os.OpenFile(files[0], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Damage record 4's payload behind the open spool's back.
	off := int64(headerSize)
	for i := range 4 {
		off += frameHeaderSize + int64(len(payload(i)))
	}
	if _, err := f.WriteAt([]byte("#"), off+frameHeaderSize+2); err != nil {
		t.Fatal(err)
	}
	f.Close()

	equalRecords(t, drain(t, s, 3, 1<<20), want(0, 1, 2, 3, 5, 6, 7, 8, 9))
	if st := s.Stats(); st.Corrupt != 1 || st.Records != 0 {
		t.Fatalf("after draining: %+v", st)
	}
	if !strings.Contains(logs.String(), "corrupt record skipped on read") {
		t.Errorf("corruption not logged:\n%s", logs)
	}
}

func TestForeignFiles(t *testing.T) {
	t.Run("unknown names are ignored", func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		for _, name := range []string{"notes.txt", segmentName(1) + ".bak", "1.seg"} {
			if err := os.WriteFile(filepath.Join(cfg.Dir, name), []byte("not mine"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Mkdir(filepath.Join(cfg.Dir, segmentName(2)), 0o700); err != nil {
			t.Fatal(err)
		}
		s, logs := openSpool(t, cfg)
		appendRecords(t, s, 0, 3)
		equalRecords(t, drain(t, s, 10, 1<<20), want(0, 1, 2))
		if data, err := os.ReadFile(filepath.Join(cfg.Dir, "notes.txt")); err != nil || string(data) != "not mine" {
			t.Errorf("an unknown file was touched: %q, %v", data, err)
		}
		if !strings.Contains(logs.String(), "ignoring unknown file") {
			t.Errorf("unknown files not logged:\n%s", logs)
		}
	})
	for _, tc := range []struct{ name, content string }{
		{"bad magic", "this is not a spool segment, it is a text file"},
		{"newer version", "SWYSPOOL\x02\x00\x00\x00\x00\x00\x00\x00"},
		{"short and foreign", "hello"},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			path := filepath.Join(cfg.Dir, segmentName(1))
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(cfg, nil)
			if !errors.Is(err, ErrForeignSegment) || !strings.Contains(err.Error(), path) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("Open: %v, want ErrForeignSegment naming %s", err, path)
			}
			if data, _ := os.ReadFile(path); string(data) != tc.content {
				t.Fatal("the foreign file was modified")
			}
			// The lock was released: once the file is moved away, Open works.
			if err := os.Rename(path, path+".moved"); err != nil {
				t.Fatal(err)
			}
			s, _ = openSpool(t, cfg)
			closeSpool(t, s)
		})
	}
	for _, tc := range []struct{ name, content string }{
		{"empty", ""},
		{"partial header", "SWYSP"},
		{"zeros", string(make([]byte, 100))},
	} {
		t.Run(tc.name+" newest segment is removed", func(t *testing.T) {
			cfg := bigSegments(t.TempDir())
			oneSegment(t, cfg, 5)
			torn := filepath.Join(cfg.Dir, segmentName(2))
			if err := os.WriteFile(torn, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, _ := openSpool(t, cfg)
			if _, err := os.Stat(torn); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("interrupted segment not removed: %v", err)
			}
			appendRecords(t, s, 5, 8)
			equalRecords(t, drain(t, s, 10, 1<<20), want(idRange(0, 8)...))
		})
	}
}

// xorshift fills b with pseudo-random bytes: binary garbage in which many
// offsets read as plausible frame lengths.
func xorshift(b []byte) {
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x >> 7)
	}
}

// TestGarbageSegmentRecovers: a valid header followed by megabytes of
// random bytes. Recovery must end, keep nothing, and leave the spool usable.
func TestGarbageSegmentRecovers(t *testing.T) {
	cfg := bigSegments(t.TempDir())
	cfg.MaxBytes = 64 << 20
	data := appendSegmentHeader(nil)
	data = append(data, make([]byte, 4<<20)...)
	xorshift(data[headerSize:])
	if err := os.WriteFile(filepath.Join(cfg.Dir, segmentName(1)), data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := openSpool(t, cfg)
	if st := s.Stats(); st.Records != 0 || st.Bytes != headerSize {
		t.Fatalf("after recovering garbage: %+v", st)
	}
	appendRecords(t, s, 0, 2)
	equalRecords(t, drain(t, s, 100, 1<<20), want(0, 1))
}

// TestResyncAcrossBinaryGarbage: a hole of random bytes, far longer than
// any record, in the middle of a segment. The records after it are found
// again, however many offsets in the hole look like frame lengths.
func TestResyncAcrossBinaryGarbage(t *testing.T) {
	const n = 20000
	cfg := bigSegments(t.TempDir())
	cfg.MaxBytes, cfg.SegmentBytes = 64<<20, 8<<20
	path, offsets := oneSegment(t, cfg, n)
	holeFrom, holeTo := offsets[100]+3, offsets[100]+3+256<<10
	mutateFile(t, path, func(d []byte) []byte { xorshift(d[holeFrom:holeTo]); return d })

	var ids []int
	for i := range n {
		if offsets[i+1] <= holeFrom || offsets[i] >= holeTo {
			ids = append(ids, i)
		}
	}
	s, _ := openSpool(t, cfg)
	if st := s.Stats(); st.Corrupt != 1 || st.Records != int64(len(ids)) {
		t.Fatalf("after recovery: %+v, want 1 corrupt region and %d records", st, len(ids))
	}
	equalRecords(t, drain(t, s, 1000, 1<<20), want(ids...))
}

// TestPositionBeyondSurvivingData: a machine crash kept the position file
// of an Ack but not the tail of the segment it acknowledged. Records
// appended after recovery must not count as acknowledged when the next
// crash comes before any Ack.
func TestPositionBeyondSurvivingData(t *testing.T) {
	const n = 10
	cfg := bigSegments(t.TempDir())
	s, _ := openSpool(t, cfg)
	appendRecords(t, s, 0, n)
	equalRecords(t, drain(t, s, 100, 1<<20), want(idRange(0, n)...))
	closeSpool(t, s)
	path := segmentFiles(t, cfg.Dir)[0]
	mutateFile(t, path, func(d []byte) []byte { return d[:len(d)/2] }) // the lost tail

	s, _ = openSpool(t, cfg)
	appendRecords(t, s, 100, 103)
	image := t.TempDir() // the next crash, before any Ack
	copyDir(t, cfg.Dir, image)
	closeSpool(t, s)

	cfg.Dir = image
	s, _ = openSpool(t, cfg)
	equalRecords(t, drain(t, s, 100, 1<<20), want(100, 101, 102))
}
