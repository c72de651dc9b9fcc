package proxy

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/internal/spool"
	"github.com/switchyard/switchyard/record"
)

// Sink receives finished records. Publish must never block the request
// that produced the record.
type Sink interface {
	Publish(r *record.Record)
}

// MessageWriter is the part of *kafka.Writer the publisher needs.
type MessageWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// PublisherStats are the publisher's counters since start.
type PublisherStats struct {
	Queued    int64 // accepted into the in-memory queue
	Published int64 // acknowledged by Kafka, directly or from the spool
	Spooled   int64 // written to the disk spool
	Replayed  int64 // sent from the spool to Kafka (also in Published)
	Dropped   int64 // lost: the spool was full (or absent), or shutdown ran out of time
	Failed    int64 // failed Kafka writes (each retried or spooled)
	Depth     int   // records in the in-memory queue now
	// SpoolRecords and SpoolBytes are what waits in the spool now.
	SpoolRecords int64
	SpoolBytes   int64
}

// PublisherOptions configure a Publisher.
type PublisherOptions struct {
	// QueueSize bounds the in-memory queue.
	QueueSize int
	// BatchSize is the most records per Kafka write; Linger the longest a
	// record waits for its batch to fill.
	BatchSize int
	Linger    time.Duration
	// Spool takes what Kafka cannot take now. Without one, failed writes
	// are retried in memory and a full queue drops records.
	Spool  *spool.Spool
	Logger *slog.Logger
	// Filter readies each record's bodies (redaction, the size limit)
	// just before it is encoded; nil leaves them as they are.
	Filter *BodyFilter
}

// directTimeout bounds one Kafka write on the direct path; a batch that
// cannot be written in that time goes to the spool.
const directTimeout = 5 * time.Second

// Publisher moves records from the request path to Kafka without ever
// making a request wait.
//
// Publish puts a record in a bounded in-memory queue. One goroutine (Run)
// encodes queued records and writes them to Kafka in batches. When a write
// fails — Kafka is down or too slow — the batch goes to the disk spool
// instead, and so does every later batch until the spool is empty again, so
// that records reach Kafka in order; a replayer goroutine sends the spool's
// records to Kafka once it answers. A record is dropped (counted, and
// logged) only when the spool is full. On Close, queued records go to Kafka,
// or to the spool if Kafka does not take them in time.
type Publisher struct {
	w         MessageWriter
	queue     chan *record.Record
	batchSize int
	linger    time.Duration
	spool     *spool.Spool
	log       *slog.Logger
	filter    *BodyFilter

	queued, published, spooled, replayed, dropped, failed atomic.Int64
	// spooling is set when a direct write failed: batches go to the spool
	// until the replayer has emptied it.
	spooling atomic.Bool

	closeOnce sync.Once
	closing   chan struct{}
	done      chan struct{}
	// abandoned is canceled when Close's deadline passes: in-flight writes
	// stop and what remains is spooled or counted as dropped.
	abandoned    context.Context
	abandon      context.CancelFunc
	stopReplay   context.CancelFunc
	replayDone   chan struct{}
	lastDropLog  atomic.Int64 // unix nanos of the last drop log line
	lastSpoolLog atomic.Int64
}

// NewPublisher returns a publisher writing to w. Call Run in its own
// goroutine, and Close to drain.
func NewPublisher(w MessageWriter, o PublisherOptions) *Publisher {
	abandoned, abandon := context.WithCancel(context.Background())
	return &Publisher{
		abandoned:  abandoned,
		abandon:    abandon,
		w:          w,
		queue:      make(chan *record.Record, o.QueueSize),
		batchSize:  o.BatchSize,
		linger:     o.Linger,
		spool:      o.Spool,
		log:        o.Logger,
		filter:     o.Filter,
		closing:    make(chan struct{}),
		done:       make(chan struct{}),
		replayDone: make(chan struct{}),
	}
}

