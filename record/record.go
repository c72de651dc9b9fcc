// Package record defines the request record: the one message Switchyard
// publishes per client request to the Kafka topic switchyard.requests, and
// the shape the query API returns for GET /v1/requests/{id}.
//
// The record is a public interface: users consume the topic themselves. Field
// names are stable; fields may be added, never renamed. Every change that
// alters the meaning of an existing field bumps SchemaVersion.
//
// This package is a leaf: it must not import gin, Kafka or ClickHouse code.
package record

// SchemaVersion is the version written into every record this build
// produces. Consumers reject versions newer than they understand.
const SchemaVersion = 1

// Outcome values.
const (
	OutcomeOK          = "ok"
	OutcomeError       = "error"
	OutcomeTimeout     = "timeout"
	OutcomeCanceled    = "canceled"
	OutcomeRateLimited = "rate_limited"
)

// Record is one client request as Switchyard saw it. See docs/record.md for
// the meaning of every field.
type Record struct {
	SchemaVersion int    `json:"schema_version"`
	RequestID     string `json:"request_id"`
	TraceID       string `json:"trace_id"`
	SpanID        string `json:"span_id"`
	ParentSpanID  string `json:"parent_span_id"`
	SessionID     string `json:"session_id"`

	StartedAtMs int64 `json:"started_at_ms"`
	LatencyMs   int64 `json:"latency_ms"`
	TTFTMs      int64 `json:"ttft_ms"`
	OverheadUs  int64 `json:"overhead_us"`

	Endpoint       string `json:"endpoint"`
	Stream         bool   `json:"stream"`
	ModelRequested string `json:"model_requested"`
	Model          string `json:"model"`
	Provider       string `json:"provider"`

	KeyID    string            `json:"key_id"`
	User     string            `json:"user"`
	Team     string            `json:"team"`
	Tags     []string          `json:"tags"`
	Metadata map[string]string `json:"metadata"`

	StatusCode   int    `json:"status_code"`
	Outcome      string `json:"outcome"`
	ErrorType    string `json:"error_type"`
	ErrorMessage string `json:"error_message"`
	FinishReason string `json:"finish_reason"`

	Usage    Usage `json:"usage"`
	CostNUSD int64 `json:"cost_nusd"`
	CacheHit bool  `json:"cache_hit"`

	Attempts []Attempt `json:"attempts"`
	Routing  Routing   `json:"routing"`

	RequestBody   string `json:"request_body"`
	ResponseBody  string `json:"response_body"`
	BodyTruncated bool   `json:"body_truncated"`
	BodiesOmitted bool   `json:"bodies_omitted"`
}

// Usage is the token count of a request. PromptTokens includes CachedTokens
// and CacheWriteTokens; CompletionTokens includes ReasoningTokens (OpenAI's
// convention, which every adapter normalises to).
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	CachedTokens     int64 `json:"cached_tokens"`
	CacheWriteTokens int64 `json:"cache_write_tokens"`
	ReasoningTokens  int64 `json:"reasoning_tokens"`
	// Estimated is true when the provider reported no usage and the counts
	// were estimated by Switchyard.
	Estimated bool `json:"estimated"`
}

// Attempt is one try of one deployment while serving the request.
type Attempt struct {
	Provider   string `json:"provider"`
	Model      string `json:"model"`
	StatusCode int    `json:"status_code"`
	LatencyMs  int64  `json:"latency_ms"`
	ErrorType  string `json:"error_type"`
}

// Routing says how the provider was chosen.
type Routing struct {
	Strategy string `json:"strategy"`
	Reason   string `json:"reason"`
	// Candidates are the deployments the router considered, in the order
	// it planned them, then those it skipped.
	Candidates []RoutingCandidate `json:"candidates"`
}

// RoutingCandidate is one deployment the router considered.
type RoutingCandidate struct {
	// PublicModel is the model name planned (one of the request's models).
	PublicModel string `json:"public_model"`
	Provider    string `json:"provider"`
	Model       string `json:"model"`
	// Score is the strategy's figure for it; Why says what it is.
	Score float64 `json:"score"`
	Why   string  `json:"why"`
	// Skipped is why it was left out, "" when it was a candidate.
	Skipped string `json:"skipped"`
}
