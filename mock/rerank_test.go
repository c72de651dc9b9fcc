package mock

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/switchyard/switchyard/config"
)

func TestRerank(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	body := `{"model":"cohere/rerank-v3.5","query":"What is the capital of France?","documents":["Berlin is the capital of Germany.","Paris is the capital of France.",{"text":"France is in Europe.","image":"https://x/y.png"}],"top_n":2}`
	rec := serve(t, s, http.MethodPost, "/alpha/v1/rerank", body)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	m := decodeObject(t, rec.Body.Bytes())
	expectKeys(t, "response", m, "id", "model", "results", "usage")
	if id, _ := m["id"].(string); !regexp.MustCompile(`^rerank-[A-Za-z0-9]{24}$`).MatchString(id) {
		t.Errorf("id = %q", id)
	}
	expectValue(t, "model", m["model"], "cohere/rerank-v3.5")
	results := array(t, "results", m["results"])
	if len(results) != 2 {
		t.Fatalf("%d results, want top_n 2", len(results))
	}
	first := expectKeys(t, "results[0]", results[0], "index", "relevance_score", "document")
	second := expectKeys(t, "results[1]", results[1], "index", "relevance_score", "document")
	// Of the query's words of three letters or more ("what", "the",
	// "capital", "france"), Paris has three, Berlin two, Europe one.
	expectValue(t, "results[0].index", first["index"], "1")
	expectValue(t, "results[1].index", second["index"], "0")
	expectKeys(t, "document", first["document"], "text")
	expectValue(t, "document.text", object(t, "document", first["document"])["text"], "Paris is the capital of France.")
	s1, _ := first["relevance_score"].(interface{ Float64() (float64, error) }).Float64()
	s2, _ := second["relevance_score"].(interface{ Float64() (float64, error) }).Float64()
	if !(s1 > s2 && s1 <= 1 && s2 > 0) {
		t.Errorf("scores %v, %v", s1, s2)
	}
	u := expectKeys(t, "usage", m["usage"], "total_tokens")
	// The query (8 tokens) per document, and the documents: 9 + 8 + 5.
	expectValue(t, "total_tokens", u["total_tokens"], "46")

	// Every document, echoed as given, unless return_documents is false.
	all := decodeObject(t, serve(t, s, http.MethodPost, "/alpha/v1/rerank", `{"model":"m","query":"europe","documents":["a",{"text":"France is in Europe.","image":"https://x/y.png"}]}`).Body.Bytes())
	top := object(t, "results[0]", array(t, "results", all["results"])[0])
	expectKeys(t, "document", top["document"], "text", "image")
	bare := decodeObject(t, serve(t, s, http.MethodPost, "/alpha/v1/rerank", `{"model":"m","query":"q","documents":["a"],"return_documents":false}`).Body.Bytes())
	expectKeys(t, "result", array(t, "results", bare["results"])[0], "index", "relevance_score")

	again := serve(t, s, http.MethodPost, "/alpha/v1/rerank", body)
	if decodeObject(t, again.Body.Bytes())["results"].([]any)[0].(map[string]any)["relevance_score"] != first["relevance_score"] {
		t.Errorf("scores differ between identical requests")
	}
}

func TestRerankValidation(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	for _, tt := range []struct {
		body, code, param string
	}{
		{`{"query":"q","documents":["a"]}`, "missing_required_parameter", "model"},
		{`{"model":"m","documents":["a"]}`, "missing_required_parameter", "query"},
		{`{"model":"m","query":"q"}`, "missing_required_parameter", "documents"},
		{`{"model":"m","query":"q","documents":[]}`, "empty_array", "documents"},
		{`{"model":"m","query":"q","documents":[1]}`, "invalid_type", "documents"},
		{`{"model":"m","query":"q","documents":["a"],"top_n":0}`, "integer_below_min_value", "top_n"},
	} {
		rec := serve(t, s, http.MethodPost, "/alpha/v1/rerank", tt.body)
		if rec.Code != 400 {
			t.Errorf("%s: status %d", tt.body, rec.Code)
			continue
		}
		checkError(t, rec.Body.Bytes(), "invalid_request_error", tt.code, tt.param)
	}
}
