// Package config defines Switchyard's one YAML configuration file: its
// structure, defaults, ${ENV_VAR} interpolation, strict decoding and
// validation. Every subcommand reads the same file and uses the parts it
// needs. See config/example.yaml for a commented example.
package config

import (
	"time"
)

// Config is the whole configuration file.
type Config struct {
	Proxy      Proxy      `yaml:"proxy"`
	Query      Query      `yaml:"query"`
	Ingest     Ingest     `yaml:"ingest"`
	Kafka      Kafka      `yaml:"kafka"`
	ClickHouse ClickHouse `yaml:"clickhouse"`
	Keys       []Key      `yaml:"keys"`
	Providers  []Provider `yaml:"providers"`
	Models     []Model    `yaml:"models"`
	Mock       Mock       `yaml:"mock"`
}

// Proxy configures `switchyard proxy`.
type Proxy struct {
	// Listen is the proxy's address, ":8080" by default.
	Listen string `yaml:"listen"`
	// MaxRequestBytes bounds a client request body; larger ones get 413.
	MaxRequestBytes int64 `yaml:"max_request_bytes"`
	// MaxResponseBytes bounds a non-streaming upstream response body.
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
	// RecordBodyBytes truncates each body stored in the record.
	RecordBodyBytes int `yaml:"record_body_bytes"`
	// RecordBodies turns storing request and response bodies on or off.
	RecordBodies *bool `yaml:"record_bodies"`
	// PublishQueue is the number of records buffered in memory between the
	// request path and Kafka. The request path never waits on it.
	PublishQueue int `yaml:"publish_queue"`
	// PublishLinger is the longest a record waits for its Kafka batch to
	// fill; larger batches cost the proxy less CPU per record.
	PublishLinger time.Duration `yaml:"publish_linger"`
	// ConnectTimeout bounds dialing an upstream.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// FirstByteTimeout bounds the wait for an upstream's response headers.
	FirstByteTimeout time.Duration `yaml:"first_byte_timeout"`
	// TotalTimeout bounds one upstream attempt from start to end of body.
	TotalTimeout time.Duration `yaml:"total_timeout"`
	// ShutdownTimeout bounds draining in-flight requests and records on SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// Spool holds records on disk while Kafka is unreachable or slow.
	Spool Spool `yaml:"spool"`
	// Redact scrubs bodies before they are recorded.
	Redact Redact `yaml:"redact"`
	// Retries is how many more rounds over the deployments are made when
	// every one failed in a way that may pass (timeouts, 5xx, 429), each
	// after a jittered, doubling backoff.
	Retries int `yaml:"retries"`
	// Stats polls the query API's provider statistics so that routing
	// follows the whole cluster's traffic, not only this process's.
	Stats StatsPoll `yaml:"stats"`
	// StreamKeepAlive, when set, sends an SSE comment at this interval while
	// a stream waits for its first token, so that idle-timeout proxies
	// between the client and Switchyard keep the connection.
	StreamKeepAlive time.Duration `yaml:"stream_keepalive"`
}

// StatsPoll configures polling GET /v1/stats/providers on the query API.
type StatsPoll struct {
	// URL is the query API's base URL, e.g. http://query:8081; empty turns
	// polling off (routing then uses this process's observations only).
	URL string `yaml:"url"`
	// Key is a key the query API accepts (an admin key sees every team).
	Key      string        `yaml:"key"`
	Interval time.Duration `yaml:"interval"`
}

// Redact configures how recorded bodies are scrubbed. Matches are replaced
// by "[REDACTED:<name>]" (or the pattern's replacement).
type Redact struct {
	// Defaults turns on the built-in patterns (emails, payment card
	// numbers, API keys and bearer tokens); true unless set to false.
	Defaults *bool `yaml:"defaults"`
	// Patterns are added to the defaults.
	Patterns []RedactPattern `yaml:"patterns"`
}

// RedactPattern is one regular expression (RE2 syntax) to scrub.
type RedactPattern struct {
	Name        string `yaml:"name"`
	Regex       string `yaml:"regex"`
	Replacement string `yaml:"replacement"`
}

