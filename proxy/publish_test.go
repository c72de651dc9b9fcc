package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/kafkax"
	"github.com/switchyard/switchyard/internal/spool"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/record"
)

// flakyWriter fails its first failures writes, as an unreachable broker
// would, then keeps what it is given.
type flakyWriter struct {
	mu       sync.Mutex
	failures int
	got      []kafka.Message
	block    chan struct{} // when set, writes wait on it
}

func (w *flakyWriter) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	if w.block != nil {
		select {
		case <-w.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failures > 0 {
		w.failures--
		return errors.New("dial tcp: connection refused")
	}
	for _, m := range msgs {
		w.got = append(w.got, kafka.Message{Key: m.Key, Value: append([]byte(nil), m.Value...)})
	}
	return nil
}

func (w *flakyWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.got)
}

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestPublisherRetriesUntilKafkaAnswers(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	w := &flakyWriter{failures: 3}
	p := NewPublisher(w, PublisherOptions{QueueSize: 100, BatchSize: 10, Linger: time.Millisecond, Logger: discardLog})
	go p.Run()
	for i := 0; i < 25; i++ {
		p.Publish(&record.Record{RequestID: string(rune('a' + i))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if w.count() != 25 || st.Published != 25 || st.Dropped != 0 || st.Failed != 3 {
		t.Fatalf("delivered %d; stats %+v", w.count(), st)
	}
	for _, m := range w.got {
		r, err := record.Decode(m.Value)
		if err != nil || r.RequestID != string(m.Key) {
			t.Fatalf("message %q does not decode to its record: %v", m.Value, err)
		}
	}
}

func TestPublisherNeverBlocksAndCountsDrops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	w := &flakyWriter{block: make(chan struct{})}
	p := NewPublisher(w, PublisherOptions{QueueSize: 5, BatchSize: 1, Linger: time.Millisecond, Logger: discardLog})
	go p.Run()
	start := time.Now()
	for i := 0; i < 100; i++ {
		p.Publish(&record.Record{RequestID: "r"})
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("publishing into a full queue took %v", d)
	}
	close(w.block)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	// At most the queue (5) plus the batch in flight (1) get through.
	if st.Queued+st.Dropped != 100 || st.Dropped < 94 || st.Published != st.Queued || int64(w.count()) != st.Published {
		t.Fatalf("stats %+v, delivered %d", st, w.count())
	}
}

func TestPublisherGivesUpAtTheShutdownDeadline(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	w := &flakyWriter{failures: 1 << 30}
	p := NewPublisher(w, PublisherOptions{QueueSize: 100, BatchSize: 10, Linger: time.Millisecond, Logger: discardLog})
	go p.Run()
	for i := 0; i < 30; i++ {
		p.Publish(&record.Record{RequestID: "r"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want the deadline", err)
	}
	if st := p.Stats(); st.Dropped != 30 || st.Published != 0 {
		t.Fatalf("stats %+v: every undelivered record must be counted as dropped", st)
	}
}

func TestPublisherWritesToKafka(t *testing.T) {
	cfg := config.Config{}
	cfg.ApplyDefaults()
	cfg.Kafka.Brokers = testenv.Kafka(t, cfg.Kafka.Topic)
	w := kafkax.NewWriter(cfg.Kafka, cfg.Kafka.Topic, 100)
	defer w.Close()
	p := NewPublisher(w, PublisherOptions{QueueSize: 1000, BatchSize: 100, Linger: 5 * time.Millisecond, Logger: discardLog})
	go p.Run()
	const n = 250
	for i := 0; i < n; i++ {
		p.Publish(&record.Record{RequestID: newRequestID(time.Now()), Outcome: record.OutcomeOK})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Kafka.Brokers, Topic: cfg.Kafka.Topic, GroupID: "check", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	seen := map[string]bool{}
	for len(seen) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("after %d records: %v", len(seen), err)
		}
		rec, err := record.Decode(m.Value)
		if err != nil || string(m.Key) != rec.RequestID {
			t.Fatalf("bad message: %v", err)
		}
		seen[rec.RequestID] = true
	}
}

func TestRequestIDIsUUIDv7OfTheStartTime(t *testing.T) {
	at := time.UnixMilli(1795689777888)
	id := newRequestID(at)
	if len(id) != 36 || id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
		t.Fatalf("%s is not a UUIDv7", id)
	}
	if !strings.HasPrefix(strings.ReplaceAll(id, "-", ""), "01a217738ae0") {
		t.Fatalf("%s does not carry the start time", id)
	}
	if newRequestID(at) == id {
		t.Fatal("two ids in the same millisecond are equal")
	}
}

func TestMain(m *testing.M) { testenv.Main(m) }

// switchableWriter is a broker that can be down.
type switchableWriter struct {
	flakyWriter
	down atomic.Bool
}

func (w *switchableWriter) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	if w.down.Load() {
		return errors.New("dial tcp 127.0.0.1:9092: connect: connection refused")
	}
	return w.flakyWriter.WriteMessages(ctx, msgs...)
}

func openSpool(t *testing.T, dir string, maxBytes int64) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(config.Spool{Dir: dir, MaxBytes: maxBytes, SegmentBytes: min(maxBytes, 1<<20), Fsync: config.FsyncNever, FsyncInterval: time.Second}, discardLog)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func ids(msgs []kafka.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Key)
	}
	return out
}

