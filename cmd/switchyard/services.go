package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/ingest"
	"github.com/switchyard/switchyard/internal/chdb"
	"github.com/switchyard/switchyard/internal/kafkax"
	"github.com/switchyard/switchyard/internal/keys"
	"github.com/switchyard/switchyard/internal/retention"
	"github.com/switchyard/switchyard/internal/spool"
	"github.com/switchyard/switchyard/mock"
	"github.com/switchyard/switchyard/proxy"
	"github.com/switchyard/switchyard/proxy/route"
	"github.com/switchyard/switchyard/query"
)

// publishBatch is the most records written to Kafka in one request.
const publishBatch = 1000

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// serve runs srv on ln until ctx ends, then shuts it down gracefully within
// timeout (in-flight requests, streams included, complete).
func serve(ctx context.Context, srv *http.Server, ln net.Listener, timeout time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		_ = srv.Close()
	}
	<-errc
	return err
}

// proxyApp is a wired proxy: the HTTP server, and the publisher between it
// and Kafka.
type proxyApp struct {
	cfg       *config.Config
	http      *http.Server
	ln        net.Listener
	publisher *proxy.Publisher
	writer    *kafka.Writer
	spool     *spool.Spool
	transport *http.Transport
	router    *route.Router
	log       *slog.Logger
}

func newProxyApp(ctx context.Context, cfg *config.Config, log *slog.Logger) (*proxyApp, error) {
	ks, err := keys.New(cfg.Keys)
	if err != nil {
		return nil, err
	}
	if len(cfg.Keys) == 0 {
		log.Warn("no keys configured: every request will be refused with 401")
	}
	if cfg.Kafka.CreateTopics {
		if err := kafkax.EnsureTopics(ctx, cfg.Kafka); err != nil {
			// Not fatal: records queue in memory until Kafka is reachable.
			log.Warn("could not create Kafka topics; continuing", "err", err)
		}
	}
	transport := proxy.NewTransport(&cfg.Proxy)
	hc := &http.Client{Transport: transport}
	upstreams, err := proxy.NewAdapters(cfg.Providers, hc, "switchyard/"+version)
	if err != nil {
		return nil, err
	}
	sp, err := spool.Open(cfg.Proxy.Spool, log.With("component", "spool"))
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if st := sp.Stats(); st.Records > 0 {
		log.Info("spooled records from an earlier run will be sent to Kafka", "records", st.Records, "dir", cfg.Proxy.Spool.Dir)
	}
	filter, err := proxy.NewBodyFilter(&cfg.Proxy)
	if err != nil {
		sp.Close()
		return nil, err
	}
	writer := kafkax.NewWriter(cfg.Kafka, cfg.Kafka.Topic, publishBatch)
	publisher := proxy.NewPublisher(writer, proxy.PublisherOptions{
		QueueSize: cfg.Proxy.PublishQueue,
		BatchSize: publishBatch,
		Linger:    cfg.Proxy.PublishLinger,
		Spool:     sp,
		Logger:    log.With("component", "publisher"),
		Filter:    filter,
	})
	reg := newRegistry()
	proxy.RegisterPublisher(reg, publisher)
	router := route.New(cfg.Models, cfg.Providers, route.Options{})
	srv := proxy.New(proxy.Options{
		Config:         &cfg.Proxy,
		Keys:           ks,
		Router:         router,
		Upstreams:      upstreams,
		Providers:      cfg.Providers,
		Sink:           publisher,
		Logger:         log,
		Metrics:        proxy.NewMetrics(reg),
		MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	})
	ln, err := net.Listen("tcp", cfg.Proxy.Listen)
	if err != nil {
		sp.Close()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return &proxyApp{cfg: cfg, http: srv.HTTPServer(cfg.Proxy.Listen), ln: ln, publisher: publisher, writer: writer, spool: sp,
		transport: transport, router: router, log: log}, nil
}

// run serves until ctx ends; then it finishes in-flight requests and
// drains every queued record to Kafka before returning.
func (a *proxyApp) run(ctx context.Context) error {
	go a.publisher.Run()
	pollDone := make(chan struct{})
	pollCtx, stopPolling := context.WithCancel(context.Background())
	if st := a.cfg.Proxy.Stats; st.URL != "" {
		poller := &route.Poller{URL: st.URL, Key: st.Key, Interval: st.Interval, Client: &http.Client{Timeout: 5 * time.Second},
			Router: a.router, Log: a.log.With("component", "stats-poller")}
		go func() { defer close(pollDone); poller.Run(pollCtx) }()
	} else {
		close(pollDone)
	}
	defer func() { stopPolling(); <-pollDone }()
	a.log.Info("proxy listening", "addr", a.ln.Addr().String())
	err := serve(ctx, a.http, a.ln, a.cfg.Proxy.ShutdownTimeout)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	// Upstreams see the proxy go, instead of holding its idle (or dialed
	// but unused) connections open.
	a.transport.CloseIdleConnections()
	dctx, cancel := context.WithTimeout(context.Background(), a.cfg.Proxy.ShutdownTimeout)
	defer cancel()
	if cerr := a.publisher.Close(dctx); cerr != nil {
		err = errors.Join(err, fmt.Errorf("draining records: %w", cerr))
	}
	st := a.publisher.Stats()
	a.log.Info("proxy stopped", "records_published", st.Published, "records_spooled", st.Spooled,
		"records_left_in_spool", st.SpoolRecords, "records_dropped", st.Dropped)
	return errors.Join(err, a.writer.Close(), a.spool.Close())
}

func runProxy(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	app, err := newProxyApp(ctx, cfg, log.With("service", "proxy"))
	if err != nil {
		return err
	}
	return app.run(ctx)
}

// ingestApp is a wired ingester with its metrics listener.
type ingestApp struct {
	cfg      *config.Config
	ingester *ingest.Ingester
	reader   *kafka.Reader
	dlq      *kafka.Writer
	conn     driver.Conn
	http     *http.Server
	ln       net.Listener
	log      *slog.Logger
}

func newIngestApp(ctx context.Context, cfg *config.Config, log *slog.Logger) (*ingestApp, error) {
	conn, err := chdb.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	if cfg.Kafka.CreateTopics {
		if err := kafkax.EnsureTopics(ctx, cfg.Kafka); err != nil {
			log.Warn("could not create Kafka topics; continuing", "err", err)
		}
	}
	reader := kafkax.NewReader(cfg.Kafka)
	dlq := kafkax.NewWriter(cfg.Kafka, cfg.Kafka.DLQTopic, 100)
	in := ingest.New(reader, ingest.NewClickHouseStore(conn), dlq, ingest.Options{
		BatchSize:       cfg.Ingest.BatchSize,
		FlushInterval:   cfg.Ingest.FlushInterval,
		RetryBackoff:    cfg.Ingest.RetryBackoff,
		MaxRetryBackoff: cfg.Ingest.MaxRetryBackoff,
		Logger:          log,
	})
	reg := newRegistry()
	ingest.RegisterMetrics(reg, in)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	ln, err := net.Listen("tcp", cfg.Ingest.Listen)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ingest: %w", err)
	}
	return &ingestApp{cfg: cfg, ingester: in, reader: reader, dlq: dlq, conn: conn, ln: ln, log: log,
		http: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}, nil
}

