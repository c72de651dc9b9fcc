package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchyard/switchyard/internal/kafkax"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/record"
)

// realisticRecord has bodies of a typical chat exchange (~1.5 KB).
func realisticRecord(i int, base int64) []byte {
	r := testRecord(i)
	r.RequestID = fmt.Sprintf("%08x-%04x-7000-8000-%012d", uint64(base)>>16, uint64(base)&0xffff, i)
	r.StartedAtMs = base + int64(i/50)
	r.RequestBody = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"` +
		strings.Repeat("Explain how a railway switchyard sorts freight cars. ", 8) + `"}]}`
	r.ResponseBody = `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"` +
		strings.Repeat("Cars are pushed over a hump and roll by gravity onto sorting tracks. ", 10) + `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":150,"total_tokens":270}}`
	b, _ := record.Encode(nil, r)
	return b
}

// BenchmarkIngest measures records per second from Kafka (kfake, in
// process) into ClickHouse, bodies included: decode, offset fence, the
// duplicate look-up, the inserts and the commits. The records are produced
// before the clock starts.
func BenchmarkIngest(b *testing.B) {
	kcfg := kafkaConfig(b)
	chcfg := testenv.ClickHouse(b)
	n := max(b.N, 20000)
	w := kafkax.NewWriter(kcfg, kcfg.Topic, 5000)
	base := time.Now().UnixMilli()
	ctx := context.Background()
	for start := 0; start < n; start += 5000 {
		msgs := make([]kafka.Message, 0, 5000)
		for i := start; i < min(start+5000, n); i++ {
			msgs = append(msgs, kafka.Message{Value: realisticRecord(i, base)})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			b.Fatal(err)
		}
	}
	w.Close()
	b.Logf("produced %d records in %v", n, time.Since(time.UnixMilli(base)))
	reader := kafkax.NewReader(kcfg)
	defer reader.Close()
	opts := testOptions()
	opts.BatchSize = 50000
	opts.FlushInterval = time.Second
	in := New(reader, NewClickHouseStore(testenv.Conn(b, chcfg)), nil, opts)
	b.ResetTimer()
	start := time.Now()
	stop := runIngester(b, in)
	deadline := time.Now().Add(5 * time.Minute)
	for in.Stats().Inserted < int64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("stored %+v of %d records in 5 minutes", in.Stats(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := stop(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
}
