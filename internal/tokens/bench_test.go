package tokens

import (
	"os"
	"strings"
	"testing"
)

func benchText(b *testing.B, name string) string {
	data, err := os.ReadFile("testdata/holdout/" + name)
	if err != nil {
		b.Fatal(err)
	}
	// About 16 KB, the size of a long chat transcript.
	return strings.Repeat(string(data), 16<<10/len(data)+1)[:16<<10]
}

func BenchmarkCount(b *testing.B) {
	for _, bc := range []struct{ name, file, model string }{
		{"english/o200k", "english_chat.txt", "gpt-4o"},
		{"english/cl100k", "english_chat.txt", "gpt-4"},
		{"go/o200k", "go_code.txt", "gpt-4o"},
		{"json/o200k", "chat_request.json", "gpt-4o"},
		{"multilingual/o200k", "multilingual.txt", "gpt-4o"},
	} {
		text := benchText(b, bc.file)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				Count(bc.model, text)
			}
		})
	}
}

func BenchmarkCountMessages(b *testing.B) {
	body, err := os.ReadFile("testdata/messages/bookshop_tool_calls.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := CountMessages("gpt-4o", body); err != nil {
			b.Fatal(err)
		}
	}
}
