package mock

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
)

const streamBody = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello!"}]}`

const streamUsageBody = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello!"}]}`

func TestStreamShape(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		headers      []string
		includeUsage bool
		tokens       int
		finishReason string
	}{
		{name: "without usage", body: streamBody, tokens: 8, finishReason: "stop"},
		{name: "with usage", body: streamUsageBody, includeUsage: true, tokens: 8, finishReason: "stop"},
		{name: "include_usage false", body: strings.Replace(streamUsageBody, "true}", "false}", 1), tokens: 8, finishReason: "stop"},
		{name: "max_tokens", body: strings.Replace(streamUsageBody, `"stream":true`, `"stream":true,"max_tokens":3`, 1), includeUsage: true, tokens: 3, finishReason: "length"},
		{name: "zero tokens", body: streamUsageBody, headers: []string{HeaderCompletionTokens, "0"}, includeUsage: true, tokens: 0, finishReason: "stop"},
	}
	s := New([]config.MockProvider{testProvider("alpha")})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", tt.body, tt.headers...)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Errorf("Content-Type = %q", ct)
			}
			if !rec.Flushed {
				t.Errorf("never flushed")
			}
			events := parseSSE(t, rec.Body.String())
			want := 1 + tt.tokens + 1 + 1 // role, content, finish, [DONE]
			if tt.includeUsage {
				want++
			}
			if len(events) != want {
				t.Fatalf("%d events, want %d:\n%s", len(events), want, rec.Body)
			}
			if events[len(events)-1].data != "[DONE]" {
				t.Fatalf("last event %q, want [DONE]", events[len(events)-1].data)
			}

			var id, fingerprint string
			var created int64
			var content strings.Builder
			for i, ev := range events[:len(events)-1] {
				where := "chunk " + strconv.Itoa(i)
				m := decodeObject(t, []byte(ev.data))
				keys := []string{"id", "object", "created", "model", "service_tier", "system_fingerprint", "choices"}
				if tt.includeUsage {
					keys = append(keys, "usage")
				}
				expectKeys(t, where, m, keys...)
				expectValue(t, where+".object", m["object"], "chat.completion.chunk")
				expectValue(t, where+".model", m["model"], "gpt-4o-mini")
				if i == 0 {
					id, fingerprint, created = m["id"].(string), m["system_fingerprint"].(string), number(t, "created", m["created"])
					if !completionIDPattern.MatchString(id) {
						t.Errorf("id = %q", id)
					}
				} else if m["id"] != id || m["system_fingerprint"] != fingerprint || number(t, "created", m["created"]) != created {
					t.Errorf("%s: id, created or fingerprint differ from the first chunk's", where)
				}
				choices := m["choices"].([]any)

				if tt.includeUsage && i == len(events)-2 {
					if len(choices) != 0 {
						t.Errorf("usage chunk has choices %v", choices)
					}
					checkUsage(t, where+".usage", m["usage"], basicPromptTokens, int64(tt.tokens), 0)
					continue
				}
				if tt.includeUsage && m["usage"] != nil {
					t.Errorf("%s.usage = %v, want null", where, m["usage"])
				}
				if len(choices) != 1 {
					t.Fatalf("%s: %d choices", where, len(choices))
				}
				choice := expectKeys(t, where+".choices[0]", choices[0], "index", "delta", "logprobs", "finish_reason")
				expectValue(t, where+".index", choice["index"], "0")
				expectValue(t, where+".logprobs", choice["logprobs"], nil)
				switch {
				case i == 0:
					delta := expectKeys(t, where+".delta", choice["delta"], "role", "content", "refusal")
					expectValue(t, where+".delta.role", delta["role"], "assistant")
					expectValue(t, where+".delta.content", delta["content"], "")
					expectValue(t, where+".delta.refusal", delta["refusal"], nil)
					expectValue(t, where+".finish_reason", choice["finish_reason"], nil)
				case i <= tt.tokens:
					delta := expectKeys(t, where+".delta", choice["delta"], "content")
					content.WriteString(delta["content"].(string))
					expectValue(t, where+".finish_reason", choice["finish_reason"], nil)
				default:
					expectKeys(t, where+".delta", choice["delta"])
					expectValue(t, where+".finish_reason", choice["finish_reason"], tt.finishReason)
				}
			}
			if content.String() != expectedContent(tt.tokens) {
				t.Errorf("content %q, want %q", content.String(), expectedContent(tt.tokens))
			}
		})
	}
}

