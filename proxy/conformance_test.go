package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/oaischema"
)

// TestResponsesMatchOpenAISchemas holds what the proxy sends — completions,
// stream chunks (usage chunk included, with its cost), errors and the model
// list — to the schemas of OpenAI's published OpenAPI document, which is
// what OpenAI-compatible clients are generated from. Members the proxy adds
// on purpose (usage.cost, error.metadata, the model's pricing) are allowed
// where OpenAI's schemas allow extra members.
func TestResponsesMatchOpenAISchemas(t *testing.T) {
	providers, _ := mockProviders(t, config.MockProvider{Name: "p1"})
	p := startProxy(t, testSetup{providers: providers, models: []config.Model{modelOn("gpt-4o", providers...)}})
	check := func(schema string, doc []byte) {
		t.Helper()
		if err := oaischema.Validate(schema, doc); err != nil {
			t.Errorf("%s: %v\n%s", schema, err, doc)
		}
	}

	resp := p.post(t, "/v1/chat/completions", helloBody)
	check("CreateChatCompletionResponse", readBody(t, resp))

	resp = p.post(t, "/v1/chat/completions", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	events := sseEvents(t, readBody(t, resp))
	for _, ev := range events[:len(events)-1] {
		check("CreateChatCompletionStreamResponse", []byte(ev))
	}
	if !strings.Contains(events[len(events)-2], `"cost":`) {
		t.Errorf("the last chunk carries no usage.cost: %s", events[len(events)-2])
	}

	for _, body := range []string{`{"model":`, `{"model":"nope","messages":[{"role":"user","content":"x"}]}`} {
		check("ErrorResponse", readBody(t, p.post(t, "/v1/chat/completions", body)))
	}
	req, _ := http.NewRequest(http.MethodGet, p.url+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	models, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Body.Close()
	check("ListModelsResponse", readBody(t, models))
}
