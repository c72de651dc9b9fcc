package spool

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard/switchyard/config"
)

// FuzzRecover checks the invariant: whatever bytes a segment file holds,
// Open either refuses it (only when its header is not a spool header) or
// recovers a spool that Read drains in a bounded number of calls, returning
// only records that are in the file with a valid checksum, and that then
// takes and returns new records; nothing panics or hangs. With header set,
// the input follows a valid segment header, so the fuzzer exercises frame
// recovery rather than header rejection.
func FuzzRecover(f *testing.F) {
	var valid []byte
	for i := range 5 {
		valid = appendFrame(valid, payload(i))
	}
	f.Add(true, valid)
	f.Add(true, valid[:len(valid)-3])
	flipped := bytes.Clone(valid)
	flipped[30] ^= 1
	f.Add(true, flipped)
	badLength := bytes.Clone(valid)
	binary.LittleEndian.PutUint32(badLength, 0xffffffff)
	f.Add(true, badLength)
	f.Add(true, []byte{})
	f.Add(true, make([]byte, 64))
	f.Add(false, append(appendSegmentHeader(nil), valid...))
	f.Add(false, []byte("SWYSP"))
	f.Add(false, []byte("not a segment at all, just text"))

	f.Fuzz(func(t *testing.T, header bool, data []byte) {
		dir := t.TempDir()
		content := data
		if header {
			content = append(appendSegmentHeader(nil), data...)
		}
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), content, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := config.Spool{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: 1 << 20, Fsync: config.FsyncNever}
		s, err := Open(cfg, nil)
		if err != nil {
			if header {
				t.Fatalf("Open refused a segment with a valid header: %v", err)
			}
			return
		}
		defer s.Close()
		limit := len(content)/(frameHeaderSize+1) + 2
		for calls := 0; ; calls++ {
			if calls > limit {
				t.Fatalf("Read still returns records after %d calls", calls)
			}
			b, err := s.Read(3, 1<<10)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if b.Len() == 0 {
				break
			}
			for _, r := range b.Records() {
				if len(r) == 0 || !bytes.Contains(content, r) {
					t.Fatalf("Read returned %d bytes that are not a record of the file", len(r))
				}
			}
			if err := s.Ack(b); err != nil {
				t.Fatalf("Ack: %v", err)
			}
		}
		if st := s.Stats(); st.Records != 0 {
			t.Fatalf("drained, yet %d records pending", st.Records)
		}
		if err := s.Append([]byte("after recovery")); err != nil {
			t.Fatalf("Append after recovery: %v", err)
		}
		b, err := s.Read(10, 1<<20)
		if err != nil || b.Len() != 1 || string(b.Records()[0]) != "after recovery" {
			t.Fatalf("Read after recovery: %d records, %v", b.Len(), err)
		}
		if err := s.Ack(b); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = Open(cfg, nil)
		if err != nil {
			t.Fatalf("reopening a recovered spool: %v", err)
		}
		defer s.Close()
		if b, err := s.Read(10, 1<<20); err != nil || b.Len() != 0 {
			t.Fatalf("reopened: %d records came back, %v", b.Len(), err)
		}
	})
}
