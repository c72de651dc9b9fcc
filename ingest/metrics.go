package ingest

import "github.com/prometheus/client_golang/prometheus"

// RegisterMetrics exposes the ingester's counters.
func RegisterMetrics(reg prometheus.Registerer, in *Ingester) {
	counter := func(name, help string, f func(Stats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f(in.Stats())) })
	}
	reg.MustRegister(
		counter("switchyard_ingest_records_total", "Records written to ClickHouse.", func(s Stats) int64 { return s.Inserted }),
		counter("switchyard_ingest_fenced_total", "Replayed records behind the offset fence: already stored, only their bodies written again.", func(s Stats) int64 { return s.Fenced }),
		counter("switchyard_ingest_duplicates_total", "Records skipped because ClickHouse already held them, or repeated in a batch.", func(s Stats) int64 { return s.Duplicates }),
		counter("switchyard_ingest_batches_total", "Batches written and committed.", func(s Stats) int64 { return s.Batches }),
		counter("switchyard_ingest_dead_letters_total", "Messages sent to the dead-letter topic.", func(s Stats) int64 { return s.DeadLettered }),
		counter("switchyard_ingest_store_errors_total", "Failed ClickHouse calls: inserts and offset-fence reads (each retried).", func(s Stats) int64 { return s.StoreErrors }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchyard_ingest_last_flush_timestamp_seconds", Help: "When the last batch was stored."},
			func() float64 { return float64(in.Stats().LastFlushAt) / 1000 }),
	)
}
