package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/proxy/provider"
	"github.com/switchyard/switchyard/record"
)

// secretsUpstream answers with a completion that leaks an email address,
// streamed or not.
func secretsUpstream() provider.Adapter {
	const content = "Sure, write to ops@example.org about ticket TICKET-4821."
	return upstreamFunc(func(_ context.Context, _ string, _ []byte, stream bool) (*http.Response, error) {
		if !stream {
			body := `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"` + content +
				`"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":12}}`
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(body))}, nil
		}
		var sb strings.Builder
		for _, w := range strings.SplitAfter(content, " ") {
			sb.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"` + w + `"},"finish_reason":null}]}` + "\n\n")
		}
		sb.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":12}}` + "\n\ndata: [DONE]\n\n")
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(sb.String()))}, nil
	})
}

// TestBodiesAreRedactedAndCut checks the recorded bodies: built-in and
// configured patterns replaced in both bodies (a streamed answer
// reassembled first), and a body over record_body_bytes cut at the limit
// without leaving part of a secret that straddles it.
func TestBodiesAreRedactedAndCut(t *testing.T) {
	const limit = 300
	p := startProxy(t, testSetup{
		providers: []config.Provider{{Name: "up", Type: "openai", BaseURL: "http://up.invalid"}},
		models:    []config.Model{{Name: "m", Deployments: []config.Deployment{{Provider: "up", Model: "m", Pricing: testPricing}}}},
		tweak: func(c *config.Proxy) {
			c.RecordBodyBytes = limit
			c.Redact.Patterns = []config.RedactPattern{{Name: "ticket", Regex: `TICKET-[0-9]+`}}
		},
	})
	p.srv.upstreams = map[string]provider.Adapter{"up": secretsUpstream()}

	// The card number starts 8 bytes before the limit.
	head := `{"model":"m","messages":[{"role":"user","content":"my key is sk-proj-abcdefghijklmnopqrstuvwxyz0123, reach me at jane.doe@example.com. `
	pad := strings.Repeat("x", limit-9-len(head))
	body := head + pad + ` 4111 1111 1111 1111 please"}]`
	for _, stream := range []bool{false, true} {
		req := body + `}`
		if stream {
			req = body + `,"stream":true}`
		}
		resp := p.post(t, "/v1/chat/completions", req)
		out := string(readBody(t, resp))
		if resp.StatusCode != 200 || !strings.Contains(out, "ops@example.org") {
			t.Fatalf("the client's answer must be untouched: %d %s", resp.StatusCode, out)
		}
		rec := p.sink.next(t)
		if !rec.BodyTruncated || len(rec.RequestBody) > limit {
			t.Fatalf("request body of %d bytes, truncated %v", len(rec.RequestBody), rec.BodyTruncated)
		}
		for _, leak := range []string{"sk-proj-abc", "jane.doe@", "4111 111"} {
			if strings.Contains(rec.RequestBody, leak) {
				t.Errorf("stream %v: request body keeps %q: %s", stream, leak, rec.RequestBody)
			}
		}
		for _, marker := range []string{"[REDACTED:openai_key]", "[REDACTED:email]"} {
			if !strings.Contains(rec.RequestBody, marker) {
				t.Errorf("stream %v: request body lacks %s: %s", stream, marker, rec.RequestBody)
			}
		}
		if strings.Contains(rec.ResponseBody, "ops@example.org") || strings.Contains(rec.ResponseBody, "TICKET-4821") ||
			!strings.Contains(rec.ResponseBody, "[REDACTED:email]") || !strings.Contains(rec.ResponseBody, "[REDACTED:ticket]") {
			t.Errorf("stream %v: response body %s", stream, rec.ResponseBody)
		}
	}
}

// TestRedactionOff checks that redaction can be turned off entirely.
func TestRedactionOff(t *testing.T) {
	off := false
	p := startProxy(t, testSetup{
		providers: []config.Provider{{Name: "up", Type: "openai", BaseURL: "http://up.invalid"}},
		models:    []config.Model{{Name: "m", Deployments: []config.Deployment{{Provider: "up", Model: "m", Pricing: testPricing}}}},
		tweak:     func(c *config.Proxy) { c.Redact.Defaults = &off },
	})
	p.srv.upstreams = map[string]provider.Adapter{"up": secretsUpstream()}
	readBody(t, p.post(t, "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"mail jane.doe@example.com"}]}`))
	rec := p.sink.next(t)
	if !strings.Contains(rec.RequestBody, "jane.doe@example.com") || !strings.Contains(rec.ResponseBody, "ops@example.org") || rec.BodyTruncated {
		t.Fatalf("bodies changed with redaction off: %s / %s", rec.RequestBody, rec.ResponseBody)
	}
}

// TestPublisherFiltersBodies checks that the publisher applies its filter
// before a record is encoded, on the queue's path and on the overflow's.
func TestPublisherFiltersBodies(t *testing.T) {
	cfg := config.Proxy{RecordBodyBytes: 64}
	f, err := NewBodyFilter(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &flakyWriter{}
	p := NewPublisher(w, PublisherOptions{QueueSize: 10, BatchSize: 10, Linger: time.Millisecond, Logger: discardLog, Filter: f})
	go p.Run()
	p.Publish(&record.Record{RequestID: "r1", RequestBody: `{"content":"card 4242 4242 4242 4242"}`, ResponseBody: strings.Repeat("y", 100)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if w.count() != 1 {
		t.Fatalf("%d messages", w.count())
	}
	rec, err := record.Decode(w.got[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	if rec.RequestBody != `{"content":"card [REDACTED:payment_card]"}` || len(rec.ResponseBody) != 64 || !rec.BodyTruncated {
		t.Fatalf("published %q / %d bytes, truncated %v", rec.RequestBody, len(rec.ResponseBody), rec.BodyTruncated)
	}
}
