package proxy

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/proxy/provider"
	"github.com/switchyard/switchyard/record"
)

// This file reads the OpenAI wire format on the hot path with jsonx: one
// validating pass over each body or chunk, no reflection, and allocations
// only for the strings kept.

// kind is one family of OpenAI-compatible endpoints: what its requests
// must hold and what a valid response has.
type kind struct {
	endpoint   string // the client's path, as recorded
	capability string // the routing name: chat, completions, embeddings, rerank
	path       string // the provider path (provider.Path...)
	// required is the request member the endpoint cannot do without.
	required string
	// result is the array member every valid response has.
	result string
	// streams is whether the endpoint can stream.
	streams bool
}

var (
	kindChat        = &kind{endpoint: "/v1/chat/completions", capability: "chat", path: provider.PathChat, required: "messages", result: "choices", streams: true}
	kindCompletions = &kind{endpoint: "/v1/completions", capability: "completions", path: provider.PathCompletions, required: "prompt", result: "choices", streams: true}
	kindEmbeddings  = &kind{endpoint: "/v1/embeddings", capability: "embeddings", path: provider.PathEmbeddings, required: "input", result: "data"}
	kindRerank      = &kind{endpoint: "/v1/rerank", capability: "rerank", path: provider.PathRerank, required: "query", result: "results"}
)

// request holds the few fields of a request the proxy acts on; the body
// itself is relayed as the client wrote it.
type request struct {
	Model         string
	Stream        bool
	StreamOptions []byte // raw
	User          string
	SessionID     string
	// Models is OpenRouter's ordered list of fallback models.
	Models []string
	// Provider is OpenRouter's provider preferences object, raw.
	Provider []byte
	// needs are capabilities the request uses: tools, JSON output, images.
	needsTools, needsJSON, needsVision bool
	// routerOnly is set when the body has OpenRouter's extensions, which
	// are understood here and never sent upstream.
	routerOnly bool
}

// routerOnlyFields are request members that steer Switchyard and that an
// upstream would reject as unknown arguments.
var routerOnlyFields = []string{"models", "provider", "session_id", "usage", "transforms", "route"}

// parseRequest reads and validates a request of kind k.
func parseRequest(body []byte, k *kind) (request, *apiError) {
	var req request
	var fieldErr *apiError
	hasRequired := false
	wrongType := func(param, want string) bool {
		fieldErr = &apiError{class: errInvalidRequest, param: param, message: param + " must be " + want}
		return false
	}
	err := jsonx.Members(body, func(m jsonx.Member) bool {
		raw := body[m.ValueStart:m.ValueEnd]
		var err error
		switch {
		case m.Is("model"):
			if req.Model, err = jsonx.Unquote(raw); err != nil {
				return wrongType("model", "a string")
			}
		case m.Is(k.required):
			switch k.required {
			case "messages":
				if raw[0] != '[' {
					return wrongType("messages", "an array")
				}
				hasRequired = !isEmptyArray(raw)
				// Image parts anywhere in the conversation need vision.
				req.needsVision = bytes.Contains(raw, []byte(`"image_url"`))
			case "query":
				if raw[0] != '"' {
					return wrongType("query", "a string")
				}
				hasRequired = true
			default: // prompt, input: a string or an array
				if raw[0] != '"' && raw[0] != '[' {
					return wrongType(k.required, "a string or an array")
				}
				hasRequired = raw[0] == '"' || !isEmptyArray(raw)
			}
		case m.Is("stream"):
			switch string(raw) {
			case "true":
				req.Stream = k.streams
			case "false", "null":
			default:
				return wrongType("stream", "a boolean")
			}
		case m.Is("stream_options"):
			if raw[0] != '{' && !jsonx.IsNull(raw) {
				return wrongType("stream_options", "an object")
			}
			req.StreamOptions = raw
		case m.Is("tools"):
			req.needsTools = raw[0] == '[' && !isEmptyArray(raw)
		case m.Is("response_format"):
			if rt, _ := jsonx.Get(raw, "type"); raw[0] == '{' && string(rt) != `"text"` {
				req.needsJSON = true
			}
		case m.Is("user"):
			if req.User, err = optionalString(raw); err != nil {
				return wrongType("user", "a string")
			}
		case m.Is("session_id"):
			if req.SessionID, err = optionalString(raw); err != nil {
				return wrongType("session_id", "a string")
			}
			req.routerOnly = true
		case m.Is("models"):
			req.routerOnly = true
			if jsonx.IsNull(raw) {
				return true
			}
			if raw[0] != '[' {
				return wrongType("models", "an array of model names")
			}
			ok := true
			_ = jsonx.Elements(raw, func(s, e int) bool {
				name, err := jsonx.Unquote(raw[s:e])
				if err != nil {
					ok = false
					return false
				}
				req.Models = append(req.Models, name)
				return true
			})
			if !ok {
				return wrongType("models", "an array of model names")
			}
		case m.Is("provider"):
			req.routerOnly = true
			if !jsonx.IsNull(raw) && raw[0] != '{' {
				return wrongType("provider", "an object")
			}
			req.Provider = raw
		case m.Is("usage"), m.Is("transforms"), m.Is("route"):
			req.routerOnly = true
		}
		return true
	})
	switch {
	case errors.Is(err, jsonx.ErrNotObject) && json.Valid(body):
		return req, &apiError{class: errInvalidRequest, message: "request body must be a JSON object"}
	case err != nil:
		return req, &apiError{class: errInvalidJSON, message: "request body is not valid JSON"}
	case fieldErr != nil:
		return req, fieldErr
	case req.Model == "" && len(req.Models) == 0:
		return req, &apiError{class: errInvalidRequest, param: "model", message: "model is required"}
	case !hasRequired && k.required == "messages":
		return req, &apiError{class: errInvalidRequest, param: "messages", message: "messages must be a non-empty array"}
	case !hasRequired:
		return req, &apiError{class: errInvalidRequest, param: k.required, message: k.required + " is required"}
	}
	if req.Model == "" {
		req.Model = req.Models[0]
	}
	return req, nil
}

