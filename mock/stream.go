package mock

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Pieces of chat.completion.chunk events. Every event is
// "data: " + prefix + choice + suffix, where the prefix (id, object,
// created, model, service_tier, system_fingerprint, "choices":[) is built
// once per stream, and each choice starts with {"index":N.
const (
	roleDelta          = `,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}`
	contentChoiceStart = `{"index":0,"delta":{"content":"`
	contentDeltaStart  = `,"delta":{"content":"`
	noLogprobsEnd      = `,"logprobs":null,"finish_reason":null}`
	finishDeltaStart   = `,"delta":{},"logprobs":null,"finish_reason":"`
	// With stream_options.include_usage, OpenAI sends "usage":null on every
	// chunk but the last, which has no choices and the usage.
	suffixUsageNull = "],\"usage\":null}\n\n"
	suffixPlain     = "]}\n\n"
	doneEvent       = "data: [DONE]\n\n"
)

// sseWriter writes one event at a time and flushes it at once.
type sseWriter struct {
	w       http.ResponseWriter
	flusher http.Flusher
}

// send writes and flushes event; it reports false when the client is gone.
func (s *sseWriter) send(event []byte) bool {
	if _, err := s.w.Write(event); err != nil {
		return false
	}
	if s.flusher != nil {
		s.flusher.Flush()
	}
	return true
}

// writeStream answers a streaming request with server-sent events, in
// OpenAI's order: a role chunk per choice, then one chunk per choice and
// step (a token of text, or a tool call's header or a piece of its
// arguments), a chunk with the finish reason per choice, the usage chunk
// when asked for, and [DONE]. It reports false when the client went away
// first.
func writeStream(w http.ResponseWriter, r *http.Request, c *completion) bool {
	h := w.Header()
	h["Content-Type"] = headerEventStream
	h["Cache-Control"] = headerNoCache
	w.WriteHeader(http.StatusOK)
	sse := sseWriter{w: w}
	sse.flusher, _ = w.(http.Flusher)

	prefixBuf := getBuffer()
	defer putBuffer(prefixBuf)
	prefix := appendChunkPrefix((*prefixBuf)[:0], c)
	*prefixBuf = prefix
	suffix := suffixPlain
	if c.includeUsage {
		suffix = suffixUsageNull
	}

	eventBuf := getBuffer()
	defer putBuffer(eventBuf)
	event := (*eventBuf)[:0]
	defer func() { *eventBuf = event }()

	a := &c.ans
	event = event[:0]
	for choice := range c.n {
		event = append(event, prefix...)
		event = appendChoiceIndex(event, choice)
		if len(a.calls) > 0 {
			event = append(event, `,"delta":{"role":"assistant","content":null,"tool_calls":[`...)
			event = appendCallHeader(event, c, choice, 0)
			event = append(event, `],"refusal":null}`...)
			event = append(event, noLogprobsEnd...)
		} else {
			event = append(event, roleDelta...)
		}
		event = append(event, suffix...)
	}
	if !sse.send(event) {
		return false
	}

	pace := pacer{start: time.Now()}
	if c.tokensPerSecond > 0 {
		pace.interval = time.Duration(float64(time.Second) / c.tokensPerSecond)
	}
	defer pace.stop()
	ctx := r.Context()
	cursor := tokenCursor{a: a}
	calls := callStepper{calls: a.calls}
	steps := a.tokens
	if len(a.calls) > 0 {
		steps = calls.steps()
	}
	for i := range steps {
		if i == c.cutAfter {
			abort(w)
		}
		if !pace.wait(ctx, i) {
			return false
		}
		event = event[:0]
		if len(a.calls) > 0 {
			k, header, piece := calls.next()
			for choice := range c.n {
				event = append(event, prefix...)
				event = appendChoiceIndex(event, choice)
				event = append(event, `,"delta":{"tool_calls":[`...)
				if header {
					event = appendCallHeader(event, c, choice, k)
				} else {
					event = append(event, `{"index":`...)
					event = strconv.AppendInt(event, int64(k), 10)
					event = append(event, `,"function":{"arguments":"`...)
					event = appendEscaped(event, piece)
					event = append(event, `"}}`...)
				}
				event = append(event, "]}"...)
				event = append(event, noLogprobsEnd...)
				event = append(event, suffix...)
			}
		} else {
			token := cursor.next()
			for choice := range c.n {
				event = append(event, prefix...)
				event = appendChoiceIndex(event, choice)
				event = append(event, contentDeltaStart...)
				if a.text == nil {
					event = append(event, token...) // words are plain ASCII
				} else {
					event = appendEscaped(event, token)
				}
				event = append(event, `"}`...)
				if c.logprobs {
					event = append(event, `,"logprobs":{"content":[`...)
					event = appendLogprob(event, token, i, c.topLogprobs)
					event = append(event, `],"refusal":null},"finish_reason":null}`...)
				} else {
					event = append(event, noLogprobsEnd...)
				}
				event = append(event, suffix...)
			}
		}
		if !sse.send(event) {
			return false
		}
		if c.malformed && i == 0 && !sendGarbage(&sse, prefix) {
			return false
		}
	}
	if c.cutAfter >= 0 {
		// Asked to cut after at least as many chunks as there are: cut before
		// the finish chunk, so the stream still ends without [DONE].
		abort(w)
	}
	if c.malformed && steps == 0 && !sendGarbage(&sse, prefix) {
		return false
	}

	event = event[:0]
	for choice := range c.n {
		event = append(event, prefix...)
		event = appendChoiceIndex(event, choice)
		event = append(event, finishDeltaStart...)
		event = append(event, a.finish.openAI()...)
		event = append(event, `"}`...)
		event = append(event, suffix...)
	}
	if c.includeUsage {
		event = append(event, prefix...)
		event = append(event, "],\"usage\":"...)
		event = appendUsage(event, c.usage)
		event = append(event, "}\n\n"...)
	}
	event = append(event, doneEvent...)
	return sse.send(event)
}

