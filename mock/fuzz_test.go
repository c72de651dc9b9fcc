package mock

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
