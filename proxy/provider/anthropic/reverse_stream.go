package anthropic

import (
	"bufio"
	"io"
	"strconv"

	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/internal/sse"
)

// OpenAIStreamToMessages translates an OpenAI chat.completion.chunk stream
// into Anthropic's Messages stream: message_start on the first chunk;
// content_block_start, _delta and _stop for text (content and refusal),
// thinking (reasoning_content or reasoning) and each tool call
// (tool_use, its arguments as input_json_delta); then at the end
// message_delta with the stop_reason and the usage of the final usage chunk
// (input, cache and output tokens, cumulative as Anthropic's are), and
// message_stop. Only choice 0 is followed.
//
// An error chunk from the upstream, or a chunk that is not JSON, becomes an
// "error" event that ends the stream. Transport failures are Read's
// errors: a read error as it is, and io.ErrUnexpectedEOF for a stream that
// ends before its finish_reason or [DONE]. Closing the result closes r.
func OpenAIStreamToMessages(r io.ReadCloser) io.ReadCloser {
	return &eventStream{
		src:    r,
		events: sse.NewReader(bufio.NewReaderSize(r, 16<<10), maxEventBytes),
		open:   -1,
		tools:  map[int64]int{},
	}
}

type eventStream struct {
	src    io.ReadCloser
	events *sse.Reader
	out    []byte
	off    int
	err    error

	started   bool // message_start went out
	id, model string
	open      int // index of the open content block, -1 for none
	openKind  blockKind
	next      int           // index of the next block
	tools     map[int64]int // OpenAI tool call index → block index
	finish    string
	sawFinish bool
	refusal   bool
	usage     Usage
}

func (s *eventStream) Read(p []byte) (int, error) {
	for s.off == len(s.out) {
		if s.err != nil {
			return 0, s.err
		}
		s.out, s.off = s.out[:0], 0
		s.step()
	}
	n := copy(p, s.out[s.off:])
	s.off += n
	return n, nil
}

func (s *eventStream) Close() error { return s.src.Close() }

func (s *eventStream) step() {
	_, data, err := s.events.Next()
	if err != nil {
		switch {
		case err == io.EOF && s.sawFinish:
			s.end() // no [DONE], but the completion is whole
		case err == io.EOF:
			s.err = io.ErrUnexpectedEOF
		default:
			s.err = err
		}
		return
	}
	s.handle(data)
}

// handle translates one OpenAI stream event's data into s.out.
func (s *eventStream) handle(data []byte) {
	if string(data) == "[DONE]" {
		if !s.started {
			s.fail("api_error", "the upstream stream ended without a completion")
			return
		}
		s.end()
		return
	}
	var choices, usage, errObj []byte
	var id, model string
	err := jsonx.Members(data, func(m jsonx.Member) bool {
		raw := data[m.ValueStart:m.ValueEnd]
		switch {
		case m.Is("id"):
			id = unquote(raw)
		case m.Is("model"):
			model = unquote(raw)
		case m.Is("choices"):
			choices = raw
		case m.Is("usage"):
			usage = raw
		case m.Is("error"):
			errObj = raw
		}
		return true
	})
	if err != nil {
		s.fail("api_error", "the upstream sent a malformed stream chunk")
		return
	}
	if !jsonx.IsNull(errObj) {
		body := append(append([]byte(`{"error":`), errObj...), '}')
		s.fail(streamErrorType(errObj), openAIErrorMessage(body))
		return
	}
	if !s.started {
		s.id, s.model = id, model
		s.readUsage(usage)
		s.messageStart()
	} else {
		s.readUsage(usage)
	}
	if len(choices) > 0 && choices[0] == '[' {
		_ = jsonx.Elements(choices, func(start, end int) bool {
			s.choice(choices[start:end])
			return true
		})
	}
}

// streamErrorType is the Anthropic error type for an OpenAI error object
// met mid-stream, where there is no status to go by.
func streamErrorType(errObj []byte) string {
	typ := "api_error"
	objectMembers(errObj, func(m jsonx.Member, v []byte) {
		if !m.Is("type") && !m.Is("code") {
			return
		}
		switch unquote(v) {
		case "rate_limit_error", "rate_limit_exceeded", "rate_limited":
			typ = "rate_limit_error"
		case "timeout_error", "timeout":
			typ = "timeout_error"
		case "invalid_request_error":
			typ = "invalid_request_error"
		}
	})
	return typ
}

