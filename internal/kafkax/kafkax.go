// Package kafkax builds the segmentio/kafka-go writers and readers that the
// proxy and the ingester use, with Switchyard's settings in one place, and
// creates topics when asked to.
package kafkax

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchyard/switchyard/config"
)

// NewWriter returns a synchronous writer for topic: each WriteMessages call
// returns once the broker has the whole batch (acks from all in-sync
// replicas), which is what lets callers retry instead of losing records.
// Batches stick to one partition at a time (see stickyBalancer).
func NewWriter(cfg config.Kafka, topic string, batchSize int) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Topic:        topic,
		Balancer:     &stickyBalancer{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    batchSize,
		BatchBytes:   64 << 20,
		// The caller hands over whole batches; waiting for more would only
		// add latency.
		BatchTimeout: time.Millisecond,
		WriteTimeout: 10 * time.Second,
		ReadTimeout:  10 * time.Second,
		MaxAttempts:  3,
		Compression:  kafka.Lz4,
	}
}

// NewReader returns a consumer-group reader of cfg.Topic that commits only
// when asked to (CommitMessages), starting from the earliest offset when the
// group has none.
func NewReader(cfg config.Kafka) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:        cfg.Brokers,
		GroupID:        cfg.ConsumerGroup,
		Topic:          cfg.Topic,
		MinBytes:       1,
		MaxBytes:       16 << 20,
		MaxWait:        250 * time.Millisecond,
		CommitInterval: 0,
		StartOffset:    kafka.FirstOffset,
		QueueCapacity:  10000,
		// A crashed ingester's partitions move on after SessionTimeout.
		SessionTimeout:    cfg.SessionTimeout,
		RebalanceTimeout:  cfg.SessionTimeout,
		HeartbeatInterval: cfg.SessionTimeout / 10,
		JoinGroupBackoff:  time.Second,
	})
}

// EnsureTopics creates the record and dead-letter topics if they do not
// exist.
func EnsureTopics(ctx context.Context, cfg config.Kafka) error {
	var d kafka.Dialer
	var conn *kafka.Conn
	var err error
	for _, b := range cfg.Brokers {
		if conn, err = d.DialContext(ctx, "tcp", b); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("kafka: dial %v: %w", cfg.Brokers, err)
	}
	defer conn.Close()
	controller, err := conn.Controller()
	if err != nil {
		return fmt.Errorf("kafka: find controller: %w", err)
	}
	cc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(controller.Host, strconv.Itoa(controller.Port)))
	if err != nil {
		return fmt.Errorf("kafka: dial controller: %w", err)
	}
	defer cc.Close()
	topics := []kafka.TopicConfig{
		{Topic: cfg.Topic, NumPartitions: cfg.Partitions, ReplicationFactor: cfg.ReplicationFactor},
		{Topic: cfg.DLQTopic, NumPartitions: 1, ReplicationFactor: cfg.ReplicationFactor},
	}
	for _, t := range topics {
		if err := cc.CreateTopics(t); err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %s: %w", t.Topic, err)
		}
	}
	return nil
}

// stickyBalancer sends runs of messages to one partition, moving to the
// next after stickyRun messages. The publisher hands the writer whole
// batches, and a batch split over every partition costs one produce request
// per partition; sticking keeps a batch in one request while spreading load
// over time, as Kafka's own sticky partitioner does for keyless records.
// The request id stays the message key for consumers; the ingester does not
// rely on key placement.
type stickyBalancer struct {
	count atomic.Uint64
}

const stickyRun = 1000

func (b *stickyBalancer) Balance(_ kafka.Message, partitions ...int) int {
	n := b.count.Add(1) - 1
	return partitions[int(n/stickyRun)%len(partitions)]
}
