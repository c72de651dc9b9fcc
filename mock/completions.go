package mock

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"time"
)

// This file simulates OpenAI's legacy text completions: POST
// /{name}/v1/completions, plain and streamed.

// completionRequest holds what the mock needs from a legacy completion
// request.
type completionRequest struct {
	Model         string         `json:"model"`
	Prompt        promptInput    `json:"prompt"`
	MaxTokens     *int64         `json:"max_tokens"`
	N             *int64         `json:"n"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options"`
	Stop          stopList       `json:"stop"`
	Seed          *int64         `json:"seed"`
}

// defaultCompletionMaxTokens is the legacy endpoint's max_tokens when a
// request leaves it out, as OpenAI documents it.
const defaultCompletionMaxTokens = 16

// promptInput is a legacy prompt: a string, an array of strings (a batch),
// an array of token ids, or an array of arrays of token ids (a batch). Each
// string counts its text at 4 bytes a token, rounded up; each token array
// its length.
type promptInput struct {
	present bool
	prompts int
	tokens  int
}

func (p *promptInput) UnmarshalJSON(raw []byte) error {
	*p = promptInput{}
	switch raw[0] {
	case 'n':
		return nil
	case '"':
		p.present, p.prompts, p.tokens = true, 1, (unquotedLen(raw)+3)/4
		return nil
	case '[':
		var elems []promptElement
		if err := json.Unmarshal(raw, &elems); err != nil {
			return err
		}
		p.present = true
		numbers := 0
		for _, e := range elems {
			switch e.kind {
			case '"':
				p.prompts++
				p.tokens += (e.n + 3) / 4
			case '[':
				p.prompts++
				p.tokens += e.n
			case '0':
				numbers++
			}
		}
		if numbers > 0 {
			if numbers != len(elems) {
				return &json.UnmarshalTypeError{Value: "array", Type: reflect.TypeFor[string]()}
			}
			p.prompts, p.tokens = 1, numbers
		}
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[string]()}
}

// promptElement is one element of a prompt array: a string (n: its bytes),
// a token id, or an array of token ids (n: how many).
type promptElement struct {
	kind byte // '"', '0' or '['
	n    int
}

func (e *promptElement) UnmarshalJSON(raw []byte) error {
	switch {
	case raw[0] == '"':
		e.kind, e.n = '"', unquotedLen(raw)
	case raw[0] == '[':
		var ids []int64
		if err := json.Unmarshal(raw, &ids); err != nil {
			return err
		}
		e.kind, e.n = '[', len(ids)
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		var id int64
		if err := json.Unmarshal(raw, &id); err != nil {
			return err
		}
		e.kind = '0'
	default:
		return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[string]()}
	}
	return nil
}

func parseCompletionRequest(body []byte, req *completionRequest) *apiError {
	if aerr := decodeOpenAI(body, req); aerr != nil {
		return aerr
	}
	if req.Model == "" {
		return badRequest("model", "missing_required_parameter", "you must provide a model parameter")
	}
	if !req.Prompt.present {
		return badRequest("prompt", "missing_required_parameter", "Missing required parameter: 'prompt'.")
	}
	if req.Prompt.prompts == 0 {
		return badRequest("prompt", "empty_array", "Invalid 'prompt': empty array. Expected an array with minimum length 1, but got an empty array instead.")
	}
	if req.MaxTokens != nil && *req.MaxTokens < 0 {
		return belowMin("max_tokens", 0, *req.MaxTokens)
	}
	if req.N != nil {
		if *req.N < 1 {
			return belowMin("n", 1, *req.N)
		}
		if *req.N > maxChoices {
			return aboveMax("n", maxChoices, *req.N)
		}
	}
	if len(req.Stop) > 4 {
		return badRequest("stop", "array_above_max_length", "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length "+strconv.Itoa(len(req.Stop))+" instead.")
	}
	return nil
}

// textCompletion answers POST /v1/completions: a text_completion with one
// choice per prompt and n, each the same words, max_tokens defaulting to 16.
func textCompletion(w http.ResponseWriter, r *http.Request, p *provider) {
	x, ok := begin(w, r, p, dialectOpenAI)
	if !ok {
		return
	}
	defer x.release()
	var req completionRequest
	if aerr := parseCompletionRequest(x.body, &req); aerr != nil {
		x.fail(w, aerr)
		return
	}
	if !x.behave(w, r) {
		return
	}
	c := completion{
		model:           req.Model,
		created:         time.Now().Unix(),
		includeUsage:    req.StreamOptions != nil && req.StreamOptions.IncludeUsage,
		tokensPerSecond: x.b.tokensPerSecond,
		cutAfter:        x.b.cutAfter,
		malformed:       x.b.malformed,
		n:               req.Prompt.prompts,
	}
	if req.N != nil {
		c.n *= int(*req.N)
	}
	scratch := getBuffer()
	defer putBuffer(scratch)
	*scratch = c.ans.setWords(x.b.completionTokens, req.Stop, (*scratch)[:0])
	limit := int64(defaultCompletionMaxTokens)
	if req.MaxTokens != nil {
		limit = *req.MaxTokens
	}
	c.ans.limit(limit)
	c.usage.promptTokens = req.Prompt.tokens
	c.usage.completionTokens = c.n * c.ans.outputTokens()

	if !x.admit(w, r) {
		return
	}
	if req.Stream {
		p.stats.streams.Add(1)
		if !writeTextCompletionStream(w, r, &c) {
			p.stats.canceled.Add(1)
		}
		return
	}
	b := appendTextCompletionHead((*x.buf)[:0], &c)
	for choice := range c.n {
		if choice > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"text":"`...)
		b = c.ans.appendText(b)
		b = appendTextChoiceEnd(b, choice, c.ans.finish.openAI())
	}
	b = append(b, `],"usage":`...)
	b = appendUsageCounts(b, c.usage)
	b = append(b, "}}\n"...)
	*x.buf = b
	writeBody(w, headerJSON, b, &x.b)
}

