package mock

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Pieces of chat.completion.chunk events. Every event is
// "data: " + prefix + choices + suffix, where the prefix (id, object,
// created, model, service_tier, system_fingerprint, "choices":[) is built
// once per stream.
const (
	roleChoice         = `{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}`
	contentChoiceStart = `{"index":0,"delta":{"content":"`
	contentChoiceEnd   = `"},"logprobs":null,"finish_reason":null}`
	finishChoiceStart  = `{"index":0,"delta":{},"logprobs":null,"finish_reason":"`
	finishChoiceEnd    = `"}`
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
// OpenAI's order: a role chunk, one chunk per token, a chunk with the finish
// reason, the usage chunk when asked for, and [DONE]. It reports false when
// the client went away first.
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

	event = append(append(append(event[:0], prefix...), roleChoice...), suffix...)
	if !sse.send(event) {
		return false
	}

	pace := pacer{start: time.Now()}
	if c.tokensPerSecond > 0 {
		pace.interval = time.Duration(float64(time.Second) / c.tokensPerSecond)
	}
	defer pace.stop()
	ctx := r.Context()
	tokens := c.usage.completionTokens
	for i := range tokens {
		if i == c.cutAfter {
			abort(w)
		}
		if !pace.wait(ctx, i) {
			return false
		}
		event = append(event[:0], prefix...)
		event = append(event, contentChoiceStart...)
		event = appendToken(event, i)
		event = append(event, contentChoiceEnd...)
		event = append(event, suffix...)
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
	if c.malformed && tokens == 0 && !sendGarbage(&sse, prefix) {
		return false
	}

	event = append(event[:0], prefix...)
	event = append(event, finishChoiceStart...)
	event = append(event, c.finishReason...)
	event = append(event, finishChoiceEnd...)
	event = append(event, suffix...)
	if c.includeUsage {
		event = append(event, prefix...)
		event = append(event, "],\"usage\":"...)
		event = appendUsage(event, c.usage)
		event = append(event, "}\n\n"...)
	}
	event = append(event, doneEvent...)
	return sse.send(event)
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
