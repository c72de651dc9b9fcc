package gemini

import (
	"bytes"
	"io"
	"testing"
)

func BenchmarkTranslateChat(b *testing.B) {
	body := fixture(b, "chat_request/tools.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := translateChat(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTranslateResponse(b *testing.B) {
	body := fixture(b, "chat_response/thoughts_cached.json")
	e := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := translateResponse(body, chatOptions{model: "m"}, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChatStream reports the cost of one upstream event translated
// into chunks.
func BenchmarkChatStream(b *testing.B) {
	event := []byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hello, world\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":10,\"totalTokenCount\":10},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r\"}\r\n\r\n")
	const perStream = 100
	in := bytes.Repeat(event, perStream)
	e := testEnv()
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(event)))
	for b.Loop() {
		s := newChatStream(io.NopCloser(bytes.NewReader(in)), chatOptions{model: "m", includeUsage: true}, e)
		for {
			if _, err := s.Read(buf); err != nil {
				break
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perStream), "ns/event")
}
