package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/kafkax"
	"github.com/switchyard/switchyard/record"
)

// The ingest-rate phase: records produced straight to the bench broker on a
// topic of their own, then a second ingester, with its own consumer group
// and database and the default batch settings, timed from its start until it
// has stored them all.
const (
	ingestTopic    = "bench.ingest"
	ingestDLQTopic = "bench.ingest.dlq"
	ingestGroup    = "bench-ingest"
	ingestDatabase = "bench_ingest"
	// ingestPartitions matches kafka.partitions of the bench config.
	ingestPartitions = 3
	// produceChunk is how many records go to the broker per WriteMessages
	// call; produceWriters calls run at once. produceBatch is the most
	// records per partition per produce request: the broker's
	// max.message.bytes (1 MB, Kafka's default too) refused 2,000 of these
	// records, lz4 and all; 250 stay well under it.
	produceChunk   = 5000
	produceWriters = 2
	produceBatch   = 250
	// ingestPoll is how often the ingester's /metrics is read.
	ingestPoll = 50 * time.Millisecond
)

// ingestBenchConfig is the second ingester's config: what `switchyard
// ingest` reads, and nothing else. Batch size and flush interval are left to
// their defaults (config.ApplyDefaults).
const ingestBenchConfig = `# Written by loadtest/bench for the ingest-rate phase.
ingest:
  listen: "127.0.0.1:%[1]d"

kafka:
  brokers: ["127.0.0.1:%[2]d"]
  topic: %[3]q
  dlq_topic: %[4]q
  consumer_group: %[5]q
  create_topics: false
  partitions: %[6]d

clickhouse:
  addr: ["127.0.0.1:%[7]d"]
  database: %[8]q
`

// ingestResult is what the ingest-rate phase measured.
type ingestResult struct {
	records      int
	messages     int64 // in the topic: records, unless a write was taken twice
	bytes        int64 // message values (record JSON), uncompressed
	bodyBytes    int64 // request + response bodies
	produceTime  time.Duration
	batchSize    int
	flush        time.Duration
	elapsed      time.Duration // ingester start → every record stored
	ready        time.Duration // ingester start → /metrics answers
	firstBatch   time.Duration // ingester start → first records stored
	firstCount   int64         // records stored at firstBatch
	batches      int64
	deadLetters  int64
	storeErrors  int64
	ingesterCPU  time.Duration
	clickhouse   time.Duration // ClickHouse server, a child of dev mode
	broker       time.Duration // dev mode's own process: the embedded broker
	afterCH      time.Duration // ClickHouse's CPU in the ingestAfter that followed
	otherCores   float64
	timedOut     bool
	storedAtStop int64
}

// ingestAfter is how long ClickHouse's CPU is watched once every record is
// stored: the background merges of the parts the inserts made.
const ingestAfter = 2 * time.Second