// The streamed deltas concatenate to the plain response's content, and both
// report the same usage.
func TestStreamMatchesPlainResponse(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	plain := decodeObject(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", basicBody).Body.Bytes())
	events := parseSSE(t, serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", streamUsageBody).Body.String())
	var content strings.Builder
	for _, ev := range events[1 : len(events)-3] {
		m := decodeObject(t, []byte(ev.data))
		content.WriteString(m["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)["content"].(string))
	}
	want := plain["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]
	if content.String() != want {
		t.Errorf("streamed %q, plain %q", content.String(), want)
	}
	usage := decodeObject(t, []byte(events[len(events)-2].data))["usage"]
	checkUsage(t, "stream usage", usage, basicPromptTokens, 8, 0)
	checkUsage(t, "plain usage", plain["usage"], basicPromptTokens, 8, 0)
}

func TestStreamCutAfter(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	srv := httptest.NewServer(s)
	defer srv.Close()
	tests := []struct {
		cutAfter      string
		contentChunks int
	}{
		{"0", 0},
		{"3", 3},
		{"8", 8},   // as many as there are: cut before the finish chunk
		{"100", 8}, // more than there are
	}
	for _, tt := range tests {
		t.Run(tt.cutAfter, func(t *testing.T) {
			resp := post(t, srv.URL+"/alpha/v1/chat/completions", streamUsageBody, HeaderCutAfter, tt.cutAfter)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			body, err := readAllErr(resp)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("read error %v, want an unexpected EOF", err)
			}
			events := parseSSE(t, string(body))
			if len(events) != 1+tt.contentChunks {
				t.Fatalf("%d events before the cut, want %d:\n%s", len(events), 1+tt.contentChunks, body)
			}
			for _, ev := range events {
				if ev.data == "[DONE]" || strings.Contains(ev.data, `"finish_reason":"`) {
					t.Errorf("a cut stream sent %s", ev.data)
				}
			}
		})
	}
	if st := s.Stats("alpha"); st.Streams != int64(len(tests)) {
		t.Errorf("Stats = %+v", st)
	}
}

func TestStreamMalformed(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	for _, tokens := range []string{"8", "0"} {
		rec := serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", streamBody, HeaderMalformed, "1", HeaderCompletionTokens, tokens)
		events := parseSSE(t, rec.Body.String())
		bad := 0
		for _, ev := range events {
			if ev.data != "[DONE]" && !jsonValid([]byte(ev.data)) {
				bad++
			}
		}
		if bad != 1 {
			t.Errorf("tokens=%s: %d garbage events, want 1:\n%s", tokens, bad, rec.Body)
		}
		if events[len(events)-1].data != "[DONE]" {
			t.Errorf("tokens=%s: the stream did not go on to [DONE]", tokens)
		}
	}
}

func TestStreamLatencyAndPacing(t *testing.T) {
	s := New([]config.MockProvider{{Name: "slow", Latency: 60 * time.Millisecond, TokensPerSecond: 50, CompletionTokens: 5}})
	srv := httptest.NewServer(s)
	defer srv.Close()

	start := time.Now()
	resp := post(t, srv.URL+"/slow/v1/chat/completions", streamBody)
	defer resp.Body.Close()
	if headers := time.Since(start); headers < 60*time.Millisecond {
		t.Errorf("headers after %v, want at least the 60ms latency", headers)
	}
	r := bufio.NewReader(resp.Body)
	var firstContent, last time.Duration
	contentChunks := 0
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(line, `"delta":{"content"`) {
			contentChunks++
			if contentChunks == 1 {
				firstContent = time.Since(start)
			}
			last = time.Since(start)
		}
	}
	if contentChunks != 5 {
		t.Fatalf("%d content chunks, want 5", contentChunks)
	}
	if firstContent < 60*time.Millisecond {
		t.Errorf("first token after %v, want at least 60ms", firstContent)
	}
	// Five tokens at 50/s: four 20ms gaps after the first. (Measured from the
	// start, which precedes the server's: the gap between two arrivals could
	// shrink if the first arrived late.)
	if last < 60*time.Millisecond+80*time.Millisecond {
		t.Errorf("last token after %v, want at least 140ms", last)
	}

	start = time.Now()
	resp = post(t, srv.URL+"/slow/v1/chat/completions", streamBody, HeaderTokensPerSecond, "10", HeaderLatencyMs, "0")
	readAll(t, resp)
	if elapsed := time.Since(start); elapsed < 400*time.Millisecond {
		t.Errorf("5 tokens at 10/s took %v, want at least 400ms", elapsed)
	}
}

func TestStreamClientGoneMidway(t *testing.T) {
	s := New([]config.MockProvider{{Name: "slow", TokensPerSecond: 20, CompletionTokens: 1000}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	resp := post(t, srv.URL+"/slow/v1/chat/completions", streamBody)
	r := bufio.NewReader(resp.Body)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats("slow").Canceled != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the stream did not stop after its client left: %+v", s.Stats("slow"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
