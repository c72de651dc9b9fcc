package anthropic

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/sse"
)

func benchFixture(b *testing.B, path string) []byte {
	b.Helper()
	data, err := readFileB(path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func readFileB(path string) ([]byte, error) {
	return os.ReadFile(filepath.Join("testdata", path))
}

// longStream is an Anthropic stream of n text deltas.
func longStream(n int) []byte {
	var b strings.Builder
	b.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-20250514\",\"content\":[],\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n")
	b.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
	for i := 0; i < n; i++ {
		b.WriteString("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" token\"}}\n\n")
	}
	b.WriteString("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n")
	b.WriteString("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":100}}\n\n")
	b.WriteString("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	return []byte(b.String())
}

// BenchmarkChunkStream is the per-chunk cost of translating a stream: ns/op
// and allocs/op are per upstream event.
func BenchmarkChunkStream(b *testing.B) {
	const deltas = 100
	stream := longStream(deltas)
	tr := translatedRequest{includeUsage: true}
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)) / (deltas + 5))
	b.ResetTimer()
	for i := 0; i < b.N; i += deltas + 5 {
		s := newChunkStream(io.NopCloser(bytes.NewReader(stream)), tr, testCreated)
		for {
			if _, err := s.Read(buf); err != nil {
				break
			}
		}
	}
}

func BenchmarkOpenAIStreamToMessages(b *testing.B) {
	const deltas = 100
	oai := readStream(newChunkStream(io.NopCloser(bytes.NewReader(longStream(deltas))), translatedRequest{includeUsage: true}, testCreated))
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += deltas + 5 {
		s := OpenAIStreamToMessages(io.NopCloser(bytes.NewReader(oai)))
		for {
			if _, err := s.Read(buf); err != nil {
				break
			}
		}
	}
}

// BenchmarkStreamObserver is the per-event cost of observing native
// pass-through streams.
func BenchmarkStreamObserver(b *testing.B) {
	stream := longStream(100)
	var events [][2][]byte
	rd := sse.NewReader(bufio.NewReader(bytes.NewReader(stream)), maxEventBytes)
	for {
		ev, data, err := rd.Next()
		if err != nil {
			break
		}
		events = append(events, [2][]byte{append([]byte(nil), ev...), append([]byte(nil), data...)})
	}
	b.ReportAllocs()
	b.ResetTimer()
	var o StreamObserver
	for i := 0; i < b.N; i++ {
		e := events[i%len(events)]
		_, _ = o.Observe(e[0], e[1])
	}
}

func BenchmarkChatToMessages(b *testing.B) {
	body := benchFixture(b, "request_openai_to_anthropic/tool_results.in.json")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := chatToMessages(body, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMessageToCompletion(b *testing.B) {
	body := benchFixture(b, "response_anthropic_to_openai/tool_use_parallel.in.json")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := messageToCompletion(body, "", testCreated); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMessageUsage(b *testing.B) {
	body := benchFixture(b, "response_anthropic_to_openai/tool_use_parallel.in.json")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := ParseMessageUsage(body); err != nil {
			b.Fatal(err)
		}
	}
}
