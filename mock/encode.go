package mock

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"unsafe"

	"github.com/switchyard/switchyard/internal/jsonx"
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

// spacedWords holds " The quick brown …": wordStarts[k] is where word k's
// leading space is, so that token i is a slice of it and costs no
// allocation.
var spacedWords, wordStarts = func() ([]byte, [len(words) + 1]int) {
	var b []byte
	var starts [len(words) + 1]int
	for k, w := range words {
		starts[k] = len(b)
		b = append(b, ' ')
		b = append(b, w...)
	}
	starts[len(words)] = len(b)
	return b, starts
}()

// wordToken returns token i of a generated reply: words[i%len(words)],
// preceded by a space unless it is the first. It must not be modified.
func wordToken(i int) []byte {
	k := i % len(words)
	start := wordStarts[k]
	if i == 0 {
		start++
	}
	return spacedWords[start:wordStarts[k+1]:wordStarts[k+1]]
}

// appendToken appends token i of the completion, unescaped (it is plain
// ASCII), for use inside a JSON string.
func appendToken(b []byte, i int) []byte {
	return append(b, wordToken(i)...)
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// idLength is the length of the random part of OpenAI's completion ids
// (chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG).
const idLength = 29

// appendCompletionID appends a fresh "chatcmpl-…" id.
func appendCompletionID(b []byte) []byte {
	return appendRandomID(b, "chatcmpl-", idLength)
}

// appendRandomID appends prefix and n random letters and digits.
func appendRandomID(b []byte, prefix string, n int) []byte {
	b = append(b, prefix...)
	var x uint64
	for i := range n {
		if i%10 == 0 { // 62^10 < 2^64: ten letters per random word
			x = rand.Uint64()
		}
		b = append(b, idAlphabet[x%uint64(len(idAlphabet))])
		x /= uint64(len(idAlphabet))
	}
	return b
}

// usage is an OpenAI completion's token accounting.
type usage struct {
	promptTokens     int
	completionTokens int
	cachedTokens     int
	// reasoningTokens are part of completionTokens.
	reasoningTokens int
}

// appendUsage appends the usage object of chat completions, with its
// details, as OpenAI sends it.
func appendUsage(b []byte, u usage) []byte {
	b = appendUsageCounts(b, u)
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
	b = strconv.AppendInt(b, int64(u.cachedTokens), 10)
	b = append(b, `,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":`...)
	b = strconv.AppendInt(b, int64(u.reasoningTokens), 10)
	return append(b, `,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`...)
}

// appendUsageCounts appends the three counts every OpenAI usage has,
// leaving the object open.
func appendUsageCounts(b []byte, u usage) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(u.promptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(u.completionTokens), 10)
	b = append(b, `,"total_tokens":`...)
	return strconv.AppendInt(b, int64(u.promptTokens+u.completionTokens), 10)
}

const hexDigits = "0123456789abcdef"

// appendString writes a JSON string as the proxy does.
var appendString = jsonx.AppendString

// appendEscaped appends s escaped for the inside of a JSON string. The
// text is only read, so it is passed as a string without a copy.
func appendEscaped(b, s []byte) []byte {
	return jsonx.AppendEscaped(b, unsafe.String(unsafe.SliceData(s), len(s)))
}

func appendStringOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}
