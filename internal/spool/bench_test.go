package spool

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
)

func benchConfig(dir string) config.Spool {
	return config.Spool{
		Dir:           dir,
		MaxBytes:      1 << 30,
		SegmentBytes:  8 << 20,
		Fsync:         config.FsyncInterval,
		FsyncInterval: 200 * time.Millisecond,
	}
}

// drainUntimed keeps a benchmark's disk use bounded.
func drainUntimed(b *testing.B, s *Spool) {
	b.StopTimer()
	defer b.StartTimer()
	drain(b, s, 1000, 4<<20)
}

// BenchmarkAppend is the publisher's path while Kafka is down: one 1 KB
// record per call, fsync policy "interval".
func BenchmarkAppend(b *testing.B) {
	s, _ := openSpool(b, benchConfig(b.TempDir()))
	rec := make([]byte, 1024)
	for i := range rec {
		rec[i] = 'a' + byte(i%26)
	}
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.Append(rec); err != nil {
			b.Fatal(err)
		}
		if i%(64<<10) == 0 && i > 0 {
			drainUntimed(b, s)
		}
	}
}

// BenchmarkAppendParallel is concurrent appenders contending for the lock
// while a replayer reads and acknowledges behind them.
func BenchmarkAppendParallel(b *testing.B) {
	s, _ := openSpool(b, benchConfig(b.TempDir()))
	rec := make([]byte, 1024)
	stop, replayed := make(chan struct{}), make(chan error)
	go func() {
		for {
			batch, err := s.Read(1000, 4<<20)
			if err == nil && batch.Len() > 0 {
				err = s.Ack(batch)
			}
			if err != nil {
				replayed <- err
				return
			}
			if batch.Len() == 0 {
				select {
				case <-s.Wait():
				case <-stop:
					replayed <- nil
					return
				}
			}
		}
	}()
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Append(rec); err != nil {
				b.Error(err)
				return
			}
		}
	})
	close(stop)
	if err := <-replayed; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkReadAck is the replayer: batches of 500 1 KB records.
func BenchmarkReadAck(b *testing.B) {
	s, _ := openSpool(b, benchConfig(b.TempDir()))
	rec := make([]byte, 1024)
	batch := make([][]byte, 500)
	for i := range batch {
		batch[i] = rec
	}
	b.SetBytes(int64(len(rec) * len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		if err := s.Append(batch...); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		got, err := s.Read(len(batch), 1<<20)
		if err != nil || got.Len() != len(batch) {
			b.Fatalf("Read: %d records, %v", got.Len(), err)
		}
		if err := s.Ack(got); err != nil {
			b.Fatal(err)
		}
	}
}
