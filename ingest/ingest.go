// Package ingest consumes request records from Kafka and writes them into
// ClickHouse in batches. Offsets are committed only after the batch is
// stored, so a crash replays records rather than losing them (replays are
// folded by the ReplacingMergeTree tables). Messages that cannot be decoded
// go to the dead-letter topic with the reason, and consumption carries on.
//
// This package must not import the proxy or gin.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchyard/switchyard/record"
)

// Fetcher is the part of *kafka.Reader the ingester uses.
type Fetcher interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Store persists decoded records. InsertItems must be idempotent: items
// already stored, and repeats, are left out, so a retry stores and counts
// nothing twice. It returns how many items it stored. A call that fails
// should store none; whatever it stored anyway, the retry finds already
// stored (a duplicate, not counted as inserted).
type Store interface {
	InsertItems(ctx context.Context, items []Item) (int, error)
}

// Fencer is an optional Store capability: the highest Kafka offset stored
// per partition of a topic. With it, the ingester skips what a previous
// consumer of a partition stored but did not commit, before it ever
// reaches the store.
type Fencer interface {
	Fence(ctx context.Context, topic string) (map[int]int64, error)
}

// DeadLetters receives messages that cannot be ingested.
type DeadLetters interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Options configure an Ingester.
type Options struct {
	BatchSize       int
	FlushInterval   time.Duration
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// DrainTimeout bounds the final flush after the context is canceled.
	DrainTimeout time.Duration
	Logger       *slog.Logger
}

// Stats are the ingester's counters since start.
type Stats struct {
	Inserted     int64 // records written to the store
	Fenced       int64 // records already stored, by the offset fence: only their bodies are written again
	Duplicates   int64 // records skipped by the store: already stored, or repeated in a batch
	Batches      int64
	DeadLettered int64
	StoreErrors  int64 // failed calls to the store: inserts and fence reads (each retried)
	LastFlushAt  int64 // unix ms of the last stored batch
}

// Ingester moves records from a Fetcher to a Store.
type Ingester struct {
	src  Fetcher
	dst  Store
	dlq  DeadLetters
	opts Options
	log  *slog.Logger

	inserted, fenced, duplicates, batches, deadLettered, storeErrors, lastFlush atomic.Int64

	// fence is the highest offset known stored, per partition; last is the
	// highest offset this process handled. A partition seen for the first
	// time, or whose offsets go back (a rebalance, a rewind), has its fence
	// read again from the store.
	fence map[partitionKey]int64
	last  map[partitionKey]int64
}

type partitionKey struct {
	topic     string
	partition int
}

// New returns an ingester.
func New(src Fetcher, dst Store, dlq DeadLetters, opts Options) *Ingester {
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = 30 * time.Second
	}
	return &Ingester{src: src, dst: dst, dlq: dlq, opts: opts, log: opts.Logger,
		fence: map[partitionKey]int64{}, last: map[partitionKey]int64{}}
}

// Stats returns the counters.
func (in *Ingester) Stats() Stats {
	return Stats{
		Inserted:     in.inserted.Load(),
		Fenced:       in.fenced.Load(),
		Duplicates:   in.duplicates.Load(),
		Batches:      in.batches.Load(),
		DeadLettered: in.deadLettered.Load(),
		StoreErrors:  in.storeErrors.Load(),
		LastFlushAt:  in.lastFlush.Load(),
	}
}

