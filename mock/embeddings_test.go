package mock

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
)

// embeddingVectors posts an embeddings request and returns its vectors,
// checking the shape field by field.
func embeddingVectors(t *testing.T, s *Server, body string, wantTokens int64) [][]float64 {
	t.Helper()
	rec := serve(t, s, http.MethodPost, "/alpha/v1/embeddings", body)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	m := decodeObject(t, rec.Body.Bytes())
	expectKeys(t, "response", m, "object", "data", "model", "usage")
	expectValue(t, "object", m["object"], "list")
	u := expectKeys(t, "usage", m["usage"], "prompt_tokens", "total_tokens")
	if got := number(t, "prompt_tokens", u["prompt_tokens"]); got != wantTokens {
		t.Errorf("prompt_tokens = %d, want %d", got, wantTokens)
	}
	expectValue(t, "total_tokens", u["total_tokens"], strconv.FormatInt(wantTokens, 10))
	var vectors [][]float64
	for i, d := range array(t, "data", m["data"]) {
		e := expectKeys(t, "data[i]", d, "object", "index", "embedding")
		expectValue(t, "object", e["object"], "embedding")
		expectValue(t, "index", e["index"], strconv.Itoa(i))
		var v []float64
		switch raw := e["embedding"].(type) {
		case string:
			b, err := base64.StdEncoding.DecodeString(raw)
			if err != nil || len(b)%4 != 0 {
				t.Fatalf("embedding is not base64 float32s: %v", err)
			}
			for j := 0; j < len(b); j += 4 {
				v = append(v, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[j:]))))
			}
		case []any:
			for _, x := range raw {
				f, err := strconv.ParseFloat(x.(interface{ String() string }).String(), 64)
				if err != nil {
					t.Fatal(err)
				}
				v = append(v, f)
			}
		default:
			t.Fatalf("embedding = %T", raw)
		}
		vectors = append(vectors, v)
	}
	return vectors
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func TestEmbeddings(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	tests := []struct {
		name   string
		body   string
		count  int
		dims   int
		tokens int64
	}{
		{"small by default", `{"model":"text-embedding-3-small","input":"hello world"}`, 1, 1536, 3},
		{"large", `{"model":"text-embedding-3-large","input":"hello world"}`, 1, 3072, 3},
		{"ada", `{"model":"text-embedding-ada-002","input":"hello world"}`, 1, 1536, 3},
		{"dimensions", `{"model":"text-embedding-3-large","input":["a","bcdefgh"],"dimensions":256}`, 2, 256, 1 + 2},
		{"token ids", `{"model":"text-embedding-3-small","input":[1,2,3],"dimensions":8}`, 1, 8, 3},
		{"arrays of token ids", `{"model":"text-embedding-3-small","input":[[1,2,3],[4]],"dimensions":8}`, 2, 8, 4},
		{"base64", `{"model":"text-embedding-3-small","input":["a","b"],"encoding_format":"base64","dimensions":16}`, 2, 16, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vectors := embeddingVectors(t, s, tt.body, tt.tokens)
			if len(vectors) != tt.count {
				t.Fatalf("%d vectors, want %d", len(vectors), tt.count)
			}
			for _, v := range vectors {
				if len(v) != tt.dims {
					t.Errorf("%d dimensions, want %d", len(v), tt.dims)
				}
				if n := norm(v); math.Abs(n-1) > 1e-5 {
					t.Errorf("norm %v, want 1", n)
				}
			}
			again := embeddingVectors(t, s, tt.body, tt.tokens)
			for i := range vectors {
				for j := range vectors[i] {
					if vectors[i][j] != again[i][j] {
						t.Fatalf("vector %d differs between identical requests", i)
					}
				}
			}
		})
	}
}

func TestEmbeddingsRelations(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	full := embeddingVectors(t, s, `{"model":"text-embedding-3-large","input":["cat","dog","caf\u00e9"]}`, 4)
	short := embeddingVectors(t, s, `{"model":"text-embedding-3-large","input":["cat","dog","café"],"dimensions":64}`, 4)
	base64 := embeddingVectors(t, s, `{"model":"text-embedding-3-large","input":["cat"],"encoding_format":"base64"}`, 1)
	other := embeddingVectors(t, s, `{"model":"text-embedding-3-small","input":["cat"],"dimensions":64}`, 1)
	// A shortened embedding is the full one cut and normalised again; an
	// escaped text embeds as the same text unescaped.
	for i := range short {
		n := norm(full[i][:64])
		for j := range 64 {
			if math.Abs(full[i][j]/n-short[i][j]) > 1e-6 {
				t.Fatalf("input %d: the 64-dimension vector is not the full one cut and normalised", i)
			}
		}
	}
	if dot(full[0], full[1]) > 0.2 {
		t.Errorf("different inputs are too alike: %v", dot(full[0], full[1]))
	}
	for j := range full[0] {
		if math.Abs(full[0][j]-base64[0][j]) > 1e-8 {
			t.Fatalf("base64 and float encodings differ at %d", j)
		}
	}
	if dot(other[0], short[0]) > 0.5 {
		t.Errorf("another model embeds alike")
	}
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range min(len(a), len(b)) {
		s += a[i] * b[i]
	}
	return s
}

func TestEmbeddingsValidation(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	long := `"` + strings.Repeat("abcd", 8193) + `"`
	for _, tt := range []struct {
		body, code, param string
	}{
		{`{"input":"x"}`, "missing_required_parameter", "model"},
		{`{"model":"m"}`, "missing_required_parameter", "input"},
		{`{"model":"m","input":""}`, "", ""},
		{`{"model":"m","input":[]}`, "", ""},
		{`{"model":"m","input":["a",""]}`, "", ""},
		{`{"model":"m","input":["a",1]}`, "invalid_type", "input"},
		{`{"model":"m","input":{}}`, "invalid_type", "input"},
		{`{"model":"m","input":` + long + `}`, "", ""},
		{`{"model":"m","input":"x","encoding_format":"int8"}`, "invalid_value", "encoding_format"},
		{`{"model":"text-embedding-3-small","input":"x","dimensions":0}`, "integer_below_min_value", "dimensions"},
		{`{"model":"text-embedding-3-small","input":"x","dimensions":1537}`, "integer_above_max_value", "dimensions"},
		{`{"model":"text-embedding-ada-002","input":"x","dimensions":8}`, "", ""},
	} {
		rec := serve(t, s, http.MethodPost, "/alpha/v1/embeddings", tt.body)
		if rec.Code != 400 {
			t.Errorf("%.80s: status %d", tt.body, rec.Code)
			continue
		}
		checkError(t, rec.Body.Bytes(), "invalid_request_error", tt.code, tt.param)
	}
}