// appendChoiceIndex opens a choice: `{"index":N`.
func appendChoiceIndex(b []byte, choice int) []byte {
	if choice == 0 {
		return append(b, `{"index":0`...)
	}
	b = append(b, `{"index":`...)
	return strconv.AppendInt(b, int64(choice), 10)
}

// appendCallHeader appends the first delta of tool call k of a choice: its
// index, id, type and name, with empty arguments.
func appendCallHeader(b []byte, c *completion, choice, k int) []byte {
	call := &c.ans.calls[k]
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(k), 10)
	b = append(b, `,"id":"`...)
	b = c.ids.appendID(b, "call_", choice*len(c.ans.calls)+k)
	b = append(b, `","type":"function","function":{"name":`...)
	b = appendString(b, call.name)
	return append(b, `,"arguments":""}}`...)
}

// callStepper walks tool calls as stream steps: the arguments of each call
// in pieces of four bytes (extended to a whole UTF-8 character), each call
// after the first preceded by its header. The first call's header goes
// with the role chunk.
type callStepper struct {
	calls  []toolCall
	k      int  // the current call
	pos    int  // where its next piece starts
	header bool // the next step is the current call's header
}

func (t *callStepper) steps() int {
	n := len(t.calls) - 1
	for _, c := range t.calls {
		n += countPieces(c.args)
	}
	return n
}

// next returns the next step: call k's header, or a piece of its
// arguments.
func (t *callStepper) next() (k int, header bool, piece []byte) {
	if t.header {
		t.header = false
		return t.k, true, nil
	}
	args := t.calls[t.k].args
	end := pieceEnd(args, t.pos)
	k, piece = t.k, args[t.pos:end]
	t.pos = end
	if t.pos >= len(args) {
		t.k, t.pos, t.header = t.k+1, 0, true
	}
	return k, false, piece
}

// appendChunkPrefix appends `data: {"id":…,"choices":[`.
func appendChunkPrefix(b []byte, c *completion) []byte {
	b = append(b, `data: {"id":"`...)
	b = appendCompletionID(b)
	b = append(b, `","object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, c.created, 10)
	b = append(b, `,"model":`...)
	b = appendString(b, c.model)
	b = append(b, `,"service_tier":"default","system_fingerprint":"`...)
	b = append(b, c.fingerprint...)
	return append(b, `","choices":[`...)
}

// sendGarbage sends an event whose data is cut-off JSON, as a broken
// upstream might.
func sendGarbage(sse *sseWriter, prefix []byte) bool {
	bp := getBuffer()
	defer putBuffer(bp)
	b := append((*bp)[:0], prefix...)
	b = append(b, contentChoiceStart...)
	b = append(b, "\n\n"...)
	*bp = b
	return sse.send(b)
}

// pacer spaces content chunks interval apart, counted from start so that
// slow writes do not make the stream drift.
type pacer struct {
	start    time.Time
	interval time.Duration
	timer    *time.Timer
}

// wait waits until chunk i is due; it reports false if ctx ended first.
func (p *pacer) wait(ctx context.Context, i int) bool {
	if p.interval <= 0 {
		return true
	}
	d := time.Until(p.start.Add(time.Duration(i) * p.interval))
	if d <= 0 {
		return ctx.Err() == nil
	}
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-p.timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *pacer) stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}