func isEmptyArray(raw []byte) bool {
	empty := true
	_ = jsonx.Elements(raw, func(int, int) bool { empty = false; return false })
	return empty
}

func optionalString(raw []byte) (string, error) {
	if jsonx.IsNull(raw) {
		return "", nil
	}
	return jsonx.Unquote(raw)
}

// usageSpan locates a usage object inside a body, for adding usage.cost.
type usageSpan struct{ start, end int }

// parseResponse reads a non-streaming response of kind k: the first
// choice's finish reason (for completions) and the usage. ok is false when
// the body is not such a response (not JSON, no result array, an error
// object).
func parseResponse(body []byte, k *kind) (finishReason string, usage *record.Usage, span usageSpan, ok bool) {
	var bad bool
	hasResult := false
	err := jsonx.Members(body, func(m jsonx.Member) bool {
		raw := body[m.ValueStart:m.ValueEnd]
		switch {
		case m.Is(k.result):
			if raw[0] != '[' {
				bad = true
				return false
			}
			hasResult = true
			if k.result != "choices" {
				return true
			}
			_ = jsonx.Elements(raw, func(s, e int) bool {
				finishReason, _, _ = parseChoiceFinish(raw[s:e])
				return false
			})
		case m.Is("usage"):
			if jsonx.IsNull(raw) {
				return true
			}
			u, err := parseUsage(raw)
			if err != nil {
				bad = true
				return false
			}
			usage, span = &u, usageSpan{m.ValueStart, m.ValueEnd}
		}
		return true
	})
	return finishReason, usage, span, err == nil && !bad && hasResult
}

func parseChoiceFinish(choice []byte) (string, bool, error) {
	var finish string
	err := jsonx.Members(choice, func(m jsonx.Member) bool {
		if m.Is("finish_reason") {
			finish, _ = optionalString(choice[m.ValueStart:m.ValueEnd])
		}
		return true
	})
	return finish, finish != "", err
}

// withUsageCost adds OpenRouter's usage.cost (USD) inside the usage object
// at span.
func withUsageCost(body []byte, span usageSpan, costNUSD int64) []byte {
	var num [32]byte
	out, err := jsonx.InsertMember(body, span.start, span.end, "cost", appendUSD(num[:0], costNUSD))
	if err != nil {
		return body
	}
	return out
}

// parseUsage reads OpenAI's usage object into the record's form.
func parseUsage(raw []byte) (record.Usage, error) {
	var u record.Usage
	var err error
	number := func(dst *int64, v []byte) bool {
		if *dst, err = jsonx.Int(v); err != nil {
			return false
		}
		return true
	}
	// detail reads the members of a *_tokens_details object: pairs of
	// member name and destination.
	detail := func(v []byte, fields ...any) bool {
		if jsonx.IsNull(v) {
			return true
		}
		if e := jsonx.Members(v, func(d jsonx.Member) bool {
			for i := 0; i+1 < len(fields); i += 2 {
				if d.Is(fields[i].(string)) {
					return number(fields[i+1].(*int64), v[d.ValueStart:d.ValueEnd])
				}
			}
			return true
		}); e != nil && err == nil {
			err = e
		}
		return err == nil
	}
	if raw[0] != '{' {
		return u, jsonx.ErrNotObject
	}
	jerr := jsonx.Members(raw, func(m jsonx.Member) bool {
		v := raw[m.ValueStart:m.ValueEnd]
		switch {
		case m.Is("prompt_tokens"):
			return number(&u.PromptTokens, v)
		case m.Is("completion_tokens"):
			return number(&u.CompletionTokens, v)
		case m.Is("prompt_tokens_details"):
			// cache_write_tokens is not OpenAI's: adapters for providers
			// that bill cache writes (Anthropic) report them there.
			return detail(v, "cached_tokens", &u.CachedTokens, "cache_write_tokens", &u.CacheWriteTokens)
		case m.Is("completion_tokens_details"):
			return detail(v, "reasoning_tokens", &u.ReasoningTokens)
		}
		return true
	})
	return u, errors.Join(jerr, err)
}

// chunkInfo is what one chat.completion.chunk tells the proxy.
type chunkInfo struct {
	content bool // carries content: text, a refusal or tool calls
	usage   *record.Usage
	span    usageSpan
}
