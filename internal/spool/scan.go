package spool

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

// span is a byte range [from, to) of a segment.
type span struct{ from, to int64 }

// window reads a segment through a fixed buffer, so that scanning it frame
// by frame (or byte by byte while resynchronising) costs one read(2) per
// buffer rather than one per frame.
type window struct {
	r    io.ReaderAt
	end  int64 // readable end of the segment
	buf  []byte
	base int64 // offset of buf[0]
	n    int   // valid bytes in buf
	work *int64
}

func newWindow(r io.ReaderAt, end int64, size int, work *int64) *window {
	return &window{r: r, end: end, buf: make([]byte, size), work: work}
}

// at returns n bytes at off, valid until the next call. n must not exceed
// the buffer, and off+n must not exceed end.
func (w *window) at(off int64, n int) ([]byte, error) {
	if off >= w.base && off+int64(n) <= w.base+int64(w.n) {
		return w.buf[off-w.base : off-w.base+int64(n)], nil
	}
	want := min(int64(len(w.buf)), w.end-off)
	if want < int64(n) {
		return nil, io.ErrUnexpectedEOF
	}
	got, err := w.r.ReadAt(w.buf[:want], off)
	if w.work != nil {
		*w.work += want
	}
	if int64(got) < want {
		w.n = 0
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // the file shrank under us
		}
		return nil, err
	}
	w.base, w.n = off, int(want)
	return w.buf[:n], nil
}

// crc returns the CRC-32C of n bytes at off, streaming through the buffer.
func (w *window) crc(off, n int64) (uint32, error) {
	var sum uint32
	for n > 0 {
		chunk := min(n, int64(len(w.buf)))
		if off >= w.base && off < w.base+int64(w.n) {
			chunk = min(n, w.base+int64(w.n)-off) // use what is already read
		}
		b, err := w.at(off, int(chunk))
		if err != nil {
			return 0, err
		}
		sum = crc32.Update(sum, castagnoli, b)
		off += chunk
		n -= chunk
	}
	return sum, nil
}

// frameAt reads the frame header at off and checks the whole frame: a
// plausible length and a matching checksum. It returns the offset after the
// frame, and the raw length field for the caller's diagnosis.
func (w *window) frameAt(off int64) (next int64, length int64, ok bool, err error) {
	if w.end-off < frameHeaderSize {
		return 0, 0, false, nil
	}
	h, err := w.at(off, frameHeaderSize)
	if err != nil {
		return 0, 0, false, err
	}
	length = int64(binary.LittleEndian.Uint32(h))
	want := binary.LittleEndian.Uint32(h[4:])
	if !plausibleLength(length, off, w.end) {
		return 0, length, false, nil
	}
	got, err := w.crc(off+frameHeaderSize, length)
	if err != nil {
		return 0, length, false, err
	}
	return off + frameHeaderSize + length, length, got == want, nil
}

// scanResult is what a scan of one segment found.
type scanResult struct {
	end       int64  // end of the last valid frame (headerSize if none)
	readStart int64  // start of the first frame ending after `from`, or end
	pending   int64  // valid frames ending after `from`
	skips     []span // corrupt regions with valid frames after them
	exhausted bool   // the region after end was too costly to search fully
}

// scanSegment checks every frame of a segment of size bytes (header
// included) and finds the corrupt regions. Frames ending at or before from
// are already acknowledged: they are checked but not counted as pending.
func scanSegment(r io.ReaderAt, size, from int64) (scanResult, error) {
	res := scanResult{end: headerSize, readStart: -1}
	w := newWindow(r, size, 256<<10, nil)
	off := int64(headerSize)
	for off < size {
		next, length, ok, err := w.frameAt(off)
		if err != nil {
			return res, err
		}
		if ok {
			if next > from {
				res.pending++
				if res.readStart < 0 {
					res.readStart = off
				}
			}
			off, res.end = next, next
			continue
		}
		next, found, exhausted, err := skipCorrupt(r, off, length, size)
		if err != nil {
			return res, err
		}
		if !found {
			res.exhausted = exhausted
			break
		}
		res.skips = append(res.skips, span{off, next})
		off = next
	}
	if res.readStart < 0 {
		res.readStart = res.end
	}
	return res, nil
}

// skipCorrupt finds where valid frames resume after the bad frame at off,
// whose length field reads length. If the length is plausible and a valid
// frame follows, only that one record is skipped; otherwise the search goes
// on byte by byte. found is false when no valid frame follows before end.
func skipCorrupt(r io.ReaderAt, off, length, end int64) (next int64, found, exhausted bool, err error) {
	if plausibleLength(length, off, end) {
		after := off + frameHeaderSize + length
		if after == end {
			return end, false, false, nil // a bad last frame: nothing follows
		}
		w := newWindow(r, end, 64<<10, nil)
		if _, _, ok, err := w.frameAt(after); err != nil || ok {
			return after, ok, false, err
		}
	}
	return resync(r, off+1, end)
}

