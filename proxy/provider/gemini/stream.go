package gemini

import (
	"bufio"
	"fmt"
	"io"
	"sync"

	"github.com/switchyard/switchyard/internal/sse"
)

// maxStreamEvent bounds one event of a Gemini stream (an event can carry
// a whole generated image).
const maxStreamEvent = 8 << 20

// chatStream reads Gemini's alt=sse stream — each event a complete
// GenerateContentResponse holding only the parts generated since the
// previous one — and produces OpenAI's chat.completion.chunk stream:
//
//   - the first chunk of each choice carries role "assistant";
//   - text, thought summaries (as OpenRouter's delta.reasoning), function
//     calls (whole, as tool_calls deltas numbered per choice) and images
//     are forwarded event by event, never buffered;
//   - a finishReason becomes a chunk with an empty delta and the mapped
//     finish_reason; a blocked prompt (promptFeedback, no candidates) ends
//     the only choice with "content_filter";
//   - usageMetadata, which every event restates as running totals, is
//     sent once at the end as a chunk with empty choices when the request
//     asked for stream_options.include_usage; then "data: [DONE]";
//   - an error event becomes one {"error": ...} event, and the stream ends
//     there without [DONE];
//   - a stream that ends before every choice finished ends with
//     io.ErrUnexpectedEOF, so that a cut is not mistaken for a whole answer.
type chatStream struct {
	up   io.ReadCloser
	rd   *sse.Reader
	opts chatOptions
	env  env

	out []byte // translated bytes not yet read
	off int
	err error // returned once out is drained

	started bool
	id      string
	model   string
	created int64
	choices map[int64]*choiceState
	order   []int64
	usage   *usageMetadata

	closeOnce sync.Once
	closeErr  error
}

type choiceState struct {
	roleSent bool
	finished bool
	calls    int // tool calls sent so far, for their delta index
}

func newChatStream(up io.ReadCloser, opts chatOptions, e env) *chatStream {
	return &chatStream{
		up:      up,
		rd:      sse.NewReader(bufio.NewReaderSize(up, 32<<10), maxStreamEvent),
		opts:    opts,
		env:     e,
		created: e.now().Unix(),
		choices: map[int64]*choiceState{},
	}
}

// Read returns translated bytes as soon as one upstream event has been
// translated, so that the reader can flush chunk by chunk.
func (s *chatStream) Read(p []byte) (int, error) {
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

// Close closes the upstream body, which ends the upstream request.
func (s *chatStream) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.up.Close() })
	return s.closeErr
}

func (s *chatStream) emit(data []byte) {
	s.out = append(s.out, "data: "...)
	s.out = append(s.out, data...)
	s.out = append(s.out, "\n\n"...)
}

// step translates one upstream event, or ends the stream.
func (s *chatStream) step() {
	_, data, err := s.rd.Next()
	if err == io.EOF {
		s.end()
		return
	}
	if err != nil {
		s.err = err
		return
	}
	var r generateResponse
	if err := r.decode(data); err != nil {
		s.err = fmt.Errorf("gemini: malformed stream event: %w", err)
		return
	}
	if r.Error != nil {
		s.emit(streamError(r.Error))
		s.err = io.EOF
		return
	}
	if !s.started {
		s.started = true
		s.id = chatID(r.ResponseID, s.env)
		s.model = modelName(r.ModelVersion, s.opts.model)
	}
	if r.UsageMetadata != nil {
		s.usage = r.UsageMetadata
	}
	if len(r.Candidates) == 0 && r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
		st := s.choice(0)
		if !st.finished {
			st.finished, st.roleSent = true, true
			s.chunk(0, chunkDelta{Role: "assistant", Content: ptr("")}, nil, ptr("content_filter"))
		}
	}
	for i, c := range r.Candidates {
		index := int64(i)
		if c.hasIndex {
			index = c.Index
		}
		st := s.choice(index)
		if st.finished {
			continue
		}
		m := messageOf(c.Content.Parts, s.env)
		for j := range m.calls {
			m.calls[j].Index = ptr(st.calls)
			st.calls++
		}
		d := chunkDelta{ToolCalls: m.calls, Images: m.images}
		if m.hasText {
			d.Content = ptr(m.text.String())
		}
		if m.reasoning.Len() > 0 {
			d.Reasoning = ptr(m.reasoning.String())
		}
		lp := openAILogprobs(c.LogprobsResult)
		if !st.roleSent {
			st.roleSent = true
			d.Role = "assistant"
			if d.Content == nil && len(d.ToolCalls) == 0 {
				d.Content = ptr("")
			}
		}
		if d.Role != "" || d.Content != nil || d.Reasoning != nil || len(d.ToolCalls) > 0 || len(d.Images) > 0 || lp != nil {
			s.chunk(index, d, lp, nil)
		}
		if c.FinishReason != "" {
			st.finished = true
			s.chunk(index, chunkDelta{}, nil, ptr(finishReason(c.FinishReason, st.calls > 0)))
		}
	}
}

func (s *chatStream) choice(index int64) *choiceState {
	st, ok := s.choices[index]
	if !ok {
		st = &choiceState{}
		s.choices[index] = st
		s.order = append(s.order, index)
	}
	return st
}

func (s *chatStream) chunk(index int64, d chunkDelta, lp *logprobs, finish *string) {
	c := chatChunk{
		ID:      s.id,
		Object:  "chat.completion.chunk",
		Created: s.created,
		Model:   s.model,
		Choices: []chunkChoice{{Index: index, Delta: d, Logprobs: lp, FinishReason: finish}},
	}
	if s.opts.includeUsage {
		c.Usage = []byte("null")
	}
	b, err := marshal(c)
	if err != nil {
		s.err = err
		return
	}
	s.emit(b)
}

// end closes the translated stream when the upstream ends.
func (s *chatStream) end() {
	whole := s.started && len(s.order) > 0
	for _, index := range s.order {
		whole = whole && s.choices[index].finished
	}
	if !whole {
		s.err = io.ErrUnexpectedEOF
		return
	}
	if s.opts.includeUsage && s.usage != nil {
		u, err := marshal(openAIUsage(s.usage))
		if err != nil {
			s.err = err
			return
		}
		b, err := marshal(chatChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model, Choices: []chunkChoice{}, Usage: u})
		if err != nil {
			s.err = err
			return
		}
		s.emit(b)
	}
	s.emit([]byte("[DONE]"))
	s.err = io.EOF
}