func (s *eventStream) readUsage(raw []byte) {
	objectMembers(raw, func(m jsonx.Member, v []byte) {
		switch {
		case m.Is("prompt_tokens"):
			s.usage.InputTokens, _ = jsonx.Int(v) // less the cache, at the end
		case m.Is("completion_tokens"):
			s.usage.OutputTokens, _ = jsonx.Int(v)
		case m.Is("prompt_tokens_details"):
			objectMembers(v, func(m jsonx.Member, v []byte) {
				switch {
				case m.Is("cached_tokens"):
					s.usage.CacheReadTokens, _ = jsonx.Int(v)
				case m.Is("cache_write_tokens"):
					s.usage.CacheWriteTokens, _ = jsonx.Int(v)
				}
			})
		}
	})
}

// choice reads one element of a chunk's choices; only choice 0 counts.
func (s *eventStream) choice(raw []byte) {
	var index int64
	var delta, finish []byte
	objectMembers(raw, func(m jsonx.Member, v []byte) {
		switch {
		case m.Is("index"):
			index, _ = jsonx.Int(v)
		case m.Is("delta"):
			delta = v
		case m.Is("finish_reason"):
			finish = v
		}
	})
	if index != 0 {
		return
	}
	objectMembers(delta, func(m jsonx.Member, v []byte) {
		switch {
		case m.Is("reasoning_content"), m.Is("reasoning"):
			if !isEmptyString(v) {
				s.blockText(blockThinking, v)
			}
		case m.Is("content"):
			if !isEmptyString(v) {
				s.blockText(blockText, v)
			}
		case m.Is("refusal"):
			if !isEmptyString(v) {
				s.refusal = true
				s.blockText(blockText, v)
			}
		case m.Is("tool_calls"):
			if len(v) > 0 && v[0] == '[' {
				_ = jsonx.Elements(v, func(start, end int) bool {
					s.toolCall(v[start:end])
					return true
				})
			}
		}
	})
	if !jsonx.IsNull(finish) {
		s.finish, s.sawFinish = unquote(finish), true
	}
}

// blockText appends text to the open text or thinking block, opening one
// when the open block is of another kind.
func (s *eventStream) blockText(kind blockKind, text []byte) {
	if s.open < 0 || s.openKind != kind {
		s.closeBlock()
		s.open, s.openKind = s.next, kind
		s.next++
		s.event("content_block_start")
		s.out = append(s.out, `{"type":"content_block_start","index":`...)
		s.out = strconv.AppendInt(s.out, int64(s.open), 10)
		if kind == blockThinking {
			s.out = append(s.out, `,"content_block":{"type":"thinking","thinking":"","signature":""}}`...)
		} else {
			s.out = append(s.out, `,"content_block":{"type":"text","text":""}}`...)
		}
		s.out = append(s.out, "\n\n"...)
	}
	s.event("content_block_delta")
	s.out = append(s.out, `{"type":"content_block_delta","index":`...)
	s.out = strconv.AppendInt(s.out, int64(s.open), 10)
	if kind == blockThinking {
		s.out = append(s.out, `,"delta":{"type":"thinking_delta","thinking":`...)
	} else {
		s.out = append(s.out, `,"delta":{"type":"text_delta","text":`...)
	}
	s.out = appendRawString(s.out, text)
	s.out = append(s.out, "}}\n\n"...)
}

// toolCall reads one tool call fragment: the first of a call opens its
// tool_use block, the arguments follow as input_json_delta.
func (s *eventStream) toolCall(raw []byte) {
	var index int64
	var id string
	var name, args []byte
	objectMembers(raw, func(m jsonx.Member, v []byte) {
		switch {
		case m.Is("index"):
			index, _ = jsonx.Int(v)
		case m.Is("id"):
			id = unquote(v)
		case m.Is("function"):
			objectMembers(v, func(m jsonx.Member, v []byte) {
				switch {
				case m.Is("name"):
					name = v
				case m.Is("arguments"):
					args = v
				}
			})
		}
	})
	block, ok := s.tools[index]
	if !ok {
		s.closeBlock()
		block = s.next
		s.next++
		s.tools[index] = block
		s.open, s.openKind = block, blockTool
		if id == "" {
			id = "toolu_" + strconv.FormatInt(index, 10)
		}
		s.event("content_block_start")
		s.out = append(s.out, `{"type":"content_block_start","index":`...)
		s.out = strconv.AppendInt(s.out, int64(block), 10)
		s.out = append(s.out, `,"content_block":{"type":"tool_use","id":`...)
		s.out = jsonx.AppendString(s.out, id)
		s.out = append(s.out, `,"name":`...)
		s.out = appendRawString(s.out, name)
		s.out = append(s.out, `,"input":{}}}`+"\n\n"...)
	}
	if isEmptyString(args) {
		return
	}
	s.event("content_block_delta")
	s.out = append(s.out, `{"type":"content_block_delta","index":`...)
	s.out = strconv.AppendInt(s.out, int64(block), 10)
	s.out = append(s.out, `,"delta":{"type":"input_json_delta","partial_json":`...)
	s.out = appendRawString(s.out, args)
	s.out = append(s.out, "}}\n\n"...)
}

