package mock

import (
	"net/http"
	"strconv"
	"time"
)

// completion is everything a chat completion response needs, settled
// before it is written.
type completion struct {
	model        string
	created      int64
	fingerprint  string
	usage        usage
	includeUsage bool
	// tokensPerSecond paces stream chunks; 0 sends them back to back.
	tokensPerSecond float64
	// cutAfter, when not negative, aborts the response: after this many
	// content chunks for a stream, after this many body bytes otherwise.
	cutAfter  int
	malformed bool
	// n is the number of choices; they all carry the same reply.
	n int
	// logprobs asks for log probabilities, with topLogprobs alternatives.
	logprobs    bool
	topLogprobs int
	ans         answer
	ids         callIDs
}

func (s *Server) chatCompletion(w http.ResponseWriter, r *http.Request, p *provider) {
	x, ok := begin(w, r, p, dialectOpenAI)
	if !ok {
		return
	}
	defer x.release()
	var req chatRequest
	if aerr := parseChatRequest(x.body, &req); aerr != nil {
		x.fail(w, aerr)
		return
	}
	if !x.behave(w, r) {
		return
	}
	// Scratch space for a JSON reply or a stop-sequence search.
	var scratch *[]byte
	if req.ResponseFormat != nil || len(req.Stop) > 0 {
		scratch = getBuffer()
		defer putBuffer(scratch)
	}
	c := completion{
		model:           req.Model,
		created:         time.Now().Unix(),
		fingerprint:     p.fingerprint,
		includeUsage:    req.includeUsage(),
		tokensPerSecond: x.b.tokensPerSecond,
		cutAfter:        x.b.cutAfter,
		malformed:       x.b.malformed,
		n:               1,
		logprobs:        req.Logprobs != nil && *req.Logprobs,
	}
	if req.N != nil {
		c.n = int(*req.N)
	}
	if req.TopLogprobs != nil {
		c.topLogprobs = int(*req.TopLogprobs)
	}
	if aerr := req.reply(&c.ans, x.b.completionTokens, scratch); aerr != nil {
		x.fail(w, aerr)
		return
	}
	if len(c.ans.calls) > 0 {
		c.ids = newCallIDs()
	}
	c.usage.promptTokens, c.usage.cachedTokens = promptTokens(req.Messages, req.toolTokens())
	c.usage.completionTokens = c.n * c.ans.outputTokens()
	c.usage.reasoningTokens = c.n * c.ans.reasoning

	if !x.admit(w, r) {
		return
	}
	if req.Stream {
		p.stats.streams.Add(1)
		if !writeStream(w, r, &c) {
			p.stats.canceled.Add(1)
		}
		return
	}
	// The body is no longer needed (nothing in c points into it): its
	// buffer takes the response.
	b := appendCompletion((*x.buf)[:0], &c)
	*x.buf = b
	writeBody(w, headerJSON, b, &x.b)
}

// reply settles what the model answers to req, planned at words tokens:
// tool calls (see pickTools), JSON for response_format, or words; then
// reasoning for reasoning models and the token limit. The JSON text is
// written into scratch, which is needed (not nil) only with a
// response_format or stop sequences.
func (req *chatRequest) reply(a *answer, words int, scratch *[]byte) *apiError {
	specs := req.toolSpecs()
	if picks := pickTools(specs, req.toolChoice(), req.userAsksToCall()); len(picks) > 0 {
		calls, i, err := makeCalls(specs, picks)
		if err != nil {
			param := "tools[" + strconv.Itoa(req.toolIndex(i)) + "].function.parameters"
			return badRequest(param, "invalid_function_parameters", "Invalid schema for function '"+specs[i].name+"': "+err.Error()+".")
		}
		a.setCalls(calls)
	} else if rf := req.ResponseFormat; rf != nil && rf.Type == "json_schema" {
		doc, err := generateFromSchema(rf.JSONSchema.Schema)
		if err != nil {
			return badRequest("response_format", "invalid_value", "Invalid schema for response_format '"+*rf.JSONSchema.Name+"': "+err.Error()+".")
		}
		a.setText(doc)
	} else if rf != nil && rf.Type == "json_object" {
		*scratch = appendJSONObjectReply((*scratch)[:0], words)
		a.setText(*scratch)
	} else if scratch != nil {
		*scratch = a.setWords(words, req.Stop, (*scratch)[:0])
	} else {
		a.setWords(words, nil, nil)
	}
	if isReasoningModel(req.Model) {
		a.think(-1)
	}
	a.limit(req.limit())
	return nil
}

// appendJSONObjectReply appends the reply of JSON mode without a schema:
// {"answer":"<the words>"}.
func appendJSONObjectReply(b []byte, words int) []byte {
	b = append(b, `{"answer":"`...)
	for i := range words {
		b = append(b, wordToken(i)...)
	}
	return append(b, `"}`...)
}

