package testenv_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestClickHouseDatabasePerTest(t *testing.T) {
	first := testenv.ClickHouse(t)
	second := testenv.EmptyClickHouse(t)
	if first.Database == second.Database {
		t.Fatalf("two calls returned the same database %q", first.Database)
	}
	ctx := context.Background()

	var tables uint64
	conn := testenv.Conn(t, first)
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'requests'").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 1 {
		t.Fatalf("migrated database has no requests table")
	}
	if err := testenv.Conn(t, second).QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase()").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatalf("empty database has %d tables", tables)
	}

	// The database must be gone once the test that owns it ends.
	var name string
	t.Run("sub", func(t *testing.T) {
		name = testenv.EmptyClickHouse(t).Database
	})
	var left uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", name).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("database %s outlived its test", name)
	}
}

// TestKafkaGoRoundTrip checks that the client the product uses
// (segmentio/kafka-go: Writer, and Reader in a consumer group with explicit
// commits) works against kfake: produce, consume, commit, and resume from
// the committed offsets in a new reader of the same group.
func TestKafkaGoRoundTrip(t *testing.T) {
	// Registered first so that it runs last, after the cluster's own
	// cleanup: nothing of kafka-go or kfake may outlive the test.
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })

	const topic, group = "switchyard.requests", "switchyard-ingest"
	brokers := testenv.Kafka(t, topic)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	writer := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 10 * time.Millisecond,
		Transport:    transport,
	}
	defer writer.Close()
	produce := func(from, to int) {
		t.Helper()
		var msgs []kafka.Message
		for i := from; i < to; i++ {
			msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "key-%d", i), Value: fmt.Appendf(nil, "value-%d", i)})
		}
		if err := writer.WriteMessages(ctx, msgs...); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	consume := func(n int) []string {
		t.Helper()
		reader := kafka.NewReader(kafka.ReaderConfig{
			Brokers:        brokers,
			GroupID:        group,
			Topic:          topic,
			MaxWait:        50 * time.Millisecond,
			CommitInterval: 0, // commits are synchronous, as the ingester needs
		})
		defer reader.Close()
		var got []string
		partitions := map[int]bool{}
		for len(got) < n {
			msg, err := reader.FetchMessage(ctx)
			if err != nil {
				t.Fatalf("fetch after %d messages: %v", len(got), err)
			}
			got = append(got, string(msg.Value))
			partitions[msg.Partition] = true
			if err := reader.CommitMessages(ctx, msg); err != nil {
				t.Fatalf("commit: %v", err)
			}
		}
		if n >= 30 && len(partitions) < 2 {
			t.Errorf("all %d messages came from %d partition(s); the hash balancer should spread them", n, len(partitions))
		}
		sort.Strings(got)
		return got
	}
	want := func(from, to int) []string {
		var w []string
		for i := from; i < to; i++ {
			w = append(w, fmt.Sprintf("value-%d", i))
		}
		sort.Strings(w)
		return w
	}

	produce(0, 30)
	if got := consume(30); fmt.Sprint(got) != fmt.Sprint(want(0, 30)) {
		t.Fatalf("first reader got %v", got)
	}
	// A new member of the group must start after the committed offsets:
	// it sees only the new messages, none of the first 30 again.
	produce(30, 40)
	if got := consume(10); fmt.Sprint(got) != fmt.Sprint(want(30, 40)) {
		t.Fatalf("second reader got %v, want only the new messages", got)
	}
}
