package gemini

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/switchyard/switchyard/internal/sse"
)

// OpenAIStreamToGenerateContent translates an OpenAI chat completion
// stream into the events of Gemini's streamGenerateContent?alt=sse, each a
// GenerateContentResponse carrying only what is new:
//
//   - content and reasoning deltas are sent at once as text and thought
//     parts;
//   - tool calls, which OpenAI streams in fragments, are gathered and sent
//     whole as functionCall parts, with the finishReason, once the choice
//     has finished — as Gemini sends them;
//   - the final event also carries usageMetadata when the stream reported
//     usage;
//   - an error event becomes Gemini's {"error": {...}} event, which ends the
//     stream; a stream cut before every choice finished ends with
//     io.ErrUnexpectedEOF.
//
// Closing the returned reader closes r.
func OpenAIStreamToGenerateContent(r io.ReadCloser) io.ReadCloser {
	return &geminiStream{
		up:      r,
		rd:      sse.NewReader(bufio.NewReaderSize(r, 32<<10), maxStreamEvent),
		choices: map[int64]*oaChoiceState{},
	}
}

type geminiStream struct {
	up io.ReadCloser
	rd *sse.Reader

	out []byte
	off int
	err error

	id, model string
	choices   map[int64]*oaChoiceState
	usage     *oaUsage
	sawChoice bool

	closeOnce sync.Once
	closeErr  error
}

type oaChoiceState struct {
	calls    map[int]*chatToolCall // by delta index
	args     map[int]*strings.Builder
	finish   string
	finished bool
	sent     bool // the finishing event has been sent
}