// measureIngest runs the ingest-rate phase.
func measureIngest(ctx context.Context, o options, s *stack) (*ingestResult, error) {
	res := &ingestResult{records: o.ingestRecords}
	kcfg := config.Kafka{Brokers: []string{fmt.Sprintf("127.0.0.1:%d", s.ports.Kafka)}, Topic: ingestTopic, DLQTopic: ingestDLQTopic,
		Partitions: ingestPartitions, ReplicationFactor: 1}
	progress("ingest rate: creating topic %s (%d partitions) and producing %d records with chat-sized bodies", ingestTopic, ingestPartitions, o.ingestRecords)
	if err := kafkax.EnsureTopics(ctx, kcfg); err != nil {
		return nil, err
	}
	if err := waitTopic(ctx, kcfg.Brokers[0], ingestTopic, ingestPartitions); err != nil {
		return nil, err
	}
	began := time.Now()
	var err error
	if err = produceRecords(ctx, kcfg, o.ingestRecords, res); err != nil {
		return nil, fmt.Errorf("ingest rate: produce: %w", err)
	}
	res.produceTime = time.Since(began)
	if res.messages, err = topicMessages(ctx, kcfg.Brokers[0], ingestTopic, ingestPartitions); err != nil {
		return nil, fmt.Errorf("ingest rate: count the messages in %s: %w", ingestTopic, err)
	}

	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(s.dir, "ingest-bench.yaml")
	text := fmt.Sprintf(ingestBenchConfig, ports[0], s.ports.Kafka, ingestTopic, ingestDLQTopic, ingestGroup, ingestPartitions, s.ports.ClickHouse, ingestDatabase)
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		return nil, err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	res.batchSize, res.flush = cfg.Ingest.BatchSize, cfg.Ingest.FlushInterval

	progress("ingest rate: creating database %s (switchyard migrate)", ingestDatabase)
	mctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	out, err := exec.CommandContext(mctx, o.switchyard, "migrate", "--config", cfgPath).CombinedOutput()
	cancel()
	if err != nil {
		return nil, fmt.Errorf("switchyard migrate --config %s: %v\n%s", cfgPath, err, out)
	}

	// Start from a quiet machine: the merges that earlier phases left to
	// ClickHouse, and the broker's writes of what was just produced, are not
	// the ingester's.
	waitQuiet(ctx, o.quietWait)
	waitIdle(ctx, []*child{s.dev, s.ingester}, o.quietWait)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	progress("ingest rate: starting a second ingester (batch_size %d, flush_interval %s) on %s; timing until it has stored %d records",
		res.batchSize, res.flush, ingestTopic, o.ingestRecords)
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[0])
	noise := sampleNoise()
	chBefore, brokerBefore := clickHouseCPU(s.dev), statOr0(s.dev.pid())
	start := time.Now()
	in, err := startChild(s.dir, "ingest-bench", o.switchyard, "ingest", "--config", cfgPath)
	if err != nil {
		return nil, err
	}
	defer in.stop(45 * time.Second)
	deadline := start.Add(o.ingestTimeout)
	for {
		now := time.Now()
		m, err := scrapeMetrics(metrics)
		if err == nil {
			if res.ready == 0 {
				res.ready = now.Sub(start)
			}
			stored := int64(m["switchyard_ingest_records_total"])
			res.storedAtStop = stored
			res.batches = int64(m["switchyard_ingest_batches_total"])
			res.deadLetters = int64(m["switchyard_ingest_dead_letters_total"])
			res.storeErrors = int64(m["switchyard_ingest_store_errors_total"])
			if stored > 0 && res.firstBatch == 0 {
				res.firstBatch, res.firstCount = now.Sub(start), stored
			}
			if stored+res.deadLetters >= int64(o.ingestRecords) {
				res.elapsed = now.Sub(start)
				break
			}
		}
		if in.exited() {
			return nil, fmt.Errorf("the ingest-rate ingester exited (%v); the end of %s:\n%s", in.err, in.logPath, in.logTail(15))
		}
		if now.After(deadline) {
			res.elapsed, res.timedOut = now.Sub(start), true
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(ingestPoll):
		}
	}
	// Read before it is stopped: all of it since its start.
	res.ingesterCPU, _ = cpuTime(in.pid())
	chAt := clickHouseCPU(s.dev)
	res.clickhouse = chAt - chBefore
	res.broker = statOr0(s.dev.pid()) - brokerBefore
	res.otherCores = noise.otherCores()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(ingestAfter):
	}
	res.afterCH = clickHouseCPU(s.dev) - chAt
	return res, nil
}

// clickHouseCPU is the CPU time of dev mode's children: its ClickHouse
// server.
func clickHouseCPU(dev *child) time.Duration {
	return treeCPU(dev.pid()) - statOr0(dev.pid())
}

func statOr0(pid int) time.Duration {
	d, _ := statCPU(pid)
	return d
}

// waitIdle waits, up to limit, until procs and their children together keep
// less than a tenth of a core busy over half a second.
func waitIdle(ctx context.Context, procs []*child, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		before := pipelineCPU(procs)
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
		used := pipelineCPU(procs) - before
		if used < 50*time.Millisecond {
			return
		}
		if time.Now().After(deadline) {
			progress("the broker and ClickHouse are still busy (%.2f cores); measuring anyway", used.Seconds()/0.5)
			return
		}
	}
}

// produceRecords writes n valid records to cfg.Topic with produceWriters
// concurrent batches of produceChunk, adding their sizes to res.
func produceRecords(ctx context.Context, cfg config.Kafka, n int, res *ingestResult) error {
	w := kafkax.NewWriter(cfg, cfg.Topic, produceBatch)
	// Patient, rather than retried: see writeAll.
	w.WriteTimeout, w.MaxAttempts = time.Minute, 1
	defer w.Close()
	// The records started over the last five minutes, in order, as if
	// served at an even rate until just now.
	end := time.Now().UnixMilli()
	span := int64(5 * time.Minute / time.Millisecond)
	chunks := make(chan int)
	errs := make(chan error, produceWriters)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range produceWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msgs := make([]kafka.Message, 0, produceChunk)
			for first := range chunks {
				rng := rand.New(rand.NewPCG(uint64(first), 0x5717c4))
				msgs = msgs[:0]
				var bytes, bodies int64
				for i := first; i < min(first+produceChunk, n); i++ {
					r := benchRecord(rng, i, end-span+span*int64(i)/int64(max(n, 1)))
					v, err := record.Encode(nil, r)
					if err != nil {
						errs <- err
						return
					}
					bytes += int64(len(v))
					bodies += int64(len(r.RequestBody) + len(r.ResponseBody))
					msgs = append(msgs, kafka.Message{Key: []byte(r.RequestID), Value: v})
				}
				if err := writeAll(ctx, w, msgs); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				res.bytes += bytes
				res.bodyBytes += bodies
				mu.Unlock()
			}
		}()
	}
	var err error