// Publish enqueues r without waiting; r belongs to the publisher from then
// on. When the queue is full the record is spooled at once, from the
// caller's goroutine: an append to a file, the only work a request ever
// does for its record beyond the enqueue.
func (p *Publisher) Publish(r *record.Record) {
	select {
	case p.queue <- r:
		p.queued.Add(1)
	default:
		p.overflow(r)
	}
}

func (p *Publisher) overflow(r *record.Record) {
	if p.spool == nil {
		p.drop(1, "publish queue full")
		return
	}
	p.filter.Apply(r)
	b, err := record.Encode(nil, r)
	if err != nil {
		p.log.Error("record not encodable", "request_id", r.RequestID, "err", err)
		p.drop(1, "encode failed")
		return
	}
	p.toSpool([][]byte{b}, "publish queue full")
}

func (p *Publisher) drop(n int64, why string) {
	p.dropped.Add(n)
	if logDue(&p.lastDropLog) {
		p.log.Error("records dropped", "count", n, "reason", why, "dropped_total", p.dropped.Load())
	}
}

// logDue reports whether a once-a-second log line is due.
func logDue(last *atomic.Int64) bool {
	now := time.Now().UnixNano()
	prev := last.Load()
	return now-prev > int64(time.Second) && last.CompareAndSwap(prev, now)
}

// Stats returns the counters.
func (p *Publisher) Stats() PublisherStats {
	st := PublisherStats{
		Queued:    p.queued.Load(),
		Published: p.published.Load(),
		Spooled:   p.spooled.Load(),
		Replayed:  p.replayed.Load(),
		Dropped:   p.dropped.Load(),
		Failed:    p.failed.Load(),
		Depth:     len(p.queue),
	}
	if p.spool != nil {
		s := p.spool.Stats()
		st.SpoolRecords, st.SpoolBytes = s.Records, s.Bytes
	}
	return st
}

// Run writes queued records until Close has been called and the queue is
// empty (or Close's context expires). A batch is written when it is full or
// when its first record has waited linger: at a few hundred requests per
// second that turns one produce request per record into one per dozens,
// which is most of the proxy's logging cost.
func (p *Publisher) Run() {
	defer close(p.done)
	if p.spool != nil {
		replayCtx, stop := context.WithCancel(context.Background())
		p.stopReplay = stop
		go p.replay(replayCtx)
	} else {
		close(p.replayDone)
	}
	batch := make([]kafka.Message, 0, p.batchSize)
	var buf []byte
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	add := func(r *record.Record) {
		start := len(buf)
		p.filter.Apply(r)
		var err error
		buf, err = record.Encode(buf, r)
		if err != nil {
			p.log.Error("record not encodable", "request_id", r.RequestID, "err", err)
			p.drop(1, "encode failed")
			return
		}
		batch = append(batch, kafka.Message{Key: []byte(r.RequestID), Value: buf[start:len(buf):len(buf)]})
	}
	for {
		select {
		case r := <-p.queue:
			batch, buf = batch[:0], buf[:0]
			add(r)
		case <-p.closing:
			select {
			case r := <-p.queue:
				batch, buf = batch[:0], buf[:0]
				add(r)
			default:
				return
			}
		}
		linger.Reset(p.linger)
	collect:
		for len(batch) < p.batchSize {
			select {
			case r := <-p.queue:
				add(r)
			case <-linger.C:
				break collect
			case <-p.closing:
				// Shutting down: take what is queued without waiting.
				for len(batch) < p.batchSize {
					select {
					case r := <-p.queue:
						add(r)
					default:
						break collect
					}
				}
			}
		}
		linger.Stop()
		if !p.deliver(batch) {
			p.drop(int64(len(batch)+len(p.queue)), "kafka unavailable at shutdown")
			return
		}
	}
}

