package proxy

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/internal/sse"
	"github.com/switchyard/switchyard/internal/tokens"
	"github.com/switchyard/switchyard/proxy/provider/anthropic"
	"github.com/switchyard/switchyard/proxy/route"
	"github.com/switchyard/switchyard/record"
)

// maxStreamEvent bounds one upstream SSE event.
const maxStreamEvent = 4 << 20

var streamReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}

// errNotChunk is a stream event that is not a chat completion chunk.
var errNotChunk = errors.New("not a chat completion chunk")

// streamState follows a chat completion stream: usage, finish reason, the
// first content byte, and the reassembled message for the record.
type streamState struct {
	id, model    string
	created      int64
	finishReason string
	usage        *record.Usage
	// contents is the completion's text by choice index, for the record
	// and, when the provider reports no usage, for estimating it: kept
	// whether or not the response body is recorded, as far as tally
	// allows (the record's body is cut at bodyMax when rendered).
	contents []strings.Builder
	// other is text the completion holds beside its content (tool call
	// names and arguments, refusals), for the estimate only.
	other     strings.Builder
	tally     tally
	bodyMax   int
	truncated bool
	keepBody  bool
	// text is set for /v1/completions, whose choices carry "text" rather
	// than a delta.
	text bool
}

// minEstimateText is the least completion text a stream keeps for an
// estimate of its usage (more when the record's body limit is higher).
const minEstimateText = 1 << 20

const maxReassembledChoices = 16

// observe reads one chunk. It returns what the chunk says, or an error when
// it is not a chat completion chunk (or is an error event).
func (st *streamState) observe(data []byte) (chunkInfo, error) {
	var info chunkInfo
	var bad error
	sawChoices := false
	err := jsonx.Members(data, func(m jsonx.Member) bool {
		raw := data[m.ValueStart:m.ValueEnd]
		switch {
		case m.Is("choices"):
			if raw[0] != '[' {
				bad = errNotChunk
				return false
			}
			sawChoices = true
			_ = jsonx.Elements(raw, func(s, e int) bool {
				bad = st.observeChoice(raw[s:e], &info)
				return bad == nil
			})
			return bad == nil
		case m.Is("usage"):
			if jsonx.IsNull(raw) {
				return true
			}
			u, err := parseUsage(raw)
			if err != nil {
				bad = err
				return false
			}
			info.usage, info.span = &u, usageSpan{m.ValueStart, m.ValueEnd}
			st.usage = &u
		case m.Is("error"):
			if !jsonx.IsNull(raw) {
				_, msg := upstreamError(strings.NewReader(`{"error":` + string(raw) + `}`))
				bad = errors.New(msg)
				return false
			}
		case m.Is("id"):
			if st.id == "" {
				st.id, _ = optionalString(raw)
			}
		case m.Is("model"):
			if st.model == "" {
				st.model, _ = optionalString(raw)
			}
		case m.Is("created"):
			if st.created == 0 {
				st.created, _ = jsonx.Int(raw)
			}
		}
		return true
	})
	switch {
	case err != nil:
		return info, err
	case bad != nil:
		return info, bad
	case !sawChoices && info.usage == nil:
		return info, errNotChunk
	}
	return info, nil
}

// observeChoice reads one element of a chunk's choices.
func (st *streamState) observeChoice(choice []byte, info *chunkInfo) error {
	var index int64
	var delta, text []byte
	err := jsonx.Members(choice, func(m jsonx.Member) bool {
		raw := choice[m.ValueStart:m.ValueEnd]
		switch {
		case m.Is("index"):
			index, _ = jsonx.Int(raw)
		case m.Is("delta"):
			delta = raw
		case st.text && m.Is("text"):
			text = raw
		case m.Is("finish_reason"):
			if f, _ := optionalString(raw); f != "" && index == 0 {
				st.finishReason = f
			}
		}
		return true
	})
	if err == nil && !jsonx.IsNull(text) && string(text) != `""` {
		info.content = true
		if t, err := jsonx.Unquote(text); err == nil {
			st.appendContent(int(index), t)
		}
	}
	if err != nil || jsonx.IsNull(delta) || delta[0] != '{' {
		return err
	}
	return jsonx.Members(delta, func(m jsonx.Member) bool {
		raw := delta[m.ValueStart:m.ValueEnd]
		switch {
		case m.Is("content"):
			if jsonx.IsNull(raw) || string(raw) == `""` {
				return true
			}
			info.content = true
			if text, err := jsonx.Unquote(raw); err == nil {
				st.appendContent(int(index), text)
			}
		case m.Is("refusal"):
			if !jsonx.IsNull(raw) && string(raw) != `""` {
				info.content = true
				if text, err := jsonx.Unquote(raw); err == nil {
					st.appendOther(text)
				}
			}
		case m.Is("tool_calls"):
			if !jsonx.IsNull(raw) {
				info.content = true
				st.observeToolCalls(raw)
			}
		}
		return true
	})
}

