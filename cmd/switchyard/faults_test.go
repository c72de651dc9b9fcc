package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/chdb"
	"github.com/switchyard/switchyard/internal/chserver"
	"github.com/switchyard/switchyard/internal/kafkax"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/migrations"
	"github.com/switchyard/switchyard/mock"
	"github.com/switchyard/switchyard/record"
)

// faultRecord is a realistic record: bodies included.
func faultRecord(i int, base int64) *record.Record {
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("question ", 40) + fmt.Sprint(i) + `"}]}`
	return &record.Record{
		RequestID: fmt.Sprintf("%08x-%04x-7000-8000-%012d", uint64(base)>>16, uint64(base)&0xffff, i),
		TraceID:   fmt.Sprintf("%032x", i), SpanID: fmt.Sprintf("%016x", i+1),
		StartedAtMs: base + int64(i), LatencyMs: 100, Endpoint: "/v1/chat/completions",
		Model: "gpt-4o-mini", Provider: "p", KeyID: "k", Team: "t", Outcome: record.OutcomeOK, StatusCode: 200,
		Usage: record.Usage{PromptTokens: 50, CompletionTokens: int64(i % 100)}, CostNUSD: int64(1000 + i),
		RequestBody: body, ResponseBody: `{"choices":[{"message":{"content":"` + strings.Repeat("answer ", 40) + `"}}]}`,
	}
}

