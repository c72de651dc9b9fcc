package mock

import (
	"encoding/json"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// This file simulates rerankers: POST /{name}/v1/rerank in the shape that
// Jina, Cohere-compatible servers (vLLM, TEI) and OpenRouter share.

// rerankRequest is {model, query, documents, top_n, return_documents}.
// Documents alias the request body, which must outlive them.
type rerankRequest struct {
	Model           string           `json:"model"`
	Query           *string          `json:"query"`
	Documents       []rerankDocument `json:"documents"`
	TopN            *int64           `json:"top_n"`
	ReturnDocuments *bool            `json:"return_documents"`
}

// rerankDocument is a document: a string, or an object with text (and,
// for multimodal rerankers, image).
type rerankDocument struct {
	raw  []byte // the JSON value, as given
	text string
}

func (d *rerankDocument) UnmarshalJSON(raw []byte) error {
	switch raw[0] {
	case '"':
		d.raw = raw
		return json.Unmarshal(raw, &d.text)
	case '{':
		var obj struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return err
		}
		d.raw, d.text = raw, obj.Text
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[string]()}
}

func parseRerankRequest(body []byte, req *rerankRequest) *apiError {
	if aerr := decodeOpenAI(body, req); aerr != nil {
		return aerr
	}
	switch {
	case req.Model == "":
		return badRequest("model", "missing_required_parameter", "you must provide a model parameter")
	case req.Query == nil:
		return badRequest("query", "missing_required_parameter", "Missing required parameter: 'query'.")
	case req.Documents == nil:
		return badRequest("documents", "missing_required_parameter", "Missing required parameter: 'documents'.")
	case len(req.Documents) == 0:
		return badRequest("documents", "empty_array", "Invalid 'documents': empty array. Expected an array with minimum length 1, but got an empty array instead.")
	case req.TopN != nil && *req.TopN < 1:
		return belowMin("top_n", 1, *req.TopN)
	}
	return nil
}

// rerankResult is one scored document.
type rerankResult struct {
	index int
	score float64
}

// rerank answers POST /v1/rerank:
//
//	{"id":"rerank-…","model":…,"results":[{"index","relevance_score","document":{"text"}}],
//	 "usage":{"total_tokens"}}
//
// results sorted by relevance, at most top_n of them; document echoes the
// input (a string as {"text"}, an object as given) unless return_documents
// is false. A document's score is the share of the query's words (of three
// letters or more, in any case) that it contains, scaled into 0.05–0.95,
// plus up to 0.05 that depends on the document alone: so the documents that
// share the query's words come first, and the same request always ranks
// alike. total_tokens counts the query once per document plus every
// document, at 4 bytes a token.
func rerank(w http.ResponseWriter, r *http.Request, p *provider) {
	x, ok := begin(w, r, p, dialectOpenAI)
	if !ok {
		return
	}
	defer x.release()
	var req rerankRequest
	if aerr := parseRerankRequest(x.body, &req); aerr != nil {
		x.fail(w, aerr)
		return
	}
	if !x.behave(w, r) || !x.admit(w, r) {
		return
	}
	query := significantWords(*req.Query)
	queryTokens := (len(*req.Query) + 3) / 4
	results := make([]rerankResult, len(req.Documents))
	tokens := 0
	for i, d := range req.Documents {
		results[i] = rerankResult{index: i, score: relevance(query, d.text)}
		tokens += queryTokens + (len(d.text)+3)/4
	}
	slices.SortStableFunc(results, func(a, b rerankResult) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	if req.TopN != nil && int(min(*req.TopN, math.MaxInt32)) < len(results) {
		results = results[:*req.TopN]
	}
	withDocuments := req.ReturnDocuments == nil || *req.ReturnDocuments

	out := getBuffer()
	defer putBuffer(out)
	b := append((*out)[:0], `{"id":"`...)
	b = appendRandomID(b, "rerank-", 24)
	b = append(b, `","model":`...)
	b = appendString(b, req.Model)
	b = append(b, `,"results":[`...)
	for i, res := range results {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(res.index), 10)
		b = append(b, `,"relevance_score":`...)
		b = strconv.AppendFloat(b, res.score, 'f', -1, 64)
		if withDocuments {
			b = append(b, `,"document":`...)
			d := req.Documents[res.index]
			if d.raw[0] == '"' {
				b = append(b, `{"text":`...)
				b = append(b, d.raw...)
				b = append(b, '}')
			} else {
				b = append(b, d.raw...)
			}
		}
		b = append(b, '}')
	}
	b = append(b, `],"usage":{"total_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, "}}\n"...)
	*out = b
	writeBody(w, headerJSON, b, &x.b)
}

// significantWords are the distinct words of s of three letters or more,
// in lower case.
func significantWords(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(strings.ToLower(s), notWordRune) {
		if len(f) >= 3 && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func notWordRune(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

// relevance scores a document against the query's words, rounded to six
// decimals.
func relevance(query []string, text string) float64 {
	matched := 0
	if len(query) > 0 {
		words := significantWords(text)
		for _, q := range query {
			if slices.Contains(words, q) {
				matched++
			}
		}
	}
	share := 0.0
	if len(query) > 0 {
		share = float64(matched) / float64(len(query))
	}
	jitter := float64(hashString(text)%50000) / 1e6 // 0 to 0.05
	return math.Round((0.05+0.9*share+jitter)*1e6) / 1e6
}

// hashString is FNV-1a: stable across processes, unlike hashBytes.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