// observeToolCalls keeps the names and argument fragments of streamed tool
// calls, for the estimate.
func (st *streamState) observeToolCalls(raw []byte) {
	_ = jsonx.Elements(raw, func(s, e int) bool {
		fn, err := jsonx.Get(raw[s:e], "function")
		if err != nil || jsonx.IsNull(fn) {
			return true
		}
		for _, field := range [...]string{"name", "arguments"} {
			if v, err := jsonx.Get(fn, field); err == nil && !jsonx.IsNull(v) {
				if text, err := jsonx.Unquote(v); err == nil {
					st.appendOther(text)
				}
			}
		}
		return true
	})
}

// tally bounds the completion text a stream keeps: text past max bytes is
// counted as it goes by and dropped.
type tally struct {
	enc   tokens.Encoding
	bytes int
	max   int
	// lostTokens estimates the text dropped; lost says some was.
	lostTokens int64
	lost       bool
}

func newTally(model string, bodyMax int) tally {
	return tally{enc: tokens.EncodingFor(model), max: max(bodyMax, minEstimateText)}
}

// room reports whether text fits in what is kept; text that does not is
// counted at once.
func (t *tally) room(text string) bool {
	if t.bytes+len(text) > t.max {
		t.lostTokens += int64(t.enc.Count(text))
		t.lost = true
		return false
	}
	t.bytes += len(text)
	return true
}

// add appends text to b if it fits.
func (t *tally) add(b *strings.Builder, text string) {
	if t.room(text) {
		b.WriteString(text)
	}
}

// estimate is the tokens of the kept texts and of the dropped ones.
func (t *tally) estimate(kept ...*strings.Builder) int64 {
	n := t.lostTokens
	for _, b := range kept {
		n += int64(t.enc.Count(b.String()))
	}
	return n
}

func (st *streamState) appendContent(index int, text string) {
	if index < 0 || index >= maxReassembledChoices {
		st.tally.lostTokens += int64(st.tally.enc.Count(text))
		return
	}
	if !st.tally.room(text) {
		return
	}
	for len(st.contents) <= index {
		st.contents = append(st.contents, strings.Builder{})
	}
	st.contents[index].WriteString(text)
}

func (st *streamState) appendOther(text string) { st.tally.add(&st.other, text) }

// completionEstimate estimates the completion tokens streamed so far.
func (st *streamState) completionEstimate() int64 {
	kept := []*strings.Builder{&st.other}
	for i := range st.contents {
		kept = append(kept, &st.contents[i])
	}
	return st.tally.estimate(kept...)
}

// reassembled renders the streamed completion as the chat.completion it
// amounts to, for the record.
func (st *streamState) reassembled(costNUSD int64) string {
	b := st.appendHead(nil, "chat.completion")
	b = append(b, `,"choices":[`...)
	// Cut past the limit like truncateBody, for the BodyFilter to finish.
	st.truncated = st.tally.lost
	room := st.bodyMax + bodyMargin
	for i := range st.contents {
		if i > 0 {
			b = append(b, ',')
		}
		text := st.contents[i].String()
		if len(text) > room {
			text = strings.ToValidUTF8(text[:max(room, 0)], "")
		}
		room -= len(text)
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		if st.text {
			b = append(b, `,"text":`...)
			b = jsonx.AppendString(b, text)
			b = append(b, `,"finish_reason":`...)
		} else {
			b = append(b, `,"message":{"role":"assistant","content":`...)
			b = jsonx.AppendString(b, text)
			b = append(b, `},"finish_reason":`...)
		}
		b = jsonx.AppendString(b, st.finishReason)
		b = append(b, '}')
	}
	b = append(b, ']')
	if u := st.usage; u != nil {
		b = append(b, `,"usage":`...)
		b = appendUsage(b, *u, costNUSD)
	}
	return string(append(b, '}'))
}

