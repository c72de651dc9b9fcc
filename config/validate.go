package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Spool fsync policies.
const (
	FsyncInterval = "interval"
	FsyncAlways   = "always"
	FsyncNever    = "never"
)

// Provider wire formats this build speaks.
const (
	ProviderOpenAI    = "openai"
	ProviderAzure     = "azure"
	ProviderAnthropic = "anthropic"
	ProviderGemini    = "gemini"
)

var providerTypes = []string{ProviderOpenAI, ProviderAzure, ProviderAnthropic, ProviderGemini}

// Routing strategies.
const (
	StrategyOrdered    = "ordered"
	StrategyWeighted   = "weighted"
	StrategyPrice      = "price"
	StrategyLatency    = "latency"
	StrategyThroughput = "throughput"
	StrategyLeastBusy  = "least_busy"
)

var strategies = []string{StrategyOrdered, StrategyWeighted, StrategyPrice, StrategyLatency, StrategyThroughput, StrategyLeastBusy}

// Endpoints a deployment can serve.
var endpointNames = []string{"chat", "completions", "embeddings", "rerank"}

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// Defaults for every optional setting.
const (
	DefaultProxyListen      = ":8080"
	DefaultQueryListen      = ":8081"
	DefaultIngestListen     = ":8082"
	DefaultMockListen       = ":8089"
	DefaultMaxRequestBytes  = 10 << 20
	DefaultMaxResponseBytes = 50 << 20
	DefaultRecordBodyBytes  = 256 << 10
	DefaultPublishQueue     = 65536
	DefaultTopic            = "switchyard.requests"
	DefaultDLQTopic         = "switchyard.requests.dlq"
	DefaultConsumerGroup    = "switchyard-ingest"
	DefaultDatabase         = "switchyard"
	DefaultPartitions       = 6
)

// ApplyDefaults fills every unset optional field.
func (c *Config) ApplyDefaults() {
	p := &c.Proxy
	setDefault(&p.Listen, DefaultProxyListen)
	setDefault(&p.MaxRequestBytes, DefaultMaxRequestBytes)
	setDefault(&p.MaxResponseBytes, DefaultMaxResponseBytes)
	setDefault(&p.RecordBodyBytes, DefaultRecordBodyBytes)
	if p.RecordBodies == nil {
		on := true
		p.RecordBodies = &on
	}
	if p.Redact.Defaults == nil {
		on := true
		p.Redact.Defaults = &on
	}
	setDefault(&p.PublishQueue, DefaultPublishQueue)
	setDefault(&p.PublishLinger, 25*time.Millisecond)
	setDefault(&p.ConnectTimeout, 5*time.Second)
	setDefault(&p.FirstByteTimeout, 60*time.Second)
	setDefault(&p.TotalTimeout, 10*time.Minute)
	setDefault(&p.ShutdownTimeout, 30*time.Second)
	setDefault(&p.Stats.Interval, 5*time.Second)
	setDefault(&p.Spool.Dir, "switchyard-spool")
	setDefault(&p.Spool.MaxBytes, 1<<30)
	setDefault(&p.Spool.SegmentBytes, 64<<20)
	setDefault(&p.Spool.Fsync, FsyncInterval)
	setDefault(&p.Spool.FsyncInterval, 200*time.Millisecond)

	for i := range c.Models {
		setDefault(&c.Models[i].Strategy, StrategyOrdered)
		for j := range c.Models[i].Deployments {
			d := &c.Models[i].Deployments[j]
			setDefault(&d.Model, c.Models[i].Name)
			setDefault(&d.Weight, 1)
		}
	}
	for i := range c.Providers {
		p := &c.Providers[i]
		setDefault(&p.DataCollection, "allow")
		if p.Type == ProviderAnthropic {
			setDefault(&p.APIVersion, "2023-06-01")
		}
	}

	setDefault(&c.Mock.Listen, DefaultMockListen)
	for i := range c.Mock.Providers {
		setDefault(&c.Mock.Providers[i].CompletionTokens, 32)
	}

	setDefault(&c.Query.Listen, DefaultQueryListen)
	setDefault(&c.Query.MaxLimit, 1000)

	in := &c.Ingest
	setDefault(&in.Listen, DefaultIngestListen)
	// Large batches: ClickHouse pays per insert (a part in every table and
	// view), so 50,000 records per insert store several times faster than
	// 10,000. At most a batch of records is held in memory (~4 KB each).
	setDefault(&in.BatchSize, 50000)
	// A second keeps ClickHouse's per-insert cost low (every insert makes
	// parts in each table and view) and records queryable well within 2 s.
	setDefault(&in.FlushInterval, time.Second)
	setDefault(&in.RetryBackoff, 200*time.Millisecond)
	setDefault(&in.MaxRetryBackoff, 10*time.Second)
	setDefault(&in.Retention.CheckInterval, time.Hour)

	k := &c.Kafka
	if len(k.Brokers) == 0 {
		k.Brokers = []string{"127.0.0.1:9092"}
	}
	setDefault(&k.Topic, DefaultTopic)
	setDefault(&k.DLQTopic, DefaultDLQTopic)
	setDefault(&k.ConsumerGroup, DefaultConsumerGroup)
	setDefault(&k.Partitions, DefaultPartitions)
	setDefault(&k.ReplicationFactor, 1)
	setDefault(&k.SessionTimeout, 10*time.Second)

	ch := &c.ClickHouse
	if len(ch.Addr) == 0 {
		ch.Addr = []string{"127.0.0.1:9000"}
	}
	setDefault(&ch.Database, DefaultDatabase)
	setDefault(&ch.Username, "default")
	setDefault(&ch.DialTimeout, 5*time.Second)
	setDefault(&ch.Compression, CompressionAuto)
}

