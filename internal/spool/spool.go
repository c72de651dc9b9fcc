package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/switchyard/switchyard/config"
)

var (
	// ErrFull is returned by Append when the records would take the spool
	// past its MaxBytes. Nothing of that call was written.
	ErrFull = errors.New("spool: full")
	// ErrTooLarge is returned by Append for a record that could never fit:
	// above MaxRecordBytes, or larger than MaxBytes allows.
	ErrTooLarge = errors.New("spool: record too large")
	// ErrEmptyRecord is returned by Append for a zero-length record, which
	// the format reserves (zeroed disk reads as length 0).
	ErrEmptyRecord = errors.New("spool: empty record")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("spool: closed")
	// ErrLocked is returned by Open when another process (or another Open
	// in this one) holds the directory.
	ErrLocked = errors.New("spool: directory in use")
	// ErrForeignSegment is returned by Open when a file named like a segment
	// is not one this build can read.
	ErrForeignSegment = errors.New("spool: not a spool segment")
	// ErrStaleBatch is returned by Ack for a batch that does not start at the
	// acknowledged position: it was acknowledged already, or another batch
	// was acknowledged after it was read.
	ErrStaleBatch = errors.New("spool: batch does not start at the acknowledged position")
)

// Stats are a spool's gauges and its counters since Open.
type Stats struct {
	Records  int64 // pending: appended and not yet acknowledged
	Bytes    int64 // all segment files on disk, headers and framing included
	Segments int
	Appended int64 // records appended
	Acked    int64 // records acknowledged
	Corrupt  int64 // corrupt regions skipped (each held at least one record)
	Full     int64 // Append calls refused with ErrFull
}

// Spool is an open spool directory. Append is safe for concurrent use;
// Read and Ack are meant for one replayer goroutine and may run while
// appends continue.
type Spool struct {
	dir      string
	maxBytes int64
	segBytes int64
	policy   string
	log      *slog.Logger
	lock     *os.File

	mu        sync.Mutex
	segs      []*segment // by sequence number; the last one is appended to
	file      *os.File   // write handle of the last segment
	wbuf      []byte     // one Append call's frames, reused
	ackPos    position   // where Read starts; see advanceLocked
	diskBytes int64
	pending   int64
	appended  int64
	acked     int64
	corrupt   int64
	full      int64
	dirty     bool       // written since the last fsync of file
	dirDirty  bool       // a segment was created since the last directory fsync
	unsynced  []*os.File // closed segments awaiting their fsync and close
	err       error      // sticky: a failed fsync or rollback; Append returns it
	closed    bool
	appendSig chan struct{} // capacity 1; closed by Close

	// The reader side: Read and Ack hold readMu for their whole call, so
	// that file I/O for them never holds mu.
	readMu    sync.Mutex
	reader    *os.File // read handle of segment readerSeq
	readerSeq uint64

	syncNow     chan struct{} // capacity 1: a segment rolled (interval policy)
	stop        chan struct{}
	flusherDone chan struct{}
	closeOnce   sync.Once
	closeErr    error
}

// segment is one segment file.
type segment struct {
	seq uint64
	// end is the end of the last valid frame: where reading stops and, for
	// the last segment, where the next frame is written.
	end int64
	// size is the file's size; above end only for a closed segment with an
	// unreadable tail.
	size int64
	// skips are corrupt regions Read jumps over, in order. Only Open and the
	// reader side (under readMu) touch them.
	skips []span
}

// Open opens the spool in cfg.Dir, creating the directory (0700) if it is
// missing, takes its lock and recovers its segments. It fails if another
// process has the directory open (ErrLocked) or if a segment file is not one
// (ErrForeignSegment). log may be nil.
func Open(cfg config.Spool, log *slog.Logger) (*Spool, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{
		dir:       cfg.Dir,
		maxBytes:  cfg.MaxBytes,
		segBytes:  cfg.SegmentBytes,
		policy:    cfg.Fsync,
		log:       log.With("spool", cfg.Dir),
		lock:      lock,
		appendSig: make(chan struct{}, 1),
	}
	if err := s.recover(); err != nil {
		if s.file != nil {
			s.file.Close()
		}
		lock.Close()
		return nil, err
	}
	if s.policy == config.FsyncInterval {
		s.syncNow = make(chan struct{}, 1)
		s.stop = make(chan struct{})
		s.flusherDone = make(chan struct{})
		go s.flusher(cfg.FsyncInterval)
	}
	return s, nil
}

func checkConfig(cfg config.Spool) error {
	var errs []error
	if cfg.Dir == "" {
		errs = append(errs, errors.New("spool: dir is empty"))
	}
	if cfg.MaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("spool: max_bytes must be positive, got %d", cfg.MaxBytes))
	}
	if cfg.SegmentBytes <= 0 {
		errs = append(errs, fmt.Errorf("spool: segment_bytes must be positive, got %d", cfg.SegmentBytes))
	}
	switch cfg.Fsync {
	case config.FsyncInterval:
		if cfg.FsyncInterval <= 0 {
			errs = append(errs, fmt.Errorf("spool: fsync_interval must be positive, got %s", cfg.FsyncInterval))
		}
	case config.FsyncAlways, config.FsyncNever:
	default:
		errs = append(errs, fmt.Errorf("spool: unknown fsync policy %q (one of: %s, %s, %s)",
			cfg.Fsync, config.FsyncInterval, config.FsyncAlways, config.FsyncNever))
	}
	return errors.Join(errs...)
}

