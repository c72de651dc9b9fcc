package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/switchyard/switchyard/config"
)

func TestOpenAIPassthrough(t *testing.T) {
	providers, _ := mockProviders(t, config.MockProvider{Name: "p1"})
	p := startProxy(t, testSetup{providers: providers, models: []config.Model{modelOn("gpt-4o", providers...), modelOn("rerank-1", providers...)}})

	// An OpenAI SDK whose base URL is .../openai/v1 works unchanged.
	client := openai.NewClient(option.WithBaseURL(p.url+"/openai/v1/"), option.WithAPIKey(testKey), option.WithMaxRetries(0))
	resp, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	rec := p.sink.next(t)
	if rec.Usage.CompletionTokens != resp.Usage.CompletionTokens || rec.Provider != "p1" {
		t.Fatalf("record %+v", rec.Usage)
	}

	// Endpoints Switchyard does not model are relayed as they are.
	req, _ := http.NewRequest(http.MethodGet, p.url+"/openai/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&list); err != nil || r.StatusCode != 200 || list.Object != "list" || len(list.Data) == 0 || list.Data[0].OwnedBy != "p1" {
		t.Fatalf("GET /openai/v1/models: status %d %+v %v", r.StatusCode, list, err)
	}
	r.Body.Close()
	rec = p.sink.next(t)
	if rec.Endpoint != "/openai/v1/models" || rec.Provider != "p1" || rec.StatusCode != 200 {
		t.Fatalf("record endpoint %q provider %q status %d", rec.Endpoint, rec.Provider, rec.StatusCode)
	}

	// A body with a model is routed by it.
	r2 := p.post(t, "/openai/v1/rerank", `{"model":"rerank-1","query":"freight","documents":["freight cars","passenger cars"]}`)
	raw := readBody(t, r2)
	if r2.StatusCode != 200 || !strings.Contains(string(raw), "relevance_score") {
		t.Fatalf("rerank: status %d %s", r2.StatusCode, raw)
	}
	rec = p.sink.next(t)
	if rec.ModelRequested != "rerank-1" || rec.Provider != "p1" || rec.ResponseBody == "" {
		t.Fatalf("record %+v", rec)
	}
	// Without a key, nothing passes.
	req, _ = http.NewRequest(http.MethodGet, p.url+"/openai/v1/models", nil)
	r, _ = http.DefaultClient.Do(req)
	r.Body.Close()
	if r.StatusCode != 401 {
		t.Fatalf("no key: status %d", r.StatusCode)
	}
}
