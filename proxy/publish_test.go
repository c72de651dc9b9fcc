package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/kafkax"
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
	p := NewPublisher(w, 100, 10, time.Millisecond, discardLog)
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
	p := NewPublisher(w, 5, 1, time.Millisecond, discardLog)
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
	p := NewPublisher(w, 100, 10, time.Millisecond, discardLog)
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
	p := NewPublisher(w, 1000, 100, 5*time.Millisecond, discardLog)
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
