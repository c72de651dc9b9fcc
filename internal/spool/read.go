package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
)

// Batch is a run of consecutive records returned by Read, to be passed to
// Ack once they are delivered. Its records are the caller's: the spool
// never reuses their memory.
type Batch struct {
	records    [][]byte
	bytes      int64
	start, end position
	owner      *Spool
}

// Records returns the payloads in append order.
func (b Batch) Records() [][]byte { return b.records }

// Len is the number of records.
func (b Batch) Len() int { return len(b.records) }

// Bytes is the payload bytes of all records.
func (b Batch) Bytes() int64 { return b.bytes }

// readSlabMax bounds one read(2) of Read: a batch larger than this takes
// several.
const readSlabMax = 8 << 20

// segView is a segment as Read saw it under the lock.
type segView struct {
	seg *segment
	end int64 // the segment's end when Read began; appends may follow
}

// Read returns the oldest unacknowledged records in append order: at most
// maxRecords records and maxBytes payload bytes, but always at least one
// record when any is pending, however large. It leaves them in place: calling
// Read again without Ack returns them again. An empty spool gives an empty
// batch and a nil error. Records in a corrupt region are skipped, counted
// and logged. Read and Ack are for one goroutine at a time; they may run
// while appends continue.
func (s *Spool) Read(maxRecords, maxBytes int) (Batch, error) {
	maxRecords = max(maxRecords, 1)
	s.readMu.Lock()
	defer s.readMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Batch{}, ErrClosed
	}
	start := s.ackPos
	var views []segView
	for _, seg := range s.segs {
		if seg.seq >= start.seq {
			views = append(views, segView{seg: seg, end: seg.end})
		}
	}
	s.mu.Unlock()

	b := Batch{start: start, end: start, owner: s}
	for _, v := range views {
		off := int64(headerSize)
		if v.seg.seq == start.seq {
			off = start.off
		}
		off, full, err := s.readSegment(&b, v, off, maxRecords, int64(maxBytes))
		if err != nil {
			return Batch{}, fmt.Errorf("spool: read %s: %w", segmentName(v.seg.seq), err)
		}
		b.end = position{v.seg.seq, off}
		if full {
			break
		}
	}
	s.dropReaderIfGone()
	return b, nil
}