// toolSpecs lists the function tools; custom tools are never called.
func (req *chatRequest) toolSpecs() []toolSpec {
	if len(req.Tools) == 0 {
		return nil
	}
	specs := make([]toolSpec, 0, len(req.Tools))
	for _, t := range req.Tools {
		if t.Type == toolTypeFunction && t.Function != nil && t.Function.Name != nil {
			specs = append(specs, toolSpec{name: *t.Function.Name, schema: t.Function.Parameters})
		}
	}
	return specs
}

// toolIndex maps an index of toolSpecs back to one of tools.
func (req *chatRequest) toolIndex(spec int) int {
	n := -1
	for i, t := range req.Tools {
		if t.Type == toolTypeFunction && t.Function != nil && t.Function.Name != nil {
			n++
		}
		if n == spec {
			return i
		}
	}
	return spec
}

func (req *chatRequest) toolChoice() *toolChoice {
	c := &toolChoice{}
	if req.ToolChoice != nil {
		*c = req.ToolChoice.choice
	}
	c.single = req.ParallelToolCalls != nil && !*req.ParallelToolCalls
	return c
}

// userAsksToCall is the rule for tool_choice "auto": the last message is
// the user's and mentions "call".
func (req *chatRequest) userAsksToCall() bool {
	if len(req.Messages) == 0 {
		return false
	}
	last := req.Messages[len(req.Messages)-1]
	return last.Role == roleUser && last.Content.mentions&mentionsCall != 0
}

// appendCompletion appends a whole chat.completion object, in the field order
// OpenAI uses.
func appendCompletion(b []byte, c *completion) []byte {
	b = append(b, `{"id":"`...)
	b = appendCompletionID(b)
	b = append(b, `","object":"chat.completion","created":`...)
	b = strconv.AppendInt(b, c.created, 10)
	b = append(b, `,"model":`...)
	b = appendString(b, c.model)
	b = append(b, `,"choices":[`...)
	a := &c.ans
	for choice := range c.n {
		if choice > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(choice), 10)
		b = append(b, `,"message":{"role":"assistant","content":`...)
		if len(a.calls) > 0 {
			b = append(b, `null,"tool_calls":[`...)
			for k, call := range a.calls {
				if k > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"id":"`...)
				b = c.ids.appendID(b, "call_", choice*len(a.calls)+k)
				b = append(b, `","type":"function","function":{"name":`...)
				b = appendString(b, call.name)
				b = append(b, `,"arguments":"`...)
				b = appendEscaped(b, call.args)
				b = append(b, `"}}`...)
			}
			b = append(b, ']')
		} else {
			b = append(b, '"')
			b = a.appendText(b)
			b = append(b, '"')
		}
		b = append(b, `,"refusal":null,"annotations":[]},"logprobs":`...)
		if c.logprobs && len(a.calls) == 0 {
			b = append(b, `{"content":[`...)
			cur := tokenCursor{a: a}
			for i := range a.tokens {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendLogprob(b, cur.next(), i, c.topLogprobs)
			}
			b = append(b, `],"refusal":null}`...)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"finish_reason":"`...)
		b = append(b, a.finish.openAI()...)
		b = append(b, `"}`...)
	}
	b = append(b, `],"usage":`...)
	b = appendUsage(b, c.usage)
	b = append(b, `,"service_tier":"default","system_fingerprint":"`...)
	b = append(b, c.fingerprint...)
	return append(b, "\"}\n"...)
}

// appendLogprob appends one entry of logprobs.content: the token, its log
// probability, its bytes and top alternatives, the first being the token
// itself. The figures are made up, deterministically: token i has log
// probability between -0.2 and 0, its alternatives 1.5 lower each.
func appendLogprob(b, token []byte, i, top int) []byte {
	lp := tokenLogprob(i)
	b = appendLogprobToken(b, token, lp, 0)
	b = append(b, `,"top_logprobs":[`...)
	for k := range top {
		if k > 0 {
			b = append(b, ',')
		}
		alt := token
		if k > 0 {
			alt = wordToken(1 + i + 7*k) // a different word, with its space
		}
		b = appendLogprobToken(b, alt, lp, k)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendLogprobToken appends `{"token":…,"logprob":…,"bytes":[…]` for
// the rank-th likeliest token, leaving the object open. lp is the
// likeliest's log probability in ten-thousandths, negated.
func appendLogprobToken(b, token []byte, lp, rank int) []byte {
	b = append(b, `{"token":"`...)
	b = appendEscaped(b, token)
	b = append(b, `","logprob":`...)
	b = strconv.AppendFloat(b, -float64(lp+15000*rank)/10000, 'f', -1, 64)
	b = append(b, `,"bytes":[`...)
	for j, c := range token {
		if j > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(c), 10)
	}
	return append(b, ']')
}

// tokenLogprob is token i's made-up log probability, in ten-thousandths
// and negated: from 1 to 2000, so from -0.0001 to -0.2.
func tokenLogprob(i int) int {
	h := uint64(i+1) * 0x9E3779B97F4A7C15
	h ^= h >> 29
	return 1 + int(h%2000)
}
