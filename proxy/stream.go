package proxy

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/internal/jsonx"
	"github.com/switchyard/switchyard/internal/sse"
	"github.com/switchyard/switchyard/proxy/route"
	"github.com/switchyard/switchyard/record"
)

// maxStreamEvent bounds one upstream SSE event.
const maxStreamEvent = 4 << 20

var streamReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}

// chatChunk is the part of an OpenAI chat.completion.chunk the proxy reads.
type chatChunk struct {
	ID      string `json:"id"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content   string          `json:"content"`
			Refusal   string          `json:"refusal"`
			ToolCalls json.RawMessage `json:"tool_calls"`
		} `json:"delta"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *openAIUsage    `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// streamState follows a chat completion stream: usage, finish reason, the
// first content byte, and the reassembled message for the record.
type streamState struct {
	chunk        chatChunk
	id, model    string
	created      int64
	finishReason string
	usage        *record.Usage
	contents     []strings.Builder // by choice index, for the record
	bodyBytes    int
	bodyMax      int
	truncated    bool
	keepBody     bool
}

const maxReassembledChoices = 16

// observe reads one chunk. It reports whether the chunk carries content
// and returns an error when the chunk is not a chat completion chunk (or
// is an error event).
func (st *streamState) observe(data []byte) (content bool, err error) {
	st.chunk = chatChunk{}
	if err := json.Unmarshal(data, &st.chunk); err != nil {
		return false, err
	}
	ch := &st.chunk
	if len(ch.Error) > 0 && string(ch.Error) != "null" {
		return false, errors.New(upstreamMessage(strings.NewReader(`{"error":` + string(ch.Error) + `}`)))
	}
	if ch.Choices == nil && ch.Usage == nil {
		return false, errors.New("not a chat completion chunk")
	}
	if st.id == "" {
		st.id, st.model, st.created = ch.ID, ch.Model, ch.Created
	}
	for i := range ch.Choices {
		c := &ch.Choices[i]
		if c.FinishReason != "" && c.Index == 0 {
			st.finishReason = c.FinishReason
		}
		if c.Delta.Content != "" || c.Delta.Refusal != "" || len(c.Delta.ToolCalls) > 0 {
			content = true
		}
		if st.keepBody && c.Delta.Content != "" && c.Index >= 0 && c.Index < maxReassembledChoices {
			for len(st.contents) <= c.Index {
				st.contents = append(st.contents, strings.Builder{})
			}
			room := st.bodyMax - st.bodyBytes
			text := c.Delta.Content
			if len(text) > room {
				text, st.truncated = text[:max(room, 0)], true
			}
			st.contents[c.Index].WriteString(text)
			st.bodyBytes += len(text)
		}
	}
	if ch.Usage != nil {
		u := ch.Usage.toRecord()
		st.usage = &u
	}
	return content, nil
}

// reassembled renders the streamed completion as the chat.completion it
// amounts to, for the record.
func (st *streamState) reassembled(costNUSD int64) string {
	b := []byte(`{"id":`)
	b = jsonx.AppendString(b, st.id)
	b = append(b, `,"object":"chat.completion","created":`...)
	b = strconv.AppendInt(b, st.created, 10)
	b = append(b, `,"model":`...)
	b = jsonx.AppendString(b, st.model)
	b = append(b, `,"choices":[`...)
	for i := range st.contents {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"message":{"role":"assistant","content":`...)
		b = jsonx.AppendString(b, st.contents[i].String())
		b = append(b, `},"finish_reason":`...)
		b = jsonx.AppendString(b, st.finishReason)
		b = append(b, '}')
	}
	b = append(b, ']')
	if u := st.usage; u != nil {
		b = append(b, `,"usage":{"prompt_tokens":`...)
		b = strconv.AppendInt(b, u.PromptTokens, 10)
		b = append(b, `,"completion_tokens":`...)
		b = strconv.AppendInt(b, u.CompletionTokens, 10)
		b = append(b, `,"total_tokens":`...)
		b = strconv.AppendInt(b, u.PromptTokens+u.CompletionTokens, 10)
		b = append(b, `,"cost":`...)
		b = appendUSD(b, costNUSD)
		b = append(b, '}')
	}
	return string(append(b, '}'))
}

// relayStream relays an SSE chat completion. The first event is read before
// anything is sent, so a provider that fails before producing data can
// still be fallen back from; after that, a failure ends the client's stream
// with one error chunk.
func (ex *exchange) relayStream(cand route.Candidate, resp *http.Response) (*apiError, bool) {
	s := ex.s
	br := streamReaders.Get().(*bufio.Reader)
	br.Reset(resp.Body)
	defer func() { br.Reset(nil); streamReaders.Put(br) }()
	rd := sse.NewReader(br, maxStreamEvent)
	st := streamState{keepBody: *s.cfg.RecordBodies, bodyMax: s.cfg.RecordBodyBytes}
	rec := ex.rec

	_, data, err := rd.Next()
	if err != nil {
		if err == io.EOF {
			return &apiError{class: errUpstreamMalformed, message: "provider " + cand.Provider + " ended the stream before sending data"}, true
		}
		return ex.streamReadError(cand.Provider, err), true
	}
	content, err := st.observe(data)
	if err != nil {
		return &apiError{class: errUpstreamMalformed, message: "provider " + cand.Provider + " sent a bad first chunk: " + clipMessage(err.Error())}, true
	}

	h := ex.c.Writer.Header()
	h["Cache-Control"] = []string{"no-cache"}
	h["X-Accel-Buffering"] = []string{"no"}
	ex.commit("text/event-stream")
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	w := ex.c.Writer
	send := func(data []byte) error {
		b := append((*bp)[:0], "data: "...)
		b = append(b, data...)
		b = append(b, "\n\n"...)
		*bp = b
		_, err := w.Write(b)
		return err
	}
	var streamErr *apiError
	for {
		if st.usage != nil && st.chunk.Usage != nil {
			rec.Usage = *st.usage
			rec.CostNUSD = costNanoUSD(cand.Pricing, rec.Usage)
			data = withUsageCost(data, rec.CostNUSD)
		}
		if err := send(data); err != nil {
			streamErr = &apiError{class: errCanceled, message: "client disconnected"}
			break
		}
		if content && ex.firstByte.IsZero() {
			ex.firstByte = time.Now()
		}
		if rd.Buffered() == 0 {
			w.Flush()
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
		if content, err = st.observe(data); err != nil {
			streamErr = &apiError{class: errUpstreamMalformed, message: "provider " + cand.Provider + " sent a bad chunk: " + clipMessage(err.Error())}
			break
		}
	}

	rec.FinishReason = st.finishReason
	if streamErr == nil {
		_ = send([]byte("[DONE]"))
	} else if streamErr.class != errCanceled {
		_ = send(errorChunk(&st, streamErr))
		_ = send([]byte("[DONE]"))
		rec.FinishReason = "error"
	}
	w.Flush()
	if st.keepBody {
		rec.ResponseBody = st.reassembled(rec.CostNUSD)
		rec.BodyTruncated = rec.BodyTruncated || st.truncated
	}
	return streamErr, false
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
