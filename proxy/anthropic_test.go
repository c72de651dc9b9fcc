package proxy

import (
	"context"
	"strings"
	"testing"
	"time"

	anthropicsdk "github.com/anthropics/anthropic-sdk-go/v2"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/jsonx"
)

// longSystemPrompt is long enough (over Anthropic's 1,024-token minimum) to
// be cached.
var longSystemPrompt = strings.Repeat("You are a careful assistant for a railway operator. ", 120)

// anthropicSetup serves "claude" from a simulated Anthropic provider
// (native pass-through) and "gpt" from a simulated OpenAI-compatible one
// (translated), both with Anthropic-like prices.
func anthropicSetup(t *testing.T) (*testProxy, anthropicsdk.Client) {
	providers, _ := mockProviders(t, config.MockProvider{Name: "ant", CompletionTokens: 12}, config.MockProvider{Name: "oai", CompletionTokens: 12})
	providers[0].Type = config.ProviderAnthropic
	providers[0].BaseURL = strings.TrimSuffix(providers[0].BaseURL, "/v1") // Anthropic's base has no /v1
	claude := config.Pricing{Input: price("3"), Output: price("15"), CachedInput: price("0.30"), CacheWrite: price("3.75")}
	p := startProxy(t, testSetup{providers: providers, models: []config.Model{
		{Name: "claude", Deployments: []config.Deployment{{Provider: "ant", Model: "claude-sonnet-4-20250514", Pricing: claude}}},
		{Name: "gpt", Deployments: []config.Deployment{{Provider: "oai", Model: "gpt-4o", Pricing: testPricing}}},
	}})
	client := anthropicsdk.NewClient(
		anthropicoption.WithBaseURL(p.url+"/anthropic/"),
		anthropicoption.WithAPIKey(testKey),
		anthropicoption.WithMaxRetries(0),
	)
	return p, client
}

func TestAnthropicSDKThroughTheProxy(t *testing.T) {
	p, client := anthropicSetup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, model := range []string{"claude", "gpt"} {
		t.Run(model, func(t *testing.T) {
			params := anthropicsdk.MessageNewParams{
				Model:     anthropicsdk.Model(model),
				MaxTokens: 256,
				System:    []anthropicsdk.TextBlockParam{{Text: longSystemPrompt, CacheControl: anthropicsdk.NewCacheControlEphemeralParam()}},
				Messages:  []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("Which track does car 7 go to?"))},
			}
			msg, err := client.Messages.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			if len(msg.Content) == 0 || msg.Content[0].Text == "" || msg.Usage.OutputTokens != 12 {
				t.Fatalf("message %+v", msg)
			}
			rec := p.sink.next(t)
			u := msg.Usage
			if rec.Endpoint != endpointMessages || rec.Usage.CompletionTokens != u.OutputTokens ||
				rec.Usage.PromptTokens != u.InputTokens+u.CacheReadInputTokens+u.CacheCreationInputTokens ||
				rec.Usage.CachedTokens != u.CacheReadInputTokens || rec.Usage.CacheWriteTokens != u.CacheCreationInputTokens {
				t.Errorf("record usage %+v, the SDK saw %+v", rec.Usage, u)
			}
			if model == "claude" {
				if u.CacheCreationInputTokens == 0 {
					t.Errorf("the first request should write the cache: %+v", u)
				}
				// 3 USD/M uncached input, 3.75 cache writes, 0.30 cache reads, 15 output.
				want := u.InputTokens*3000 + u.CacheCreationInputTokens*3750 + u.CacheReadInputTokens*300 + u.OutputTokens*15000
				if rec.CostNUSD != want || rec.Provider != "ant" {
					t.Errorf("cost %d, want %d (provider %q)", rec.CostNUSD, want, rec.Provider)
				}
			}

			// The same request streamed: the cache is read now.
			stream := client.Messages.NewStreaming(ctx, params)
			var acc anthropicsdk.Message
			for stream.Next() {
				if err := acc.Accumulate(stream.Current()); err != nil {
					t.Fatal(err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if len(acc.Content) == 0 || acc.Content[0].Text != msg.Content[0].Text {
				t.Fatalf("streamed %+v, want the same text as %q", acc.Content, msg.Content[0].Text)
			}
			rec = p.sink.next(t)
			su := acc.Usage
			if !rec.Stream || rec.Usage.CompletionTokens != su.OutputTokens || rec.Usage.CachedTokens != su.CacheReadInputTokens ||
				rec.Usage.PromptTokens != su.InputTokens+su.CacheReadInputTokens+su.CacheCreationInputTokens {
				t.Errorf("stream record usage %+v, the SDK saw %+v", rec.Usage, su)
			}
			if model == "claude" && (su.CacheReadInputTokens == 0 || rec.CostNUSD != su.InputTokens*3000+su.CacheCreationInputTokens*3750+su.CacheReadInputTokens*300+su.OutputTokens*15000) {
				t.Errorf("the second request should read the cache, at its price: usage %+v, cost %d", su, rec.CostNUSD)
			}
			if rec.TTFTMs > rec.LatencyMs || !strings.Contains(rec.ResponseBody, acc.Content[0].Text) {
				t.Errorf("ttft %d latency %d body %q", rec.TTFTMs, rec.LatencyMs, rec.ResponseBody)
			}
		})
	}
}

func TestAnthropicErrorsHaveAnthropicsShape(t *testing.T) {
	p, client := anthropicSetup(t)
	_, err := client.Messages.New(context.Background(), anthropicsdk.MessageNewParams{
		Model: "no-such-model", MaxTokens: 10,
		Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))},
	})
	var apiErr *anthropicsdk.Error
	if err == nil || !errorsAs(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(apiErr.Error(), "no-such-model") {
		t.Errorf("error %v does not name the model", apiErr)
	}
	p.sink.next(t)
	// x-api-key is required on this path, as Anthropic requires it.
	bad := anthropicsdk.NewClient(anthropicoption.WithBaseURL(p.url+"/anthropic/"), anthropicoption.WithAPIKey("sk-wrong-key-1"), anthropicoption.WithMaxRetries(0))
	_, err = bad.Messages.New(context.Background(), anthropicsdk.MessageNewParams{
		Model: "claude", MaxTokens: 10,
		Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))},
	})
	if err == nil || !errorsAs(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Fatalf("wrong key: err = %v", err)
	}
}

