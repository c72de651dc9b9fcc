package mock

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
)

// FuzzChatCompletion checks that no request body makes the handler panic,
// that every answer is 200 or 400, that a 200 is valid JSON (or valid SSE
// events of JSON ending in [DONE]) and a 400 an OpenAI error, and that the
// same body always gets the same usage.
func FuzzChatCompletion(f *testing.F) {
	for _, seed := range []string{
		basicBody,
		streamBody,
		streamUsageBody,
		`{"model":"m","max_tokens":2,"max_completion_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"a\u00e9\ud83d\ude00"},{"type":"image_url","image_url":{"url":"x"}}]}]}`,
		`{"model":"m","messages":[{"role":"user","content":"\ud800 lone"}],"stream":true,"stream_options":null}`,
		`{"model":"m","messages":[{"role":"tool","content":null}],"stream_options":{"include_usage":"yes"}}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":5}]}]}`,
		`{"model":"m","messages":[{"role":"user"}],"max_tokens":-1}`,
		`{"model":"m","messages":null}`,
		`{"model":"\xff","messages":[{"role":"user","content":"\xfe"}]}`,
		`[]`, `null`, `"x"`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	s := New([]config.MockProvider{{Name: "fuzz", CompletionTokens: 4}})
	f.Fuzz(func(t *testing.T, body []byte) {
		var usage []byte
		for attempt := range 2 {
			req := httptest.NewRequest(http.MethodPost, "/fuzz/v1/chat/completions", bytes.NewReader(body))
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			var got []byte
			switch rec.Code {
			case http.StatusOK:
				got = checkSuccess(t, rec)
			case http.StatusBadRequest:
				var e struct {
					Error *struct {
						Message string `json:"message"`
						Type    string `json:"type"`
					} `json:"error"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.Type != "invalid_request_error" {
					t.Fatalf("400 without an OpenAI error: %s", rec.Body)
				}
			default:
				t.Fatalf("status %d for %q", rec.Code, body)
			}
			if attempt == 1 && !bytes.Equal(got, usage) {
				t.Fatalf("usage changed between identical requests: %s then %s", usage, got)
			}
			usage = got
		}
	})
}

// checkSuccess checks a 200 answer and returns its usage, if any.
func checkSuccess(t *testing.T, rec *httptest.ResponseRecorder) []byte {
	body := rec.Body.Bytes()
	if !bytes.HasPrefix(body, []byte("data: ")) {
		var c struct {
			Usage json.RawMessage `json:"usage"`
		}
		if err := json.Unmarshal(body, &c); err != nil {
			t.Fatalf("200 with invalid JSON: %v\n%s", err, body)
		}
		return c.Usage
	}
	events := bytes.Split(bytes.TrimSuffix(body, []byte("\n\n")), []byte("\n\n"))
	if string(events[len(events)-1]) != "data: [DONE]" {
		t.Fatalf("stream does not end with [DONE]: %s", body)
	}
	var usage []byte
	for _, ev := range events[:len(events)-1] {
		var c struct {
			Usage json.RawMessage `json:"usage"`
		}
		if err := json.Unmarshal(bytes.TrimPrefix(ev, []byte("data: ")), &c); err != nil {
			t.Fatalf("invalid chunk %q: %v", ev, err)
		}
		if len(c.Usage) > 0 && string(c.Usage) != "null" {
			usage = c.Usage
		}
	}
	return usage
}

// fuzzServe sends body to path and fails unless the answer is a 200 or a
// 400 in the wire format's error shape (which isError checks).
func fuzzServe(t *testing.T, s *Server, path string, body []byte, isError func([]byte) bool, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	switch rec.Code {
	case http.StatusOK:
	case http.StatusBadRequest:
		if !isError(rec.Body.Bytes()) {
			t.Fatalf("400 not in the format's error shape: %s", rec.Body)
		}
	default:
		t.Fatalf("status %d for %q", rec.Code, body)
	}
	return rec
}

func isOpenAIError(b []byte) bool {
	var e struct {
		Error *struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"error"`
	}
	return json.Unmarshal(b, &e) == nil && e.Error != nil && e.Error.Message != "" && e.Error.Type == "invalid_request_error"
}

func isAnthropicError(b []byte) bool {
	var e struct {
		Type  string `json:"type"`
		Error *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	return json.Unmarshal(b, &e) == nil && e.Type == "error" && e.Error != nil && e.Error.Message != "" && e.Error.Type == "invalid_request_error"
}

func isGeminiError(b []byte) bool {
	var e struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	return json.Unmarshal(b, &e) == nil && e.Error != nil && e.Error.Code == 400 && e.Error.Message != "" && e.Error.Status == "INVALID_ARGUMENT"
}

// fuzzOpenAI is the invariant of the OpenAI-compatible endpoints: no body
// makes the handler panic; every answer is 200 or an OpenAI 400; a 200 is
// JSON (or SSE events of JSON ending in [DONE]); the same body always gets
// the same usage.
func fuzzOpenAI(f *testing.F, path string, seeds ...string) {
	for _, seed := range append(seeds, `[]`, `null`, `"x"`, `{`, ``, `{"model":"\xff"}`) {
		f.Add([]byte(seed))
	}
	s := New([]config.MockProvider{{Name: "fuzz", CompletionTokens: 4}})
	f.Fuzz(func(t *testing.T, body []byte) {
		var usage []byte
		for attempt := range 2 {
			rec := fuzzServe(t, s, path, body, isOpenAIError)
			var got []byte
			if rec.Code == http.StatusOK {
				got = checkSuccess(t, rec)
			}
			if attempt == 1 && !bytes.Equal(got, usage) {
				t.Fatalf("usage changed between identical requests: %s then %s", usage, got)
			}
			usage = got
		}
	})
}

func FuzzTextCompletion(f *testing.F) {
	fuzzOpenAI(f, "/fuzz/v1/completions",
		`{"model":"m","prompt":"Say this","max_tokens":3,"n":2}`,
		`{"model":"m","prompt":["a","b"],"stream":true,"stream_options":{"include_usage":true},"stop":"quick"}`,
		`{"model":"m","prompt":[1,2,3]}`, `{"model":"m","prompt":[[1],[2,3]],"max_tokens":0}`,
		`{"model":"m","prompt":["a",[1]]}`, `{"model":"m","prompt":[1.5]}`)
}

func FuzzEmbeddings(f *testing.F) {
	fuzzOpenAI(f, "/fuzz/v1/embeddings",
		`{"model":"text-embedding-3-small","input":"hello","dimensions":4}`,
		`{"model":"text-embedding-3-large","input":["a","\u00e9"],"encoding_format":"base64","dimensions":3}`,
		`{"model":"m","input":[[1,2],[3]],"dimensions":2}`, `{"model":"m","input":[1,"a"]}`,
		`{"model":"text-embedding-ada-002","input":"x","dimensions":2}`)
}

func FuzzRerank(f *testing.F) {
	fuzzOpenAI(f, "/fuzz/v1/rerank",
		`{"model":"m","query":"capital of France","documents":["Paris","Berlin",{"text":"France","image":"x"}],"top_n":2}`,
		`{"model":"m","query":"","documents":[{}],"return_documents":false}`,
		`{"model":"m","query":"q","documents":[null]}`)
}

// FuzzChatCompletionFeatures adds tools, structured outputs, choices and
// logprobs to FuzzChatCompletion's invariant.
func FuzzChatCompletionFeatures(f *testing.F) {
	fuzzOpenAI(f, "/fuzz/v1/chat/completions",
		toolsBody(`"required"`, `{"role":"user","content":"x"}`, `,"stream":true,"stream_options":{"include_usage":true}`),
		toolsBody("", `{"role":"user","content":"call"}`, `,"parallel_tool_calls":false`),
		`{"model":"m","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":`+schemaCases["recursive"]+`}},"messages":[{"role":"user","content":"x"}]}`,
		`{"model":"m","response_format":{"type":"json_object"},"max_tokens":3,"messages":[{"role":"user","content":"JSON"}]}`,
		`{"model":"o3","n":3,"logprobs":true,"top_logprobs":20,"stop":["fox","lazy"],"stream":true,"messages":[{"role":"user","content":"x"}]}`,
		`{"model":"m","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"$ref":"#"}}}}}],"tool_choice":{"type":"function","function":{"name":"f"}},"messages":[{"role":"user","content":"x"}]}`)
}

// FuzzAnthropicMessages checks the Messages endpoint: no panic; 200 or an
// Anthropic 400; a 200 is a JSON message or a stream of named events of
// JSON ending in message_stop; identical requests count the same prompt
// (the cache moves tokens between its fields, not in or out of the total).
func FuzzAnthropicMessages(f *testing.F) {
	long := strings.Repeat("abcd", 1100)
	for _, seed := range []string{
		anthropicBasic,
		`{"model":"c","max_tokens":5,"stream":true,"stop_sequences":["quick"],"system":[{"type":"text","text":"` + long + `","cache_control":{"type":"ephemeral","ttl":"1h"}}],"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}]}`,
		`{"model":"c","max_tokens":50,"tools":[{"name":"t","input_schema":{"type":"object","properties":{"a":{"type":"integer"}}}}],"tool_choice":{"type":"any"},"stream":true,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"t","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"42"}]}]}`,
		`{"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"x"}},{"type":"unknown"}]}]}`,
		`{"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"text":5}]}]}`,
		`[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	s := New([]config.MockProvider{{Name: "fuzz", CompletionTokens: 4}})
	f.Fuzz(func(t *testing.T, body []byte) {
		var total []int64
		for attempt := range 2 {
			rec := fuzzServe(t, s, "/fuzz/v1/messages", body, isAnthropicError, anthropicHeaders...)
			if rec.Code != http.StatusOK {
				return
			}
			var u struct {
				Input, Write, Read, Output int64
			}
			out := rec.Body.Bytes()
			if bytes.HasPrefix(out, []byte("event: ")) {
				events := parseNamedSSE(t, string(out))
				if events[0].name != "message_start" || events[len(events)-1].name != "message_stop" {
					t.Fatalf("stream from %s to %s", events[0].name, events[len(events)-1].name)
				}
				out, _ = json.Marshal(events[0].data["message"])
			}
			var m struct {
				Usage struct {
					Input int64 `json:"input_tokens"`
					Write int64 `json:"cache_creation_input_tokens"`
					Read  int64 `json:"cache_read_input_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("200 with invalid JSON: %v\n%s", err, out)
			}
			u.Input, u.Write, u.Read = m.Usage.Input, m.Usage.Write, m.Usage.Read
			got := []int64{u.Input + u.Write + u.Read}
			if attempt == 1 && got[0] != total[0] {
				t.Fatalf("the prompt counted %d, then %d", total[0], got[0])
			}
			total = got
		}
	})
}

// FuzzGeminiGenerateContent checks generateContent and its streams: no
// panic; 200 or a Google 400; a 200 is JSON (SSE events of JSON, or a JSON
// array); identical requests get identical usage.
func FuzzGeminiGenerateContent(f *testing.F) {
	for _, seed := range []string{
		geminiBasic,
		`{"contents":[{"parts":[{"text":"call"}]}],"tools":[{"function_declarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"x":{"type":"ARRAY","items":{"type":"NUMBER"}}}}}]}]}`,
		`{"contents":[{"role":"model","parts":[{"functionCall":{"name":"f","args":{}}}]},{"role":"function","parts":[{"functionResponse":{"name":"f","response":{}}}]}],"generationConfig":{"candidateCount":2,"maxOutputTokens":"3","stopSequences":["quick"]}}`,
		`{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{"a":{"type":"STRING","enum":["x"]}}},"thinkingConfig":{"thinkingBudget":3}}}`,
		`{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"AA"}}]}]}`,
		`[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(seed), uint8(0))
	}
	s := New([]config.MockProvider{{Name: "fuzz", CompletionTokens: 4}})
	paths := []string{
		"/fuzz/v1beta/models/gemini-2.5-flash:generateContent",
		"/fuzz/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
		"/fuzz/v1beta/models/gemini-2.0-flash:streamGenerateContent",
		"/fuzz/v1beta/models/gemini-2.0-flash:countTokens",
	}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		path := paths[int(which)%len(paths)]
		var usage []byte
		for attempt := range 2 {
			rec := fuzzServe(t, s, path, body, isGeminiError)
			if rec.Code != http.StatusOK {
				return
			}
			out := rec.Body.Bytes()
			var last []byte
			switch {
			case strings.Contains(path, "alt=sse"):
				for block := range bytes.SplitSeq(bytes.TrimSuffix(out, []byte("\r\n\r\n")), []byte("\r\n\r\n")) {
					data, ok := bytes.CutPrefix(block, []byte("data: "))
					if !ok || !json.Valid(data) {
						t.Fatalf("bad event %q", block)
					}
					last = data
				}
			case strings.Contains(path, "stream"):
				var chunks []json.RawMessage
				if err := json.Unmarshal(out, &chunks); err != nil || len(chunks) == 0 {
					t.Fatalf("not a JSON array of chunks: %v\n%s", err, out)
				}
				last = chunks[len(chunks)-1]
			default:
				if !json.Valid(out) {
					t.Fatalf("200 with invalid JSON: %s", out)
				}
				last = out
			}
			var m struct {
				Usage json.RawMessage `json:"usageMetadata"`
				Total json.RawMessage `json:"totalTokens"`
			}
			if err := json.Unmarshal(last, &m); err != nil {
				t.Fatal(err)
			}
			got := append(m.Usage, m.Total...)
			if attempt == 1 && !bytes.Equal(got, usage) {
				t.Fatalf("usage changed between identical requests: %s then %s", usage, got)
			}
			usage = got
		}
	})
}

// FuzzSchema checks the JSON Schema generator: any schema either fails to
// parse or generates, deterministically, a bounded, valid JSON document.
func FuzzSchema(f *testing.F) {
	for _, schema := range schemaCases {
		f.Add([]byte(schema))
	}
	for _, seed := range []string{`{"$ref":"#"}`, `{"type":"array","minItems":"99999999999","items":{"$ref":"#"}}`, `true`, `false`, `{"enum":[]}`, `{"type":[]}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, schema []byte) {
		ps, err := parseSchema(schema)
		if err != nil {
			return
		}
		doc := ps.generate(nil)
		if !json.Valid(doc) {
			t.Fatalf("invalid JSON %q from %s", doc, schema)
		}
		if len(doc) > 2*schemaMaxBytes+schemaMaxLength+len(schema) {
			t.Fatalf("%d bytes", len(doc))
		}
		if again := ps.generate(nil); !bytes.Equal(doc, again) {
			t.Fatalf("not deterministic")
		}
	})
}