func setDefault[T comparable](field *T, value T) {
	var zero T
	if *field == zero {
		*field = value
	}
}

// Validate reports every problem in the configuration at once, each with the
// path of the offending field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	checkListen := func(path, addr string) {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(path, "%q is not host:port", addr)
		}
	}
	checkPositive := func(path string, v int64) {
		if v <= 0 {
			bad(path, "must be positive, got %d", v)
		}
	}

	checkListen("proxy.listen", c.Proxy.Listen)
	checkListen("query.listen", c.Query.Listen)
	checkListen("ingest.listen", c.Ingest.Listen)
	checkPositive("proxy.max_request_bytes", c.Proxy.MaxRequestBytes)
	checkPositive("proxy.max_response_bytes", c.Proxy.MaxResponseBytes)
	checkPositive("proxy.record_body_bytes", int64(c.Proxy.RecordBodyBytes))
	checkPositive("proxy.publish_queue", int64(c.Proxy.PublishQueue))
	checkPositive("proxy.publish_linger", int64(c.Proxy.PublishLinger))
	checkPositive("proxy.connect_timeout", int64(c.Proxy.ConnectTimeout))
	checkPositive("proxy.first_byte_timeout", int64(c.Proxy.FirstByteTimeout))
	checkPositive("proxy.total_timeout", int64(c.Proxy.TotalTimeout))
	checkPositive("proxy.shutdown_timeout", int64(c.Proxy.ShutdownTimeout))
	checkPositive("proxy.spool.max_bytes", c.Proxy.Spool.MaxBytes)
	checkPositive("proxy.spool.segment_bytes", c.Proxy.Spool.SegmentBytes)
	if c.Proxy.Spool.SegmentBytes > c.Proxy.Spool.MaxBytes {
		bad("proxy.spool.segment_bytes", "must not exceed proxy.spool.max_bytes")
	}
	switch c.Proxy.Spool.Fsync {
	case FsyncInterval, FsyncAlways, FsyncNever:
	default:
		bad("proxy.spool.fsync", "unknown policy %q (one of: %s, %s, %s)", c.Proxy.Spool.Fsync, FsyncInterval, FsyncAlways, FsyncNever)
	}
	checkPositive("proxy.spool.fsync_interval", int64(c.Proxy.Spool.FsyncInterval))
	if c.Proxy.Retries < 0 || c.Proxy.Retries > 5 {
		bad("proxy.retries", "must be between 0 and 5")
	}
	if c.Proxy.Stats.URL != "" {
		if u, err := url.Parse(c.Proxy.Stats.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("proxy.stats.url", "%q is not an http(s) URL", c.Proxy.Stats.URL)
		}
	}
	checkPositive("proxy.stats.interval", int64(c.Proxy.Stats.Interval))
	if c.Proxy.StreamKeepAlive < 0 {
		bad("proxy.stream_keepalive", "must not be negative")
	}
	for i, rp := range c.Proxy.Redact.Patterns {
		path := fmt.Sprintf("proxy.redact.patterns[%d]", i)
		if rp.Name == "" {
			bad(path+".name", "is required")
		}
		if _, err := regexp.Compile(rp.Regex); err != nil || rp.Regex == "" {
			bad(path+".regex", "is not a valid regular expression: %v", err)
		}
	}
	checkPositive("query.max_limit", int64(c.Query.MaxLimit))
	checkPositive("ingest.batch_size", int64(c.Ingest.BatchSize))
	checkPositive("ingest.flush_interval", int64(c.Ingest.FlushInterval))
	checkPositive("ingest.retry_backoff", int64(c.Ingest.RetryBackoff))
	for path, days := range map[string]int{"ingest.retention.requests_days": c.Ingest.Retention.RequestsDays,
		"ingest.retention.bodies_days": c.Ingest.Retention.BodiesDays, "ingest.retention.rollups_days": c.Ingest.Retention.RollupsDays} {
		if days < 0 {
			bad(path, "must not be negative (0 keeps data forever)")
		}
	}
	checkPositive("ingest.retention.check_interval", int64(c.Ingest.Retention.CheckInterval))
	if c.Ingest.MaxRetryBackoff < c.Ingest.RetryBackoff {
		bad("ingest.max_retry_backoff", "must be at least ingest.retry_backoff (%s)", c.Ingest.RetryBackoff)
	}
	for i, b := range c.Kafka.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			bad(fmt.Sprintf("kafka.brokers[%d]", i), "%q is not host:port", b)
		}
	}
	if c.Kafka.Topic == c.Kafka.DLQTopic {
		bad("kafka.dlq_topic", "must differ from kafka.topic")
	}
	checkPositive("kafka.partitions", int64(c.Kafka.Partitions))
	checkPositive("kafka.replication_factor", int64(c.Kafka.ReplicationFactor))
	if c.Kafka.SessionTimeout < 6*time.Second {
		bad("kafka.session_timeout", "must be at least 6s (brokers refuse less by default)")
	}
	for i, a := range c.ClickHouse.Addr {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad(fmt.Sprintf("clickhouse.addr[%d]", i), "%q is not host:port", a)
		}
	}
	switch c.ClickHouse.Compression {
	case CompressionAuto, CompressionLZ4, CompressionZSTD, CompressionNone:
	default:
		bad("clickhouse.compression", "%q must be auto, lz4, zstd or none", c.ClickHouse.Compression)
	}
	if !validIdentifier(c.ClickHouse.Database) {
		bad("clickhouse.database", "%q must be letters, digits and underscores", c.ClickHouse.Database)
	}

	keyIDs := map[string]bool{}
	for i, k := range c.Keys {
		path := fmt.Sprintf("keys[%d]", i)
		switch {
		case k.ID == "":
			bad(path+".id", "is required")
		case keyIDs[k.ID]:
			bad(path+".id", "duplicate key id %q", k.ID)
		}
		keyIDs[k.ID] = true
		switch {
		case k.Key == "" && k.KeySHA256 == "":
			bad(path, "one of key or key_sha256 is required")
		case k.Key != "" && k.KeySHA256 != "":
			bad(path, "give key or key_sha256, not both")
		case k.KeySHA256 != "":
			if b, err := hex.DecodeString(k.KeySHA256); err != nil || len(b) != 32 {
				bad(path+".key_sha256", "must be 64 hex digits")
			}
		case len(k.Key) < 8:
			bad(path+".key", "is shorter than 8 characters")
		}
	}

	providers := map[string]bool{}
	for i, p := range c.Providers {
		path := fmt.Sprintf("providers[%d]", i)
		switch {
		case p.Name == "":
			bad(path+".name", "is required")
		case providers[p.Name]:
			bad(path+".name", "duplicate provider %q", p.Name)
		}
		providers[p.Name] = true
		switch {
		case p.Type == "":
			bad(path+".type", "is required (one of: %s)", strings.Join(providerTypes, ", "))
		case !oneOf(p.Type, providerTypes):
			bad(path+".type", "unknown type %q (one of: %s)", p.Type, strings.Join(providerTypes, ", "))
		}
		if p.Type == ProviderAzure && p.APIVersion == "" {
			bad(path+".api_version", "is required for azure (e.g. 2024-10-21)")
		}
		if p.DataCollection != "" && p.DataCollection != "allow" && p.DataCollection != "deny" {
			bad(path+".data_collection", "must be allow or deny")
		}
		if u, err := url.Parse(p.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(path+".base_url", "%q is not an http(s) URL", p.BaseURL)
		}
	}

	models := map[string]bool{}
	for i, m := range c.Models {
		path := fmt.Sprintf("models[%d]", i)
		switch {
		case m.Name == "":
			bad(path+".name", "is required")
		case models[m.Name]:
			bad(path+".name", "duplicate model %q", m.Name)
		}
		models[m.Name] = true
		if len(m.Deployments) == 0 {
			bad(path+".deployments", "at least one deployment is required")
		}
		if m.Strategy != "" && !oneOf(m.Strategy, strategies) {
			bad(path+".strategy", "unknown strategy %q (one of: %s)", m.Strategy, strings.Join(strategies, ", "))
		}
		for j, d := range m.Deployments {
			dpath := fmt.Sprintf("%s.deployments[%d]", path, j)
			switch {
			case d.Provider == "":
				bad(dpath+".provider", "is required")
			case !providers[d.Provider]:
				bad(dpath+".provider", "unknown provider %q", d.Provider)
			}
			if d.Model == "" {
				bad(dpath+".model", "is required")
			}
			if d.Weight < 0 {
				bad(dpath+".weight", "must not be negative")
			}
			if d.Capabilities.ContextLength < 0 || d.Capabilities.MaxOutputTokens < 0 {
				bad(dpath+".capabilities", "sizes must not be negative")
			}
			for _, e := range d.Capabilities.Endpoints {
				if !oneOf(e, endpointNames) {
					bad(dpath+".capabilities.endpoints", "unknown endpoint %q (of: %s)", e, strings.Join(endpointNames, ", "))
				}
			}
		}
	}

	checkListen("mock.listen", c.Mock.Listen)
	mocks := map[string]bool{}
	for i, m := range c.Mock.Providers {
		path := fmt.Sprintf("mock.providers[%d]", i)
		switch {
		case !validIdentifier(strings.ReplaceAll(m.Name, "-", "_")):
			bad(path+".name", "%q must be letters, digits, '-' and '_'", m.Name)
		case mocks[m.Name]:
			bad(path+".name", "duplicate mock provider %q", m.Name)
		}
		mocks[m.Name] = true
		if m.Latency < 0 || m.Jitter < 0 {
			bad(path, "latency and jitter must not be negative")
		}
		if m.TokensPerSecond < 0 {
			bad(path+".tokens_per_second", "must not be negative")
		}
		if m.CompletionTokens <= 0 {
			bad(path+".completion_tokens", "must be positive")
		}
		if m.ErrorRate < 0 || m.ErrorRate > 1 {
			bad(path+".error_rate", "must be between 0 and 1")
		}
		if m.RateLimitRate < 0 || m.RateLimitRate > 1 || m.ErrorRate+m.RateLimitRate > 1 {
			bad(path+".rate_limit_rate", "must be between 0 and 1, and error_rate + rate_limit_rate at most 1")
		}
	}
	return errors.Join(errs...)
}

func validIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}
