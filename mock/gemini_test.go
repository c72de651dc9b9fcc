package mock

import (
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
)

var responseIDPattern = regexp.MustCompile(`^[A-Za-z0-9]{23}$`)

// geminiBasic is a system instruction of 28 bytes (7 tokens) and a turn of
// 6 (2).
const geminiBasic = `{"systemInstruction":{"parts":[{"text":"You are a helpful assistant."}]},"contents":[{"role":"user","parts":[{"text":"Hello!"}]}]}`

func geminiPathOf(model, method string) string {
	return "/gem/v1beta/models/" + model + ":" + method
}

// checkGeminiUsage checks usageMetadata field by field; zero counts must be
// absent, as Gemini leaves them out.
func checkGeminiUsage(t testing.TB, where string, v any, prompt, candidates, thoughts, cached int64) {
	t.Helper()
	keys := []string{"promptTokenCount", "totalTokenCount", "promptTokensDetails"}
	if candidates > 0 {
		keys = append(keys, "candidatesTokenCount")
	}
	if thoughts > 0 {
		keys = append(keys, "thoughtsTokenCount")
	}
	if cached > 0 {
		keys = append(keys, "cachedContentTokenCount", "cacheTokensDetails")
	}
	u := expectKeys(t, where, v, keys...)
	for key, want := range map[string]int64{"promptTokenCount": prompt, "candidatesTokenCount": candidates, "thoughtsTokenCount": thoughts, "cachedContentTokenCount": cached, "totalTokenCount": prompt + candidates + thoughts} {
		if want == 0 && key != "promptTokenCount" && key != "totalTokenCount" {
			continue
		}
		if got := number(t, where+"."+key, u[key]); got != want {
			t.Errorf("%s.%s = %d, want %d", where, key, got, want)
		}
	}
	details := array(t, "promptTokensDetails", u["promptTokensDetails"])
	sum := int64(0)
	for _, d := range details {
		e := expectKeys(t, "detail", d, "modality", "tokenCount")
		sum += number(t, "tokenCount", e["tokenCount"])
	}
	if sum != prompt {
		t.Errorf("%s: promptTokensDetails add up to %d, want %d", where, sum, prompt)
	}
}

func checkGeminiError(t testing.TB, body []byte, code int, status string) map[string]any {
	t.Helper()
	m := decodeObject(t, body)
	expectKeys(t, "error body", m, "error")
	e := object(t, "error", m["error"])
	if _, ok := e["details"]; ok {
		expectKeys(t, "error", e, "code", "message", "status", "details")
	} else {
		expectKeys(t, "error", e, "code", "message", "status")
	}
	expectValue(t, "code", e["code"], strconv.Itoa(code))
	expectValue(t, "status", e["status"], status)
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("empty message")
	}
	return e
}

func TestGeminiGenerateContentShape(t *testing.T) {
	s := New([]config.MockProvider{{Name: "gem", CompletionTokens: 8}})
	rec := serve(t, s, http.MethodPost, geminiPathOf("gemini-2.0-flash", "generateContent"), geminiBasic)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	m := decodeObject(t, rec.Body.Bytes())
	expectKeys(t, "response", m, "candidates", "usageMetadata", "modelVersion", "responseId")
	expectValue(t, "modelVersion", m["modelVersion"], "gemini-2.0-flash")
	if id, _ := m["responseId"].(string); !responseIDPattern.MatchString(id) {
		t.Errorf("responseId %q", id)
	}
	candidates := array(t, "candidates", m["candidates"])
	if len(candidates) != 1 {
		t.Fatalf("%d candidates", len(candidates))
	}
	c := expectKeys(t, "candidate", candidates[0], "content", "finishReason", "index")
	expectValue(t, "finishReason", c["finishReason"], "STOP")
	expectValue(t, "index", c["index"], "0")
	content := expectKeys(t, "content", c["content"], "parts", "role")
	expectValue(t, "role", content["role"], "model")
	parts := array(t, "parts", content["parts"])
	expectValue(t, "text", expectKeys(t, "part", parts[0], "text")["text"], expectedContent(8))
	checkGeminiUsage(t, "usageMetadata", m["usageMetadata"], 9, 8, 0, 0)
}

