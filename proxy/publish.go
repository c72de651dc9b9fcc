package proxy

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

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
	Queued    int64 // accepted into the queue
	Published int64 // acknowledged by Kafka
	Dropped   int64 // refused because the queue was full, or lost at shutdown
	Failed    int64 // failed write attempts (each is retried)
	Depth     int   // records waiting now
}

// Publisher is the bounded queue between the request path and Kafka. Publish
// enqueues without waiting; one goroutine encodes records and writes them to
// Kafka in batches, retrying failed writes with backoff. A full queue drops
// the record, counts it and logs it: the request itself is never slowed.
type Publisher struct {
	w         MessageWriter
	queue     chan *record.Record
	batchSize int
	linger    time.Duration
	log       *slog.Logger

	queued, published, dropped, failed atomic.Int64

	closeOnce sync.Once
	closing   chan struct{}
	done      chan struct{}
	// abandoned is canceled when Close's deadline passes: in-flight writes
	// stop and what remains is counted as dropped.
	abandoned context.Context
	abandon   context.CancelFunc
	lastDrop  atomic.Int64 // unix nanos of the last drop log line
}

// NewPublisher returns a publisher with a queue of queueSize records that
// writes batches of up to batchSize records, waiting at most linger for a
// batch to fill. Call Run in its own goroutine, and Close to drain.
func NewPublisher(w MessageWriter, queueSize, batchSize int, linger time.Duration, log *slog.Logger) *Publisher {
	abandoned, abandon := context.WithCancel(context.Background())
	return &Publisher{
		abandoned: abandoned,
		abandon:   abandon,
		w:         w,
		queue:     make(chan *record.Record, queueSize),
		batchSize: batchSize,
		linger:    linger,
		log:       log,
		closing:   make(chan struct{}),
		done:      make(chan struct{}),
	}
}

// Publish enqueues r without blocking.
func (p *Publisher) Publish(r *record.Record) {
	select {
	case p.queue <- r:
		p.queued.Add(1)
	default:
		p.drop(1, "publish queue full")
	}
}

func (p *Publisher) drop(n int64, why string) {
	p.dropped.Add(n)
	now := time.Now().UnixNano()
	last := p.lastDrop.Load()
	if now-last > int64(time.Second) && p.lastDrop.CompareAndSwap(last, now) {
		p.log.Error("records dropped", "count", n, "reason", why, "dropped_total", p.dropped.Load())
	}
}

// Stats returns the counters.
func (p *Publisher) Stats() PublisherStats {
	return PublisherStats{
		Queued:    p.queued.Load(),
		Published: p.published.Load(),
		Dropped:   p.dropped.Load(),
		Failed:    p.failed.Load(),
		Depth:     len(p.queue),
	}
}

// Run writes queued records until Close has been called and the queue is
// empty (or Close's context expires). A batch is written when it is full or
// when its first record has waited linger: at a few hundred requests per
// second that turns one produce request per record into one per dozens,
// which is most of the proxy's logging cost.
func (p *Publisher) Run() {
	defer close(p.done)
	batch := make([]kafka.Message, 0, p.batchSize)
	var buf []byte
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	add := func(r *record.Record) {
		start := len(buf)
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
		if !p.write(batch) {
			p.drop(int64(len(batch)+len(p.queue)), "kafka unavailable at shutdown")
			return
		}
	}
}

// write sends one batch, retrying with backoff until it succeeds (true) or
// the publisher is abandoned (false).
func (p *Publisher) write(batch []kafka.Message) bool {
	if len(batch) == 0 {
		return true
	}
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(p.abandoned, 10*time.Second)
		err := p.w.WriteMessages(ctx, batch...)
		cancel()
		if err == nil {
			p.published.Add(int64(len(batch)))
			return true
		}
		p.failed.Add(1)
		p.log.Warn("kafka write failed; retrying", "records", len(batch), "err", err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-p.abandoned.Done():
			return false
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// Close stops accepting records and waits until every queued record is in
// Kafka or ctx expires; records still unwritten then are counted as dropped.
// Publish must not be called after Close.
func (p *Publisher) Close(ctx context.Context) error {
	p.closeOnce.Do(func() { close(p.closing) })
	select {
	case <-p.done:
		p.abandon()
		return nil
	case <-ctx.Done():
		p.abandon()
		<-p.done
		return ctx.Err()
	}
}

var _ Sink = (*Publisher)(nil)
