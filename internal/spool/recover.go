package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// recover rebuilds the spool's state from its directory: the read
// position, the segments after it (checked frame by frame, torn tails
// truncated, corruption skipped and counted) and the segment to append to.
func (s *Spool) recover() error {
	pos := s.loadPosition()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var seqs []uint64
	maxSeq := pos.seq
	for _, e := range entries {
		name := e.Name()
		switch name {
		case lockFile, positionFile:
			continue
		case positionFile + ".tmp": // an Ack interrupted before its rename
			os.Remove(filepath.Join(s.dir, name))
			continue
		}
		seq, ok := parseSegmentName(name)
		if !ok || !e.Type().IsRegular() {
			s.log.Warn("spool: ignoring unknown file", "file", name)
			continue
		}
		seqs = append(seqs, seq)
		maxSeq = max(maxSeq, seq)
	}
	slices.Sort(seqs)

	var live []uint64
	for _, seq := range seqs {
		if seq < pos.seq {
			// Every record in it is acknowledged: an Ack wrote the position
			// past it and was interrupted before deleting it.
			if err := os.Remove(s.path(seq)); err != nil {
				return fmt.Errorf("spool: %w", err)
			}
			continue
		}
		live = append(live, seq)
	}

	var readFrom position
	resolved := false
	for i, seq := range live {
		from := int64(headerSize)
		if seq == pos.seq {
			from = pos.off
		}
		seg, f, readStart, err := s.recoverSegment(seq, from, i == len(live)-1)
		if err != nil {
			return err
		}
		if seg == nil {
			continue
		}
		if !resolved {
			resolved = true
			readFrom = position{seq, headerSize}
			if seq == pos.seq {
				readFrom.off = readStart
			}
		}
		s.segs = append(s.segs, seg)
		s.diskBytes += seg.size
		s.file = f // only the last segment comes with a write handle
	}
	if s.file == nil {
		// No segment, or the last one was removed or has an unreadable
		// tail that must not be appended after: start a fresh one.
		seg, f, err := s.createSegment(maxSeq + 1)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.segs = append(s.segs, seg)
		s.diskBytes += seg.size
		s.file = f
		s.dirty, s.dirDirty = true, true
		if !resolved {
			readFrom = position{seg.seq, headerSize}
		}
	}
	s.ackPos = s.advanceLocked(readFrom)
	if s.ackPos != pos {
		// The position on disk may lie beyond the end of what survived a
		// machine crash; records appended there now must not count as
		// acknowledged after the next crash.
		if err := writePosition(s.dir, s.ackPos, s.durable()); err != nil {
			return fmt.Errorf("spool: writing position: %w", err)
		}
	}
	for _, seg := range s.dropAckedLocked(s.ackPos) {
		if err := os.Remove(s.path(seg.seq)); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	s.log.Info("spool: opened", "records", s.pending, "bytes", s.diskBytes,
		"segments", len(s.segs), "corrupt", s.corrupt)
	return nil
}

func (s *Spool) loadPosition() position {
	b, err := os.ReadFile(filepath.Join(s.dir, positionFile))
	if errors.Is(err, fs.ErrNotExist) {
		return position{}
	}
	if err == nil {
		var p position
		if p, err = decodePosition(b); err == nil {
			return p
		}
	}
	s.log.Error("spool: position file unreadable; replaying from the oldest segment (records may be delivered twice)", "err", err)
	return position{}
}

// recoverSegment checks one segment. from is the read position in it
// (headerSize for segments after the position's): corruption before it is
// in acknowledged records and is not counted. The last segment is opened
// for writing, its torn tail truncated, and returned with its handle if it
// can be appended to. A segment holding only part of a header, or only
// zeros, is a crash during its creation: it is removed and nil returned.
func (s *Spool) recoverSegment(seq uint64, from int64, last bool) (*segment, *os.File, int64, error) {
	name, path := segmentName(seq), s.path(seq)
	flag := os.O_RDONLY
	if last {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("spool: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, 0, fmt.Errorf("spool: %w", err)
	}
	size := fi.Size()
	header := make([]byte, min(size, headerSize))
	if _, err := f.ReadAt(header, 0); err != nil {
		return nil, nil, 0, fmt.Errorf("spool: %s: %w", path, err)
	}
	var headerErr error
	if size < headerSize {
		if !bytes.HasPrefix(appendSegmentHeader(nil), header) {
			headerErr = fmt.Errorf("%w: %d bytes, shorter than a header", ErrForeignSegment, size)
		}
	} else {
		headerErr = checkSegmentHeader(header)
	}
	if size < headerSize || headerErr != nil {
		// A partial header, or a file of zeros (created, then the machine
		// crashed before its data reached the disk), is an interrupted
		// creation. Anything else is not ours to delete.
		if headerErr != nil {
			zero, err := allZero(f, size)
			if err != nil {
				return nil, nil, 0, fmt.Errorf("spool: %s: %w", path, err)
			}
			if !zero {
				return nil, nil, 0, fmt.Errorf("spool: %s: %w (move it out of the spool directory)", path, headerErr)
			}
		}
		s.log.Warn("spool: removing empty segment (interrupted creation)", "segment", name, "bytes", size)
		if err := os.Remove(path); err != nil {
			return nil, nil, 0, fmt.Errorf("spool: %w", err)
		}
		return nil, nil, 0, nil
	}

	res, err := scanSegment(f, size, from)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("spool: reading %s: %w", path, err)
	}
	for _, sk := range res.skips {
		if sk.to > from {
			s.corrupt++
			s.log.Error("spool: corrupt record skipped", "segment", name, "offset", sk.from, "bytes", sk.to-sk.from)
		}
	}
	if tail := size - res.end; tail > 0 {
		switch {
		case !last:
			if size > from {
				s.corrupt++
			}
			s.log.Error("spool: unreadable end of segment skipped", "segment", name, "offset", res.end, "bytes", tail)
		case res.exhausted:
			s.corrupt++
			s.log.Error("spool: unreadable tail truncated", "segment", name, "offset", res.end, "bytes", tail)
		default:
			s.log.Warn("spool: torn tail truncated (interrupted write)", "segment", name, "offset", res.end, "bytes", tail)
		}
		if last {
			if err := f.Truncate(res.end); err != nil {
				return nil, nil, 0, fmt.Errorf("spool: truncating %s: %w", path, err)
			}
			if s.durable() {
				if err := f.Sync(); err != nil {
					return nil, nil, 0, fmt.Errorf("spool: %w", err)
				}
			}
			size = res.end
		}
	}
	s.pending += res.pending
	seg := &segment{seq: seq, end: res.end, size: size, skips: res.skips}
	if !last {
		return seg, nil, res.readStart, nil
	}
	keep = true
	return seg, f, res.readStart, nil
}

// allZero reports whether the first size bytes of f are all zero.
func allZero(f *os.File, size int64) (bool, error) {
	w := newWindow(f, size, 64<<10, nil)
	for off := int64(0); off < size; {
		n := min(size-off, int64(len(w.buf)))
		b, err := w.at(off, int(n))
		if err != nil {
			return false, err
		}
		for _, c := range b {
			if c != 0 {
				return false, nil
			}
		}
		off += n
	}
	return true, nil
}

// advanceLocked moves p past closed segments whose records it has all
// passed, to the start of the next one, so that the position never rests
// at the end of a segment that could be deleted. A p naming a segment that
// is gone becomes the start of the next one there is.
func (s *Spool) advanceLocked(p position) position {
	for i, seg := range s.segs {
		switch {
		case seg.seq < p.seq:
		case seg.seq > p.seq:
			return position{seg.seq, headerSize}
		case p.off >= seg.end && i < len(s.segs)-1:
			p = position{s.segs[i+1].seq, headerSize}
		default:
			return p
		}
	}
	return p
}

// dropAckedLocked removes the segments before p from the spool's state and
// returns them for their files to be deleted.
func (s *Spool) dropAckedLocked(p position) []*segment {
	n := 0
	for n < len(s.segs)-1 && s.segs[n].seq < p.seq {
		s.diskBytes -= s.segs[n].size
		n++
	}
	dropped := slices.Clone(s.segs[:n])
	s.segs = slices.Delete(s.segs, 0, n)
	return dropped
}