func TestGeminiUsageRules(t *testing.T) {
	s := New([]config.MockProvider{{Name: "gem", CompletionTokens: 8}})
	long := strings.Repeat("abcd", 1300)
	for _, tt := range []struct {
		name, model, body                   string
		prompt, candidates, thoughts, cache int64
		finish                              string
	}{
		{"thinking model", "gemini-2.5-flash", geminiBasic, 9, 8, 16, 0, "STOP"},
		{"thinking off", "gemini-2.5-flash", strings.Replace(geminiBasic, `{`, `{"generationConfig":{"thinkingConfig":{"thinkingBudget":0}},`, 1), 9, 8, 0, 0, "STOP"},
		{"thinking budget", "gemini-2.5-pro", strings.Replace(geminiBasic, `{`, `{"generation_config":{"thinking_config":{"thinking_budget":5}},`, 1), 9, 8, 5, 0, "STOP"},
		{"thoughts count against maxOutputTokens", "gemini-2.5-flash", strings.Replace(geminiBasic, `{`, `{"generationConfig":{"maxOutputTokens":20},`, 1), 9, 4, 16, 0, "MAX_TOKENS"},
		{"max output tokens", "gemini-2.0-flash", strings.Replace(geminiBasic, `{`, `{"generationConfig":{"maxOutputTokens":"3"},`, 1), 9, 3, 0, 0, "MAX_TOKENS"},
		{"stop sequences", "gemini-2.0-flash", strings.Replace(geminiBasic, `{`, `{"generationConfig":{"stopSequences":["fox"]},`, 1), 9, 4, 0, 0, "STOP"},
		{"candidates", "gemini-2.0-flash", strings.Replace(geminiBasic, `{`, `{"generationConfig":{"candidateCount":3},`, 1), 9, 24, 0, 0, "STOP"},
		{"an image", "gemini-2.0-flash", `{"contents":[{"parts":[{"inline_data":{"mime_type":"image/png","data":"AAAA"}},{"text":"What?"}]}]}`, 258 + 2, 8, 0, 0, "STOP"},
		{"implicit cache", "gemini-2.0-flash", `{"system_instruction":{"parts":[{"text":"` + long + `"}]},"contents":[{"role":"user","parts":[{"text":"Hello!"}]}]}`, 1302, 8, 0, 1280, "STOP"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := decodeObject(t, serve(t, s, http.MethodPost, geminiPathOf(tt.model, "generateContent"), tt.body).Body.Bytes())
			checkGeminiUsage(t, "usageMetadata", m["usageMetadata"], tt.prompt, tt.candidates, tt.thoughts, tt.cache)
			for _, c := range array(t, "candidates", m["candidates"]) {
				expectValue(t, "finishReason", object(t, "candidate", c)["finishReason"], tt.finish)
			}
		})
	}
	// Thoughts can use the whole budget: no parts at all, as Gemini does.
	m := decodeObject(t, serve(t, s, http.MethodPost, geminiPathOf("gemini-2.5-flash", "generateContent"), strings.Replace(geminiBasic, `{`, `{"generationConfig":{"maxOutputTokens":10},`, 1)).Body.Bytes())
	c := object(t, "candidate", array(t, "candidates", m["candidates"])[0])
	expectKeys(t, "content", c["content"], "role")
	expectValue(t, "finishReason", c["finishReason"], "MAX_TOKENS")
}