// oaChunk is the chat.completion.chunk the reverse stream reads.
type oaChunk struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Index int64 `json:"index"`
		Delta struct {
			Content          *string        `json:"content"`
			Reasoning        *string        `json:"reasoning"`
			ReasoningContent *string        `json:"reasoning_content"`
			Refusal          *string        `json:"refusal"`
			ToolCalls        []chatToolCall `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *oaUsage        `json:"usage"`
	Error json.RawMessage `json:"error"`
}

func (s *geminiStream) Read(p []byte) (int, error) {
	for s.off >= len(s.out) {
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

func (s *geminiStream) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.up.Close() })
	return s.closeErr
}

func (s *geminiStream) emit(v any) {
	b, err := marshal(v)
	if err != nil {
		s.err = err
		return
	}
	s.out = append(s.out, "data: "...)
	s.out = append(s.out, b...)
	s.out = append(s.out, "\r\n\r\n"...)
}

func (s *geminiStream) step() {
	_, data, err := s.rd.Next()
	if err == io.EOF {
		s.end(false)
		return
	}
	if err != nil {
		s.err = err
		return
	}
	if string(data) == "[DONE]" {
		s.end(true)
		return
	}
	var c oaChunk
	if err := json.Unmarshal(data, &c); err != nil {
		s.err = fmt.Errorf("gemini: malformed chat completion chunk: %w", err)
		return
	}
	if !isNull(c.Error) {
		s.emit(map[string]any{"error": googleErrorOf(c.Error)})
		s.err = io.EOF
		return
	}
	if s.id == "" {
		s.id, s.model = c.ID, c.Model
	}
	if c.Usage != nil {
		s.usage = c.Usage
	}
	var now []candidate
	for _, ch := range c.Choices {
		s.sawChoice = true
		st := s.choice(ch.Index)
		if st.finished {
			continue
		}
		var parts []part
		for _, r := range []*string{ch.Delta.Reasoning, ch.Delta.ReasoningContent} {
			if r != nil && *r != "" {
				parts = append(parts, part{Text: *r, Thought: true})
				break
			}
		}
		if t := ch.Delta.Content; t != nil && *t != "" {
			parts = append(parts, part{Text: *t})
		} else if t := ch.Delta.Refusal; t != nil && *t != "" {
			parts = append(parts, part{Text: *t})
		}
		for _, tc := range ch.Delta.ToolCalls {
			i := 0
			if tc.Index != nil {
				i = *tc.Index
			}
			call, ok := st.calls[i]
			if !ok {
				call = &chatToolCall{}
				st.calls[i] = call
				st.args[i] = &strings.Builder{}
			}
			if tc.ID != "" {
				call.ID = tc.ID
			}
			if tc.Function.Name != "" {
				call.Function.Name = tc.Function.Name
			}
			if args, err := str(tc.Function.Arguments); err == nil {
				st.args[i].WriteString(args)
			}
		}
		if len(parts) > 0 {
			now = append(now, candidate{Index: ch.Index, Content: content{Role: "model", Parts: parts}})
		}
		if ch.FinishReason != nil {
			st.finished, st.finish = true, *ch.FinishReason
		}
	}
	if len(now) > 0 {
		s.emit(&generateResponse{Candidates: now, ModelVersion: s.model, ResponseID: s.id})
	}
}

func (s *geminiStream) choice(index int64) *oaChoiceState {
	st, ok := s.choices[index]
	if !ok {
		st = &oaChoiceState{calls: map[int]*chatToolCall{}, args: map[int]*strings.Builder{}}
		s.choices[index] = st
	}
	return st
}

// end sends the finished choices, with their function calls and the usage,
// in one last event.
func (s *geminiStream) end(done bool) {
	indexes := make([]int64, 0, len(s.choices))
	for i := range s.choices {
		indexes = append(indexes, i)
	}
	sort.Slice(indexes, func(a, b int) bool { return indexes[a] < indexes[b] })
	whole := s.sawChoice
	var last []candidate
	for _, i := range indexes {
		st := s.choices[i]
		if !st.finished {
			whole = false
			continue
		}
		c := candidate{Index: i, Content: content{Role: "model", Parts: []part{}}, FinishReason: geminiFinishReason(st.finish)}
		keys := make([]int, 0, len(st.calls))
		for k := range st.calls {
			keys = append(keys, k)
		}
		sort.Ints(keys)
		for _, k := range keys {
			call := st.calls[k]
			args, err := callArguments(json.RawMessage(jsonQuote(st.args[k].String())))
			if err != nil {
				args = json.RawMessage("{}")
			}
			c.Content.Parts = append(c.Content.Parts, part{FunctionCall: &functionCall{ID: call.ID, Name: call.Function.Name, Args: args}})
		}
		last = append(last, c)
	}
	if len(last) > 0 || s.usage != nil {
		r := &generateResponse{Candidates: last, ModelVersion: s.model, ResponseID: s.id}
		if s.usage != nil {
			r.UsageMetadata = geminiUsage(s.usage)
		}
		s.emit(r)
	}
	if s.err != nil {
		return
	}
	// [DONE] says the stream is whole; without it, only finished choices do.
	if done || whole {
		s.err = io.EOF
		return
	}
	s.err = io.ErrUnexpectedEOF
}

func jsonQuote(s string) []byte {
	b, _ := marshal(s)
	return b
}

// googleErrorOf turns an OpenAI error object into Google's.
func googleErrorOf(raw json.RawMessage) googleError {
	var e struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
	}
	if json.Unmarshal(raw, &e) != nil {
		s, _ := str(raw)
		e.Message = s
	}
	code := 500
	switch {
	case e.Type == "rate_limit_error" || strings.Contains(string(e.Code), "rate_limit"):
		code = 429
	case e.Type == "invalid_request_error":
		code = 400
	case e.Type == "authentication_error":
		code = 401
	case e.Type == "timeout_error" || strings.Contains(string(e.Code), "timeout"):
		code = 504
	}
	if e.Message == "" {
		e.Message = "the upstream stream failed"
	}
	return googleError{Code: int64(code), Message: e.Message, Status: canonicalStatus(code)}
}