// resyncCheapLength is the longest candidate frame resync checksums as
// soon as it meets it. Longer candidates are first filtered and then
// deferred (see resync).
const resyncCheapLength = 64 << 10

// resyncHops is how many successors of a long candidate must have a
// plausible length. In random bytes one offset in 64 or so reads as a
// plausible length, so each hop discards most of the survivors of the one
// before.
const resyncHops = 3

// maxDeferred bounds the long candidates resync keeps.
const maxDeferred = 1 << 12

// resync searches [from, end) for the first offset holding a valid frame.
//
// Short candidates (a plausible length up to resyncCheapLength) are
// checksummed at once. A long candidate must be followed by frames of
// plausible length (plausibleChain), and is then deferred rather than
// checksummed, because false long candidates are common in binary garbage
// and each costs up to MaxRecordBytes of checksumming. When a short frame
// verifies at X, only the deferred candidates that end at or before X can
// be genuine (frames do not overlap), and those are short enough to check;
// the earliest valid one wins. At the end of the segment the remaining
// deferred candidates are checked in order.
//
// The work (bytes read or checksummed; a read of its own counts 512) is
// bounded by 16 per byte searched plus 16 MiB, which keeps a segment of
// random bytes to a second or two per 64 MiB. Garbage that exhausts it ends
// the search with exhausted set. Payloads of JSON text almost never
// look like a plausible length (four printable bytes read as a
// little-endian uint32 exceed MaxRecordBytes), so real data resyncs at
// about the speed of reading it.
func resync(r io.ReaderAt, from, end int64) (next int64, found, exhausted bool, err error) {
	var work int64
	budget := 16*(end-from) + 16<<20
	scan := newWindow(r, end, 64<<10, &work)
	check := newWindow(r, end, 64<<10, &work)
	var peek [4]byte
	// lengthAt reads the length field at off, from the scan window when it
	// is there.
	lengthAt := func(off int64) (int64, error) {
		if off >= scan.base && off+4 <= scan.base+int64(scan.n) {
			return int64(binary.LittleEndian.Uint32(scan.buf[off-scan.base:])), nil
		}
		work += 512
		if _, err := r.ReadAt(peek[:], off); err != nil {
			return 0, err
		}
		return int64(binary.LittleEndian.Uint32(peek[:])), nil
	}
	type candidate struct {
		off, length int64
		want        uint32
	}
	var deferred []candidate
	verify := func(c candidate) (bool, error) {
		work += c.length
		got, err := check.crc(c.off+frameHeaderSize, c.length)
		return got == c.want, err
	}
	// firstDeferred returns the first deferred candidate ending at or
	// before limit that verifies.
	firstDeferred := func(limit int64) (int64, bool, bool, error) {
		for _, c := range deferred {
			if work > budget {
				return end, false, true, nil
			}
			if c.off+frameHeaderSize+c.length > limit {
				continue
			}
			if ok, err := verify(c); err != nil || ok {
				return c.off, ok, false, err
			}
		}
		return end, false, false, nil
	}
	for off := from; end-off >= frameHeaderSize; off++ {
		if work > budget || len(deferred) > maxDeferred {
			return end, false, true, nil
		}
		h, err := scan.at(off, frameHeaderSize)
		if err != nil {
			return 0, false, false, err
		}
		c := candidate{off: off, length: int64(binary.LittleEndian.Uint32(h)), want: binary.LittleEndian.Uint32(h[4:])}
		if !plausibleLength(c.length, off, end) {
			continue
		}
		if c.length > resyncCheapLength {
			ok, err := plausibleChain(off+frameHeaderSize+c.length, end, lengthAt)
			if err != nil {
				return 0, false, false, err
			}
			if ok {
				deferred = append(deferred, c)
			}
			continue
		}
		ok, err := verify(c)
		if err != nil {
			return 0, false, false, err
		}
		if ok {
			if at, found, exhausted, err := firstDeferred(off); err != nil || found || exhausted {
				return at, found, exhausted, err
			}
			return off, true, false, nil
		}
	}
	return firstDeferred(end)
}

// plausibleChain reports whether up to resyncHops frames from off have
// plausible lengths, or the chain ends exactly at the end of the segment
// (or with less than a frame header left). A genuine long frame followed
// within resyncHops by a torn last frame is not recognised: the search
// treats it as part of the torn tail.
func plausibleChain(off, end int64, lengthAt func(int64) (int64, error)) (bool, error) {
	for range resyncHops {
		if end-off < frameHeaderSize {
			return true, nil
		}
		n, err := lengthAt(off)
		if err != nil {
			return false, err
		}
		if n == 0 || n > MaxRecordBytes {
			return false, nil
		}
		off += frameHeaderSize + n
		if off > end {
			// Perhaps a torn last frame, but random lengths overshoot the
			// end all the time: accepting them would let through far too
			// many candidates.
			return false, nil
		}
	}
	return true, nil
}