func TestGeminiAuthAndErrors(t *testing.T) {
	s := New([]config.MockProvider{{Name: "gem", APIKey: "AIza-secret", CompletionTokens: 4}})
	path := geminiPathOf("gemini-2.0-flash", "generateContent")
	for _, tt := range []struct {
		name, path string
		headers    []string
		code       int
		status     string
	}{
		{"header", path, []string{"x-goog-api-key", "AIza-secret"}, 200, ""},
		{"query", path + "?key=AIza-secret", nil, 200, ""},
		{"bearer", path, []string{"Authorization", "Bearer AIza-secret"}, 200, ""},
		{"missing", path, nil, 403, "PERMISSION_DENIED"},
		{"wrong", path, []string{"x-goog-api-key", "AIza-other"}, 400, "INVALID_ARGUMENT"},
		{"wrong in the query", path + "?key=AIza-other", nil, 400, "INVALID_ARGUMENT"},
	} {
		rec := serve(t, s, http.MethodPost, tt.path, geminiBasic, tt.headers...)
		if rec.Code != tt.code {
			t.Errorf("%s: status %d", tt.name, rec.Code)
			continue
		}
		if tt.code == 200 {
			continue
		}
		e := checkGeminiError(t, rec.Body.Bytes(), tt.code, tt.status)
		if tt.code == 400 {
			detail := object(t, "detail", array(t, "details", e["details"])[0])
			expectValue(t, "reason", detail["reason"], "API_KEY_INVALID")
		}
		if strings.Contains(rec.Body.String(), "AIza") {
			t.Errorf("the error echoes a key")
		}
	}
	key := []string{"x-goog-api-key", "AIza-secret"}
	for _, tt := range []struct {
		status int
		name   string
	}{{429, "RESOURCE_EXHAUSTED"}, {500, "INTERNAL"}, {503, "UNAVAILABLE"}, {504, "DEADLINE_EXCEEDED"}, {404, "NOT_FOUND"}} {
		rec := serve(t, s, http.MethodPost, path, geminiBasic, withHeaders(key, HeaderStatus, strconv.Itoa(tt.status))...)
		e := checkGeminiError(t, rec.Body.Bytes(), tt.status, tt.name)
		if tt.status == 429 {
			detail := object(t, "detail", array(t, "details", e["details"])[0])
			expectValue(t, "@type", detail["@type"], "type.googleapis.com/google.rpc.RetryInfo")
		}
	}
	for _, body := range []string{
		`{}`, `{"contents":[]}`, `{"contents":[{"parts":[]}]}`, `{"contents":[{"parts":[{}]}]}`,
		`{"contents":[{"role":"bot","parts":[{"text":"x"}]}]}`, `{"contents":"x"}`, `nope`,
		`{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"candidateCount":9}}`,
		`{"contents":[{"parts":[{"text":"x"}]}],"toolConfig":{"functionCallingConfig":{"mode":"SOMETIMES"}}}`,
		`{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"description":"no name"}]}]}`,
	} {
		rec := serve(t, s, http.MethodPost, path, body, key...)
		if rec.Code != 400 {
			t.Errorf("%s: status %d", body, rec.Code)
			continue
		}
		checkGeminiError(t, rec.Body.Bytes(), 400, "INVALID_ARGUMENT")
	}
	rec := serve(t, s, http.MethodPost, geminiPathOf("gemini-2.0-flash", "predict"), geminiBasic, key...)
	checkGeminiError(t, rec.Body.Bytes(), 404, "NOT_FOUND")
	rec = serve(t, s, http.MethodGet, path, "", key...)
	if rec.Code != 405 {
		t.Errorf("GET: %d", rec.Code)
	}
}

