package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/tokens"
	"github.com/switchyard/switchyard/proxy/provider"
	"github.com/switchyard/switchyard/record"
)

const estimateRequest = `{"model":"m","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Name three rivers of Europe and one fact about each."}]}`

const estimateAnswer = "The Danube flows through ten countries. The Rhine carries much of Europe's barge traffic. The Loire is France's longest river."

// noUsageUpstream answers like a server that reports no usage at all.
func noUsageUpstream(t *testing.T) provider.Adapter {
	return upstreamFunc(func(_ context.Context, _ string, _ []byte, stream bool) (*http.Response, error) {
		if !stream {
			body := `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":` +
				string(mustJSON(t, estimateAnswer)) + `,"tool_calls":[{"id":"t","type":"function","function":{"name":"lookup","arguments":"{\"river\":\"Danube\"}"}}]},"finish_reason":"stop"}]}`
			return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body))}, nil
		}
		var sb strings.Builder
		for _, word := range strings.SplitAfter(estimateAnswer, " ") {
			sb.WriteString(`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":` + string(mustJSON(t, word)) + `},"finish_reason":null}]}` + "\n\n")
		}
		sb.WriteString(`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"lookup","arguments":"{\"river\":"}}]},"finish_reason":null}]}` + "\n\n")
		sb.WriteString(`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Danube\"}"}}]},"finish_reason":"stop"}]}` + "\n\n")
		sb.WriteString("data: [DONE]\n\n")
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(strings.NewReader(sb.String()))}, nil
	})
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEstimatedUsage checks that a provider that reports no usage still
// gets its requests counted and priced: the prompt from the request, the
// completion (text and tool call) from the response, marked estimated in
// the record and in the usage object the client receives.
func TestEstimatedUsage(t *testing.T) {
	p := startProxy(t, testSetup{
		providers: []config.Provider{{Name: "up", Type: "openai", BaseURL: "http://up.invalid"}},
		models:    []config.Model{{Name: "m", Deployments: []config.Deployment{{Provider: "up", Model: "gpt-4o-mini", Pricing: testPricing}}}},
	})
	p.srv.upstreams = map[string]provider.Adapter{"up": noUsageUpstream(t)}
	prompt, err := tokens.CountMessages("gpt-4o-mini", []byte(estimateRequest))
	if err != nil || prompt < 20 {
		t.Fatalf("prompt estimate %d, %v", prompt, err)
	}
	toolTokens := tokens.Count("gpt-4o-mini", "lookup") + tokens.Count("gpt-4o-mini", `{"river":"Danube"}`) + toolCallFraming
	completion := tokens.Count("gpt-4o-mini", estimateAnswer) + toolTokens
	wantCost := costNanoUSD(testPricing, record.Usage{PromptTokens: int64(prompt), CompletionTokens: int64(completion)})

	t.Run("json", func(t *testing.T) {
		resp := p.post(t, "/v1/chat/completions", estimateRequest)
		var out struct {
			Usage struct {
				PromptTokens     int64   `json:"prompt_tokens"`
				CompletionTokens int64   `json:"completion_tokens"`
				Cost             float64 `json:"cost"`
				Estimated        bool    `json:"estimated"`
			} `json:"usage"`
		}
		if err := json.Unmarshal(readBody(t, resp), &out); err != nil {
			t.Fatal(err)
		}
		rec := p.sink.next(t)
		if !rec.Usage.Estimated || rec.Usage.PromptTokens != int64(prompt) || rec.Usage.CompletionTokens != int64(completion) || rec.CostNUSD != wantCost {
			t.Fatalf("record usage %+v cost %d; want %d + %d tokens, cost %d", rec.Usage, rec.CostNUSD, prompt, completion, wantCost)
		}
		if !out.Usage.Estimated || out.Usage.PromptTokens != int64(prompt) || out.Usage.CompletionTokens != int64(completion) || out.Usage.Cost != float64(wantCost)/1e9 {
			t.Fatalf("client's usage %+v", out.Usage)
		}
	})

	t.Run("stream", func(t *testing.T) {
		resp := p.post(t, "/v1/chat/completions", strings.Replace(estimateRequest, `{"model":"m",`, `{"model":"m","stream":true,`, 1))
		events := sseEvents(t, readBody(t, resp))
		if len(events) < 3 || events[len(events)-1] != "[DONE]" {
			t.Fatalf("events %q", events)
		}
		var last struct {
			Choices []any `json:"choices"`
			Usage   *struct {
				PromptTokens, CompletionTokens int64
				Estimated                      bool
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(events[len(events)-2]), &last); err != nil || last.Usage == nil || len(last.Choices) != 0 {
			t.Fatalf("last chunk %s: %v", events[len(events)-2], err)
		}
		rec := p.sink.next(t)
		// Streamed word by word, the text's pieces are counted as one text:
		// the estimate matches the whole answer's.
		if !rec.Usage.Estimated || rec.Usage.PromptTokens != int64(prompt) || rec.Usage.CompletionTokens != int64(completion-toolCallFraming) {
			t.Fatalf("record usage %+v; want %d + %d tokens", rec.Usage, prompt, completion-toolCallFraming)
		}
		if rec.CostNUSD == 0 || !strings.Contains(rec.ResponseBody, `"estimated":true`) || !strings.Contains(rec.ResponseBody, "Loire") {
			t.Fatalf("cost %d body %s", rec.CostNUSD, rec.ResponseBody)
		}
	})
}

// TestCanceledStreamIsBilled checks that a stream the client abandons is
// recorded as canceled with the usage relayed so far, and its cost.
func TestCanceledStreamIsBilled(t *testing.T) {
	for _, native := range []bool{false, true} {
		name := "openai"
		if native {
			name = "anthropic-native"
		}
		t.Run(name, func(t *testing.T) {
			providers, _ := mockProviders(t, config.MockProvider{Name: "slow", TokensPerSecond: 40, CompletionTokens: 400})
			path, body := "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"Tell me a long story about trains."}]}`
			if native {
				providers[0].Type = config.ProviderAnthropic
				providers[0].BaseURL = strings.TrimSuffix(providers[0].BaseURL, "/v1")
				path, body = "/anthropic/v1/messages", `{"model":"m","max_tokens":1000,"stream":true,"messages":[{"role":"user","content":"Tell me a long story about trains."}]}`
			}
			p := startProxy(t, testSetup{providers: providers, models: []config.Model{
				{Name: "m", Deployments: []config.Deployment{{Provider: "slow", Model: "claude-sonnet-4-20250514", Pricing: testPricing}}}}})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.url+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+testKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			// Read until some text has arrived, then hang up.
			sc := bufio.NewScanner(resp.Body)
			deltas := 0
			for deltas < 8 && sc.Scan() {
				if strings.Contains(sc.Text(), `"content":"`) || strings.Contains(sc.Text(), `"text_delta"`) {
					deltas++
				}
			}
			if deltas < 8 {
				t.Fatalf("only %d text events arrived: %v", deltas, sc.Err())
			}
			cancel()
			resp.Body.Close()
			rec := p.sink.next(t)
			if rec.Outcome != record.OutcomeCanceled {
				t.Fatalf("outcome %q", rec.Outcome)
			}
			u := rec.Usage
			// The simulated provider sends a token per event; an estimate
			// counts the text, so about that many.
			if !u.Estimated || u.PromptTokens < 5 || u.CompletionTokens < 4 || u.CompletionTokens >= 400 {
				t.Fatalf("usage %+v: want the prompt and the tokens of the 8 or more events relayed, estimated", u)
			}
			if rec.CostNUSD != costNanoUSD(testPricing, u) || rec.CostNUSD == 0 {
				t.Fatalf("cost %d for %+v", rec.CostNUSD, u)
			}
		})
	}
}

// TestEmptyUsageIsEstimated checks that a usage object of zeros (as some
// servers and Gemini's embeddings send) counts as none: the record and the
// client get an estimate in its place.
func TestEmptyUsageIsEstimated(t *testing.T) {
	p := startProxy(t, testSetup{
		providers: []config.Provider{{Name: "up", Type: "openai", BaseURL: "http://up.invalid"}},
		models: []config.Model{{Name: "emb", Deployments: []config.Deployment{{Provider: "up", Model: "text-embedding-3-small",
			Capabilities: config.Capabilities{Endpoints: []string{"embeddings"}}}}}},
	})
	p.srv.upstreams = map[string]provider.Adapter{"up": upstreamFunc(func(context.Context, string, []byte, bool) (*http.Response, error) {
		body := `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":0,"total_tokens":0}}`
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(body))}, nil
	})}
	inputs := []string{"The quick brown fox jumps over the lazy dog.", "Switchyards sort freight cars by destination."}
	resp := p.post(t, "/v1/embeddings", `{"model":"emb","input":`+string(mustJSON(t, inputs))+`}`)
	var out struct {
		Data  []any `json:"data"`
		Usage struct {
			PromptTokens int64   `json:"prompt_tokens"`
			Cost         float64 `json:"cost"`
			Estimated    bool    `json:"estimated"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(readBody(t, resp), &out); err != nil || len(out.Data) != 1 {
		t.Fatalf("response: %v %+v", err, out)
	}
	want := int64(tokens.Count("text-embedding-3-small", inputs[0]) + tokens.Count("text-embedding-3-small", inputs[1]))
	rec := p.sink.next(t)
	if !rec.Usage.Estimated || rec.Usage.PromptTokens != want || rec.Usage.CompletionTokens != 0 || rec.CostNUSD == 0 {
		t.Fatalf("record usage %+v cost %d, want %d prompt tokens", rec.Usage, rec.CostNUSD, want)
	}
	if !out.Usage.Estimated || out.Usage.PromptTokens != want || out.Usage.Cost != float64(rec.CostNUSD)/1e9 {
		t.Fatalf("client's usage %+v", out.Usage)
	}
}