func (s *Spool) path(seq uint64) string { return filepath.Join(s.dir, segmentName(seq)) }

func (s *Spool) durable() bool { return s.policy != config.FsyncNever }

// Append adds records at the end of the spool, in order. It writes all of
// them or none: ErrFull when they would take the spool past MaxBytes,
// ErrTooLarge or ErrEmptyRecord for a record that can never be spooled, or
// the I/O error that stopped the write. When it returns nil the records
// survive a process crash, and a machine crash as the fsync policy says.
func (s *Spool) Append(payloads ...[]byte) error {
	if len(payloads) == 0 {
		return nil
	}
	for _, p := range payloads {
		if len(p) == 0 {
			return ErrEmptyRecord
		}
		if len(p) > MaxRecordBytes || int64(headerSize+frameHeaderSize+len(p)) > s.maxBytes {
			return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(p))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.err != nil {
		return s.err
	}
	if s.diskBytes+s.spaceNeeded(payloads) > s.maxBytes && s.activeAckedLocked() {
		if err := s.replaceActiveLocked(); err != nil {
			return fmt.Errorf("spool: append: %w", err)
		}
	}
	if s.diskBytes+s.spaceNeeded(payloads) > s.maxBytes {
		s.full++
		return ErrFull
	}
	if err := s.writeLocked(payloads); err != nil {
		return err
	}
	s.pending += int64(len(payloads))
	s.appended += int64(len(payloads))
	s.dirty = true
	var err error
	switch s.policy {
	case config.FsyncAlways:
		if err = s.syncLocked(); err != nil {
			err = s.breakLocked(err)
		}
	case config.FsyncNever:
		for _, f := range s.unsynced {
			f.Close()
		}
		s.unsynced = nil
	case config.FsyncInterval:
		if len(s.unsynced) > 0 {
			select {
			case s.syncNow <- struct{}{}:
			default:
			}
		}
	}
	select {
	case s.appendSig <- struct{}{}:
	default:
	}
	return err
}

// spaceNeeded is how many bytes on disk the payloads would add, segment
// headers of the rolls they cause included. It mirrors writeLocked.
func (s *Spool) spaceNeeded(payloads [][]byte) int64 {
	fill := s.segs[len(s.segs)-1].end
	var need int64
	for _, p := range payloads {
		frame := int64(frameHeaderSize + len(p))
		if fill > headerSize && fill+frame > s.segBytes {
			fill = headerSize
			need += headerSize
		}
		fill += frame
		need += frame
	}
	return need
}

// writeLocked writes the payloads' frames, rolling to new segments where
// SegmentBytes says, with one write(2) per segment touched. On failure it
// undoes everything: segments it created are removed and the segment it
// started in is truncated back.
func (s *Spool) writeLocked(payloads [][]byte) error {
	first, firstFile := s.segs[len(s.segs)-1], s.file
	firstEnd := first.end
	cur, f := first, firstFile
	type created struct {
		seg *segment
		f   *os.File
	}
	var news []created
	buf := s.wbuf[:0]
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if _, err := f.WriteAt(buf, cur.end); err != nil {
			return err
		}
		cur.end += int64(len(buf))
		cur.size = cur.end
		buf = buf[:0]
		return nil
	}
	fail := func(err error) error {
		for _, c := range news {
			c.f.Close()
			os.Remove(s.path(c.seg.seq))
		}
		first.end, first.size = firstEnd, firstEnd
		if terr := firstFile.Truncate(firstEnd); terr != nil {
			// The segment may now end in a partial frame that Read would
			// take for corruption; appending after it would be worse.
			s.breakLocked(fmt.Errorf("truncating after a failed write: %w", terr))
		}
		s.wbuf = buf[:0]
		return fmt.Errorf("spool: append: %w", err)
	}
	for _, p := range payloads {
		frame := int64(frameHeaderSize + len(p))
		if fill := cur.end + int64(len(buf)); fill > headerSize && fill+frame > s.segBytes {
			if err := flush(); err != nil {
				return fail(err)
			}
			seg, nf, err := s.createSegment(cur.seq + 1)
			if err != nil {
				return fail(err)
			}
			news = append(news, created{seg, nf})
			cur, f = seg, nf
		}
		buf = appendFrame(buf, p)
	}
	if err := flush(); err != nil {
		return fail(err)
	}
	s.diskBytes += first.end - firstEnd
	if len(news) > 0 {
		s.unsynced = append(s.unsynced, firstFile)
		for i, c := range news {
			s.segs = append(s.segs, c.seg)
			s.diskBytes += c.seg.size
			if i < len(news)-1 {
				s.unsynced = append(s.unsynced, c.f)
			}
		}
		s.file = f
		s.dirDirty = true
	}
	if cap(buf) > 4<<20 {
		buf = nil // one huge call should not pin its buffer forever
	}
	s.wbuf = buf[:0]
	return nil
}