func TestGeminiFunctionCallsAndJSON(t *testing.T) {
	s := New([]config.MockProvider{{Name: "gem", CompletionTokens: 4}})
	tools := `"tools":[{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"},"days":{"type":"INTEGER","minimum":1}},"required":["city"]}},{"name":"get_time","parametersJsonSchema":{"type":"object","properties":{"zone":{"type":"string","enum":["UTC","CET"]}},"required":["zone"]}}]}]`
	for _, tt := range []struct {
		name, config, text string
		calls              []string
	}{
		{"ANY", `"toolConfig":{"functionCallingConfig":{"mode":"ANY"}}`, "Hello", []string{"get_weather", "get_time"}},
		{"ANY, allowed names", `"tool_config":{"function_calling_config":{"mode":"ANY","allowed_function_names":["get_time"]}}`, "Hello", []string{"get_time"}},
		{"AUTO, asked", `"toolConfig":{"functionCallingConfig":{"mode":"AUTO"}}`, "call the tools", []string{"get_weather", "get_time"}},
		{"default, not asked", `"toolConfig":{}`, "Hello", nil},
		{"NONE", `"toolConfig":{"functionCallingConfig":{"mode":"NONE"}}`, "call", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := `{` + tools + `,` + tt.config + `,"contents":[{"role":"user","parts":[{"text":"` + tt.text + `"}]}]}`
			m := decodeObject(t, serve(t, s, http.MethodPost, geminiPathOf("gemini-2.0-flash", "generateContent"), body).Body.Bytes())
			c := object(t, "candidate", array(t, "candidates", m["candidates"])[0])
			expectValue(t, "finishReason", c["finishReason"], "STOP")
			parts := array(t, "parts", object(t, "content", c["content"])["parts"])
			if len(tt.calls) == 0 {
				expectKeys(t, "part", parts[0], "text")
				return
			}
			if len(parts) != len(tt.calls) {
				t.Fatalf("parts %v", parts)
			}
			for i, name := range tt.calls {
				fc := expectKeys(t, "functionCall", expectKeys(t, "part", parts[i], "functionCall")["functionCall"], "name", "args")
				expectValue(t, "name", fc["name"], name)
				args := object(t, "args", fc["args"])
				if name == "get_weather" && (args["city"] == nil || number(t, "days", args["days"]) < 1) {
					t.Errorf("args %v", args)
				}
				if name == "get_time" && args["zone"] != "UTC" {
					t.Errorf("args %v", args)
				}
			}
		})
	}
	for name, config := range map[string]string{
		"responseSchema":       `"generationConfig":{"responseMimeType":"application/json","responseSchema":` + schemaCases["gemini"] + `}`,
		"response_json_schema": `"generation_config":{"response_mime_type":"application/json","response_json_schema":` + schemaCases["pydantic"] + `}`,
	} {
		body := `{` + config + `,"contents":[{"parts":[{"text":"Give me recipes"}]}]}`
		m := decodeObject(t, serve(t, s, http.MethodPost, geminiPathOf("gemini-2.0-flash", "generateContent"), body).Body.Bytes())
		text := object(t, "part", array(t, "parts", object(t, "content", object(t, "candidate", m["candidates"].([]any)[0])["content"])["parts"])[0])["text"].(string)
		schema := schemaCases["gemini"]
		if name != "responseSchema" {
			schema = schemaCases["pydantic"]
		}
		if errs := newSchemaChecker(t, schema).check(decodeAny(t, schema), decodeAny(t, text), "$"); len(errs) > 0 {
			t.Errorf("%s: %s: %v", name, text, errs)
		}
	}
}