// readSegment appends the frames of one segment from off to b until the
// segment's end or the batch's limits, and returns where it stopped and
// whether the limits stopped it. It reads the segment in slabs sized to
// what the batch may still take, so a batch costs a read(2) or two and one
// allocation per slab; the records are slices of the slabs.
func (s *Spool) readSegment(b *Batch, v segView, off int64, maxRecords int, maxBytes int64) (int64, bool, error) {
	if off >= v.end {
		return off, false, nil
	}
	f, err := s.readerFor(v.seg.seq)
	if err != nil {
		return off, false, err
	}
	var slab []byte
	var slabBase int64
	covers := func(at, n int64) bool {
		return at >= slabBase && at+n <= slabBase+int64(len(slab))
	}
	fill := func(at, need int64) error {
		// What the batch may still take: payload bytes plus a frame
		// header per record; never less than the frame being read.
		room := int64(math.MaxInt64)
		if records := int64(maxRecords - len(b.records)); records < math.MaxInt64/(2*frameHeaderSize) && maxBytes-b.bytes < math.MaxInt64/2 {
			room = (maxBytes - b.bytes) + records*frameHeaderSize
		}
		slab = make([]byte, max(min(v.end-at, room, readSlabMax), need))
		slabBase = at
		n, err := f.ReadAt(slab, at)
		if n == len(slab) {
			return nil
		}
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	for off < v.end {
		if sk, ok := skipAt(v.seg.skips, off); ok {
			off = sk.to
			continue
		}
		if len(b.records) >= maxRecords || (len(b.records) > 0 && b.bytes >= maxBytes) {
			return off, true, nil
		}
		if v.end-off < frameHeaderSize {
			off = s.skipReadCorrupt(f, v, off, 0)
			continue
		}
		if !covers(off, frameHeaderSize) {
			if err := fill(off, frameHeaderSize); err != nil {
				return off, false, err
			}
		}
		h := slab[off-slabBase:]
		length := int64(binary.LittleEndian.Uint32(h))
		want := binary.LittleEndian.Uint32(h[4:])
		if !plausibleLength(length, off, v.end) {
			off = s.skipReadCorrupt(f, v, off, length)
			continue
		}
		if len(b.records) > 0 && b.bytes+length > maxBytes {
			return off, true, nil
		}
		frameEnd := off + frameHeaderSize + length
		if !covers(off, frameEnd-off) {
			if err := fill(off, frameEnd-off); err != nil {
				return off, false, err
			}
		}
		p := slab[off+frameHeaderSize-slabBase : frameEnd-slabBase : frameEnd-slabBase]
		if checksum(p) != want {
			off = s.skipReadCorrupt(f, v, off, length)
			continue
		}
		b.records = append(b.records, p)
		b.bytes += length
		off = frameEnd
	}
	return off, false, nil
}

// skipAt returns the corrupt region containing off, if any.
func skipAt(skips []span, off int64) (span, bool) {
	i, found := slices.BinarySearchFunc(skips, off, func(sk span, off int64) int {
		switch {
		case sk.to <= off:
			return -1
		case sk.from > off:
			return 1
		}
		return 0
	})
	if !found {
		return span{}, false
	}
	return skips[i], true
}

// skipReadCorrupt handles a bad frame found by Read — bytes that changed
// on disk since they were written or scanned: it finds where valid frames
// resume, records the region so it is skipped (and counted) once, and
// returns the offset to go on from.
func (s *Spool) skipReadCorrupt(f *os.File, v segView, off, length int64) int64 {
	next, found, _, err := skipCorrupt(f, off, length, v.end)
	if err != nil || !found {
		next = v.end
	}
	sk := span{off, next}
	i, _ := slices.BinarySearchFunc(v.seg.skips, off, func(sk span, off int64) int {
		return int(sk.from - off)
	})
	v.seg.skips = slices.Insert(v.seg.skips, i, sk)
	s.mu.Lock()
	s.corrupt++
	s.pending = max(s.pending-1, 0)
	s.mu.Unlock()
	s.log.Error("spool: corrupt record skipped on read", "segment", segmentName(v.seg.seq),
		"offset", off, "bytes", next-off, "err", err)
	return next
}

// readerFor returns a read handle of segment seq, reusing the last one.
func (s *Spool) readerFor(seq uint64) (*os.File, error) {
	if s.reader != nil && s.readerSeq == seq {
		return s.reader, nil
	}
	if s.reader != nil {
		s.reader.Close()
		s.reader = nil
	}
	f, err := os.Open(s.path(seq))
	if err != nil {
		return nil, err
	}
	s.reader, s.readerSeq = f, seq
	return f, nil
}

// dropReaderIfGone closes the read handle of a segment no longer in the
// spool, so a deleted segment's space is not held by an open file.
func (s *Spool) dropReaderIfGone() {
	if s.reader == nil {
		return
	}
	s.mu.Lock()
	gone := s.segs[0].seq > s.readerSeq
	s.mu.Unlock()
	if gone {
		s.reader.Close()
		s.reader = nil
	}
}

// Ack records that b's records are delivered: the read position moves past
// them durably (under the "interval" and "always" policies) and segments
// left fully acknowledged are deleted. b must be the batch last returned by
// Read, not yet acknowledged (ErrStaleBatch otherwise). Acking an empty
// batch does nothing.
func (s *Spool) Ack(b Batch) error {
	if len(b.records) == 0 {
		return nil
	}
	if b.owner != s {
		return errors.New("spool: batch read from another spool")
	}
	s.readMu.Lock()
	defer s.readMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.ackPos != b.start {
		s.mu.Unlock()
		return ErrStaleBatch
	}
	next := s.advanceLocked(b.end)
	s.mu.Unlock()

	// Only appends run meanwhile, and they cannot move ackPos: it is not at
	// the end of the last segment, since b holds records after it.
	if err := writePosition(s.dir, next, s.durable()); err != nil {
		return fmt.Errorf("spool: ack: writing position: %w", err)
	}

	s.mu.Lock()
	s.ackPos = next
	n := int64(len(b.records))
	s.acked += n
	s.pending = max(s.pending-n, 0)
	if last := s.segs[len(s.segs)-1]; next == (position{last.seq, last.end}) {
		s.pending = 0 // resynchronise after read-time corruption
	}
	dropped := s.dropAckedLocked(next)
	s.mu.Unlock()

	for _, seg := range dropped {
		if s.reader != nil && s.readerSeq == seg.seq {
			s.reader.Close()
			s.reader = nil
		}
		if err := os.Remove(s.path(seg.seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Error("spool: removing acknowledged segment", "segment", segmentName(seg.seq), "err", err)
		}
	}
	return nil
}
