package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/kafkax"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/record"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// kafkaConfig returns a config for a fresh broker with both topics.
func kafkaConfig(t testing.TB) config.Kafka {
	cfg := config.Config{}
	cfg.ApplyDefaults()
	cfg.Kafka.Brokers = testenv.Kafka(t, cfg.Kafka.Topic, cfg.Kafka.DLQTopic)
	return cfg.Kafka
}

func testRecord(i int) *record.Record {
	return &record.Record{
		RequestID:      fmt.Sprintf("01a21773-0000-7000-8000-%012d", i),
		TraceID:        "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:         fmt.Sprintf("%016x", i+1),
		StartedAtMs:    time.Now().UnixMilli(),
		LatencyMs:      120,
		Endpoint:       "/v1/chat/completions",
		ModelRequested: "gpt-4o",
		Model:          "gpt-4o",
		Provider:       "p1",
		KeyID:          "k1",
		Team:           "t",
		Tags:           []string{"a"},
		Metadata:       map[string]string{"feature": "x"},
		StatusCode:     200,
		Outcome:        record.OutcomeOK,
		Usage:          record.Usage{PromptTokens: 10, CompletionTokens: int64(i)},
		CostNUSD:       int64(1000 + i),
		Attempts:       []record.Attempt{{Provider: "p1", Model: "gpt-4o", StatusCode: 200, LatencyMs: 100}},
		RequestBody:    `{"model":"gpt-4o"}`,
		ResponseBody:   `{"choices":[]}`,
	}
}

func produce(t *testing.T, cfg config.Kafka, values ...[]byte) {
	t.Helper()
	w := kafkax.NewWriter(cfg, cfg.Topic, 100)
	defer w.Close()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprint(i)), Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