// TestOpenAIClientsReachAnthropic sends OpenAI-shaped chat requests to a
// model served by an Anthropic provider: the adapter translates both ways,
// and the cache writes and reads Anthropic reports are billed at their own
// prices.
func TestOpenAIClientsReachAnthropic(t *testing.T) {
	p, _ := anthropicSetup(t)
	body := `{"model":"claude","messages":[{"role":"system","content":[{"type":"text","text":` +
		string(jsonString(longSystemPrompt)) + `,"cache_control":{"type":"ephemeral"}}]},{"role":"user","content":"Route car 9."}]}`
	var costs []int64
	for i, stream := range []string{"false", "true"} {
		resp := p.post(t, "/v1/chat/completions", strings.Replace(body, `{"model":"claude",`, `{"model":"claude","stream":`+stream+`,`, 1))
		raw := readBody(t, resp)
		if resp.StatusCode != 200 || resp.Header.Get("X-Switchyard-Provider") != "ant" {
			t.Fatalf("status %d provider %q: %s", resp.StatusCode, resp.Header.Get("X-Switchyard-Provider"), raw)
		}
		rec := p.sink.next(t)
		u := rec.Usage
		if i == 0 && (u.CacheWriteTokens == 0 || u.CachedTokens != 0) || i == 1 && (u.CachedTokens == 0 || u.CacheWriteTokens != 0) {
			t.Fatalf("request %d: usage %+v: the first should write the cache, the second read it", i, u)
		}
		uncached := u.PromptTokens - u.CachedTokens - u.CacheWriteTokens
		want := uncached*3000 + u.CacheWriteTokens*3750 + u.CachedTokens*300 + u.CompletionTokens*15000
		if rec.CostNUSD != want || u.CompletionTokens != 12 {
			t.Errorf("request %d: cost %d, want %d for %+v", i, rec.CostNUSD, want, u)
		}
		if !strings.Contains(string(raw), `"cost":`+config.FormatUSD(want)) {
			t.Errorf("request %d: the response does not carry usage.cost %s", i, config.FormatUSD(want))
		}
		costs = append(costs, rec.CostNUSD)
	}
	if costs[1] >= costs[0] {
		t.Errorf("reading the cache should cost less than writing it: %v", costs)
	}
}

func jsonString(s string) []byte { return jsonx.AppendString(nil, s) }
