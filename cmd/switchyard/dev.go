package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/chdb"
	"github.com/switchyard/switchyard/internal/chserver"
	"github.com/switchyard/switchyard/migrations"
)

//go:embed dev.yaml
var devConfigTemplate string

// devPorts are dev mode's ports; each is a flag.
type devPorts struct {
	Host           string
	ProxyPort      int
	QueryPort      int
	IngestPort     int
	MockPort       int
	KafkaPort      int
	ClickHousePort int
	ClickHouseHTTP int
	// DataDir is where dev mode keeps its data (the template's only
	// non-port setting).
	DataDir string
}

// renderDevConfig returns dev mode's config file for the given ports.
func renderDevConfig(p devPorts) string {
	var b bytes.Buffer
	template.Must(template.New("dev").Parse(devConfigTemplate)).Execute(&b, p)
	return b.String()
}

// devParts are the parts dev mode can run; --only picks a subset.
var devParts = []string{"broker", "clickhouse", "mock", "proxy", "ingest", "query"}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var p devPorts
	def := defaultDevPorts()
	fs.StringVar(&p.Host, "host", def.Host, "address the proxy, query API and simulated providers listen on (0.0.0.0 to expose them)")
	fs.IntVar(&p.ProxyPort, "proxy-port", def.ProxyPort, "proxy port")
	fs.IntVar(&p.QueryPort, "query-port", def.QueryPort, "query API port")
	fs.IntVar(&p.IngestPort, "ingest-port", def.IngestPort, "ingester's metrics port")
	fs.IntVar(&p.MockPort, "mock-port", def.MockPort, "simulated providers' port")
	fs.IntVar(&p.KafkaPort, "kafka-port", def.KafkaPort, "embedded Kafka broker's port")
	fs.IntVar(&p.ClickHousePort, "clickhouse-port", def.ClickHousePort, "ClickHouse native protocol port")
	fs.IntVar(&p.ClickHouseHTTP, "clickhouse-http-port", def.ClickHouseHTTP, "ClickHouse HTTP port")
	fs.StringVar(&p.DataDir, "data-dir", def.DataDir, "where the broker, ClickHouse and the proxy's spool keep their data between runs")
	only := fs.String("only", "", "comma list of parts to run: "+strings.Join(devParts, ","))
	printConfig := fs.Bool("print-config", false, "print the config dev mode uses, which proxy, ingest and query accept, and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	text := renderDevConfig(p)
	if *printConfig {
		_, err := io.WriteString(stdout, text)
		return err
	}
	parts := map[string]bool{}
	if *only == "" {
		for _, name := range devParts {
			parts[name] = true
		}
	} else {
		for _, name := range strings.Split(*only, ",") {
			name = strings.TrimSpace(name)
			if !contains(devParts, name) {
				return usageError{fmt.Errorf("dev --only: unknown part %q (parts: %s)", name, strings.Join(devParts, ","))}
			}
			parts[name] = true
		}
	}
	cfg, err := config.Parse([]byte(text), os.LookupEnv)
	if err != nil {
		return fmt.Errorf("dev config: %w", err)
	}
	d := &devMode{cfg: cfg, ports: p, dataDir: p.DataDir, parts: parts, log: log, stdout: stdout}
	return d.run(ctx)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

type devMode struct {
	cfg     *config.Config
	ports   devPorts
	dataDir string
	parts   map[string]bool
	log     *slog.Logger
	stdout  io.Writer
}

// run starts the parts in dependency order and, when ctx ends, stops them
// in reverse: the proxy first (finishing requests and handing every record
// to Kafka), then the ingester once it has stored all of them, then the
// rest.
func (d *devMode) run(ctx context.Context) error {
	if err := os.MkdirAll(d.dataDir, 0o755); err != nil {
		return err
	}
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	startCtx, cancelStart := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelStart()

	if d.parts["broker"] {
		cluster, err := kfake.NewCluster(
			kfake.NumBrokers(1),
			kfake.Ports(d.ports.KafkaPort),
			kfake.DataDir(filepath.Join(d.dataDir, "kafka")),
			kfake.SeedTopics(int32(d.cfg.Kafka.Partitions), d.cfg.Kafka.Topic),
			kfake.SeedTopics(1, d.cfg.Kafka.DLQTopic),
		)
		if err != nil {
			return fmt.Errorf("broker: %w", err)
		}
		cleanups = append(cleanups, cluster.Close)
		d.log.Info("Kafka broker (embedded) listening", "addr", cluster.ListenAddrs()[0])
	}
	if d.parts["clickhouse"] {
		srv, err := chserver.Start(startCtx, chserver.Options{
			Dir:      filepath.Join(d.dataDir, "clickhouse"),
			TCPPort:  d.ports.ClickHousePort,
			HTTPPort: d.ports.ClickHouseHTTP,
		})
		if err != nil {
			return fmt.Errorf("clickhouse: %w", err)
		}
		cleanups = append(cleanups, func() {
			if err := srv.Stop(); err != nil {
				d.log.Warn("clickhouse stop", "err", err)
			}
		})
		d.log.Info("ClickHouse started", "native", srv.TCPAddr(), "http_port", srv.HTTPPort(), "dir", srv.Dir())
		conn, err := chdb.Open(startCtx, d.cfg.ClickHouse)
		if err != nil {
			return fmt.Errorf("clickhouse: %w", err)
		}
		results, err := migrations.Up(startCtx, conn)
		conn.Close()
		if err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		for _, r := range results {
			d.log.Debug("migration", "id", r.ID(), "state", r.State)
		}
	}

	// Each service runs under its own context so that shutdown goes in
	// order.
	var services []*devService
	exited := make(chan *devService, len(devParts))
	start := func(name string, run func(context.Context) error) {
		sctx, cancel := context.WithCancel(context.Background())
		svc := &devService{name: name, cancel: cancel, done: make(chan struct{})}
		go func() {
			svc.err = run(sctx)
			close(svc.done)
			exited <- svc
		}()
		services = append(services, svc)
	}
	var proxy *proxyApp
	var ingester *ingestApp
	if d.parts["mock"] {
		app, err := newMockApp(d.cfg.Mock, d.log.With("service", "mock"))
		if err != nil {
			return err
		}
		start("mock", app.run)
	}
	if d.parts["ingest"] {
		app, err := newIngestApp(startCtx, d.cfg, d.log.With("service", "ingest"))
		if err != nil {
			return err
		}
		ingester = app
		start("ingest", app.run)
	}
	if d.parts["query"] {
		app, err := newQueryApp(startCtx, d.cfg, d.log.With("service", "query"))
		if err != nil {
			return err
		}
		start("query", app.run)
	}
	if d.parts["proxy"] {
		app, err := newProxyApp(startCtx, d.cfg, d.log.With("service", "proxy"))
		if err != nil {
			return err
		}
		proxy = app
		start("proxy", app.run)
	}
	d.printWelcome()

	// Wait for a signal, or for a service to stop on its own (a failure).
	var errs []error
	select {
	case <-ctx.Done():
	case svc := <-exited:
		errs = append(errs, fmt.Errorf("%s stopped: %v", svc.name, svc.err))
	}
	d.log.Info("stopping")
	stop := func(name string) {
		for _, svc := range services {
			if svc.name == name {
				svc.cancel()
				<-svc.done
				if svc.err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", name, svc.err))
				}
			}
		}
	}
	if proxy != nil {
		stop("proxy")
		if ingester != nil {
			d.waitIngested(proxy.publisher.Stats().Published, ingester)
		}
	}
	for _, name := range []string{"ingest", "query", "mock"} {
		stop(name)
	}
	return errors.Join(errs...)
}