func encode(t *testing.T, r *record.Record) []byte {
	b, err := record.Encode(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testOptions() Options {
	return Options{BatchSize: 50, FlushInterval: 50 * time.Millisecond, RetryBackoff: 10 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond, Logger: quiet}
}

// runIngester runs an ingester until the returned stop is called; stop
// returns Run's error.
func runIngester(t testing.TB, in *Ingester) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			t.Fatal("ingester did not stop")
			return nil
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countRows(t *testing.T, cfg config.ClickHouse, table string) uint64 {
	t.Helper()
	conn := testenv.Conn(t, cfg)
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM (SELECT request_id FROM "+table+" GROUP BY request_id)").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIngestIntoClickHouse(t *testing.T) {
	kcfg := kafkaConfig(t)
	chcfg := testenv.ClickHouse(t)
	const n = 230
	values := make([][]byte, n)
	for i := range values {
		values[i] = encode(t, testRecord(i))
	}
	produce(t, kcfg, values...)

	reader := kafkax.NewReader(kcfg)
	dlq := kafkax.NewWriter(kcfg, kcfg.DLQTopic, 10)
	defer dlq.Close()
	in := New(reader, NewClickHouseStore(testenv.Conn(t, chcfg)), dlq, testOptions())
	stop := runIngester(t, in)
	waitFor(t, "every record stored", func() bool { return in.Stats().Inserted == n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	reader.Close()
	if got := countRows(t, chcfg, "requests"); got != n {
		t.Fatalf("requests has %d distinct ids, want %d", got, n)
	}
	if got := countRows(t, chcfg, "request_bodies"); got != n {
		t.Fatalf("request_bodies has %d distinct ids, want %d", got, n)
	}
	if got := countRows(t, chcfg, "trace_index"); got != n {
		t.Fatalf("trace_index has %d ids, want %d", got, n)
	}
	var cost int64
	conn := testenv.Conn(t, chcfg)
	if err := conn.QueryRow(context.Background(), "SELECT sum(cost_nusd) FROM requests").Scan(&cost); err != nil {
		t.Fatal(err)
	}
	if want := int64(n*1000 + n*(n-1)/2); cost != want {
		t.Fatalf("sum(cost_nusd) = %d, want %d", cost, want)
	}
	// Offsets were committed: the group has nothing left to read.
	again := kafkax.NewReader(kcfg)
	defer again.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if m, err := again.FetchMessage(ctx); err == nil {
		t.Fatalf("the group reads offset %d again after a clean stop", m.Offset)
	}
}

func TestPoisonMessagesGoToTheDeadLetterTopic(t *testing.T) {
	kcfg := kafkaConfig(t)
	chcfg := testenv.ClickHouse(t)
	futureJSON := []byte(fmt.Sprintf(`{"schema_version":%d,"request_id":"x"}`, record.SchemaVersion+1))
	produce(t, kcfg,
		encode(t, testRecord(1)),
		[]byte("not json at all"),
		encode(t, testRecord(2)),
		futureJSON,
		[]byte(`{"schema_version":1}`),
		encode(t, testRecord(3)),
	)
	reader := kafkax.NewReader(kcfg)
	defer reader.Close()
	dlq := kafkax.NewWriter(kcfg, kcfg.DLQTopic, 10)
	defer dlq.Close()
	in := New(reader, NewClickHouseStore(testenv.Conn(t, chcfg)), dlq, testOptions())
	stop := runIngester(t, in)
	waitFor(t, "good records stored and poison dead-lettered", func() bool {
		st := in.Stats()
		return st.Inserted == 3 && st.DeadLettered == 3
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, chcfg, "requests"); got != 3 {
		t.Fatalf("%d records stored, want 3", got)
	}
	dr := kafka.NewReader(kafka.ReaderConfig{Brokers: kcfg.Brokers, Topic: kcfg.DLQTopic, GroupID: "dlq-reader", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer dr.Close()
	reasons := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(reasons) < 3 {
		m, err := dr.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("reading the dead-letter topic: %v (have %v)", err, reasons)
		}
		if string(headerValue(m, "switchyard-topic")) != kcfg.Topic || headerValue(m, "switchyard-offset") == nil {
			t.Errorf("dead letter lacks its origin: %+v", m.Headers)
		}
		reasons[string(m.Value)] = string(headerValue(m, "switchyard-error"))
	}
	if r := reasons["not json at all"]; r == "" {
		t.Errorf("no reason for the non-JSON message: %v", reasons)
	}
	if r := reasons[string(futureJSON)]; !strings.Contains(r, "unsupported schema_version") {
		t.Errorf("reason for the future version: %q", r)
	}
	if r := reasons[`{"schema_version":1}`]; !strings.Contains(r, "request_id") {
		t.Errorf("reason for the record without id: %q", r)
	}
}

// flakyStore fails its first failures inserts, as a ClickHouse that is down
// would.
type flakyStore struct {
	Store
	failures atomic.Int32
	calls    atomic.Int32
}

func (s *flakyStore) InsertItems(ctx context.Context, items []Item) (int, error) {
	s.calls.Add(1)
	if s.failures.Add(-1) >= 0 {
		return 0, errors.New("connection refused")
	}
	return s.Store.InsertItems(ctx, items)
}

func TestInsertFailuresAreRetriedWithoutLoss(t *testing.T) {
	kcfg := kafkaConfig(t)
	chcfg := testenv.ClickHouse(t)
	const n = 120
	values := make([][]byte, n)
	for i := range values {
		values[i] = encode(t, testRecord(i))
	}
	produce(t, kcfg, values...)
	store := &flakyStore{Store: NewClickHouseStore(testenv.Conn(t, chcfg))}
	store.failures.Store(5)
	reader := kafkax.NewReader(kcfg)
	defer reader.Close()
	in := New(reader, store, nil, testOptions())
	stop := runIngester(t, in)
	waitFor(t, "every record stored", func() bool { return in.Stats().Inserted == n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := in.Stats(); st.StoreErrors != 5 {
		t.Errorf("insert errors = %d, want 5", st.StoreErrors)
	}
	if got := countRows(t, chcfg, "requests"); got != n {
		t.Fatalf("%d records stored, want %d", got, n)
	}
}

func TestShutdownStoresWhatWasFetched(t *testing.T) {
	kcfg := kafkaConfig(t)
	chcfg := testenv.ClickHouse(t)
	const n = 40
	values := make([][]byte, n)
	for i := range values {
		values[i] = encode(t, testRecord(i))
	}
	produce(t, kcfg, values...)
	reader := kafkax.NewReader(kcfg)
	defer reader.Close()
	opts := testOptions()
	opts.BatchSize = 1000
	opts.FlushInterval = time.Hour // only the shutdown flushes
	fetchCounter := &countingFetcher{Fetcher: reader}
	in := New(fetchCounter, NewClickHouseStore(testenv.Conn(t, chcfg)), nil, opts)
	stop := runIngester(t, in)
	waitFor(t, "every message fetched", func() bool { return fetchCounter.n.Load() == n })
	if in.Stats().Inserted != 0 {
		t.Fatal("stored before the flush interval")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, chcfg, "requests"); got != n {
		t.Fatalf("%d records stored at shutdown, want %d", got, n)
	}
}

type countingFetcher struct {
	Fetcher
	n atomic.Int64
}

func (f *countingFetcher) FetchMessage(ctx context.Context) (kafka.Message, error) {
	m, err := f.Fetcher.FetchMessage(ctx)
	if err == nil {
		f.n.Add(1)
	}
	return m, err
}

func rawCount(t *testing.T, cfg config.ClickHouse, table string) uint64 {
	t.Helper()
	var n uint64
	if err := testenv.Conn(t, cfg).QueryRow(context.Background(), "SELECT count() FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestInsertIsIdempotent(t *testing.T) {
	chcfg := testenv.ClickHouse(t)
	store := NewClickHouseStore(testenv.Conn(t, chcfg))
	var recs []*record.Record
	for i := 0; i < 50; i++ {
		r := testRecord(i)
		r.StartedAtMs -= int64(i) * 90_000 // across many minutes
		recs = append(recs, r)
	}
	ctx := context.Background()
	if err := store.Insert(ctx, recs[:30]); err != nil {
		t.Fatal(err)
	}
	// A retry of a batch that partly made it, with a repeat inside it.
	if err := store.Insert(ctx, append(recs, recs[40])); err != nil {
		t.Fatal(err)
	}
	if err := store.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	// Tables with views counting from them hold each record once; bodies
	// may be written again (folded by the table, read once by the API).
	for _, table := range []string{"requests", "trace_index"} {
		if n := rawCount(t, chcfg, table); n != 50 {
			t.Errorf("%s holds %d rows, want 50: a replay was inserted again", table, n)
		}
	}
	if n := countRows(t, chcfg, "request_bodies"); n != 50 {
		t.Errorf("request_bodies holds bodies of %d requests, want 50", n)
	}
}

// commitLosingFetcher forgets to commit, as an ingester killed between its
// insert and its commit does.
type commitLosingFetcher struct{ Fetcher }

func (commitLosingFetcher) CommitMessages(context.Context, ...kafka.Message) error { return nil }

// countingStore counts the requests that reach the store to be inserted
// (not those sent for their bodies alone).
type countingStore struct {
	*ClickHouseStore
	items atomic.Int64
}

func (s *countingStore) InsertItems(ctx context.Context, items []Item) (int, error) {
	for _, it := range items {
		if !it.BodiesOnly {
			s.items.Add(1)
		}
	}
	return s.ClickHouseStore.InsertItems(ctx, items)
}

func TestOffsetFenceSkipsWhatIsStoredButUncommitted(t *testing.T) {
	kcfg := kafkaConfig(t)
	chcfg := testenv.ClickHouse(t)
	const n = 60
	values := make([][]byte, n)
	for i := range values {
		values[i] = encode(t, testRecord(i))
	}
	produce(t, kcfg, values...)

	// The first ingester stores everything but never commits.
	first := kafkax.NewReader(kcfg)
	in := New(commitLosingFetcher{first}, NewClickHouseStore(testenv.Conn(t, chcfg)), nil, testOptions())
	stop := runIngester(t, in)
	waitFor(t, "the first ingester to store everything", func() bool { return in.Stats().Inserted == n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	first.Close()

	// The next one is handed the same messages again and skips them all
	// before they reach the store as requests (their bodies are written
	// again).
	store := &countingStore{ClickHouseStore: NewClickHouseStore(testenv.Conn(t, chcfg))}
	second := kafkax.NewReader(kcfg)
	defer second.Close()
	in2 := New(second, store, nil, testOptions())
	stop = runIngester(t, in2)
	waitFor(t, "the replay to be fenced", func() bool { return in2.Stats().Fenced == n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := store.items.Load(); got != 0 {
		t.Errorf("%d replayed requests reached the store past the fence", got)
	}
	if got := rawCount(t, chcfg, "requests"); got != n {
		t.Errorf("requests holds %d rows, want %d", got, n)
	}
	fence, err := NewClickHouseStore(testenv.Conn(t, chcfg)).Fence(context.Background(), kcfg.Topic)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, off := range fence {
		total += off + 1 // offsets start at 0 in each partition
	}
	if total != n {
		t.Errorf("fence %v covers %d offsets, want %d", fence, total, n)
	}
}

// TestLargeBatchIsOnePart checks that a batch sent as many blocks of one
// INSERT still lands as one part per table (the server squashes the
// blocks): one part per block would multiply merges and approach the
// server's too-many-parts limit under load.
func TestLargeBatchIsOnePart(t *testing.T) {
	chcfg := testenv.ClickHouse(t)
	conn := testenv.Conn(t, chcfg)
	ctx := context.Background()
	for _, table := range []string{"requests", "request_bodies"} {
		if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+table); err != nil {
			t.Fatal(err)
		}
	}
	const n = 3*blockRows + 100
	recs := make([]*record.Record, n)
	base := time.Now().UnixMilli()
	for i := range recs {
		recs[i] = testRecord(i)
		recs[i].StartedAtMs = base // one partition
	}
	if err := NewClickHouseStore(conn).Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"requests", "request_bodies"} {
		var parts, rows uint64
		if err := conn.QueryRow(ctx, "SELECT count(), sum(rows) FROM system.parts WHERE database = currentDatabase() AND table = ? AND active", table).Scan(&parts, &rows); err != nil {
			t.Fatal(err)
		}
		if parts != 1 || rows != n {
			t.Errorf("%s: %d rows in %d parts, want %d in 1", table, rows, parts, n)
		}
	}
}

// TestRepeatsAreCountedOnce checks the ingester's counts when a record
// arrives twice (a proxy's replay, a rebalance's refetch): stored once,
// counted once as stored and once as a duplicate.
func TestRepeatsAreCountedOnce(t *testing.T) {
	kcfg := kafkaConfig(t)
	chcfg := testenv.ClickHouse(t)
	values := [][]byte{encode(t, testRecord(1)), encode(t, testRecord(2)), encode(t, testRecord(1))}
	produce(t, kcfg, values...)
	reader := kafkax.NewReader(kcfg)
	defer reader.Close()
	in := New(reader, NewClickHouseStore(testenv.Conn(t, chcfg)), nil, testOptions())
	stop := runIngester(t, in)
	waitFor(t, "the batch stored", func() bool { return in.Stats().Batches >= 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := in.Stats(); st.Inserted != 2 || st.Duplicates != 1 {
		t.Fatalf("stats %+v: want 2 inserted, 1 duplicate", st)
	}
	if got := rawCount(t, chcfg, "requests"); got != 2 {
		t.Fatalf("requests holds %d rows, want 2", got)
	}
}

// TestReplayRestoresBodies checks that a crash between the two inserts
// never loses bodies: an ingester whose bodies insert fails stores the
// requests and dies uncommitted; the next one finds them behind the offset
// fence, stores nothing twice, and writes the bodies.
func TestReplayRestoresBodies(t *testing.T) {
	kcfg := kafkaConfig(t)
	chcfg := testenv.ClickHouse(t)
	conn := testenv.Conn(t, chcfg)
	ctx := context.Background()
	produce(t, kcfg, encode(t, testRecord(1)), encode(t, testRecord(2)), encode(t, testRecord(3)))
	if err := conn.Exec(ctx, "RENAME TABLE request_bodies TO request_bodies_away"); err != nil {
		t.Fatal(err)
	}
	opts := testOptions()
	opts.DrainTimeout = time.Millisecond
	first := kafkax.NewReader(kcfg)
	in := New(first, NewClickHouseStore(conn), nil, opts)
	stop := runIngester(t, in)
	waitFor(t, "the requests stored, their bodies not", func() bool { return rawCount(t, chcfg, "requests") == 3 && in.Stats().StoreErrors > 0 })
	if err := stop(); err == nil {
		t.Fatal("the first ingester stopped cleanly without its bodies stored")
	}
	first.Close()
	if err := conn.Exec(ctx, "RENAME TABLE request_bodies_away TO request_bodies"); err != nil {
		t.Fatal(err)
	}

	second := kafkax.NewReader(kcfg)
	defer second.Close()
	in = New(second, NewClickHouseStore(conn), nil, testOptions())
	stop = runIngester(t, in)
	waitFor(t, "the replayed batch", func() bool { return in.Stats().Batches >= 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := in.Stats(); st.Fenced != 3 || st.Inserted != 0 || st.Duplicates != 0 {
		t.Fatalf("replay stats %+v: want 3 fenced, nothing inserted", st)
	}
	if r, b := rawCount(t, chcfg, "requests"), countRows(t, chcfg, "request_bodies"); r != 3 || b != 3 {
		t.Fatalf("requests %d rows, bodies of %d requests; want 3 and 3", r, b)
	}
}