// Run consumes until ctx is canceled, then stores and commits what it has
// already fetched and returns nil. Storage keeps retrying for DrainTimeout
// after ctx is canceled. After a batch fails to store, nothing later is
// committed (a later offset would skip it): Run returns the error and the
// records are consumed again by the next run.
func (in *Ingester) Run(ctx context.Context) error {
	fetched := make(chan message, min(in.opts.BatchSize, 10000))
	fetchErr := make(chan error, 1)
	fetchCtx, stopFetching := context.WithCancel(ctx)
	defer stopFetching()
	go func() {
		// Decoding here overlaps it with the previous batch's insert.
		defer close(fetched)
		for {
			m, err := in.src.FetchMessage(fetchCtx)
			if err != nil {
				if fetchCtx.Err() == nil {
					fetchErr <- err
				}
				return
			}
			rec, derr := record.Decode(m.Value)
			select {
			case fetched <- message{Message: m, rec: rec, err: derr}:
			case <-fetchCtx.Done():
				// Not handed over: it stays uncommitted and is fetched again
				// by whoever consumes the partition next.
				return
			}
		}
	}()

	// storeCtx outlives ctx by DrainTimeout so that a shutdown stores what
	// was fetched instead of abandoning an insert half-way.
	storeCtx, cancelStore := context.WithCancel(context.Background())
	defer cancelStore()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(in.opts.DrainTimeout, cancelStore)
		context.AfterFunc(storeCtx, func() { t.Stop() })
	})
	defer stop()

	batch := make([]message, 0, in.opts.BatchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := in.flush(storeCtx, batch)
		batch = batch[:0]
		return err
	}
	for {
		select {
		case m, ok := <-fetched:
			if !ok {
				// The fetcher stopped: shutdown, or a broken source.
				err := flush()
				select {
				case ferr := <-fetchErr:
					return errors.Join(fmt.Errorf("fetch: %w", ferr), err)
				default:
					return err
				}
			}
			if len(batch) == 0 {
				timer.Reset(in.opts.FlushInterval)
			}
			batch = append(batch, m)
			if len(batch) >= in.opts.BatchSize {
				timer.Stop()
				if err := flush(); err != nil {
					return err
				}
			}
		case <-timer.C:
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// message is a fetched message and its decoded record (or why it could not
// be decoded).
type message struct {
	kafka.Message
	rec *record.Record
	err error
}

// flush stores one batch, dead-letters its undecodable messages, and
// commits its offsets. Storage is retried with backoff for as long as ctx
// allows: records are never skipped because ClickHouse is down.
func (in *Ingester) flush(ctx context.Context, batch []message) error {
	items := make([]Item, 0, len(batch))
	msgs := make([]kafka.Message, len(batch))
	var dead []kafka.Message
	for i, m := range batch {
		msgs[i] = m.Message
		if m.err != nil {
			dead = append(dead, deadLetter(m.Message, m.err))
			continue
		}
		items = append(items, Item{Record: m.rec, Topic: m.Topic, Partition: m.Partition, Offset: m.Offset})
	}
	if err := in.refreshFence(ctx, msgs); err != nil {
		return err
	}
	// A request behind the fence is stored already; its bodies are
	// written again, in case a crash came between the two inserts.
	stored := items[:0:0]
	fenced := 0
	for _, it := range items {
		if f, ok := in.fence[partitionKey{it.Topic, it.Partition}]; ok && it.Offset <= f {
			it.BodiesOnly = true
			fenced++
		}
		stored = append(stored, it)
	}
	in.fenced.Add(int64(fenced))
	var inserted int
	if err := retry(ctx, in.opts.RetryBackoff, in.opts.MaxRetryBackoff, func() error {
		var err error
		inserted, err = in.dst.InsertItems(ctx, stored)
		if err != nil {
			in.storeErrors.Add(1)
			in.log.Warn("insert failed; retrying", "records", len(stored), "err", err)
		}
		return err
	}); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	if len(dead) > 0 {
		if err := retry(ctx, in.opts.RetryBackoff, in.opts.MaxRetryBackoff, func() error {
			return in.dlq.WriteMessages(ctx, dead...)
		}); err != nil {
			return fmt.Errorf("dead-letter: %w", err)
		}
		in.deadLettered.Add(int64(len(dead)))
		in.log.Warn("messages dead-lettered", "count", len(dead), "first_reason", string(headerValue(dead[0], "switchyard-error")))
	}
	if err := retry(ctx, in.opts.RetryBackoff, in.opts.MaxRetryBackoff, func() error {
		return in.src.CommitMessages(ctx, msgs...)
	}); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, m := range msgs {
		k := partitionKey{m.Topic, m.Partition}
		if last, ok := in.last[k]; !ok || m.Offset > last {
			in.last[k] = m.Offset
		}
		if m.Offset > in.fence[k] {
			in.fence[k] = m.Offset
		}
	}
	in.inserted.Add(int64(inserted))
	in.duplicates.Add(int64(len(stored) - fenced - inserted))
	in.batches.Add(1)
	in.lastFlush.Store(time.Now().UnixMilli())
	return nil
}

// refreshFence reads the offset fence of every partition in batch that this
// process has not handled yet, or whose offsets went back.
func (in *Ingester) refreshFence(ctx context.Context, batch []kafka.Message) error {
	fencer, ok := in.dst.(Fencer)
	if !ok {
		return nil
	}
	topics := map[string]bool{}
	for _, m := range batch {
		k := partitionKey{m.Topic, m.Partition}
		if last, seen := in.last[k]; !seen || m.Offset <= last {
			topics[m.Topic] = true
		}
	}
	for topic := range topics {
		var fence map[int]int64
		if err := retry(ctx, in.opts.RetryBackoff, in.opts.MaxRetryBackoff, func() error {
			var err error
			fence, err = fencer.Fence(ctx, topic)
			if err != nil {
				in.storeErrors.Add(1)
				in.log.Warn("reading the offset fence failed; retrying", "err", err)
			}
			return err
		}); err != nil {
			return fmt.Errorf("offset fence: %w", err)
		}
		for _, m := range batch {
			if m.Topic != topic {
				continue
			}
			k := partitionKey{m.Topic, m.Partition}
			if f, ok := fence[m.Partition]; ok {
				in.fence[k] = f
			} else {
				delete(in.fence, k)
			}
			delete(in.last, k) // re-armed below once the batch is stored
		}
	}
	return nil
}

// deadLetter wraps an undecodable message for the dead-letter topic: the
// original bytes, the reason and where it came from.
func deadLetter(m kafka.Message, err error) kafka.Message {
	return kafka.Message{
		Key:   m.Key,
		Value: m.Value,
		Headers: append(m.Headers[:len(m.Headers):len(m.Headers)],
			kafka.Header{Key: "switchyard-error", Value: []byte(err.Error())},
			kafka.Header{Key: "switchyard-topic", Value: []byte(m.Topic)},
			kafka.Header{Key: "switchyard-partition", Value: []byte(strconv.Itoa(m.Partition))},
			kafka.Header{Key: "switchyard-offset", Value: []byte(strconv.FormatInt(m.Offset, 10))},
		),
	}
}

func headerValue(m kafka.Message, key string) []byte {
	for _, h := range m.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

// retry calls f until it succeeds or ctx ends, waiting between attempts
// with exponential backoff.
func retry(ctx context.Context, backoff, maxBackoff time.Duration, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}