// run consumes until ctx ends, then stores and commits what it fetched.
func (a *ingestApp) run(ctx context.Context) error {
	httpCtx, stopHTTP := context.WithCancel(context.Background())
	httpDone := make(chan error, 1)
	go func() { httpDone <- serve(httpCtx, a.http, a.ln, 5*time.Second) }()
	a.log.Info("ingesting", "topic", a.cfg.Kafka.Topic, "group", a.cfg.Kafka.ConsumerGroup, "database", a.cfg.ClickHouse.Database)
	retentionDone := make(chan struct{})
	go func() {
		defer close(retentionDone)
		retention.Run(ctx, a.conn, a.cfg.Ingest.Retention, a.log.With("component", "retention"))
	}()
	err := a.ingester.Run(ctx)
	<-retentionDone
	st := a.ingester.Stats()
	a.log.Info("ingest stopped", "records_inserted", st.Inserted, "dead_lettered", st.DeadLettered)
	stopHTTP()
	<-httpDone
	return errors.Join(err, a.reader.Close(), a.dlq.Close(), a.conn.Close())
}

func runIngest(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	app, err := newIngestApp(ctx, cfg, log.With("service", "ingest"))
	if err != nil {
		return err
	}
	return app.run(ctx)
}

// queryApp is the wired query API.
type queryApp struct {
	http *http.Server
	ln   net.Listener
	conn driver.Conn
	log  *slog.Logger
}

func newQueryApp(ctx context.Context, cfg *config.Config, log *slog.Logger) (*queryApp, error) {
	ks, err := keys.New(cfg.Keys)
	if err != nil {
		return nil, err
	}
	conn, err := chdb.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	srv := query.New(conn, ks, cfg.Query, log)
	reg := newRegistry()
	srv.Mux().Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", cfg.Query.Listen)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("query: %w", err)
	}
	return &queryApp{conn: conn, ln: ln, log: log,
		http: &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}}, nil
}

func (a *queryApp) run(ctx context.Context) error {
	a.log.Info("query API listening", "addr", a.ln.Addr().String())
	err := serve(ctx, a.http, a.ln, 10*time.Second)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, a.conn.Close())
}

func runQuery(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	app, err := newQueryApp(ctx, cfg, log.With("service", "query"))
	if err != nil {
		return err
	}
	return app.run(ctx)
}

// mockApp serves the simulated providers.
type mockApp struct {
	http *http.Server
	ln   net.Listener
	log  *slog.Logger
}

func newMockApp(cfg config.Mock, log *slog.Logger) (*mockApp, error) {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("mock: %w", err)
	}
	return &mockApp{ln: ln, log: log, http: &http.Server{Handler: mock.New(cfg.Providers), ReadHeaderTimeout: 10 * time.Second}}, nil
}

func (a *mockApp) run(ctx context.Context) error {
	a.log.Info("simulated providers listening", "addr", a.ln.Addr().String())
	err := serve(ctx, a.http, a.ln, 5*time.Second)
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, context.DeadlineExceeded) {
		// A simulated provider has nothing to lose by closing connections
		// its clients left open.
		return nil
	}
	return err
}