feed:
	for first := 0; first < n; first += produceChunk {
		select {
		case chunks <- first:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(chunks)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

// writeAll writes msgs, writing again only those the broker certainly did
// not take (a topic just created may be unknown for a moment). It does not
// retry a timeout: the broker may have taken the messages, and a record in
// the topic twice is counted twice by the ingester (it stores it once), which
// would end the measurement early.
func writeAll(ctx context.Context, w *kafka.Writer, msgs []kafka.Message) error {
	for attempt := 1; ; attempt++ {
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			return nil
		}
		werrs, ok := err.(kafka.WriteErrors)
		if !ok || len(werrs) != len(msgs) || attempt == 10 || ctx.Err() != nil {
			return err
		}
		var failed []kafka.Message
		for i, e := range werrs {
			switch {
			case e == nil:
			case errors.Is(e, kafka.UnknownTopicOrPartition), errors.Is(e, kafka.LeaderNotAvailable), errors.Is(e, kafka.NotLeaderForPartition):
				failed = append(failed, msgs[i])
			default:
				return err
			}
		}
		msgs = failed
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// topicMessages is how many messages topic holds: the sum of its
// partitions' end offsets.
func topicMessages(ctx context.Context, broker, topic string, partitions int) (int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(broker), Timeout: 10 * time.Second}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := range partitions {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	resp, err := client.ListOffsets(ctx, req)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return 0, p.Error
		}
		n += p.LastOffset
	}
	return n, nil
}

// waitTopic waits until the broker's metadata lists topic with its
// partitions.
func waitTopic(ctx context.Context, broker, topic string, partitions int) error {
	client := &kafka.Client{Addr: kafka.TCP(broker), Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil {
			for _, t := range md.Topics {
				if t.Name == topic && t.Error == nil && len(t.Partitions) == partitions {
					return nil
				}
			}
			err = fmt.Errorf("topic %s not listed yet", topic)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ingest rate: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Values for the records of the ingest-rate phase: a few models, keys,
// teams and features, as a real deployment's traffic has.
var (
	benchDeployments = []struct{ model, provider string }{
		{"gpt-4o-mini", "openai"}, {"gpt-4o", "openai"}, {"claude-3-5-haiku", "anthropic"}, {"llama-3.1-70b", "groq"},
	}
	benchTeams    = []string{"search", "support", "growth", "platform", "research"}
	benchFeatures = []string{"chat", "summarise", "classify", "extract", "draft-reply"}
	benchSystem   = []string{
		"You are a concise assistant for an online bookshop. Answer in one short paragraph and never invent prices or stock levels.",
		"You are a support agent for a train operator. Be polite, cite the relevant fare rule when you can, and offer a next step.",
		"You summarise customer conversations for the account team. Use three bullet points and keep names and order numbers exact.",
		"You classify incoming tickets into billing, delivery, returns or other, and explain the choice in one sentence.",
	}
	// benchWords is the vocabulary of the generated prose: varied enough
	// that the bodies compress about as well as real text does.
	benchWords = strings.Fields(`the a of to and in that is for it with as on was be by this are or from at an which but not have has can will
		one all would there their more if about out up what so when your you we our they them time delivery order train ticket refund
		book copy edition second-hand price shipping Lyon Paris Berlin week days usually between customer account invoice payment card
		return label parcel carrier tracking number station platform connection delay fare rule season pass discount weekend morning
		evening please thank thanks sorry unfortunately however because therefore also still only just already soon later today tomorrow
		available stock warehouse supplier publisher author novel paperback hardcover condition good very excellent minor wear cover
		pages spine summary customer said asked wanted needed received missing damaged replacement credit note email phone chat agent
		request response model answer question context example detail step first next finally check confirm update change cancel
		booking seat reservation journey route direct via change minutes hours euros pounds dollars free standard express tracked`)
)

// prose appends about n bytes of sentences drawn from benchWords.
func prose(dst []byte, rng *rand.Rand, n int) []byte {
	start := len(dst)
	for len(dst)-start < n {
		words := 6 + rng.IntN(13)
		for w := range words {
			word := benchWords[rng.IntN(len(benchWords))]
			if w == 0 {
				dst = append(dst, strings.ToUpper(word[:1])...)
				dst = append(dst, word[1:]...)
			} else {
				dst = append(dst, ' ')
				dst = append(dst, word...)
			}
		}
		dst = append(dst, ". "...)
	}
	return dst[:len(dst)-1]
}

// benchRecord is the record of one plausible chat exchange, bodies about
// 1–2 KB together, started at startedMs. Its request id is a UUIDv7 of that
// millisecond, as the proxy makes them, made unique by i.
func benchRecord(rng *rand.Rand, i int, startedMs int64) *record.Record {
	d := benchDeployments[rng.IntN(len(benchDeployments))]
	team := benchTeams[rng.IntN(len(benchTeams))]
	stream := rng.IntN(5) == 0
	user := prose(nil, rng, 100+rng.IntN(400))
	reqBody := fmt.Sprintf(`{"model":%q,"messages":[{"role":"system","content":%q},{"role":"user","content":%q}],"temperature":0.7,"max_tokens":512,"stream":%t}`,
		d.model, benchSystem[rng.IntN(len(benchSystem))], user, stream)
	answer := prose(nil, rng, 300+rng.IntN(800))
	prompt, completion := int64(len(reqBody)/4), int64(len(answer)/4)
	cached := int64(0)
	if rng.IntN(3) == 0 {
		cached = prompt / 2
	}
	latency := int64(300 + rng.IntN(3000))
	r := &record.Record{
		SchemaVersion:  record.SchemaVersion,
		RequestID:      benchRequestID(rng, i, startedMs),
		TraceID:        randomHex(rng, 16),
		SpanID:         randomHex(rng, 8),
		StartedAtMs:    startedMs,
		LatencyMs:      latency,
		OverheadUs:     int64(150 + rng.IntN(400)),
		Endpoint:       "/v1/chat/completions",
		Stream:         stream,
		ModelRequested: d.model,
		Model:          d.model,
		Provider:       d.provider,
		KeyID:          team + "-key-" + strconv.Itoa(rng.IntN(4)),
		User:           "user-" + strconv.Itoa(rng.IntN(2000)),
		Team:           team,
		Tags:           []string{"prod"},
		Metadata:       map[string]string{"feature": benchFeatures[rng.IntN(len(benchFeatures))], "env": "prod"},
		StatusCode:     200,
		Outcome:        record.OutcomeOK,
		FinishReason:   "stop",
		Usage:          record.Usage{PromptTokens: prompt, CompletionTokens: completion, CachedTokens: cached},
		CostNUSD:       (prompt-cached)*150 + cached*75 + completion*600,
		Attempts:       []record.Attempt{{Provider: d.provider, Model: d.model, StatusCode: 200, LatencyMs: latency - 1}},
		Routing:        record.Routing{Strategy: "ordered", Reason: "configured order; 1 deployment(s)"},
		RequestBody:    reqBody,
	}
	if stream {
		r.TTFTMs = int64(150 + rng.IntN(600))
	}
	if rng.IntN(10) == 0 {
		r.SessionID = "sess-" + randomHex(rng, 6)
	}
	if rng.IntN(100) == 0 {
		// A rate-limited attempt before the answer.
		r.Attempts = append([]record.Attempt{{Provider: d.provider, Model: d.model, StatusCode: 429, LatencyMs: 40, ErrorType: "rate_limited"}}, r.Attempts...)
	}
	r.ResponseBody = fmt.Sprintf(`{"id":"chatcmpl-%s","object":"chat.completion","created":%d,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`,
		randomHex(rng, 12), startedMs/1000, d.model, answer, prompt, completion, prompt+completion)
	return r
}

// benchRequestID lays out a UUIDv7 as proxy/exchange.go's newRequestID
// does: the first 48 bits are the start time in ms, then version 7 and
// random bits; the last 4 bytes are i, so that the ids of one run are
// unique.
func benchRequestID(rng *rand.Rand, i int, ms int64) string {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[8:], rng.Uint64())
	binary.BigEndian.PutUint32(u[12:], uint32(i))
	r := rng.Uint64()
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = 0x70 | byte(r)&0x0f
	u[7] = byte(r >> 8)
	u[8] = 0x80 | u[8]&0x3f
	return u.String()
}

func randomHex(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return hex.EncodeToString(b)
}
