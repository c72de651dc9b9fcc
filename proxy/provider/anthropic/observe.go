package anthropic

import (
	"errors"

	"github.com/switchyard/switchyard/internal/jsonx"
)

// This file reads usage from native Messages traffic (the /anthropic/v1/...
// pass-through), which is relayed unchanged, so that it can be recorded.

// Usage is token usage as Anthropic reports it. InputTokens excludes the
// tokens read from the cache (CacheReadTokens) and written to it
// (CacheWriteTokens); OpenAI's prompt_tokens is the sum of the three.
type Usage struct {
	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64
	CacheWriteTokens int64
}

// Error is an error Anthropic reported, in an error body or a stream's
// error event; Type is Anthropic's error type, e.g. "overloaded_error".
type Error struct {
	Type    string
	Message string
}

func (e *Error) Error() string { return "anthropic: " + e.Type + ": " + e.Message }

// ErrNotMessage is returned for a body or event that is not part of a
// Messages response.
var ErrNotMessage = errors.New("anthropic: not a Messages response")

// ParseMessageUsage reads the usage and stop_reason of a non-streaming
// Messages response. An error body returns *Error.
func ParseMessageUsage(body []byte) (Usage, string, error) {
	var u Usage
	var typ, stop string
	var usageRaw, errRaw []byte
	err := jsonx.Members(body, func(m jsonx.Member) bool {
		raw := body[m.ValueStart:m.ValueEnd]
		switch {
		case m.Is("type"):
			typ = unquote(raw)
		case m.Is("stop_reason"):
			stop = unquote(raw)
		case m.Is("usage"):
			usageRaw = raw
		case m.Is("error"):
			errRaw = raw
		}
		return true
	})
	switch {
	case err != nil:
		return u, "", err
	case typ == "error":
		e := parseErrorObject(errRaw)
		return u, "", &Error{Type: e.Type, Message: e.Message}
	case typ != "message":
		return u, "", ErrNotMessage
	}
	readUsage(usageRaw, &u)
	return u, stop, nil
}

// StreamObserver follows a native Messages stream, event by event, for
// its usage, stop reason and first content. The zero value is ready.
type StreamObserver struct {
	usage      Usage
	stopReason string
	sawContent bool
	done       bool
}

// Observe reads one SSE event (its event name, which may be empty, and its
// data). content is true for the event that carries the stream's first
// generated content — text, tool input or thinking — which marks the time to
// first token. An error event returns *Error; data that is not a JSON
// object returns an error too.
func (o *StreamObserver) Observe(event, data []byte) (content bool, err error) {
	ev, err := parseEvent(event, data)
	if err != nil {
		return false, err
	}
	switch ev.typ {
	case "message_start":
		objectMembers(ev.message, func(m jsonx.Member, v []byte) {
			if m.Is("usage") {
				readUsage(v, &o.usage)
			}
		})
	case "content_block_start":
		objectMembers(ev.block, func(m jsonx.Member, v []byte) {
			switch {
			case m.Is("type"):
				switch unquote(v) {
				case "tool_use", "server_tool_use", "redacted_thinking":
					content = true
				}
			case m.Is("text"), m.Is("thinking"):
				content = content || !isEmptyString(v)
			}
		})
	case "content_block_delta":
		objectMembers(ev.delta, func(m jsonx.Member, v []byte) {
			if m.Is("text") || m.Is("partial_json") || m.Is("thinking") {
				content = content || !isEmptyString(v)
			}
		})
	case "message_delta":
		readUsage(ev.usage, &o.usage)
		objectMembers(ev.delta, func(m jsonx.Member, v []byte) {
			if m.Is("stop_reason") && !jsonx.IsNull(v) {
				o.stopReason = unquote(v)
			}
		})
	case "message_stop":
		o.done = true
	case "error":
		e := parseErrorObject(ev.errObj)
		return false, &Error{Type: e.Type, Message: e.Message}
	}
	if content && !o.sawContent {
		o.sawContent = true
		return true, nil
	}
	return false, nil
}

// Usage is the usage seen so far: a stream cut short reports what it had.
func (o *StreamObserver) Usage() Usage { return o.usage }

// StopReason is the message's stop_reason, empty until message_delta.
func (o *StreamObserver) StopReason() string { return o.stopReason }

// Done reports whether message_stop was seen: the stream was whole.
func (o *StreamObserver) Done() bool { return o.done }