// createSegment creates segment seq with its header written.
func (s *Spool) createSegment(seq uint64) (*segment, *os.File, error) {
	f, err := os.OpenFile(s.path(seq), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, nil, err
	}
	if _, err := f.Write(appendSegmentHeader(nil)); err != nil {
		f.Close()
		os.Remove(s.path(seq))
		return nil, nil, err
	}
	return &segment{seq: seq, end: headerSize, size: headerSize}, f, nil
}

// activeAckedLocked reports whether the last segment holds records and all
// of them are acknowledged.
func (s *Spool) activeAckedLocked() bool {
	last := s.segs[len(s.segs)-1]
	return len(s.segs) == 1 && last.end > headerSize && s.ackPos == position{last.seq, last.end}
}

// replaceActiveLocked replaces the fully acknowledged last segment with a
// fresh one and deletes it, giving its space back without waiting for it
// to fill. The position file may still name the deleted segment; Open then
// starts at the oldest segment there is, which is the fresh one.
func (s *Spool) replaceActiveLocked() error {
	old := s.segs[len(s.segs)-1]
	seg, f, err := s.createSegment(old.seq + 1)
	if err != nil {
		return err
	}
	s.file.Close()
	if err := os.Remove(s.path(old.seq)); err != nil {
		s.log.Error("spool: removing acknowledged segment", "segment", segmentName(old.seq), "err", err)
	}
	s.file = f
	s.segs[len(s.segs)-1] = seg
	s.diskBytes += seg.size - old.size
	s.ackPos = position{seg.seq, headerSize}
	s.dirDirty = true
	return nil
}

// syncLocked fsyncs (and closes) closed segments, the last segment and the
// directory, as far as they need it.
func (s *Spool) syncLocked() error {
	var errs []error
	for _, f := range s.unsynced {
		errs = append(errs, f.Sync(), f.Close())
	}
	s.unsynced = nil
	if s.dirty {
		errs = append(errs, s.file.Sync())
		s.dirty = false
	}
	if s.dirDirty {
		errs = append(errs, syncDir(s.dir))
		s.dirDirty = false
	}
	return errors.Join(errs...)
}

// breakLocked makes err sticky. After a failed fsync the kernel may have
// dropped the dirty pages, so records Append already accepted may be gone;
// going on as if nothing happened would hide that.
func (s *Spool) breakLocked(err error) error {
	s.err = fmt.Errorf("spool: broken until reopened: %w", err)
	s.log.Error("spool: write or fsync failed; refusing appends", "err", err)
	return s.err
}

// flusher fsyncs the spool every interval when something was appended, and
// at once when a segment rolls. The fsync itself runs without the lock, so
// appenders never wait for the disk.
func (s *Spool) flusher(interval time.Duration) {
	defer close(s.flusherDone)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		case <-s.syncNow:
		}
		s.syncInterval()
	}
}

func (s *Spool) syncInterval() {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	sealed, f, dirty, dirDirty := s.unsynced, s.file, s.dirty, s.dirDirty
	s.unsynced, s.dirty, s.dirDirty = nil, false, false
	s.mu.Unlock()

	var errs []error
	for _, sf := range sealed {
		errs = append(errs, sf.Sync(), sf.Close())
	}
	if dirty {
		// f may be closed meanwhile by replaceActiveLocked, which deletes
		// it: nothing to sync then.
		if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if dirDirty {
		errs = append(errs, syncDir(s.dir))
	}
	if err := errors.Join(errs...); err != nil {
		s.mu.Lock()
		s.breakLocked(err)
		s.mu.Unlock()
	}
}

// Wait returns a channel that receives after an Append, so that a replayer
// that found the spool empty can sleep until there is something to read.
// The signal is level-like (capacity one): an Append between an empty Read
// and the wait is not missed, and wake-ups may be spurious. The channel is
// closed by Close.
func (s *Spool) Wait() <-chan struct{} { return s.appendSig }

// Stats returns the spool's gauges and counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Records:  s.pending,
		Bytes:    s.diskBytes,
		Segments: len(s.segs),
		Appended: s.appended,
		Acked:    s.acked,
		Corrupt:  s.corrupt,
		Full:     s.full,
	}
}

// Close fsyncs the spool (unless the policy is "never"), closes its files
// and releases the lock. It waits for a Read or Ack in progress. Later calls
// return the first call's result.
func (s *Spool) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Spool) close() error {
	if s.stop != nil {
		close(s.stop)
		<-s.flusherDone
	}
	s.readMu.Lock()
	defer s.readMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	close(s.appendSig)
	var errs []error
	if s.err == nil && s.durable() {
		s.dirty = true
		errs = append(errs, s.syncLocked())
	}
	for _, f := range s.unsynced {
		errs = append(errs, f.Close())
	}
	errs = append(errs, s.file.Close())
	if s.reader != nil {
		s.reader.Close()
	}
	errs = append(errs, s.lock.Close()) // releases the flock
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool: close: %w", err)
	}
	return nil
}
