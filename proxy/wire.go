package proxy

import (
	"encoding/json"
	"errors"

	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/record"
)

// This file reads the OpenAI wire format on the hot path with jsonx: one
// validating pass over each body or chunk, no reflection, and allocations
// only for the strings kept.

// chatRequest holds the few fields of a chat completion request the proxy
// acts on; the body itself is relayed as the client wrote it.
type chatRequest struct {
	Model         string
	Stream        bool
	StreamOptions []byte // raw
	User          string
	SessionID     string
	// routerOnly is set when the body has OpenRouter's extensions, which
	// are understood here and never sent upstream.
	routerOnly bool
}

// routerOnlyFields are request members that steer Switchyard and that an
// upstream would reject as unknown arguments.
var routerOnlyFields = []string{"models", "provider", "session_id", "usage", "transforms", "route"}

// parseChatRequest reads and validates a chat completion request.
func parseChatRequest(body []byte) (chatRequest, *apiError) {
	var req chatRequest
	var fieldErr *apiError
	hasMessages := false
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
		case m.Is("messages"):
			if raw[0] != '[' {
				return wrongType("messages", "an array")
			}
			hasMessages = !isEmptyArray(raw)
		case m.Is("stream"):
			switch string(raw) {
			case "true":
				req.Stream = true
			case "false", "null":
			default:
				return wrongType("stream", "a boolean")
			}
		case m.Is("stream_options"):
			if raw[0] != '{' && !jsonx.IsNull(raw) {
				return wrongType("stream_options", "an object")
			}
			req.StreamOptions = raw
		case m.Is("user"):
			if req.User, err = optionalString(raw); err != nil {
				return wrongType("user", "a string")
			}
		case m.Is("session_id"):
			if req.SessionID, err = optionalString(raw); err != nil {
				return wrongType("session_id", "a string")
			}
			req.routerOnly = true
		case m.Is("models"), m.Is("provider"), m.Is("usage"), m.Is("transforms"), m.Is("route"):
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
	case req.Model == "":
		return req, &apiError{class: errInvalidRequest, param: "model", message: "model is required"}
	case !hasMessages:
		return req, &apiError{class: errInvalidRequest, param: "messages", message: "messages must be a non-empty array"}
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

// parseCompletion reads a non-streaming chat completion: the first choice's
// finish reason and the usage. ok is false when the body is not a chat
// completion (not JSON, no choices array, an error object).
func parseCompletion(body []byte) (finishReason string, usage *record.Usage, span usageSpan, ok bool) {
	var bad bool
	hasChoices := false
	err := jsonx.Members(body, func(m jsonx.Member) bool {
		raw := body[m.ValueStart:m.ValueEnd]
		switch {
		case m.Is("choices"):
			if raw[0] != '[' {
				bad = true
				return false
			}
			hasChoices = true
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
	return finishReason, usage, span, err == nil && !bad && hasChoices
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
	detail := func(v []byte, key string, dst *int64) bool {
		if jsonx.IsNull(v) {
			return true
		}
		if e := jsonx.Members(v, func(d jsonx.Member) bool {
			if d.Is(key) {
				return number(dst, v[d.ValueStart:d.ValueEnd])
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
			return detail(v, "cached_tokens", &u.CachedTokens)
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
