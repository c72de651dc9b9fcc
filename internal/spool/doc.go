// Package spool is the proxy's bounded, append-only, on-disk queue of
// encoded records: the place records go when Kafka is unreachable or slow,
// and from which a replayer sends them on, in order, once it answers.
//
// The package owns one directory and everything in it: the segment files,
// the read position and the lock. It treats records as opaque byte strings;
// it never decodes them, never drops one silently, and never exceeds its cap
// on disk. It delivers at least once: after a crash, records appended after
// the last acknowledged position are read again (the consumer dedupes), and
// records already acknowledged are not.
//
// # Usage
//
// The publisher calls Append when a Kafka write fails; Append is safe for
// concurrent use and fails with ErrFull, writing nothing of that call, when
// the cap would be exceeded. One replayer goroutine loops on Read (the oldest
// unacknowledged records, left in place), writes them to Kafka, then calls
// Ack, which advances the durable read position and deletes fully
// acknowledged segments. When Read returns an empty batch the replayer waits
// on Wait, which is signalled by every Append.
//
// # Files
//
// All integers are little-endian.
//
//   - NNNNNNNNNNNNNNNNNNNN.seg (the sequence number, zero-padded to 20
//     digits): a segment. A 16-byte header — the magic "SWYSPOOL", a uint32
//     format version (1) and a uint32 of zero flags — then frames back to
//     back: [uint32 length][uint32 CRC-32C (Castagnoli) of the payload]
//     [payload]. Payloads are 1 byte to MaxRecordBytes. A segment is closed
//     and the next one started when the next frame would take it past
//     SegmentBytes (a record larger than that gets a segment of its own).
//     Appends go to the newest segment only.
//   - position: where reading resumes, written on every Ack by writing
//     position.tmp, fsyncing it, renaming it over position and fsyncing the
//     directory. 28 bytes: the magic "SWYP", a uint32 version (1), the
//     uint64 segment number, the uint64 byte offset in it, and a CRC-32C of
//     the 24 bytes before it. A missing or damaged position file replays
//     from the oldest segment: duplicates, never losses.
//   - LOCK: held with flock(2) while the spool is open, so that a second
//     process (or a second Open in this one) fails with ErrLocked instead of
//     interleaving writes. Outside Linux, macOS and the BSDs the lock is not
//     taken.
//
// Files with other names are ignored (and logged). A file named like a
// segment whose header is not a spool header fails Open with
// ErrForeignSegment: the spool never deletes what it does not recognise.
//
// # Recovery
//
// Open scans every segment not yet fully acknowledged and checks every
// frame's checksum:
//
//   - A torn tail of the newest segment — a partial frame, or a checksum
//     mismatch with no valid frame after it, as a crash in the middle of a
//     write leaves — is truncated away and logged as a warning. A segment
//     holding only part of a header, or only zeros (a crash while creating
//     it), is removed.
//   - A bad frame with valid frames after it is corruption: it is skipped,
//     counted in Stats().Corrupt and logged as an error. When its length
//     field is intact the next frame follows it; when the length field
//     itself is damaged (zero, beyond the file, or above MaxRecordBytes) the
//     scan searches forward byte by byte for the next frame whose checksum
//     matches, filtering long candidates by the plausibility of the frames
//     after them before paying for their checksum. The search's work is
//     bounded in proportion to the segment (about a second or two for 64 MiB
//     of random bytes); what it cannot resolve is counted as one corrupt
//     region and skipped (truncated if it ends the newest segment). A
//     corrupt region is counted once, however many records it held.
//   - Segments entirely before the read position (left by a crash between
//     an Ack's position write and its deletions) are deleted.
//
// Read checks the checksums again, so that a record damaged on disk after
// Open is skipped and counted the same way rather than handed on.
//
// # Durability
//
// Every Append call ends with its frames written, one write(2) per segment
// it touches (no user-space buffering across calls), so once Append returns
// nil a process crash — a panic, SIGKILL, the OOM killer — loses nothing
// under any policy. What a machine crash (power loss, kernel panic) can
// lose depends on Fsync:
//
//   - "always": each Append call is fsynced before it returns (one fsync per
//     call, serialised with other appenders). A machine crash loses nothing
//     Append returned nil for.
//   - "interval": a background goroutine fsyncs the newest segment every
//     FsyncInterval when something was appended, and at once when a segment
//     rolls (the closed segment and the directory); no fsync happens on the
//     caller's path, so Append costs one write(2). A machine crash loses at
//     most the records appended in the last FsyncInterval.
//   - "never": the OS writes pages back when it chooses (on Linux typically
//     within 30 s). A machine crash can lose anything not yet written back,
//     including records in closed segments.
//
// Close fsyncs under "always" and "interval", so that a clean shutdown
// loses nothing to a later machine crash. Ack's position write is fsynced
// under those two as well; under "never" it is only renamed into place, so
// a machine crash can move the read position back (duplicates, never
// losses).
// A failed write during Append is rolled back (the call is all or nothing);
// a failed fsync cannot be undone, so it breaks the spool: it is logged and
// every later Append returns the error until the spool is reopened.
//
// # The cap
//
// MaxBytes bounds the bytes of all segment files together, headers and
// framing included (the position and lock files are not counted). Append
// returns ErrFull rather than exceed it, and ErrTooLarge for a record that
// could never fit. Space comes back when Ack deletes a segment whose
// records are all acknowledged; a fully acknowledged newest segment is
// replaced by a fresh one when an Append would otherwise not fit, so a spool
// whose cap equals its segment size cannot get stuck.
package spool
