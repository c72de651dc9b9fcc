package anthropic

import (
	"bufio"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/internal/sse"
)

// maxEventBytes bounds one upstream SSE event, as the proxy does.
const maxEventBytes = 4 << 20

// blockKind is what a content block of a stream becomes on the other side.
type blockKind uint8

const (
	blockIgnored blockKind = iota // thinking, server tools: dropped
	blockText
	blockTool
	blockJSON // the response_format tool: its input is the content
	blockThinking
)

type streamBlock struct {
	kind blockKind
	tool int // index among the tool calls
}

// chunkStream reads Anthropic's Messages SSE stream and produces OpenAI's
// chat.completion.chunk stream, one upstream event at a time: a Read
// returns what one event translates to, and never waits on the upstream
// while it has output, so that each chunk can be flushed at once.
//
// Transport failures (a read error, the upstream ending before
// message_stop) are returned by Read; an error event from Anthropic, or an
// event that is not JSON, becomes one `data: {"error":{...}}` event that
// ends the stream.
type chunkStream struct {
	src    io.ReadCloser
	events *sse.Reader
	out    []byte
	off    int
	err    error // returned once out is drained

	created      int64
	includeUsage bool
	jsonTool     string

	id, model  string
	usage      Usage
	started    bool // the chunk with the role went out
	finished   bool // the chunk with finish_reason went out
	stopReason string
	sawStop    bool
	blocks     map[int64]streamBlock
	toolCalls  int
	firstKey   bool // building a delta: no member written yet
}

func newChunkStream(src io.ReadCloser, tr translatedRequest, created int64) *chunkStream {
	return &chunkStream{
		src:          src,
		events:       sse.NewReader(bufio.NewReaderSize(src, 16<<10), maxEventBytes),
		created:      created,
		includeUsage: tr.includeUsage,
		jsonTool:     tr.jsonTool,
		blocks:       map[int64]streamBlock{},
	}
}

