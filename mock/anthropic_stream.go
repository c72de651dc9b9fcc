package mock

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Anthropic's stream events: each is "event: NAME\ndata: {json}\n\n".
const (
	anthropicPing         = "event: ping\ndata: {\"type\": \"ping\"}\n\n"
	anthropicBlockStart   = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"
	anthropicDeltaStart   = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"
	anthropicBlockStop    = "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":"
	anthropicMessageStop  = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	anthropicMessageDelta = "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\""
)

// writeAnthropicStream answers a streaming Messages request with Anthropic's
// events: message_start (the usage so far: input and cache counts, one
// output token), then per content block a content_block_start, its deltas
// (text_delta per token; for tool_use, an empty input_json_delta then the
// input JSON in pieces of four bytes) and a content_block_stop, a ping after
// the first block starts, then message_delta (stop_reason, stop_sequence
// and the final output_tokens) and message_stop. It reports false when the
// client went away first.
func writeAnthropicStream(w http.ResponseWriter, r *http.Request, rep *anthropicReply) bool {
	h := w.Header()
	h["Content-Type"] = headerEventStream
	h["Cache-Control"] = headerNoCache
	w.WriteHeader(http.StatusOK)
	s := anthropicStreamer{w: w, rep: rep, ctx: r.Context(), pace: pacer{start: time.Now()}}
	s.sse = sseWriter{w: w}
	s.sse.flusher, _ = w.(http.Flusher)
	if rep.tokensPerSecond > 0 {
		s.pace.interval = time.Duration(float64(time.Second) / rep.tokensPerSecond)
	}
	defer s.pace.stop()
	eventBuf := getBuffer()
	defer putBuffer(eventBuf)
	s.event = (*eventBuf)[:0]
	defer func() { *eventBuf = s.event }()

	a := &rep.ans
	s.event = append(s.event, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"...)
	s.event = appendAnthropicMessageHead(s.event, rep)
	s.event = append(s.event, `"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	s.event = appendAnthropicUsage(s.event, rep.usage, 1)
	s.event = append(s.event, "}}\n\n"...)

	if rep.text {
		s.startBlock()
		s.event = append(s.event, `{"type":"text","text":""}`...)
		s.endStart()
		cursor := tokenCursor{a: a}
		for range a.tokens {
			if !s.delta(textDelta, cursor.next()) {
				return false
			}
		}
		s.stopBlock()
	}
	for k := range a.calls {
		s.startBlock()
		s.event = appendToolUseStart(s.event, rep, k)
		s.event = append(s.event, "{}}"...)
		s.endStart()
		s.event = append(s.event, anthropicDeltaStart...)
		s.event = strconv.AppendInt(s.event, int64(s.block), 10)
		s.event = append(s.event, `,"delta":{"type":"input_json_delta","partial_json":""}}`+"\n\n"...)
		args := a.calls[k].args
		for pos := 0; pos < len(args); {
			end := pieceEnd(args, pos)
			if !s.delta(jsonDelta, args[pos:end]) {
				return false
			}
			pos = end
		}
		s.stopBlock()
	}
	if rep.cutAfter >= 0 {
		// Asked to cut after at least as many deltas as there are: cut
		// before message_delta, so the stream never ends properly.
		s.sse.send(s.event)
		abort(w)
	}
	if rep.malformed && s.step == 0 {
		s.event = append(s.event, anthropicGarbage...)
	}
	s.event = append(s.event, anthropicMessageDelta...)
	s.event = append(s.event, a.finish.anthropic()...)
	s.event = append(s.event, `","stop_sequence":`...)
	s.event = appendStringOrNull(s.event, a.stopSequence)
	s.event = append(s.event, `},"usage":{"output_tokens":`...)
	s.event = strconv.AppendInt(s.event, int64(rep.usage.output), 10)
	s.event = append(s.event, "}}\n\n"...)
	s.event = append(s.event, anthropicMessageStop...)
	return s.sse.send(s.event)
}

const (
	textDelta = `,"delta":{"type":"text_delta","text":"`
	jsonDelta = `,"delta":{"type":"input_json_delta","partial_json":"`
	// anthropicGarbage is an event whose data is cut-off JSON.
	anthropicGarbage = anthropicDeltaStart + "0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\n\n"
)

// anthropicStreamer writes one stream. Events that need no pacing
// (message_start, block starts and stops, ping) gather in event and go out
// with the next delta.
type anthropicStreamer struct {
	w      http.ResponseWriter
	sse    sseWriter
	rep    *anthropicReply
	ctx    context.Context
	pace   pacer
	event  []byte
	step   int // content deltas sent, for pacing and cutting
	block  int // the current content block's index
	pinged bool
}

// delta sends what has gathered and one content delta of the current block
// (kind opens it), paced. It reports false when the client went away.
func (s *anthropicStreamer) delta(kind string, piece []byte) bool {
	if s.step == s.rep.cutAfter {
		s.sse.send(s.event)
		abort(s.w)
	}
	if !s.pace.wait(s.ctx, s.step) {
		return false
	}
	s.event = append(s.event, anthropicDeltaStart...)
	s.event = strconv.AppendInt(s.event, int64(s.block), 10)
	s.event = append(s.event, kind...)
	s.event = appendEscaped(s.event, piece)
	s.event = append(s.event, "\"}}\n\n"...)
	if s.rep.malformed && s.step == 0 {
		s.event = append(s.event, anthropicGarbage...)
	}
	if !s.sse.send(s.event) {
		return false
	}
	s.event = s.event[:0]
	s.step++
	return true
}

// startBlock opens a content_block_start event up to its content_block.
func (s *anthropicStreamer) startBlock() {
	s.event = append(s.event, anthropicBlockStart...)
	s.event = strconv.AppendInt(s.event, int64(s.block), 10)
	s.event = append(s.event, `,"content_block":`...)
}

// endStart closes a content_block_start event; a ping follows the first.
func (s *anthropicStreamer) endStart() {
	s.event = append(s.event, "}\n\n"...)
	if !s.pinged {
		s.event = append(s.event, anthropicPing...)
		s.pinged = true
	}
}

func (s *anthropicStreamer) stopBlock() {
	s.event = append(s.event, anthropicBlockStop...)
	s.event = strconv.AppendInt(s.event, int64(s.block), 10)
	s.event = append(s.event, "}\n\n"...)
	s.block++
}
