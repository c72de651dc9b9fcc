package mock

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// This file is the simulated model itself, independent of the wire format
// that carries its reply: what it says (generated words, a fixed text such
// as a JSON document, tool calls), how a token limit or a stop sequence
// ends it, and how much hidden reasoning it spends first.

// finish is why a reply ended; each wire format names it its own way.
type finish uint8

const (
	finishStop         finish = iota // a natural end
	finishLength                     // the token limit
	finishStopSequence               // a stop sequence
	finishToolCalls                  // the reply is tool calls
)

func (f finish) openAI() string {
	switch f {
	case finishLength:
		return "length"
	case finishToolCalls:
		return "tool_calls"
	}
	return "stop"
}

func (f finish) anthropic() string {
	switch f {
	case finishLength:
		return "max_tokens"
	case finishStopSequence:
		return "stop_sequence"
	case finishToolCalls:
		return "tool_use"
	}
	return "end_turn"
}

func (f finish) gemini() string {
	if f == finishLength {
		return "MAX_TOKENS"
	}
	return "STOP" // Gemini ends function calls and stop sequences with STOP too
}

// answer is one simulated reply.
type answer struct {
	// text, when not nil, is a fixed reply (a JSON document), split into
	// tokens of four bytes (extended to a whole UTF-8 character); nil means
	// the reply is generated words, one token each. It may be shared (see
	// generateFromSchema): it is never modified.
	text []byte
	// tokens is the number of visible text tokens.
	tokens int
	// lastTokenBytes, when positive, keeps only this many bytes of the last
	// word: a stop sequence began inside it.
	lastTokenBytes int
	// calls are the tool calls that follow the text, if any.
	calls []toolCall
	// callTokens is what the calls count as completion tokens.
	callTokens int
	// reasoning is hidden reasoning ("thinking") spent before the visible
	// reply; it counts as completion tokens and within the token limit.
	reasoning int
	finish    finish
	// stopSequence is the stop sequence that ended the reply.
	stopSequence string
}

// reasoningShare is how many hidden reasoning tokens a reasoning model
// spends per token of its visible reply: reasoning is two thirds of its
// completion tokens unless a limit cuts it.
const reasoningShare = 2

// outputTokens is what the reply counts as completion (output) tokens.
func (a *answer) outputTokens() int { return a.reasoning + a.tokens + a.callTokens }

// setWords makes the reply n generated words, ended by the earliest of
// stops that occurs in them. scratch is working space, returned grown.
func (a *answer) setWords(n int, stops []string, scratch []byte) []byte {
	a.text, a.tokens, a.lastTokenBytes, a.finish = nil, n, 0, finishStop
	if len(stops) == 0 || n == 0 {
		return scratch
	}
	// After the first word the text repeats with a period of one pass over
	// the word list, so a stop sequence that occurs at all occurs within
	// the first two passes plus its own length.
	longest := 0
	for _, s := range stops {
		longest = max(longest, len(s))
	}
	span := min(n, 2*len(words)+longest+1)
	text := scratch[:0]
	for i := range span {
		text = append(text, wordToken(i)...)
	}
	cut := -1
	for _, s := range stops {
		if s == "" {
			continue
		}
		if k := bytes.Index(text, []byte(s)); k >= 0 && (cut < 0 || k < cut) {
			cut, a.stopSequence = k, s
		}
	}
	if cut < 0 {
		return text
	}
	pos := 0
	for i := range span {
		l := len(wordToken(i))
		if pos+l > cut {
			// Token i holds the start of the stop sequence: keep what comes
			// before it.
			a.tokens = i
			if cut > pos {
				a.tokens, a.lastTokenBytes = i+1, cut-pos
			}
			break
		}
		pos += l
	}
	a.finish = finishStopSequence
	return text
}

// setText makes the reply the fixed text.
func (a *answer) setText(text []byte) {
	a.text, a.lastTokenBytes, a.finish = text, 0, finishStop
	a.tokens = countPieces(text)
}

// setCalls makes the reply end with tool calls.
func (a *answer) setCalls(calls []toolCall) {
	a.calls = calls
	a.callTokens = 0
	for _, c := range calls {
		a.callTokens += callTokens(c)
	}
	if len(calls) > 0 {
		a.finish = finishToolCalls
	}
}

// think gives a reasoning model its hidden reasoning, at most budget tokens
// (budget < 0: no budget).
func (a *answer) think(budget int64) {
	a.reasoning = reasoningShare * (a.tokens + a.callTokens)
	if budget >= 0 && int64(a.reasoning) > budget {
		a.reasoning = int(budget)
	}
}

// limit applies a token limit (< 0: none). The model reasons first, then
// writes its text; what does not fit is cut and the reply ends with
// finishLength. Tool calls are never cut.
func (a *answer) limit(limit int64) {
	if limit < 0 {
		return
	}
	a.reasoning = int(min(int64(a.reasoning), limit))
	room := limit - int64(a.reasoning)
	if int64(a.tokens) <= room {
		return
	}
	keep := int(room)
	if a.text != nil {
		end := 0
		for range keep {
			end = pieceEnd(a.text, end)
		}
		a.text = a.text[:end]
	}
	a.tokens, a.lastTokenBytes, a.stopSequence = keep, 0, ""
	if len(a.calls) == 0 {
		a.finish = finishLength
	}
}

// pieceEnd is the end of the fixed-text token that starts at pos: four
// bytes, extended to the end of a UTF-8 character.
func pieceEnd(text []byte, pos int) int {
	end := pos + 4
	if end >= len(text) {
		return len(text)
	}
	for end < len(text) && !utf8.RuneStart(text[end]) {
		end++
	}
	return end
}

func countPieces(text []byte) int {
	n := 0
	for pos := 0; pos < len(text); pos = pieceEnd(text, pos) {
		n++
	}
	return n
}

// tokenCursor walks an answer's visible text token by token.
type tokenCursor struct {
	a   *answer
	i   int // the next token
	pos int // fixed text: where the next token starts
}

// next returns the next token's bytes, unescaped. They must not be
// modified.
func (c *tokenCursor) next() []byte {
	a, i := c.a, c.i
	c.i++
	if a.text == nil {
		tok := wordToken(i)
		if i == a.tokens-1 && a.lastTokenBytes > 0 {
			tok = tok[:a.lastTokenBytes]
		}
		return tok
	}
	end := pieceEnd(a.text, c.pos)
	tok := a.text[c.pos:end]
	c.pos = end
	return tok
}

// appendText appends the whole visible text, escaped for a JSON string.
func (a *answer) appendText(b []byte) []byte {
	if a.text != nil {
		return appendEscaped(b, a.text)
	}
	c := tokenCursor{a: a}
	for range a.tokens {
		b = append(b, c.next()...) // words are plain ASCII
	}
	return b
}

// asksFor reports whether the JSON string literal raw contains word (ASCII
// lower case), ignoring ASCII case.
func asksFor(raw []byte, word string) bool {
	n := len(word)
	for i := 0; i+n <= len(raw); i++ {
		if raw[i]|0x20 != word[0] {
			continue
		}
		j := 1
		for j < n && raw[i+j]|0x20 == word[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

// isReasoningModel says whether an OpenAI-style model name is a reasoning
// model: o1, o3, o4 and gpt-5 families, or any name containing "reasoning".
// A provider prefix ("openai/o3-mini") is ignored.
func isReasoningModel(model string) bool {
	name := model[strings.LastIndexByte(model, '/')+1:]
	for _, p := range [...]string{"o1", "o3", "o4", "gpt-5"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return strings.Contains(name, "reasoning")
}