func (s *eventStream) closeBlock() {
	if s.open < 0 {
		return
	}
	s.event("content_block_stop")
	s.out = append(s.out, `{"type":"content_block_stop","index":`...)
	s.out = strconv.AppendInt(s.out, int64(s.open), 10)
	s.out = append(s.out, "}\n\n"...)
	s.open = -1
}

func (s *eventStream) messageStart() {
	s.started = true
	s.event("message_start")
	s.out = append(s.out, `{"type":"message_start","message":{"id":`...)
	s.out = jsonx.AppendString(s.out, s.id)
	s.out = append(s.out, `,"type":"message","role":"assistant","model":`...)
	s.out = jsonx.AppendString(s.out, s.model)
	s.out = append(s.out, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	s.appendUsage()
	s.out = append(s.out, "}}\n\n"...)
}

// appendUsage writes usage in Anthropic's terms: input_tokens without the
// cached and cache-write tokens.
func (s *eventStream) appendUsage() {
	u := s.usage
	s.out = append(s.out, `{"input_tokens":`...)
	s.out = strconv.AppendInt(s.out, max(u.InputTokens-u.CacheReadTokens-u.CacheWriteTokens, 0), 10)
	s.out = append(s.out, `,"cache_creation_input_tokens":`...)
	s.out = strconv.AppendInt(s.out, u.CacheWriteTokens, 10)
	s.out = append(s.out, `,"cache_read_input_tokens":`...)
	s.out = strconv.AppendInt(s.out, u.CacheReadTokens, 10)
	s.out = append(s.out, `,"output_tokens":`...)
	s.out = strconv.AppendInt(s.out, u.OutputTokens, 10)
	s.out = append(s.out, '}')
}

func (s *eventStream) end() {
	s.closeBlock()
	stop := stopReason(s.finish)
	if s.refusal {
		stop = "refusal"
	}
	s.event("message_delta")
	s.out = append(s.out, `{"type":"message_delta","delta":{"stop_reason":`...)
	s.out = jsonx.AppendString(s.out, stop)
	s.out = append(s.out, `,"stop_sequence":null},"usage":`...)
	s.appendUsage()
	s.out = append(s.out, "}\n\n"...)
	s.event("message_stop")
	s.out = append(s.out, `{"type":"message_stop"}`+"\n\n"...)
	s.err = io.EOF
}

func (s *eventStream) fail(typ, message string) {
	s.event("error")
	s.out = appendMessagesError(s.out, typ, message)
	s.out = append(s.out, "\n\n"...)
	s.err = io.EOF
}

func (s *eventStream) event(name string) {
	s.out = append(s.out, "event: "...)
	s.out = append(s.out, name...)
	s.out = append(s.out, "\ndata: "...)
}

// StreamTranslator turns an OpenAI chat.completion.chunk stream into
// Anthropic Messages stream events one event at a time, for a caller that
// reads the OpenAI stream itself (to observe it) and writes the Messages
// events to its client as they come. OpenAIStreamToMessages is the same
// translation over a whole stream.
type StreamTranslator struct {
	s eventStream
}

// NewStreamTranslator returns a translator at the start of a stream.
func NewStreamTranslator() *StreamTranslator {
	return &StreamTranslator{s: eventStream{open: -1, tools: map[int64]int{}}}
}

// Translate appends to dst the Messages events ("event: ...\ndata:
// ...\n\n") for one OpenAI stream event's data, "[DONE]" included; after
// the stream's end (or an error) it appends nothing.
func (t *StreamTranslator) Translate(dst, data []byte) []byte {
	if t.s.err != nil {
		return dst
	}
	t.s.out = dst
	t.s.handle(data)
	out := t.s.out
	t.s.out = nil
	return out
}

// Fail appends an error event of the given Anthropic error type and ends
// the stream.
func (t *StreamTranslator) Fail(dst []byte, errorType, message string) []byte {
	if t.s.err != nil {
		return dst
	}
	t.s.out = dst
	t.s.fail(errorType, message)
	out := t.s.out
	t.s.out = nil
	return out
}
