package anthropic

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/switchyard/switchyard/internal/sse"
)

func TestParseMessageUsage(t *testing.T) {
	cases := []struct {
		fixture   string
		wantUsage Usage
		wantStop  string
	}{
		{"text_cache_usage", Usage{InputTokens: 12, OutputTokens: 15, CacheReadTokens: 20000, CacheWriteTokens: 1500}, "end_turn"},
		{"tool_use_parallel", Usage{InputTokens: 400, OutputTokens: 90}, "tool_use"},
		{"thinking", Usage{InputTokens: 30, OutputTokens: 120}, "end_turn"}, // null cache counts
	}
	for _, tc := range cases {
		u, stop, err := ParseMessageUsage(readFixture(t, "testdata/response_anthropic_to_openai/"+tc.fixture+".in.json"))
		if err != nil || u != tc.wantUsage || stop != tc.wantStop {
			t.Errorf("%s: got %+v %q %v, want %+v %q", tc.fixture, u, stop, err, tc.wantUsage, tc.wantStop)
		}
	}

	_, _, err := ParseMessageUsage([]byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Type != "overloaded_error" || apiErr.Message != "Overloaded" {
		t.Errorf("error body: %v", err)
	}
	if _, _, err := ParseMessageUsage([]byte(`{"object":"chat.completion"}`)); !errors.Is(err, ErrNotMessage) {
		t.Errorf("chat completion: %v", err)
	}
	if _, _, err := ParseMessageUsage([]byte(`{"type":"message"`)); err == nil {
		t.Error("truncated body: no error")
	}
}

// observe feeds a fixture's events to an observer and returns the indexes
// of the events that reported the first content.
func observe(t *testing.T, o *StreamObserver, stream []byte) (contentAt []int, err error) {
	t.Helper()
	rd := sse.NewReader(bufio.NewReader(bytes.NewReader(stream)), 1<<20)
	for i := 0; ; i++ {
		event, data, rerr := rd.Next()
		if rerr == io.EOF {
			return contentAt, nil
		}
		if rerr != nil {
			t.Fatal(rerr)
		}
		content, oerr := o.Observe(event, data)
		if oerr != nil {
			return contentAt, oerr
		}
		if content {
			contentAt = append(contentAt, i)
		}
	}
}

func TestStreamObserver(t *testing.T) {
	cases := []struct {
		fixture   string
		contentAt []int // event indexes; ping counts
		usage     Usage
		stop      string
		done      bool
	}{
		{"text_cache", []int{3}, Usage{InputTokens: 25, OutputTokens: 15, CacheReadTokens: 20000, CacheWriteTokens: 1500}, "end_turn", true},
		{"tool_use_parallel", []int{2}, Usage{InputTokens: 472, OutputTokens: 89}, "tool_use", true},
		{"tool_use_first", []int{1}, Usage{InputTokens: 50, OutputTokens: 12}, "tool_use", true},
		{"thinking", []int{2}, Usage{InputTokens: 30, OutputTokens: 120}, "end_turn", true},
		{"max_tokens", []int{2}, Usage{InputTokens: 8, OutputTokens: 4}, "max_tokens", false},
		{"truncated", []int{2}, Usage{InputTokens: 8, OutputTokens: 1}, "", false},
		{"refusal_no_usage", nil, Usage{InputTokens: 20}, "refusal", true},
	}
	for _, tc := range cases {
		var o StreamObserver
		contentAt, err := observe(t, &o, readFixture(t, "testdata/stream_anthropic_to_openai/"+tc.fixture+".in.sse"))
		if err != nil {
			t.Errorf("%s: %v", tc.fixture, err)
		}
		if len(contentAt) != len(tc.contentAt) || len(contentAt) > 0 && contentAt[0] != tc.contentAt[0] {
			t.Errorf("%s: first content at events %v, want %v", tc.fixture, contentAt, tc.contentAt)
		}
		if o.Usage() != tc.usage || o.StopReason() != tc.stop || o.Done() != tc.done {
			t.Errorf("%s: usage %+v stop %q done %v, want %+v %q %v", tc.fixture, o.Usage(), o.StopReason(), o.Done(), tc.usage, tc.stop, tc.done)
		}
	}

	var o StreamObserver
	_, err := observe(t, &o, readFixture(t, "testdata/stream_anthropic_to_openai/error_midstream.in.sse"))
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Type != "overloaded_error" {
		t.Errorf("error event: %v", err)
	}
	if o.Usage().InputTokens != 10 {
		t.Errorf("usage before the error lost: %+v", o.Usage())
	}
	if _, err := o.Observe([]byte("content_block_delta"), []byte(`{"type":`)); err == nil {
		t.Error("malformed event: no error")
	}
}