func TestPublisherSpoolsWhileKafkaIsDownAndReplaysInOrder(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	w := &switchableWriter{}
	w.down.Store(true)
	sp := openSpool(t, t.TempDir(), 64<<20)
	defer sp.Close()
	// The queue holds everything, so every record goes through the one
	// publishing goroutine and the order is the order of Publish.
	p := NewPublisher(w, PublisherOptions{QueueSize: 1000, BatchSize: 20, Linger: time.Millisecond, Spool: sp, Logger: discardLog})
	go p.Run()
	var want []string
	for i := 0; i < 500; i++ {
		id := fmt.Sprintf("r%04d", i)
		want = append(want, id)
		p.Publish(&record.Record{RequestID: id})
	}
	waitCond(t, "everything spooled", func() bool { st := p.Stats(); return st.Spooled == 500 })
	if st := p.Stats(); st.Dropped != 0 || st.Published != 0 || st.SpoolRecords != 500 {
		t.Fatalf("while Kafka is down: %+v", st)
	}
	w.down.Store(false)
	waitCond(t, "the spool replayed", func() bool { return p.Stats().Replayed == 500 })
	// Traffic after recovery goes straight to Kafka again.
	p.Publish(&record.Record{RequestID: "after"})
	want = append(want, "after")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ids(w.got); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Kafka got %d records, out of order or incomplete", len(got))
	}
	if st := p.Stats(); st.Published != 501 || st.Dropped != 0 || st.SpoolRecords != 0 {
		t.Fatalf("after recovery: %+v", st)
	}
}

func TestPublisherOverflowGoesToTheSpoolNotTheFloor(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	w := &switchableWriter{}
	w.block = make(chan struct{}) // Kafka hangs: the queue fills
	sp := openSpool(t, t.TempDir(), 64<<20)
	defer sp.Close()
	p := NewPublisher(w, PublisherOptions{QueueSize: 5, BatchSize: 1, Linger: time.Millisecond, Spool: sp, Logger: discardLog})
	go p.Run()
	for i := 0; i < 200; i++ {
		p.Publish(&record.Record{RequestID: fmt.Sprintf("r%d", i)})
	}
	st := p.Stats()
	if st.Dropped != 0 || st.Queued > 10 && st.Spooled == 0 || st.SpoolRecords < 150 {
		t.Fatalf("stats %+v: an overflowing queue must spill to the spool", st)
	}
	close(w.block)
	waitCond(t, "everything delivered", func() bool { return w.count() == 200 })
	seen := map[string]bool{}
	for _, id := range ids(w.got) {
		seen[id] = true
	}
	if len(seen) != 200 {
		t.Fatalf("%d distinct records reached Kafka, want 200", len(seen))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPublisherDropsOnlyWhenTheSpoolIsFull(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	w := &switchableWriter{}
	w.down.Store(true)
	sp := openSpool(t, t.TempDir(), 32<<10) // room for a few dozen records
	defer sp.Close()
	p := NewPublisher(w, PublisherOptions{QueueSize: 1000, BatchSize: 10, Linger: time.Millisecond, Spool: sp, Logger: discardLog})
	go p.Run()
	for i := 0; i < 300; i++ {
		p.Publish(&record.Record{RequestID: fmt.Sprintf("r%d", i), ErrorMessage: strings.Repeat("x", 500)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Dropped == 0 || st.Spooled == 0 || st.Spooled+st.Dropped != 300 || st.SpoolRecords != st.Spooled {
		t.Fatalf("stats %+v: records beyond the spool's cap are dropped and counted, the rest kept", st)
	}
}

func TestPublisherCloseSpoolsWhatKafkaWillNotTake(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	w := &switchableWriter{}
	w.down.Store(true)
	sp := openSpool(t, dir, 64<<20)
	p := NewPublisher(w, PublisherOptions{QueueSize: 1000, BatchSize: 100, Linger: time.Hour, Spool: sp, Logger: discardLog})
	go p.Run()
	for i := 0; i < 250; i++ {
		p.Publish(&record.Record{RequestID: fmt.Sprintf("r%d", i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	// The next run finds them on disk.
	again := openSpool(t, dir, 64<<20)
	defer again.Close()
	if n := again.Stats().Records; n != 250 || p.Stats().Dropped != 0 {
		t.Fatalf("%d records in the spool after shutdown (dropped %d), want 250", n, p.Stats().Dropped)
	}
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
