package record

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/switchyard/switchyard/internal/jsonx"
)

// errFieldType is a field whose JSON type does not fit the record.
var errFieldType = errors.New("wrong type")

// decoder reads a record in one validating pass per value, without
// reflection: the ingester decodes every record that flows through Kafka,
// and encoding/json cost several times the rest of ingestion together.
// Keys are matched exactly; unknown members are ignored; null leaves a
// field at its zero value.
type decoder struct {
	data []byte
	err  error
}

func (d *decoder) fail(field string, err error) bool {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %w", field, err)
	}
	return false
}

func (d *decoder) str(field string, raw []byte, dst *string) bool {
	if jsonx.IsNull(raw) {
		return true
	}
	if raw[0] != '"' {
		return d.fail(field, errFieldType)
	}
	s, err := jsonx.Unquote(raw)
	if err != nil {
		return d.fail(field, err)
	}
	*dst = s
	return true
}

func (d *decoder) int(field string, raw []byte, dst *int64) bool {
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') && !jsonx.IsNull(raw) {
		return d.fail(field, errFieldType)
	}
	n, err := jsonx.Int(raw)
	if err != nil {
		return d.fail(field, err)
	}
	*dst = n
	return true
}

func (d *decoder) bool(field string, raw []byte, dst *bool) bool {
	switch string(raw) {
	case "true":
		*dst = true
	case "false", "null":
		*dst = false
	default:
		return d.fail(field, errFieldType)
	}
	return true
}