// relayStream relays an SSE chat completion. The first event is read before
// anything is sent, so a provider that fails before producing data can
// still be fallen back from; after that, a failure ends the client's stream
// with one error chunk.
func (ex *exchange) relayStream(k *kind, cand route.Candidate, resp *http.Response) (*apiError, bool) {
	s := ex.s
	br := streamReaders.Get().(*bufio.Reader)
	br.Reset(resp.Body)
	defer func() { br.Reset(nil); streamReaders.Put(br) }()
	rd := sse.NewReader(br, maxStreamEvent)
	st := streamState{keepBody: !ex.omitResponse, bodyMax: s.cfg.RecordBodyBytes, text: k == kindCompletions,
		tally: newTally(cand.Model, s.cfg.RecordBodyBytes)}
	rec := ex.rec

	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	sw := newStreamWriter(ex.c.Writer, (*bp)[:0], s.cfg.StreamKeepAlive)
	if ex.dialect == dialectAnthropic {
		sw.translate = anthropic.NewStreamTranslator()
	}
	defer func() { *bp = sw.buf[:0] }()
	defer sw.stopKeepAlive()
	commit := func() {
		h := ex.c.Writer.Header()
		h["Cache-Control"] = []string{"no-cache"}
		h["X-Accel-Buffering"] = []string{"no"}
		ex.commit("text/event-stream")
	}

	// The first event decides whether this deployment serves the request:
	// until it arrives nothing is sent, so a provider that fails first can
	// be fallen back from — unless keep-alives had to start meanwhile.
	data, err := ex.firstEvent(rd, sw, commit)
	if err != nil {
		if err == io.EOF {
			err = &apiError{class: errUpstreamMalformed, message: "provider " + cand.Provider + " ended the stream before sending data"}
		}
		e, ok := err.(*apiError)
		if !ok {
			e = ex.streamReadError(cand.Provider, err)
		}
		if ex.committed {
			_ = sw.event(errorChunk(&st, e), false)
			_ = sw.event([]byte("[DONE]"), true)
			rec.FinishReason = "error"
		}
		return e, true
	}
	info, err := st.observe(data)
	if err != nil {
		e := &apiError{class: errUpstreamMalformed, message: "provider " + cand.Provider + " sent a bad first chunk: " + clipMessage(err.Error())}
		if ex.committed {
			_ = sw.event(errorChunk(&st, e), false)
			_ = sw.event([]byte("[DONE]"), true)
			rec.FinishReason = "error"
		}
		return e, true
	}
	if !ex.committed {
		commit()
		if !info.content {
			sw.startKeepAlive()
		}
	}
	send := func(data []byte) error { return sw.event(data, false) }
	w := sw
	var streamErr *apiError
	for {
		if info.usage != nil {
			rec.Usage = *info.usage
			rec.CostNUSD = costNanoUSD(cand.Pricing, rec.Usage)
			data = withUsageCost(data, info.span, rec.CostNUSD)
		}
		if err := send(data); err != nil {
			streamErr = &apiError{class: errCanceled, message: "client disconnected"}
			break
		}
		if info.content && ex.firstByte.IsZero() {
			ex.firstByte = time.Now()
			sw.stopKeepAlive()
		}
		if rd.Buffered() == 0 {
			w.flush()
		}
		_, data, err = rd.Next()
		if err != nil {
			if err == io.EOF && st.finishReason != "" {
				break // the upstream ended without [DONE]; the completion is whole
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			streamErr = ex.streamReadError(cand.Provider, err)
			break
		}
		if string(data) == "[DONE]" {
			break
		}
		if info, err = st.observe(data); err != nil {
			streamErr = &apiError{class: errUpstreamMalformed, message: "provider " + cand.Provider + " sent a bad chunk: " + clipMessage(err.Error())}
			break
		}
	}

	sw.stopKeepAlive()
	rec.FinishReason = st.finishReason
	if missingUsage(st.usage) {
		// The provider sent no usage (it does not report any on streams,
		// or the stream was cut short), or an empty one: estimated from
		// what was relayed, and sent to a client still listening in the
		// usual last chunk unless it had one.
		sent := st.usage != nil
		ex.estimateUsage(k, cand, st.completionEstimate())
		st.usage = &rec.Usage
		if streamErr == nil && !sent {
			_ = send(usageChunk(&st, rec.Usage, rec.CostNUSD))
		}
	}
	if streamErr == nil {
		_ = send([]byte("[DONE]"))
	} else if streamErr.class != errCanceled {
		_ = send(errorChunk(&st, streamErr))
		_ = send([]byte("[DONE]"))
		rec.FinishReason = "error"
	}
	w.flush()
	if st.keepBody {
		rec.ResponseBody = st.reassembled(rec.CostNUSD)
		rec.BodyTruncated = rec.BodyTruncated || st.truncated
	} else {
		rec.BodiesOmitted = true
	}
	return streamErr, false
}

// usageChunk is the chunk that ends a stream with its usage: no choices,
// only usage, as OpenAI sends it when asked for.
func usageChunk(st *streamState, u record.Usage, costNUSD int64) []byte {
	b := st.appendHead(nil, "chat.completion.chunk")
	b = append(b, `,"choices":[],"usage":`...)
	b = appendUsage(b, u, costNUSD)
	return append(b, '}')
}

// appendHead opens a completion object with the stream's id, created and
// model; object is the chat completion's ("chat.completion" or
// "chat.completion.chunk"), a text completion's being "text_completion".
func (st *streamState) appendHead(b []byte, object string) []byte {
	b = append(b, `{"id":`...)
	b = jsonx.AppendString(b, st.id)
	if st.text {
		object = "text_completion"
	}
	b = append(b, `,"object":"`...)
	b = append(b, object...)
	b = append(b, `","created":`...)
	b = strconv.AppendInt(b, st.created, 10)
	b = append(b, `,"model":`...)
	return jsonx.AppendString(b, st.model)
}

// errorChunk is the one chunk that ends a stream whose upstream failed
// after the first byte: OpenAI's chunk shape with finish_reason "error" and
// an error object that SDKs surface.
func errorChunk(st *streamState, e *apiError) []byte {
	b := []byte(`{"id":`)
	b = jsonx.AppendString(b, st.id)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, st.created, 10)
	b = append(b, `,"model":`...)
	b = jsonx.AppendString(b, st.model)
	b = append(b, `,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"error"}],"error":{"message":`...)
	b = jsonx.AppendString(b, e.message)
	b = append(b, `,"type":`...)
	b = jsonx.AppendString(b, e.class.oaiType)
	b = append(b, `,"code":`...)
	b = jsonx.AppendString(b, e.class.errorType)
	return append(b, `}}`...)
}

