package sse

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

type event struct{ name, data string }

func readAll(t testing.TB, in string, max int) ([]event, error) {
	r := NewReader(bufio.NewReaderSize(strings.NewReader(in), 16), max)
	var out []event
	for {
		name, data, err := r.Next()
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		out = append(out, event{string(name), string(data)})
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []event
	}{
		{"openai", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []event{{"", `{"a":1}`}, {"", "[DONE]"}}},
		{"crlf and no space", "data:{\"a\":1}\r\n\r\n", []event{{"", `{"a":1}`}}},
		{"comments skipped", ": keep-alive\n\n: OPENROUTER PROCESSING\n\ndata: x\n\n", []event{{"", "x"}}},
		{"multi-line data", "data: a\ndata: b\n\n", []event{{"", "a\nb"}}},
		{"named events", "event: message_start\ndata: {}\n\nevent: ping\ndata: {}\n\n", []event{{"message_start", "{}"}, {"ping", "{}"}}},
		{"last event without blank line", "data: a\n\ndata: b", []event{{"", "a"}, {"", "b"}}},
		{"event without data is not returned", "event: x\n\ndata: y\n\n", []event{{"", "y"}}},
		{"long line beyond the bufio size", "data: " + strings.Repeat("z", 100) + "\n\n", []event{{"", strings.Repeat("z", 100)}}},
		{"unknown fields ignored", "id: 7\nretry: 10\ndata: q\n\n", []event{{"", "q"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, tt.in, 1<<10)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events %v, want %v", len(got), got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("event %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestReaderLimits(t *testing.T) {
	if _, err := readAll(t, "data: "+strings.Repeat("z", 200)+"\n\n", 64); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("long line: err = %v, want ErrEventTooLarge", err)
	}
	if _, err := readAll(t, strings.Repeat("data: zzzzzzzz\n", 20)+"\n", 64); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("many data lines: err = %v, want ErrEventTooLarge", err)
	}
}

// FuzzReader checks that no input panics or loops forever, and that no
// returned event exceeds the limit.
func FuzzReader(f *testing.F) {
	for _, s := range []string{"data: {}\n\n", "event: a\ndata: b\r\n\r\n", ":\n\n", "data", "\r\r\n\n", "data: " + strings.Repeat("x", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := NewReader(bufio.NewReaderSize(strings.NewReader(in), 16), 64)
		for i := 0; i <= len(in)+1; i++ {
			_, data, err := r.Next()
			if err != nil {
				return
			}
			if len(data) > 64 {
				t.Fatalf("event of %d bytes exceeds the limit", len(data))
			}
		}
		t.Fatalf("more events than input bytes from %q", in)
	})
}