// deliver writes one batch to Kafka, or to the spool when Kafka does not
// take it (or the spool already holds older records). Without a spool it
// retries with backoff; it returns false when the publisher is abandoned
// with the batch undelivered.
func (p *Publisher) deliver(batch []kafka.Message) bool {
	if len(batch) == 0 {
		return true
	}
	if p.spool != nil && (p.spooling.Load() || p.spool.Stats().Records > 0) {
		p.spoolMessages(batch, "older records are spooled")
		return true
	}
	backoff := 50 * time.Millisecond
	for {
		timeout := 10 * time.Second
		if p.spool != nil {
			timeout = directTimeout
		}
		ctx, cancel := context.WithTimeout(p.abandoned, timeout)
		err := p.w.WriteMessages(ctx, batch...)
		cancel()
		if err == nil {
			p.published.Add(int64(len(batch)))
			return true
		}
		p.failed.Add(1)
		if p.spool != nil {
			p.spooling.Store(true)
			p.spoolMessages(batch, "kafka write failed: "+err.Error())
			return true
		}
		p.log.Warn("kafka write failed; retrying", "records", len(batch), "err", err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-p.abandoned.Done():
			return false
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (p *Publisher) spoolMessages(batch []kafka.Message, why string) {
	payloads := make([][]byte, len(batch))
	for i := range batch {
		payloads[i] = batch[i].Value
	}
	p.toSpool(payloads, why)
}

// toSpool appends records to the spool; when it is full they are dropped.
func (p *Publisher) toSpool(payloads [][]byte, why string) {
	err := p.spool.Append(payloads...)
	if err == nil {
		p.spooled.Add(int64(len(payloads)))
		if logDue(&p.lastSpoolLog) {
			p.log.Warn("records spooled to disk", "count", len(payloads), "reason", why, "spooled_total", p.spooled.Load())
		}
		return
	}
	if errors.Is(err, spool.ErrFull) {
		p.drop(int64(len(payloads)), "spool full (proxy.spool.max_bytes)")
		return
	}
	// A record too large for the spool, or a broken disk: nowhere left to
	// keep it.
	p.drop(int64(len(payloads)), "spool: "+err.Error())
}

// replay sends the spool's records to Kafka, oldest first, acknowledging
// each batch once Kafka has it, until ctx ends.
func (p *Publisher) replay(ctx context.Context) {
	defer close(p.replayDone)
	backoff := 100 * time.Millisecond
	for {
		b, err := p.spool.Read(p.batchSize, 16<<20)
		if err != nil {
			p.log.Error("reading the spool failed", "err", err)
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		if b.Len() == 0 {
			p.spooling.Store(false)
			select {
			case <-p.spool.Wait():
			case <-time.After(time.Second):
			case <-ctx.Done():
				return
			}
			continue
		}
		msgs := make([]kafka.Message, b.Len())
		for i, rec := range b.Records() {
			msgs[i] = kafka.Message{Key: requestIDOf(rec), Value: rec}
		}
		wctx, cancel := context.WithTimeout(ctx, directTimeout)
		err = p.w.WriteMessages(wctx, msgs...)
		cancel()
		if err != nil {
			p.failed.Add(1)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if err := p.spool.Ack(b); err != nil {
			// Kafka has them; they will be sent again after a restart and
			// the ingester will store them once.
			p.log.Error("acknowledging spooled records failed", "err", err)
		}
		p.published.Add(int64(len(msgs)))
		p.replayed.Add(int64(len(msgs)))
	}
}

// requestIDOf reads the message key back out of a spooled record.
func requestIDOf(rec []byte) []byte {
	v, err := jsonx.Get(rec, "request_id")
	if err != nil {
		return nil
	}
	id, err := jsonx.Unquote(v)
	if err != nil {
		return nil
	}
	return []byte(id)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Close stops accepting records and waits until every queued record is in
// Kafka or in the spool, or ctx expires; records still undelivered then are
// counted as dropped. The replayer stops too: what is left in the spool is
// sent after the next start. Publish must not be called after Close. The
// spool itself is the caller's to close.
func (p *Publisher) Close(ctx context.Context) error {
	p.closeOnce.Do(func() { close(p.closing) })
	var err error
	select {
	case <-p.done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.abandon()
	<-p.done
	if p.stopReplay != nil {
		p.stopReplay()
	}
	<-p.replayDone
	return err
}

var _ Sink = (*Publisher)(nil)
