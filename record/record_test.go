package record

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

func sample() *Record {
	return &Record{
		RequestID: "01a21773-8ae0-75cc-a8fb-165054da3357", TraceID: "5308aa8fcb53d4667d5f0332ba88f1e2", SpanID: "08c3773833c3ee4e",
		StartedAtMs: 1795689777888, LatencyMs: 115, Endpoint: "/v1/chat/completions", Model: "m", Provider: "p",
		Tags: []string{"a"}, Metadata: map[string]string{"k": "v <&>"}, StatusCode: 200, Outcome: OutcomeOK,
		Usage:    Usage{PromptTokens: 9, CompletionTokens: 32, CachedTokens: 1},
		CostNUSD: 41100, Attempts: []Attempt{{Provider: "p", StatusCode: 200}}, Routing: Routing{Strategy: "ordered"},
		RequestBody: `{"x":"é\u2028"}`,
	}
}

func TestRoundTrip(t *testing.T) {
	in := sample()
	b, err := Encode(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `\u003c`) || strings.HasSuffix(string(b), "\n") {
		t.Errorf("encoding escapes HTML or ends in a newline: %s", b)
	}
	out, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	in.SchemaVersion = SchemaVersion
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip differs:\n in %+v\nout %+v", in, out)
	}
	// Encode appends.
	b2, _ := Encode([]byte("prefix"), in)
	if !strings.HasPrefix(string(b2), "prefix{") {
		t.Errorf("Encode does not append: %s", b2)
	}
}

func TestDecodeRejects(t *testing.T) {
	for in, want := range map[string]error{
		`{"schema_version":2,"request_id":"x"}`: ErrUnsupportedVersion,
		`{"schema_version":0,"request_id":"x"}`: ErrUnsupportedVersion,
		`{"request_id":"x"}`:                    ErrUnsupportedVersion,
	} {
		if _, err := Decode([]byte(in)); !errors.Is(err, want) {
			t.Errorf("Decode(%s) = %v, want %v", in, err, want)
		}
	}
	for _, in := range []string{``, `null`, `[]`, `{"schema_version":1}`, `{"schema_version":1,"request_id":""}`, `{"schema_version":"1"}`} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%s) succeeded", in)
		}
	}
}

// TestEveryFieldIsDocumented keeps docs/record.md in step with the type.
func TestEveryFieldIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/record.md")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name := prefix + strings.Split(f.Tag.Get("json"), ",")[0]
			ft := f.Type
			switch {
			case ft.Kind() == reflect.Struct:
				walk(name+".", ft)
				continue
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(name+"[].", ft.Elem())
			}
			if !strings.Contains(string(doc), "| `"+name+"` |") {
				t.Errorf("docs/record.md has no row for %s", name)
			}
		}
	}
	walk("", reflect.TypeOf(Record{}))
}

// FuzzDecode checks that no message from the topic panics the decoder and
// that whatever it accepts encodes back to an equal record.
func FuzzDecode(f *testing.F) {
	b, _ := Encode(nil, sample())
	f.Add(b)
	f.Add([]byte(`{"schema_version":1,"request_id":"x","tags":null,"metadata":{"a":1}}`))
	f.Add([]byte(`{"schema_version":1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Encode(nil, r)
		if err != nil {
			t.Fatalf("an accepted record does not encode: %v", err)
		}
		r2, err := Decode(again)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("re-decoding differs: %v", err)
		}
		var m map[string]any
		if json.Unmarshal(again, &m) != nil {
			t.Fatal("encoded record is not JSON")
		}
	})
}