func TestGeminiStream(t *testing.T) {
	s := New([]config.MockProvider{{Name: "gem", CompletionTokens: 5}})
	for _, sse := range []bool{true, false} {
		path := geminiPathOf("gemini-2.5-flash", "streamGenerateContent")
		if sse {
			path += "?alt=sse"
		}
		rec := serve(t, s, http.MethodPost, path, geminiBasic)
		var chunks []map[string]any
		if sse {
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Errorf("Content-Type %q", ct)
			}
			body := rec.Body.String()
			if !strings.HasSuffix(body, "\r\n\r\n") {
				t.Errorf("events do not end with CRLF CRLF")
			}
			for block := range strings.SplitSeq(strings.TrimSuffix(body, "\r\n\r\n"), "\r\n\r\n") {
				data, ok := strings.CutPrefix(block, "data: ")
				if !ok {
					t.Fatalf("not a data event: %q", block)
				}
				chunks = append(chunks, decodeObject(t, []byte(data)))
			}
		} else {
			var raw []json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
				t.Fatalf("not a JSON array: %v\n%s", err, rec.Body)
			}
			for _, r := range raw {
				chunks = append(chunks, decodeObject(t, r))
			}
		}
		if len(chunks) != 5 {
			t.Fatalf("sse=%v: %d chunks", sse, len(chunks))
		}
		var text strings.Builder
		id := chunks[0]["responseId"]
		for i, m := range chunks {
			expectValue(t, "responseId", m["responseId"], id)
			c := object(t, "candidate", array(t, "candidates", m["candidates"])[0])
			part := object(t, "part", array(t, "parts", object(t, "content", c["content"])["parts"])[0])
			text.WriteString(part["text"].(string))
			if i < 4 {
				expectKeys(t, "candidate", c, "content", "index")
			} else {
				expectValue(t, "finishReason", c["finishReason"], "STOP")
			}
			// Usage so far: the prompt, the thoughts spent before the first
			// token, the tokens sent.
			checkGeminiUsage(t, "usage", m["usageMetadata"], 9, int64(i+1), 10, 0)
		}
		if text.String() != expectedContent(5) {
			t.Errorf("streamed %q", text.String())
		}
	}
	// Function calls come whole, in one chunk.
	body := `{"tools":[{"functionDeclarations":[{"name":"f"}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY"}},"contents":[{"parts":[{"text":"x"}]}]}`
	rec := serve(t, s, http.MethodPost, geminiPathOf("gemini-2.0-flash", "streamGenerateContent")+"?alt=sse", body)
	if n := strings.Count(rec.Body.String(), "data: "); n != 1 || !strings.Contains(rec.Body.String(), `"functionCall":{"name":"f","args":{}}`) {
		t.Errorf("%d chunks:\n%s", n, rec.Body)
	}
	// A cut stream never sends the chunk with finishReason.
	srv := newHTTPServer(t, s)
	resp := post(t, srv+geminiPathOf("gemini-2.0-flash", "streamGenerateContent")+"?alt=sse", geminiBasic, HeaderCutAfter, "99")
	got, err := readAllErr(resp)
	if err == nil || strings.Contains(string(got), "finishReason") || strings.Count(string(got), "data: ") != 4 {
		t.Errorf("cut stream (err %v):\n%s", err, got)
	}
}

func TestGeminiEmbeddingsAndCount(t *testing.T) {
	s := New([]config.MockProvider{{Name: "gem"}})
	vector := func(v any) []float64 {
		var out []float64
		for _, x := range array(t, "values", object(t, "embedding", v)["values"]) {
			f, _ := x.(json.Number).Float64()
			out = append(out, f)
		}
		return out
	}
	m := decodeObject(t, serve(t, s, http.MethodPost, geminiPathOf("text-embedding-004", "embedContent"), `{"content":{"parts":[{"text":"hello"}]}}`).Body.Bytes())
	expectKeys(t, "response", m, "embedding")
	if v := vector(m["embedding"]); len(v) != 768 || math.Abs(norm(v)-1) > 1e-5 {
		t.Errorf("%d dimensions, norm %v", len(v), norm(v))
	}
	m = decodeObject(t, serve(t, s, http.MethodPost, geminiPathOf("gemini-embedding-001", "batchEmbedContents"), `{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"a"}]}},{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"b"}]},"output_dimensionality":16}]}`).Body.Bytes())
	embeddings := array(t, "embeddings", m["embeddings"])
	if len(embeddings) != 2 || len(vector(embeddings[0])) != 3072 || len(vector(embeddings[1])) != 16 {
		t.Errorf("batch: %d embeddings", len(embeddings))
	}
	for _, bad := range []string{`{}`, `{"content":{"parts":[{"text":"a"}]},"outputDimensionality":0}`} {
		if rec := serve(t, s, http.MethodPost, geminiPathOf("text-embedding-004", "embedContent"), bad); rec.Code != 400 {
			t.Errorf("%s: %d", bad, rec.Code)
		}
	}
	for _, body := range []string{geminiBasic, `{"generateContentRequest":{"model":"models/x",` + geminiBasic[1:] + `}`} {
		m = decodeObject(t, serve(t, s, http.MethodPost, geminiPathOf("gemini-2.0-flash", "countTokens"), body).Body.Bytes())
		expectKeys(t, "count", m, "totalTokens", "promptTokensDetails")
		expectValue(t, "totalTokens", m["totalTokens"], "9")
	}
}