func produceRecords(t *testing.T, kcfg config.Kafka, recs []*record.Record) {
	t.Helper()
	w := kafkax.NewWriter(kcfg, kcfg.Topic, 500)
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for start := 0; start < len(recs); start += 500 {
		var msgs []kafka.Message
		for _, r := range recs[start:min(start+500, len(recs))] {
			b, err := record.Encode(nil, r)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, kafka.Message{Key: []byte(r.RequestID), Value: b})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
}

// storedTotals are what ClickHouse holds: rows (replays not yet merged away
// count twice), distinct ids and the spend sum over distinct ids.
type storedTotals struct {
	rows, distinct uint64
	cost           int64
}

func stored(t *testing.T, cfg config.ClickHouse) (storedTotals, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := chdb.Open(ctx, cfg)
	if err != nil {
		return storedTotals{}, err
	}
	defer conn.Close()
	var s storedTotals
	err = conn.QueryRow(ctx, "SELECT count(), uniqExact(request_id), (SELECT sum(cost_nusd) FROM requests FINAL) FROM requests").Scan(&s.rows, &s.distinct, &s.cost)
	return s, err
}

func wantTotals(recs []*record.Record) storedTotals {
	w := storedTotals{rows: uint64(len(recs)), distinct: uint64(len(recs))}
	for _, r := range recs {
		w.cost += r.CostNUSD
	}
	return w
}

func waitStored(t *testing.T, cfg config.ClickHouse, want storedTotals) {
	t.Helper()
	// Poll until the totals match; once every id is there, give in-flight
	// inserts a few seconds (a query's subquery may read an older snapshot
	// of the parts) before calling a difference real.
	deadline := time.Now().Add(2 * time.Minute)
	var got storedTotals
	var err error
	for time.Now().Before(deadline) {
		if got, err = stored(t, cfg); err == nil && got == want {
			return
		}
		if err == nil && got.distinct >= want.distinct {
			if settle := time.Now().Add(3 * time.Second); settle.Before(deadline) {
				deadline = settle
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != want {
		conn := testenv.Conn(t, cfg)
		var plain, final int64
		var parts uint64
		_ = conn.QueryRow(context.Background(), "SELECT sum(cost_nusd) FROM requests").Scan(&plain)
		_ = conn.QueryRow(context.Background(), "SELECT sum(cost_nusd) FROM requests FINAL").Scan(&final)
		_ = conn.QueryRow(context.Background(), "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'requests' AND active").Scan(&parts)
		t.Fatalf("stored %+v (err %v), want exactly %+v; now sum %d, sum FINAL %d, %d parts", got, err, want, plain, final, parts)
	}
}

// stopMerges keeps replayed rows visible: a double insert must show as an
// extra row, not be folded away by a merge before the check.
func stopMerges(t *testing.T, cfg config.ClickHouse) {
	t.Helper()
	conn := testenv.Conn(t, cfg)
	if err := conn.Exec(context.Background(), "SYSTEM STOP MERGES requests"); err != nil {
		t.Fatal(err)
	}
}

func faultConfig(t *testing.T, brokers []string, ch config.ClickHouse) (*config.Config, string) {
	t.Helper()
	text := fmt.Sprintf(`
ingest:
  listen: "127.0.0.1:0"
  batch_size: 700
  flush_interval: 100ms
  retry_backoff: 50ms
  max_retry_backoff: 500ms
kafka:
  brokers: [%q]
  session_timeout: 6s
clickhouse:
  addr: [%q]
  database: %s
`, brokers[0], ch.Addr[0], ch.Database)
	path := filepath.Join(t.TempDir(), "switchyard.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, path
}

// TestIngesterKilledMidBatch kills the ingester process with SIGKILL while
// it is storing, several times, and restarts it: every record ends up
// stored exactly once, with the exact spend.
func TestIngesterKilledMidBatch(t *testing.T) {
	ch := testenv.ClickHouse(t)
	stopMerges(t, ch)
	cfg, path := faultConfig(t, testenv.Kafka(t, "switchyard.requests", "switchyard.requests.dlq"), ch)
	base := time.Now().UnixMilli()
	var recs []*record.Record
	for i := 0; i < 12000; i++ {
		recs = append(recs, faultRecord(i, base))
	}
	produceRecords(t, cfg.Kafka, recs)

	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SWITCHYARD_TEST_RUN=ingest --config "+path, "SWITCHYARD_LOG=warn")
		cmd.Stderr = io.Discard
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	for kill := 1; kill <= 2; kill++ {
		cmd := start()
		before, _ := stored(t, ch)
		// Kill it as soon as it has stored something more: mid-way through
		// the topic, usually between an insert and its commit.
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			if now, err := stored(t, ch); err == nil && now.distinct > before.distinct {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	cmd := start()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	waitStored(t, ch, wantTotals(recs))
}

// TestClickHouseDownDuringLoad kills ClickHouse while records flow and
// brings it back: the ingester retries, loses nothing and stores nothing
// twice.
func TestClickHouseDownDuringLoad(t *testing.T) {
	testenv.RequireClickHouseBinary(t)
	server, err := chserver.Start(context.Background(), chserver.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Kill)
	ch := config.ClickHouse{Addr: []string{server.TCPAddr()}, Database: "faults", Username: "default", DialTimeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := chdb.Open(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.Up(ctx, conn); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	stopMerges(t, ch)
	cfg, _ := faultConfig(t, testenv.Kafka(t, "switchyard.requests", "switchyard.requests.dlq"), ch)
	app, err := newIngestApp(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopIngest := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.run(runCtx) }()
	defer func() {
		stopIngest()
		if err := <-done; err != nil {
			t.Errorf("ingester: %v", err)
		}
	}()

	base := time.Now().UnixMilli()
	var recs []*record.Record
	for i := 0; i < 6000; i++ {
		recs = append(recs, faultRecord(i, base))
	}
	produceRecords(t, cfg.Kafka, recs[:2000])
	waitUntil(t, "the first records stored", func() bool { s, err := stored(t, ch); return err == nil && s.distinct > 0 })
	server.Kill()
	produceRecords(t, cfg.Kafka, recs[2000:4000]) // while ClickHouse is down
	time.Sleep(time.Second)
	restarted, err := chserver.Start(ctx, chserver.Options{Dir: server.Dir(), TCPPort: server.TCPPort(), HTTPPort: server.HTTPPort()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = restarted.Stop() })
	stopMerges(t, ch) // a restarted server merges again
	produceRecords(t, cfg.Kafka, recs[4000:])
	waitStored(t, ch, wantTotals(recs))
	if app.ingester.Stats().StoreErrors == 0 {
		t.Error("no store call failed: ClickHouse was not down while records came in")
	}
}

// TestProxyStartsWhileKafkaIsDown serves traffic with no broker at all:
// records go to the disk spool, and every one of them reaches ClickHouse,
// with the spend the clients were charged, once the broker comes up.
func TestProxyStartsWhileKafkaIsDown(t *testing.T) {
	ch := testenv.ClickHouse(t)
	kafkaPort, err := chserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	brokers := []string{fmt.Sprintf("127.0.0.1:%d", kafkaPort)}
	sim := httptest.NewServer(mock.New([]config.MockProvider{{Name: "sim", CompletionTokens: 20}}))
	defer sim.Close()
	cfg := e2eConfig(t, brokers, ch, sim.URL)
	cfg.Proxy.Spool.Fsync = config.FsyncAlways
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	proxyApp, err := newProxyApp(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	proxyCtx, stopProxy := context.WithCancel(ctx)
	proxyDone := make(chan error, 1)
	go func() { proxyDone <- proxyApp.run(proxyCtx) }()
	defer func() {
		stopProxy()
		if err := <-proxyDone; err != nil {
			t.Errorf("proxy: %v", err)
		}
	}()

	const n = 150
	var charged int64
	url := "http://" + proxyApp.ln.Addr().String() + "/v1/chat/completions"
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello `+fmt.Sprint(i)+`"}]}`))
		req.Header.Set("Authorization", "Bearer "+e2eKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Usage struct {
				Cost json.Number `json:"cost"`
			} `json:"usage"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d, %v", i, resp.StatusCode, err)
		}
		nano, err := config.ParseUSD(body.Usage.Cost.String())
		if err != nil {
			t.Fatal(err)
		}
		charged += nano
	}
	waitUntil(t, "every record spooled", func() bool { return proxyApp.publisher.Stats().SpoolRecords == n })

	// The broker comes up on the configured port; then the ingester.
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(kafkaPort),
		kfake.SeedTopics(3, cfg.Kafka.Topic), kfake.SeedTopics(1, cfg.Kafka.DLQTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	in, err := newIngestApp(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ingestCtx, stopIngest := context.WithCancel(ctx)
	ingestDone := make(chan error, 1)
	go func() { ingestDone <- in.run(ingestCtx) }()
	defer func() {
		stopIngest()
		if err := <-ingestDone; err != nil {
			t.Errorf("ingest: %v", err)
		}
	}()

	waitStored(t, ch, storedTotals{rows: n, distinct: n, cost: charged})
	if st := proxyApp.publisher.Stats(); st.Dropped != 0 || st.Replayed != n || st.SpoolRecords != 0 {
		t.Errorf("publisher %+v", st)
	}
}

// TestProxySIGTERMUnderLoad stops a proxy process with SIGTERM while
// clients are sending to it: every request that was answered is stored.
func TestProxySIGTERMUnderLoad(t *testing.T) {
	ch := testenv.ClickHouse(t)
	brokers := testenv.Kafka(t, "switchyard.requests", "switchyard.requests.dlq")
	sim := httptest.NewServer(mock.New([]config.MockProvider{{Name: "sim", Latency: 5 * time.Millisecond, CompletionTokens: 10}}))
	defer sim.Close()
	port, err := chserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := e2eConfig(t, brokers, ch, sim.URL)
	text := fmt.Sprintf(`
proxy: {listen: "127.0.0.1:%d", spool: {dir: %q}, shutdown_timeout: 20s}
kafka: {brokers: [%q]}
keys:
  - id: e2e
    key: %s
providers:
  - {name: sim, type: openai, base_url: "%s/sim/v1"}
models:
  - name: gpt-4o-mini
    deployments: [{provider: sim, pricing: {input: 0.15, output: 0.60}}]
`, port, t.TempDir(), brokers[0], e2eKey, sim.URL)
	path := filepath.Join(t.TempDir(), "proxy.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SWITCHYARD_TEST_RUN=proxy --config "+path, "SWITCHYARD_LOG=warn")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the proxy", func() bool { return listening(port) })

	// Clients send until the proxy stops answering.
	var mu sync.Mutex
	answered := map[string]bool{}
	var wg sync.WaitGroup
	stopClients := make(chan struct{})
	url := fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", port)
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			for {
				select {
				case <-stopClients:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
				req.Header.Set("Authorization", "Bearer "+e2eKey)
				resp, err := client.Do(req)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == 200 {
					mu.Lock()
					answered[resp.Header.Get("X-Request-Id")] = true
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the proxy exited with: %v", err)
	}
	close(stopClients)
	wg.Wait()
	if len(answered) < 50 {
		t.Fatalf("only %d requests answered before the stop", len(answered))
	}

	// Every answered request reaches ClickHouse.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in, err := newIngestApp(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ingestCtx, stopIngest := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- in.run(ingestCtx) }()
	defer func() {
		stopIngest()
		<-done
	}()
	waitUntil(t, "every answered request stored", func() bool {
		s, err := stored(t, ch)
		return err == nil && s.distinct >= uint64(len(answered))
	})
	conn := testenv.Conn(t, ch)
	rows, err := conn.Query(ctx, "SELECT request_id FROM requests")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	storedIDs := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		storedIDs[id] = true
	}
	for id := range answered {
		if !storedIDs[id] {
			t.Fatalf("request %s was answered but not stored (%d answered, %d stored)", id, len(answered), len(storedIDs))
		}
	}
}
