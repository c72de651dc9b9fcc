package proxy

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/record"
)

// Metrics are the proxy's Prometheus metrics.
type Metrics struct {
	requests     map[string]prometheus.Counter // by outcome
	attempts     *prometheus.CounterVec
	unauthorized prometheus.Counter
}

var outcomes = []string{record.OutcomeOK, record.OutcomeError, record.OutcomeTimeout, record.OutcomeCanceled, record.OutcomeRateLimited}

// NewMetrics registers the proxy's metrics with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchyard_proxy_requests_total",
		Help: "Client requests served, by outcome.",
	}, []string{"outcome"})
	m := &Metrics{
		requests: make(map[string]prometheus.Counter, len(outcomes)),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_proxy_upstream_attempts_total",
			Help: "Upstream attempts, by provider and result (ok or an error_type).",
		}, []string{"provider", "result"}),
		unauthorized: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_proxy_unauthorized_total",
			Help: "Requests refused for a missing or invalid key (not recorded).",
		}),
	}
	for _, o := range outcomes {
		m.requests[o] = reqs.WithLabelValues(o)
	}
	if reg != nil {
		reg.MustRegister(reqs, m.attempts, m.unauthorized)
	}
	return m
}

func (m *Metrics) request(outcome string) {
	if c, ok := m.requests[outcome]; ok {
		c.Inc()
	}
}

// RegisterPublisher exposes the publisher's counters.
func RegisterPublisher(reg prometheus.Registerer, p *Publisher) {
	counter := func(name, help string, f func(PublisherStats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f(p.Stats())) })
	}
	reg.MustRegister(
		counter("switchyard_records_queued_total", "Records accepted into the publish queue.", func(s PublisherStats) int64 { return s.Queued }),
		counter("switchyard_records_published_total", "Records acknowledged by Kafka.", func(s PublisherStats) int64 { return s.Published }),
		counter("switchyard_records_spooled_total", "Records written to the disk spool because Kafka did not take them.", func(s PublisherStats) int64 { return s.Spooled }),
		counter("switchyard_records_replayed_total", "Records sent from the disk spool to Kafka.", func(s PublisherStats) int64 { return s.Replayed }),
		counter("switchyard_records_dropped_total", "Records lost: the spool was full, or shutdown ran out of time.", func(s PublisherStats) int64 { return s.Dropped }),
		counter("switchyard_records_write_failures_total", "Failed Kafka writes (each retried).", func(s PublisherStats) int64 { return s.Failed }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchyard_records_queue_depth", Help: "Records waiting in memory for Kafka."}, func() float64 { return float64(p.Stats().Depth) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchyard_spool_records", Help: "Records waiting in the disk spool."}, func() float64 { return float64(p.Stats().SpoolRecords) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchyard_spool_bytes", Help: "Bytes the disk spool holds."}, func() float64 { return float64(p.Stats().SpoolBytes) }),
	)
}