// Spool configures the proxy's on-disk spool: append-only segment files
// that take the records Kafka cannot take right now, replayed in order when
// it can. Records are dropped only when MaxBytes is reached.
type Spool struct {
	// Dir holds the segments; one proxy process per directory.
	Dir string `yaml:"dir"`
	// MaxBytes caps the spool on disk.
	MaxBytes int64 `yaml:"max_bytes"`
	// SegmentBytes is the size at which a segment file is closed and a new
	// one started.
	SegmentBytes int64 `yaml:"segment_bytes"`
	// Fsync is when appended records are forced to disk: "interval" (every
	// FsyncInterval, and at each segment roll and close), "always" (every
	// append) or "never" (left to the OS).
	Fsync         string        `yaml:"fsync"`
	FsyncInterval time.Duration `yaml:"fsync_interval"`
}

// Query configures `switchyard query`.
type Query struct {
	Listen string `yaml:"listen"`
	// MaxLimit caps the page size of GET /v1/requests.
	MaxLimit int `yaml:"max_limit"`
}

// Ingest configures `switchyard ingest`.
type Ingest struct {
	// Listen serves /metrics and /healthz.
	Listen string `yaml:"listen"`
	// BatchSize is the most records inserted at once.
	BatchSize int `yaml:"batch_size"`
	// FlushInterval is the longest a record waits for its batch to fill.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// RetryBackoff is the first wait after a failed insert; it doubles up to
	// MaxRetryBackoff.
	RetryBackoff    time.Duration `yaml:"retry_backoff"`
	MaxRetryBackoff time.Duration `yaml:"max_retry_backoff"`
	// Retention is how long each kind of data is kept; the ingester
	// enforces it.
	Retention Retention `yaml:"retention"`
}

// Retention is how many days each kind of data is kept. 0 keeps it forever.
type Retention struct {
	// RequestsDays applies to the request records and their look-up tables.
	RequestsDays int `yaml:"requests_days"`
	// BodiesDays applies to request and response bodies.
	BodiesDays int `yaml:"bodies_days"`
	// RollupsDays applies to the spend and performance rollups.
	RollupsDays int `yaml:"rollups_days"`
	// CheckInterval is how often expired data is dropped where the server
	// has no TTL.
	CheckInterval time.Duration `yaml:"check_interval"`
}

// Kafka names the brokers and topics.
type Kafka struct {
	Brokers       []string `yaml:"brokers"`
	Topic         string   `yaml:"topic"`
	DLQTopic      string   `yaml:"dlq_topic"`
	ConsumerGroup string   `yaml:"consumer_group"`
	// CreateTopics creates the topics at start-up when they are missing,
	// with Partitions partitions and ReplicationFactor replicas.
	// SessionTimeout is how long the group waits for a silent consumer (a
	// crashed ingester) before handing its partitions to another.
	SessionTimeout    time.Duration `yaml:"session_timeout"`
	CreateTopics      bool          `yaml:"create_topics"`
	Partitions        int           `yaml:"partitions"`
	ReplicationFactor int           `yaml:"replication_factor"`
}

// ClickHouse names the server (native protocol) and database.
type ClickHouse struct {
	Addr        []string      `yaml:"addr"`
	Database    string        `yaml:"database"`
	Username    string        `yaml:"username"`
	Password    string        `yaml:"password"`
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// Compression of the native protocol's data blocks: auto (the
	// default: none when every address is on this machine, where it only
	// costs CPU on both sides, else lz4), lz4, zstd or none.
	Compression string `yaml:"compression"`
}

// ClickHouse compression settings.
const (
	CompressionAuto = "auto"
	CompressionLZ4  = "lz4"
	CompressionZSTD = "zstd"
	CompressionNone = "none"
)

// Key is one client key, accepted by the proxy and the query API.
type Key struct {
	// ID names the key in records; it is not secret.
	ID string `yaml:"id"`
	// Key is the secret itself (use ${ENV_VAR}); or give KeySHA256, the
	// hex SHA-256 of the secret, so that the file holds no secret.
	Key       string `yaml:"key"`
	KeySHA256 string `yaml:"key_sha256"`
	// Team attributes the key's traffic and scopes what it sees in the query
	// API.
	Team string `yaml:"team"`
	// Admin keys see every team's data in the query API.
	Admin bool `yaml:"admin"`
	// ZeroRetention keeps this key's request and response bodies out of
	// records entirely (bodies_omitted is set).
	ZeroRetention bool `yaml:"zero_retention"`
}

