package mock

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/switchyard/switchyard/internal/jsonx"
)

// This file simulates embeddings: OpenAI's POST /{name}/v1/embeddings here,
// and the vectors Gemini's embedContent shares.

// embeddingRequest holds what the mock needs from an embeddings request.
type embeddingRequest struct {
	Model          string         `json:"model"`
	Input          embeddingInput `json:"input"`
	Dimensions     *int64         `json:"dimensions"`
	EncodingFormat *string        `json:"encoding_format"`
}

// Limits OpenAI enforces on embeddings requests.
const (
	maxEmbeddingInputs = 2048
	maxEmbeddingTokens = 8192 // per input
)

// embeddingInput is input: a string, an array of strings, an array of token
// ids, or an array of arrays of token ids.
type embeddingInput struct {
	present bool
	items   []embeddingItem
	// invalid is set for an empty string or array, which OpenAI rejects.
	invalid bool
}

// embeddingItem is one input to embed: a hash of its text (or tokens) and
// its length in tokens.
type embeddingItem struct {
	hash   uint64
	tokens int
}

func (in *embeddingInput) UnmarshalJSON(raw []byte) error {
	*in = embeddingInput{present: raw[0] != 'n'}
	switch raw[0] {
	case 'n':
		return nil
	case '"':
		item := stringItem(raw)
		in.items = []embeddingItem{item}
		in.invalid = item.tokens == 0
		return nil
	case '[':
		var elems []embeddingElement
		if err := json.Unmarshal(raw, &elems); err != nil {
			return err
		}
		in.invalid = len(elems) == 0
		numbers := 0
		for _, e := range elems {
			if e.number {
				numbers++
				continue
			}
			in.items = append(in.items, e.item)
			in.invalid = in.invalid || e.item.tokens == 0
		}
		if numbers > 0 {
			if numbers != len(elems) {
				return &json.UnmarshalTypeError{Value: "array", Type: reflect.TypeFor[string]()}
			}
			// One input given as token ids.
			in.items = []embeddingItem{{hash: hashBytes(raw), tokens: numbers}}
		}
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[string]()}
}

// stringItem hashes the text that the JSON string literal raw holds, so
// that "é" and "\u00e9" embed alike.
func stringItem(raw []byte) embeddingItem {
	bp := getBuffer()
	defer putBuffer(bp)
	text, err := jsonx.AppendUnquoted((*bp)[:0], raw)
	*bp = text
	if err != nil {
		text = raw
	}
	return embeddingItem{hash: hashBytes(text), tokens: (len(text) + 3) / 4}
}

// embeddingElement is one element of an input array.
type embeddingElement struct {
	item   embeddingItem
	number bool
}

func (e *embeddingElement) UnmarshalJSON(raw []byte) error {
	switch {
	case raw[0] == '"':
		e.item = stringItem(raw)
	case raw[0] == '[':
		var ids []int64
		if err := json.Unmarshal(raw, &ids); err != nil {
			return err
		}
		e.item = embeddingItem{hash: hashBytes(raw), tokens: len(ids)}
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		var id int64
		if err := json.Unmarshal(raw, &id); err != nil {
			return err
		}
		e.number = true
	default:
		return &json.UnmarshalTypeError{Value: jsonKind(raw), Type: reflect.TypeFor[string]()}
	}
	return nil
}

const msgBadEmbeddingInput = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."

// openAIEmbeddingDimensions is a model's vector size: 3,072 for
// text-embedding-3-large, 1,536 for the others.
func openAIEmbeddingDimensions(model string) int {
	if strings.Contains(model, "text-embedding-3-large") {
		return 3072
	}
	return 1536
}

func parseEmbeddingRequest(body []byte, req *embeddingRequest) *apiError {
	if aerr := decodeOpenAI(body, req); aerr != nil {
		return aerr
	}
	if req.Model == "" {
		return badRequest("model", "missing_required_parameter", "you must provide a model parameter")
	}
	if !req.Input.present {
		return badRequest("input", "missing_required_parameter", "Missing required parameter: 'input'.")
	}
	if req.Input.invalid || len(req.Input.items) > maxEmbeddingInputs {
		return badRequest("", "", msgBadEmbeddingInput)
	}
	for _, item := range req.Input.items {
		if item.tokens > maxEmbeddingTokens {
			n := strconv.Itoa(item.tokens)
			return badRequest("", "", "This model's maximum context length is 8192 tokens, however you requested "+n+" tokens ("+n+" in your prompt; 0 for the completion). Please reduce your prompt; or completion length.")
		}
	}
	if f := req.EncodingFormat; f != nil && *f != "float" && *f != "base64" {
		return badRequest("encoding_format", "invalid_value", "Invalid value: '"+*f+"'. Supported values are: 'float' and 'base64'.")
	}
	if d := req.Dimensions; d != nil {
		if strings.Contains(req.Model, "ada-002") {
			return badRequest("", "", "This model does not support specifying dimensions.")
		}
		if *d < 1 {
			return belowMin("dimensions", 1, *d)
		}
		if most := int64(openAIEmbeddingDimensions(req.Model)); *d > most {
			return aboveMax("dimensions", most, *d)
		}
	}
	return nil
}

