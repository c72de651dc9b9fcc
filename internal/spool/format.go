package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MaxRecordBytes is the largest payload a frame may hold. A length field
// above it is corruption, which keeps a damaged length from making recovery
// allocate or read gigabytes.
const MaxRecordBytes = 64 << 20

const (
	segmentMagic    = "SWYSPOOL"
	segmentVersion  = 1
	headerSize      = 16 // magic, version, flags
	frameHeaderSize = 8  // length, CRC-32C

	positionMagic   = "SWYP"
	positionVersion = 1
	positionSize    = 28

	positionFile = "position"
	lockFile     = "LOCK"
	segmentExt   = ".seg"
	seqDigits    = 20 // enough for any uint64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

func segmentName(seq uint64) string {
	return fmt.Sprintf("%0*d%s", seqDigits, seq, segmentExt)
}

// parseSegmentName returns the sequence number of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segmentExt)
	if !ok || len(digits) != seqDigits || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	return seq, err == nil
}

func appendSegmentHeader(b []byte) []byte {
	b = append(b, segmentMagic...)
	b = binary.LittleEndian.AppendUint32(b, segmentVersion)
	return binary.LittleEndian.AppendUint32(b, 0)
}

// checkSegmentHeader reports whether h (headerSize bytes) starts a segment
// this build can read.
func checkSegmentHeader(h []byte) error {
	if string(h[:len(segmentMagic)]) != segmentMagic {
		return fmt.Errorf("%w: bad magic %q", ErrForeignSegment, h[:len(segmentMagic)])
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != segmentVersion {
		return fmt.Errorf("%w: format version %d, this build reads version %d", ErrForeignSegment, v, segmentVersion)
	}
	return nil
}

func appendFrame(b, payload []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, checksum(payload))
	return append(b, payload...)
}

// plausibleLength reports whether a frame's length field can be genuine
// for a frame starting at off in a segment readable up to end.
func plausibleLength(n, off, end int64) bool {
	return n > 0 && n <= MaxRecordBytes && off+frameHeaderSize+n <= end
}

// position is where reading resumes: a segment and a byte offset in it,
// always at a frame boundary or at the end of the segment's records.
type position struct {
	seq uint64
	off int64
}

func encodePosition(p position) []byte {
	b := make([]byte, 0, positionSize)
	b = append(b, positionMagic...)
	b = binary.LittleEndian.AppendUint32(b, positionVersion)
	b = binary.LittleEndian.AppendUint64(b, p.seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(p.off))
	return binary.LittleEndian.AppendUint32(b, checksum(b))
}

var errBadPosition = errors.New("spool: position file damaged")

func decodePosition(b []byte) (position, error) {
	if len(b) != positionSize || !bytes.HasPrefix(b, []byte(positionMagic)) ||
		binary.LittleEndian.Uint32(b[4:]) != positionVersion ||
		binary.LittleEndian.Uint32(b[24:]) != checksum(b[:24]) {
		return position{}, errBadPosition
	}
	off := binary.LittleEndian.Uint64(b[16:])
	if off > 1<<62 {
		return position{}, errBadPosition
	}
	return position{seq: binary.LittleEndian.Uint64(b[8:]), off: int64(off)}, nil
}

// writePosition replaces the position file atomically: a crash leaves
// either the old position or the new one, never a mixture. With durable it
// is also on disk when it returns.
func writePosition(dir string, p position, durable bool) error {
	final := filepath.Join(dir, positionFile)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(encodePosition(p))
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	if durable {
		return syncDir(dir)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