func decodeRecord(data []byte) (*Record, error) {
	var r Record
	d := &decoder{data: data}
	var schemaVersion int64
	err := jsonx.Members(data, func(m jsonx.Member) bool {
		raw := data[m.ValueStart:m.ValueEnd]
		switch string(m.KeyBytes()) {
		case "schema_version":
			return d.int("schema_version", raw, &schemaVersion)
		case "request_id":
			return d.str("request_id", raw, &r.RequestID)
		case "trace_id":
			return d.str("trace_id", raw, &r.TraceID)
		case "span_id":
			return d.str("span_id", raw, &r.SpanID)
		case "parent_span_id":
			return d.str("parent_span_id", raw, &r.ParentSpanID)
		case "session_id":
			return d.str("session_id", raw, &r.SessionID)
		case "started_at_ms":
			return d.int("started_at_ms", raw, &r.StartedAtMs)
		case "latency_ms":
			return d.int("latency_ms", raw, &r.LatencyMs)
		case "ttft_ms":
			return d.int("ttft_ms", raw, &r.TTFTMs)
		case "overhead_us":
			return d.int("overhead_us", raw, &r.OverheadUs)
		case "endpoint":
			return d.str("endpoint", raw, &r.Endpoint)
		case "stream":
			return d.bool("stream", raw, &r.Stream)
		case "model_requested":
			return d.str("model_requested", raw, &r.ModelRequested)
		case "model":
			return d.str("model", raw, &r.Model)
		case "provider":
			return d.str("provider", raw, &r.Provider)
		case "key_id":
			return d.str("key_id", raw, &r.KeyID)
		case "user":
			return d.str("user", raw, &r.User)
		case "team":
			return d.str("team", raw, &r.Team)
		case "tags":
			return d.tags(raw, &r.Tags)
		case "metadata":
			return d.metadata(raw, &r.Metadata)
		case "status_code":
			var n int64
			ok := d.int("status_code", raw, &n)
			r.StatusCode = int(n)
			return ok
		case "outcome":
			return d.str("outcome", raw, &r.Outcome)
		case "error_type":
			return d.str("error_type", raw, &r.ErrorType)
		case "error_message":
			return d.str("error_message", raw, &r.ErrorMessage)
		case "finish_reason":
			return d.str("finish_reason", raw, &r.FinishReason)
		case "usage":
			return d.usage(raw, &r.Usage)
		case "cost_nusd":
			return d.int("cost_nusd", raw, &r.CostNUSD)
		case "cache_hit":
			return d.bool("cache_hit", raw, &r.CacheHit)
		case "attempts":
			return d.attempts(raw, &r.Attempts)
		case "routing":
			return d.object("routing", raw, func(key string, v []byte) bool {
				switch key {
				case "strategy":
					return d.str("routing.strategy", v, &r.Routing.Strategy)
				case "reason":
					return d.str("routing.reason", v, &r.Routing.Reason)
				case "candidates":
					return d.candidates(v, &r.Routing.Candidates)
				}
				return true
			})
		case "request_body":
			return d.str("request_body", raw, &r.RequestBody)
		case "response_body":
			return d.str("response_body", raw, &r.ResponseBody)
		case "body_truncated":
			return d.bool("body_truncated", raw, &r.BodyTruncated)
		case "bodies_omitted":
			return d.bool("bodies_omitted", raw, &r.BodiesOmitted)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if d.err != nil {
		return nil, d.err
	}
	r.SchemaVersion = int(schemaVersion)
	return &r, nil
}

// object walks a nested object; null is an empty object.
func (d *decoder) object(field string, raw []byte, fn func(key string, v []byte) bool) bool {
	if jsonx.IsNull(raw) {
		return true
	}
	if raw[0] != '{' {
		return d.fail(field, errFieldType)
	}
	_ = jsonx.Members(raw, func(m jsonx.Member) bool {
		return fn(string(m.KeyBytes()), raw[m.ValueStart:m.ValueEnd])
	})
	return d.err == nil
}

func (d *decoder) array(field string, raw []byte, fn func(v []byte) bool) bool {
	if jsonx.IsNull(raw) {
		return true
	}
	if raw[0] != '[' {
		return d.fail(field, errFieldType)
	}
	_ = jsonx.Elements(raw, func(s, e int) bool { return fn(raw[s:e]) })
	return d.err == nil
}

func (d *decoder) tags(raw []byte, dst *[]string) bool {
	return d.array("tags", raw, func(v []byte) bool {
		var s string
		if !d.str("tags", v, &s) {
			return false
		}
		*dst = append(*dst, s)
		return true
	})
}

func (d *decoder) metadata(raw []byte, dst *map[string]string) bool {
	if !jsonx.IsNull(raw) && *dst == nil {
		*dst = map[string]string{}
	}
	return d.object("metadata", raw, func(key string, v []byte) bool {
		var s string
		if !d.str("metadata."+key, v, &s) {
			return false
		}
		(*dst)[key] = s
		return true
	})
}

func (d *decoder) usage(raw []byte, u *Usage) bool {
	return d.object("usage", raw, func(key string, v []byte) bool {
		switch key {
		case "prompt_tokens":
			return d.int("usage.prompt_tokens", v, &u.PromptTokens)
		case "completion_tokens":
			return d.int("usage.completion_tokens", v, &u.CompletionTokens)
		case "cached_tokens":
			return d.int("usage.cached_tokens", v, &u.CachedTokens)
		case "cache_write_tokens":
			return d.int("usage.cache_write_tokens", v, &u.CacheWriteTokens)
		case "reasoning_tokens":
			return d.int("usage.reasoning_tokens", v, &u.ReasoningTokens)
		case "estimated":
			return d.bool("usage.estimated", v, &u.Estimated)
		}
		return true
	})
}

func (d *decoder) attempts(raw []byte, dst *[]Attempt) bool {
	return d.array("attempts", raw, func(v []byte) bool {
		var a Attempt
		var status int64
		ok := d.object("attempts[]", v, func(key string, f []byte) bool {
			switch key {
			case "provider":
				return d.str("attempts[].provider", f, &a.Provider)
			case "model":
				return d.str("attempts[].model", f, &a.Model)
			case "status_code":
				return d.int("attempts[].status_code", f, &status)
			case "latency_ms":
				return d.int("attempts[].latency_ms", f, &a.LatencyMs)
			case "error_type":
				return d.str("attempts[].error_type", f, &a.ErrorType)
			}
			return true
		})
		a.StatusCode = int(status)
		*dst = append(*dst, a)
		return ok
	})
}

func (d *decoder) candidates(raw []byte, dst *[]RoutingCandidate) bool {
	return d.array("routing.candidates", raw, func(v []byte) bool {
		var c RoutingCandidate
		ok := d.object("routing.candidates[]", v, func(key string, f []byte) bool {
			switch key {
			case "public_model":
				return d.str("routing.candidates[].public_model", f, &c.PublicModel)
			case "provider":
				return d.str("routing.candidates[].provider", f, &c.Provider)
			case "model":
				return d.str("routing.candidates[].model", f, &c.Model)
			case "score":
				return d.float("routing.candidates[].score", f, &c.Score)
			case "why":
				return d.str("routing.candidates[].why", f, &c.Why)
			case "skipped":
				return d.str("routing.candidates[].skipped", f, &c.Skipped)
			}
			return true
		})
		*dst = append(*dst, c)
		return ok
	})
}

func (d *decoder) float(field string, raw []byte, dst *float64) bool {
	if jsonx.IsNull(raw) {
		return true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return d.fail(field, errFieldType)
	}
	*dst = f
	return true
}