// appendTextCompletionHead appends a text_completion up to its choices:
// `{"id":"cmpl-…","object":"text_completion","created":…,"model":…,"choices":[`.
// The id is the same for every chunk of a stream.
func appendTextCompletionHead(b []byte, c *completion) []byte {
	b = append(b, `{"id":"`...)
	b = appendRandomID(b, "cmpl-", idLength)
	b = append(b, `","object":"text_completion","created":`...)
	b = strconv.AppendInt(b, c.created, 10)
	b = append(b, `,"model":`...)
	b = appendString(b, c.model)
	return append(b, `,"choices":[`...)
}

// appendTextChoiceEnd closes a choice whose text is written:
// `","index":…,"logprobs":null,"finish_reason":…}`; an empty reason is
// null.
func appendTextChoiceEnd(b []byte, choice int, reason string) []byte {
	b = append(b, `","index":`...)
	b = strconv.AppendInt(b, int64(choice), 10)
	b = append(b, `,"logprobs":null,"finish_reason":`...)
	if reason == "" {
		return append(b, "null}"...)
	}
	b = append(b, '"')
	b = append(b, reason...)
	return append(b, `"}`...)
}

// writeTextCompletionStream streams a legacy completion: per step, one
// text_completion chunk carrying every choice's token; then a chunk whose
// choices have empty text and their finish_reason; the usage chunk (no
// choices) when stream_options.include_usage asks for it; and [DONE].
// Every chunk has the same id. It reports false when the client went away
// first.
func writeTextCompletionStream(w http.ResponseWriter, r *http.Request, c *completion) bool {
	h := w.Header()
	h["Content-Type"] = headerEventStream
	h["Cache-Control"] = headerNoCache
	w.WriteHeader(http.StatusOK)
	sse := sseWriter{w: w}
	sse.flusher, _ = w.(http.Flusher)

	prefixBuf := getBuffer()
	defer putBuffer(prefixBuf)
	prefix := append((*prefixBuf)[:0], "data: "...)
	prefix = appendTextCompletionHead(prefix, c)
	*prefixBuf = prefix
	eventBuf := getBuffer()
	defer putBuffer(eventBuf)
	event := (*eventBuf)[:0]
	defer func() { *eventBuf = event }()

	pace := pacer{start: time.Now()}
	if c.tokensPerSecond > 0 {
		pace.interval = time.Duration(float64(time.Second) / c.tokensPerSecond)
	}
	defer pace.stop()
	ctx := r.Context()
	cursor := tokenCursor{a: &c.ans}
	for i := range c.ans.tokens {
		if i == c.cutAfter {
			abort(w)
		}
		if !pace.wait(ctx, i) {
			return false
		}
		token := cursor.next()
		event = append(event[:0], prefix...)
		for choice := range c.n {
			if choice > 0 {
				event = append(event, ',')
			}
			event = append(event, `{"text":"`...)
			event = appendEscaped(event, token)
			event = appendTextChoiceEnd(event, choice, "")
		}
		event = append(event, "]}\n\n"...)
		if !sse.send(event) {
			return false
		}
		if c.malformed && i == 0 && !sse.send(append(append(event[:0], prefix...), "{\"text\":\"\n\n"...)) {
			return false
		}
	}
	if c.cutAfter >= 0 {
		abort(w)
	}
	if c.malformed && c.ans.tokens == 0 && !sse.send(append(append(event[:0], prefix...), "{\"text\":\"\n\n"...)) {
		return false
	}
	event = append(event[:0], prefix...)
	for choice := range c.n {
		if choice > 0 {
			event = append(event, ',')
		}
		event = append(event, `{"text":"`...)
		event = appendTextChoiceEnd(event, choice, c.ans.finish.openAI())
	}
	event = append(event, "]}\n\n"...)
	if c.includeUsage {
		event = append(event, prefix...)
		event = append(event, `],"usage":`...)
		event = appendUsageCounts(event, c.usage)
		event = append(event, "}}\n\n"...)
	}
	event = append(event, doneEvent...)
	return sse.send(event)
}