// Provider is one upstream endpoint.
type Provider struct {
	Name string `yaml:"name"`
	// Type is the wire format: "openai" (any OpenAI-compatible API: OpenAI,
	// Groq, Together, Fireworks, Mistral, DeepSeek, vLLM, Ollama,
	// OpenRouter), "azure" (Azure OpenAI: deployments and api-version),
	// "anthropic" (the Messages API) or "gemini" (Google's generateContent).
	Type    string `yaml:"type"`
	BaseURL string `yaml:"base_url"`
	APIKey  string `yaml:"api_key"`
	// APIVersion is Azure's api-version query parameter, or the
	// anthropic-version header (2023-06-01 by default).
	APIVersion string `yaml:"api_version"`
	// Headers are added to every upstream request.
	Headers map[string]string `yaml:"headers"`
	// AllowClientKey lets a client bring its own key for this provider
	// (header X-Switchyard-Provider-Key); it replaces api_key for that
	// request and is never recorded or logged.
	AllowClientKey bool `yaml:"allow_client_key"`
	// DataCollection is the provider's data policy, for OpenRouter's
	// provider.data_collection filter: "allow" (default) or "deny".
	DataCollection string `yaml:"data_collection"`
	// ZDR marks a provider with zero data retention (provider.zdr).
	ZDR bool `yaml:"zdr"`
}

// Model is a public model name and the deployments that serve it, tried in
// order.
type Model struct {
	Name        string       `yaml:"name"`
	Deployments []Deployment `yaml:"deployments"`
	// Strategy orders the deployments when a request does not say:
	// ordered (default), weighted, price, latency, throughput, least_busy.
	Strategy string `yaml:"strategy"`
}

// Deployment is one provider's upstream model behind a public model.
type Deployment struct {
	Provider string  `yaml:"provider"`
	Model    string  `yaml:"model"`
	Pricing  Pricing `yaml:"pricing"`
	// Weight is the deployment's share under the weighted strategy (1 by
	// default).
	Weight int `yaml:"weight"`
	// Region and Tags describe the deployment, for filtering and reports.
	Region string   `yaml:"region"`
	Tags   []string `yaml:"tags"`
	// Capabilities are what the deployment supports; requests that need
	// more (tools, JSON output, images, a longer context) skip it.
	Capabilities Capabilities `yaml:"capabilities"`
}

// Capabilities of a deployment. Unset booleans default to true (most chat
// models have them); unset sizes mean unknown and never filter.
type Capabilities struct {
	Tools           *bool `yaml:"tools"`
	JSON            *bool `yaml:"json"`
	Vision          *bool `yaml:"vision"`
	ContextLength   int   `yaml:"context_length"`
	MaxOutputTokens int   `yaml:"max_output_tokens"`
	// Endpoints the deployment serves, of chat, completions, embeddings,
	// rerank; empty means chat only.
	Endpoints []string `yaml:"endpoints"`
}

// Pricing is a deployment's price list. Token prices are in USD per million
// tokens; Request is USD per request. Values are exact decimals.
type Pricing struct {
	Input       Price `yaml:"input"`
	Output      Price `yaml:"output"`
	CachedInput Price `yaml:"cached_input"`
	CacheWrite  Price `yaml:"cache_write"`
	// Reasoning prices reasoning tokens (part of the completion) where a
	// provider bills them apart; unset, they are billed as output.
	Reasoning Price `yaml:"reasoning"`
	Request   Price `yaml:"request"`
}

// Mock configures `switchyard mock`, the simulated providers. Each provider
// is served under /{name}/v1/... on one listener.
type Mock struct {
	Listen    string         `yaml:"listen"`
	Providers []MockProvider `yaml:"providers"`
}

// MockProvider is one simulated provider's behaviour.
type MockProvider struct {
	Name string `yaml:"name"`
	// APIKey, when set, is required as a Bearer token.
	APIKey string `yaml:"api_key"`
	// Latency is the time before the response headers (the time to first
	// token for streams); Jitter adds a uniformly random 0..Jitter.
	Latency time.Duration `yaml:"latency"`
	Jitter  time.Duration `yaml:"jitter"`
	// TokensPerSecond paces streamed chunks; 0 sends them back to back.
	TokensPerSecond float64 `yaml:"tokens_per_second"`
	// CompletionTokens is how many tokens a completion has unless the
	// request's max_tokens is lower.
	CompletionTokens int `yaml:"completion_tokens"`
	// ErrorRate and RateLimitRate are the fractions of requests answered
	// with 500 and with 429.
	ErrorRate     float64 `yaml:"error_rate"`
	RateLimitRate float64 `yaml:"rate_limit_rate"`
}