// devService is one service dev mode runs.
type devService struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned; err is then set
	err    error
}

// waitIngested waits until the ingester has stored as many records as the
// proxy published in this run, so that stopping loses nothing.
func (d *devMode) waitIngested(published int64, in *ingestApp) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := in.ingester.Stats()
		if st.Inserted+st.Duplicates+st.DeadLettered >= published {
			return
		}
		if time.Now().After(deadline) {
			d.log.Warn("stopping before every record was stored; the rest stay in the broker's data directory and are stored on the next run",
				"published", published, "stored", st.Inserted)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *devMode) printWelcome() {
	p := d.ports
	key := d.cfg.Keys[0].Key
	var b strings.Builder
	fmt.Fprintf(&b, "\nSwitchyard dev mode is running.\n\n")
	if d.parts["proxy"] {
		fmt.Fprintf(&b, "  proxy (OpenAI base URL)   http://%s:%d/v1\n", p.Host, p.ProxyPort)
	}
	if d.parts["query"] {
		fmt.Fprintf(&b, "  query API                 http://%s:%d/v1/requests\n", p.Host, p.QueryPort)
	}
	if d.parts["mock"] {
		fmt.Fprintf(&b, "  simulated providers       http://%s:%d/{sim-flaky,sim-fast,sim-cheap}/v1\n", p.Host, p.MockPort)
	}
	if d.parts["broker"] {
		fmt.Fprintf(&b, "  Kafka broker              127.0.0.1:%d\n", p.KafkaPort)
	}
	if d.parts["clickhouse"] {
		fmt.Fprintf(&b, "  ClickHouse                127.0.0.1:%d (native), http://127.0.0.1:%d\n", p.ClickHousePort, p.ClickHouseHTTP)
	}
	fmt.Fprintf(&b, "  key                       %s\n\n", key)
	if d.parts["proxy"] {
		fmt.Fprintf(&b, "Try:\n  curl -s http://%s:%d/v1/chat/completions \\\n    -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n    -d '{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello!\"}]}' -D - \n\n", p.Host, p.ProxyPort, key)
	}
	if d.parts["query"] {
		fmt.Fprintf(&b, "Then look it up (X-Request-Id from the response):\n  curl -s http://%s:%d/v1/requests/<id> -H 'Authorization: Bearer %s'\n\n", p.Host, p.QueryPort, key)
	}
	b.WriteString("Ctrl-C stops everything; no record is lost.\n")
	fmt.Fprint(d.stdout, b.String())
}