// embeddings answers POST /v1/embeddings: one deterministic unit vector per
// input (see fillEmbedding), as floats or base64, with usage.
func embeddings(w http.ResponseWriter, r *http.Request, p *provider) {
	x, ok := begin(w, r, p, dialectOpenAI)
	if !ok {
		return
	}
	defer x.release()
	var req embeddingRequest
	if aerr := parseEmbeddingRequest(x.body, &req); aerr != nil {
		x.fail(w, aerr)
		return
	}
	if !x.behave(w, r) || !x.admit(w, r) {
		return
	}
	dims := openAIEmbeddingDimensions(req.Model)
	if req.Dimensions != nil {
		dims = int(*req.Dimensions)
	}
	asBase64 := req.EncodingFormat != nil && *req.EncodingFormat == "base64"
	vp := getVector(dims)
	defer putVector(vp)
	model := hashBytes([]byte(req.Model))
	tokens := 0
	b := append((*x.buf)[:0], `{"object":"list","data":[`...)
	for i, item := range req.Input.items {
		if i > 0 {
			b = append(b, ',')
		}
		tokens += item.tokens
		fillEmbedding(*vp, mix(model, item.hash))
		b = append(b, `{"object":"embedding","index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"embedding":`...)
		if asBase64 {
			b = appendVectorBase64(b, *vp)
		} else {
			b = appendVector(b, *vp)
		}
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	b = appendString(b, req.Model)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, "}}\n"...)
	*x.buf = b
	writeBody(w, headerJSON, b, &x.b)
}

var vectorPool = sync.Pool{New: func() any { return new([]float32) }}

func getVector(dims int) *[]float32 {
	vp := vectorPool.Get().(*[]float32)
	if cap(*vp) < dims {
		*vp = make([]float32, dims)
	}
	*vp = (*vp)[:dims]
	return vp
}

func putVector(vp *[]float32) { vectorPool.Put(vp) }

// fillEmbedding fills v with a unit vector determined by seed: component i
// depends only on seed and i, so a shorter vector is a longer one cut and
// normalised again, as OpenAI's shortened embeddings are.
func fillEmbedding(v []float32, seed uint64) {
	var sum float64
	for i := range v {
		x := seed + uint64(i+1)*0x9E3779B97F4A7C15
		x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
		x = (x ^ x>>27) * 0x94D049BB133111EB
		x ^= x >> 31
		f := float64(x>>11)/(1<<52) - 1 // uniform in [-1, 1)
		v[i] = float32(f)
		sum += f * f
	}
	if sum == 0 {
		return
	}
	scale := 1 / math.Sqrt(sum)
	for i := range v {
		v[i] = float32(float64(v[i]) * scale)
	}
}

// appendVector appends v as a JSON array of numbers with nine decimals:
// as precise as float32 is, and much cheaper than strconv.
func appendVector(b []byte, v []float32) []byte {
	b = append(b, '[')
	for i, f := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendUnitFloat(b, f)
	}
	return append(b, ']')
}

// appendUnitFloat appends f, which is within [-1, 1], with up to nine
// decimals.
func appendUnitFloat(b []byte, f float32) []byte {
	x := float64(f)
	if x < 0 {
		x = -x
		b = append(b, '-')
	}
	n := int64(x*1e9 + 0.5)
	if n >= 1e9 {
		return append(b, "1.0"...)
	}
	var digits [9]byte
	for i := len(digits) - 1; i >= 0; i-- {
		digits[i] = byte('0' + n%10)
		n /= 10
	}
	end := len(digits)
	for end > 1 && digits[end-1] == '0' {
		end--
	}
	b = append(b, '0', '.')
	return append(b, digits[:end]...)
}

// appendVectorBase64 appends v as OpenAI's base64 encoding: the
// little-endian float32 values, base64-encoded, in a JSON string.
func appendVectorBase64(b []byte, v []float32) []byte {
	bp := getBuffer()
	defer putBuffer(bp)
	raw := (*bp)[:0]
	for _, f := range v {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(f))
	}
	*bp = raw
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, raw)
	return append(b, '"')
}