func (s *chunkStream) Read(p []byte) (int, error) {
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

// Close closes the upstream body, which ends the upstream request.
func (s *chunkStream) Close() error { return s.src.Close() }

func (s *chunkStream) step() {
	event, data, err := s.events.Next()
	if err != nil {
		switch {
		case err == io.EOF && s.sawStop:
			// message_delta came but not message_stop: the message is whole.
			s.end()
		case err == io.EOF:
			s.err = io.ErrUnexpectedEOF
		default:
			s.err = err
		}
		return
	}
	ev, err := parseEvent(event, data)
	if err != nil {
		s.fail(anthropicError{Type: "api_error", Message: "Anthropic sent a malformed stream event"})
		return
	}
	switch ev.typ {
	case "message_start":
		s.messageStart(ev.message)
	case "content_block_start":
		s.blockStart(ev.index, ev.block)
	case "content_block_delta":
		s.blockDelta(ev.index, ev.delta)
	case "message_delta":
		s.messageDelta(ev.delta, ev.usage)
	case "message_stop":
		s.end()
	case "error":
		s.fail(parseErrorObject(ev.errObj))
	}
	// ping, content_block_stop and event types added later: nothing to say.
}

// event is an Anthropic stream event's members, raw.
type event struct {
	typ                                  string
	index                                int64
	message, block, delta, usage, errObj []byte
}

func parseEvent(name, data []byte) (event, error) {
	var ev event
	err := jsonx.Members(data, func(m jsonx.Member) bool {
		raw := data[m.ValueStart:m.ValueEnd]
		switch {
		case m.Is("type"):
			ev.typ = eventType(raw)
		case m.Is("index"):
			ev.index, _ = jsonx.Int(raw)
		case m.Is("message"):
			ev.message = raw
		case m.Is("content_block"):
			ev.block = raw
		case m.Is("delta"):
			ev.delta = raw
		case m.Is("usage"):
			ev.usage = raw
		case m.Is("error"):
			ev.errObj = raw
		}
		return true
	})
	if ev.typ == "" {
		ev.typ = string(name)
	}
	return ev, err
}

// eventTypes are the event types Anthropic sends, so that reading one
// allocates nothing.
var eventTypes = []string{"content_block_delta", "content_block_start", "content_block_stop", "message_start", "message_delta", "message_stop", "ping", "error"}

func eventType(raw []byte) string {
	if len(raw) >= 2 && raw[0] == '"' {
		for _, t := range eventTypes {
			if string(raw[1:len(raw)-1]) == t {
				return t
			}
		}
	}
	return unquote(raw)
}

// objectMembers calls fn for each member of raw when it is an object.
func objectMembers(raw []byte, fn func(m jsonx.Member, v []byte)) {
	if len(raw) == 0 || raw[0] != '{' {
		return
	}
	_ = jsonx.Members(raw, func(m jsonx.Member) bool {
		fn(m, raw[m.ValueStart:m.ValueEnd])
		return true
	})
}

func unquote(raw []byte) string {
	s, _ := jsonx.Unquote(raw)
	return s
}

// readUsage updates u with the counts that the usage object raw holds; a
// message_delta's usage is cumulative and may hold only some of them.
func readUsage(raw []byte, u *Usage) {
	objectMembers(raw, func(m jsonx.Member, v []byte) {
		if jsonx.IsNull(v) {
			return
		}
		n, err := jsonx.Int(v)
		if err != nil || n < 0 {
			return
		}
		switch {
		case m.Is("input_tokens"):
			u.InputTokens = n
		case m.Is("output_tokens"):
			u.OutputTokens = n
		case m.Is("cache_read_input_tokens"):
			u.CacheReadTokens = n
		case m.Is("cache_creation_input_tokens"):
			u.CacheWriteTokens = n
		}
	})
}

func parseErrorObject(raw []byte) anthropicError {
	var e anthropicError
	objectMembers(raw, func(m jsonx.Member, v []byte) {
		switch {
		case m.Is("type"):
			e.Type = unquote(v)
		case m.Is("message"):
			e.Message = unquote(v)
		}
	})
	if e.Message == "" {
		e.Message = "Anthropic reported an error"
	}
	return e
}

func (s *chunkStream) messageStart(msg []byte) {
	objectMembers(msg, func(m jsonx.Member, v []byte) {
		switch {
		case m.Is("id"):
			if s.id == "" {
				s.id = unquote(v)
			}
		case m.Is("model"):
			if s.model == "" {
				s.model = unquote(v)
			}
		case m.Is("usage"):
			readUsage(v, &s.usage)
		}
	})
}

func (s *chunkStream) blockStart(index int64, block []byte) {
	var typ, id, name string
	var text []byte
	objectMembers(block, func(m jsonx.Member, v []byte) {
		switch {
		case m.Is("type"):
			typ = unquote(v)
		case m.Is("id"):
			id = unquote(v)
		case m.Is("name"):
			name = unquote(v)
		case m.Is("text"):
			text = v
		}
	})
	switch typ {
	case "text":
		s.blocks[index] = streamBlock{kind: blockText}
		if !isEmptyString(text) {
			s.openDelta()
			s.key("content")
			s.out = appendRawString(s.out, text)
			s.closeDelta("")
		} else if !s.started {
			s.roleChunk()
		}
	case "tool_use":
		if s.jsonTool != "" && name == s.jsonTool {
			s.blocks[index] = streamBlock{kind: blockJSON}
			if !s.started {
				s.roleChunk()
			}
			return
		}
		k := s.toolCalls
		s.toolCalls++
		s.blocks[index] = streamBlock{kind: blockTool, tool: k}
		first := !s.started
		s.openDelta()
		if first {
			s.key("content")
			s.out = append(s.out, "null"...)
		}
		s.key("tool_calls")
		s.out = append(s.out, `[{"index":`...)
		s.out = strconv.AppendInt(s.out, int64(k), 10)
		s.out = append(s.out, `,"id":`...)
		s.out = jsonx.AppendString(s.out, id)
		s.out = append(s.out, `,"type":"function","function":{"name":`...)
		s.out = jsonx.AppendString(s.out, name)
		s.out = append(s.out, `,"arguments":""}}]`...)
		s.closeDelta("")
	default:
		s.blocks[index] = streamBlock{kind: blockIgnored}
	}
}

func (s *chunkStream) blockDelta(index int64, delta []byte) {
	var typ string
	var text, partial []byte
	objectMembers(delta, func(m jsonx.Member, v []byte) {
		switch {
		case m.Is("type"):
			typ = unquote(v)
		case m.Is("text"):
			text = v
		case m.Is("partial_json"):
			partial = v
		}
	})
	switch typ {
	case "text_delta":
		if isEmptyString(text) {
			return
		}
		s.openDelta()
		s.key("content")
		s.out = appendRawString(s.out, text)
		s.closeDelta("")
	case "input_json_delta":
		if isEmptyString(partial) {
			return
		}
		b, ok := s.blocks[index]
		switch {
		case !ok:
		case b.kind == blockJSON:
			s.openDelta()
			s.key("content")
			s.out = appendRawString(s.out, partial)
			s.closeDelta("")
		case b.kind == blockTool:
			s.openDelta()
			s.key("tool_calls")
			s.out = append(s.out, `[{"index":`...)
			s.out = strconv.AppendInt(s.out, int64(b.tool), 10)
			s.out = append(s.out, `,"function":{"arguments":`...)
			s.out = appendRawString(s.out, partial)
			s.out = append(s.out, "}}]"...)
			s.closeDelta("")
		}
	}
	// thinking_delta, signature_delta, citations_delta: dropped.
}

func (s *chunkStream) messageDelta(delta, usage []byte) {
	readUsage(usage, &s.usage)
	objectMembers(delta, func(m jsonx.Member, v []byte) {
		if m.Is("stop_reason") && !jsonx.IsNull(v) {
			s.stopReason, s.sawStop = unquote(v), true
		}
	})
	if s.sawStop {
		s.finishChunk()
	}
}

// finishChunk sends the chunk with finish_reason, once.
func (s *chunkStream) finishChunk() {
	if s.finished {
		return
	}
	s.finished = true
	if !s.started {
		s.roleChunk()
	}
	s.openDelta()
	s.closeDelta(finishReason(s.stopReason, s.toolCalls > 0))
}

// end finishes the stream: the usage chunk when asked for, then [DONE].
func (s *chunkStream) end() {
	s.finishChunk()
	if s.includeUsage {
		u := completionUsage(msgUsage{
			InputTokens:              s.usage.InputTokens,
			CacheCreationInputTokens: s.usage.CacheWriteTokens,
			CacheReadInputTokens:     s.usage.CacheReadTokens,
			OutputTokens:             s.usage.OutputTokens,
		})
		s.chunkHead()
		s.out = append(s.out, `[],"usage":{"prompt_tokens":`...)
		s.out = strconv.AppendInt(s.out, u.PromptTokens, 10)
		s.out = append(s.out, `,"completion_tokens":`...)
		s.out = strconv.AppendInt(s.out, u.CompletionTokens, 10)
		s.out = append(s.out, `,"total_tokens":`...)
		s.out = strconv.AppendInt(s.out, u.TotalTokens, 10)
		s.out = append(s.out, `,"prompt_tokens_details":{"cached_tokens":`...)
		s.out = strconv.AppendInt(s.out, u.PromptTokensDetails.CachedTokens, 10)
		s.out = append(s.out, `,"cache_write_tokens":`...)
		s.out = strconv.AppendInt(s.out, u.PromptTokensDetails.CacheWriteTokens, 10)
		s.out = append(s.out, "}}}\n\n"...)
	}
	s.out = append(s.out, "data: [DONE]\n\n"...)
	s.err = io.EOF
}

// fail ends the stream with one OpenAI-shaped error event.
func (s *chunkStream) fail(e anthropicError) {
	s.out = append(s.out, "data: "...)
	s.out = appendOpenAIError(s.out, e, 0)
	s.out = append(s.out, "\n\n"...)
	s.err = io.EOF
}

func (s *chunkStream) roleChunk() {
	s.openDelta()
	s.key("content")
	s.out = append(s.out, `""`...)
	s.closeDelta("")
}

func (s *chunkStream) chunkHead() {
	s.out = append(s.out, `data: {"id":`...)
	s.out = jsonx.AppendString(s.out, s.id)
	s.out = append(s.out, `,"object":"chat.completion.chunk","created":`...)
	s.out = strconv.AppendInt(s.out, s.created, 10)
	s.out = append(s.out, `,"model":`...)
	s.out = jsonx.AppendString(s.out, s.model)
	s.out = append(s.out, `,"choices":`...)
}

// openDelta starts a chunk up to its delta's members; the first chunk of
// the stream carries the role.
func (s *chunkStream) openDelta() {
	s.chunkHead()
	s.out = append(s.out, `[{"index":0,"delta":{`...)
	s.firstKey = true
	if !s.started {
		s.started = true
		s.key("role")
		s.out = append(s.out, `"assistant"`...)
	}
}

func (s *chunkStream) key(k string) {
	if !s.firstKey {
		s.out = append(s.out, ',')
	}
	s.firstKey = false
	s.out = append(s.out, '"')
	s.out = append(s.out, k...)
	s.out = append(s.out, `":`...)
}

func (s *chunkStream) closeDelta(finish string) {
	s.out = append(s.out, `},"logprobs":null,"finish_reason":`...)
	if finish == "" {
		s.out = append(s.out, "null"...)
	} else {
		s.out = jsonx.AppendString(s.out, finish)
	}
	s.out = append(s.out, "}]}\n\n"...)
}

func isEmptyString(raw []byte) bool {
	return len(raw) < 2 || raw[0] != '"' || len(raw) == 2
}

// appendRawString appends a JSON string value that jsonx has validated. It
// is copied as written when it is valid UTF-8 free of U+2028/U+2029 (the
// usual case), else decoded and re-encoded; a value that is not a string
// becomes "".
func appendRawString(dst, raw []byte) []byte {
	if len(raw) < 2 || raw[0] != '"' {
		return append(dst, `""`...)
	}
	if utf8.Valid(raw) && !hasLineSeparator(raw) {
		return append(dst, raw...)
	}
	s, err := jsonx.Unquote(raw)
	if err != nil {
		return append(dst, `""`...)
	}
	return jsonx.AppendString(dst, s)
}

// hasLineSeparator reports U+2028 or U+2029 (E2 80 A8/A9), which are valid
// JSON but which AppendString escapes for JavaScript consumers.
func hasLineSeparator(b []byte) bool {
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0xE2 && b[i+1] == 0x80 && (b[i+2] == 0xA8 || b[i+2] == 0xA9) {
			return true
		}
	}
	return false
}