// firstEvent reads the stream's first event. With keep-alives configured
// and the provider slow to start, it commits the response after one
// interval and sends comments while it waits.
func (ex *exchange) firstEvent(rd *sse.Reader, sw *streamWriter, commit func()) ([]byte, error) {
	if sw.keepAlive <= 0 {
		_, data, err := rd.Next()
		return data, err
	}
	type result struct {
		data []byte
		err  error
	}
	first := make(chan result, 1)
	go func() {
		// The reader is the goroutine's until it sends; the data stays
		// valid until the next call to Next, which comes after.
		_, data, err := rd.Next()
		first <- result{data, err}
	}()
	timer := time.NewTimer(sw.keepAlive)
	defer timer.Stop()
	select {
	case r := <-first:
		return r.data, r.err
	case <-timer.C:
	}
	commit()
	sw.mu.Lock()
	sw.comment()
	sw.mu.Unlock()
	sw.startKeepAlive()
	r := <-first
	return r.data, r.err
}

func (ex *exchange) streamReadError(provider string, err error) *apiError {
	switch {
	case errors.Is(err, sse.ErrEventTooLarge):
		return &apiError{class: errUpstreamMalformed, message: "provider " + provider + " sent an event larger than " + strconv.Itoa(maxStreamEvent) + " bytes"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		if ex.clientGone() {
			return &apiError{class: errCanceled, message: "client disconnected"}
		}
		return &apiError{class: errUpstream, message: "provider " + provider + " ended the stream before it was complete"}
	}
	return ex.transportError(provider, err)
}
