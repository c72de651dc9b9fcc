package mock

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Responses are built by appending to pooled byte slices: no reflection and,
// in the steady state, no allocation on the hot path.

const (
	initialBufferSize = 4 << 10
	// Larger buffers (huge prompts or completions) are left to the GC rather
	// than kept alive by the pool.
	maxPooledBufferSize = 1 << 20
)

var bufferPool = sync.Pool{New: func() any {
	b := make([]byte, 0, initialBufferSize)
	return &b
}}

func getBuffer() *[]byte { return bufferPool.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) > maxPooledBufferSize {
		return
	}
	*b = (*b)[:0]
	bufferPool.Put(b)
}

// words are the completion's tokens, one word each. Token i is
// words[i%len(words)], preceded by a space unless it is the first, the way
// BPE tokenizers split English text; so the streamed deltas concatenate to
// exactly the non-streaming content. Plain ASCII: no JSON escaping needed.
var words = [...]string{
	"The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog",
	"while", "a", "simulated", "model", "streams", "tokens", "at", "a",
	"steady", "pace", "so", "that", "gateways", "can", "measure", "latency",
	"cost", "and", "throughput", "without", "calling", "real", "providers",
}

// appendToken appends token i of the completion, unescaped (it is plain
// ASCII), for use inside a JSON string.
func appendToken(b []byte, i int) []byte {
	if i > 0 {
		b = append(b, ' ')
	}
	return append(b, words[i%len(words)]...)
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// idLength is the length of the random part of OpenAI's completion ids
// (chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG).
const idLength = 29

// appendCompletionID appends a fresh "chatcmpl-…" id.
func appendCompletionID(b []byte) []byte {
	b = append(b, "chatcmpl-"...)
	var x uint64
	for i := range idLength {
		if i%10 == 0 { // 62^10 < 2^64: ten letters per random word
			x = rand.Uint64()
		}
		b = append(b, idAlphabet[x%uint64(len(idAlphabet))])
		x /= uint64(len(idAlphabet))
	}
	return b
}

// usage is a completion's token accounting.
type usage struct {
	promptTokens     int
	completionTokens int
	cachedTokens     int
}

func appendUsage(b []byte, u usage) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(u.promptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(u.completionTokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(u.promptTokens+u.completionTokens), 10)
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
	b = strconv.AppendInt(b, int64(u.cachedTokens), 10)
	b = append(b, `,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`...)
	return b
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
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":"`...)
	for i := range c.usage.completionTokens {
		b = appendToken(b, i)
	}
	b = append(b, `","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"`...)
	b = append(b, c.finishReason...)
	b = append(b, `"}],"usage":`...)
	b = appendUsage(b, c.usage)
	b = append(b, `,"service_tier":"default","system_fingerprint":"`...)
	b = append(b, c.fingerprint...)
	return append(b, "\"}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Control characters, quotes and
// backslashes are escaped; invalid UTF-8 becomes U+FFFD, as encoding/json
// does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendStringOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}
