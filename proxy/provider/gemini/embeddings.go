package gemini

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/internal/jsonx"
)

// maxEmbedBatch is the most texts one batchEmbedContents call takes;
// OpenAI takes up to 2048 inputs, so a larger request becomes several
// calls.
const maxEmbedBatch = 100

type embeddingsRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	Dimensions     json.RawMessage `json:"dimensions,omitempty"`
	EncodingFormat string          `json:"encoding_format,omitempty"`
}

type embedRequest struct {
	Model                string          `json:"model"`
	Content              content         `json:"content"`
	OutputDimensionality json.RawMessage `json:"outputDimensionality,omitempty"`
}

type embedOptions struct {
	model  string
	base64 bool
}

// translateEmbeddings turns an OpenAI embeddings request into the bodies of
// one or more batchEmbedContents calls. Inputs of token ids cannot be sent:
// Gemini embeds text only.
func translateEmbeddings(body []byte) ([][]byte, embedOptions, error) {
	var req embeddingsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, embedOptions{}, badRequest("the request body is not a valid embeddings request: %v", err)
	}
	model := strings.TrimPrefix(req.Model, "models/")
	opts := embedOptions{model: model}
	if model == "" {
		return nil, opts, badRequest("the request names no model")
	}
	switch req.EncodingFormat {
	case "", "float":
	case "base64":
		opts.base64 = true
	default:
		return nil, opts, badRequest("encoding_format %q is unknown", req.EncodingFormat)
	}
	var dims json.RawMessage
	if err := number(&dims, req.Dimensions); err != nil {
		return nil, opts, badRequest("dimensions must be a number")
	}
	var texts []string
	input := bytes.TrimSpace(req.Input)
	switch {
	case isNull(input):
		return nil, opts, badRequest("the request has no input")
	case input[0] == '"':
		s, _ := str(input)
		texts = []string{s}
	case input[0] == '[':
		err := elements(input, func(v []byte) error {
			if v[0] != '"' {
				return unsupported("embedding token ids: Gemini embeds text only")
			}
			s, err := str(v)
			texts = append(texts, s)
			return err
		})
		if err != nil {
			return nil, opts, asBadRequest(err, "input must be a string or a list of strings")
		}
	default:
		return nil, opts, badRequest("input must be a string or a list of strings")
	}
	if len(texts) == 0 {
		return nil, opts, badRequest("the request has no input")
	}
	var bodies [][]byte
	for start := 0; start < len(texts); start += maxEmbedBatch {
		end := min(start+maxEmbedBatch, len(texts))
		batch := struct {
			Requests []embedRequest `json:"requests"`
		}{}
		for _, t := range texts[start:end] {
			batch.Requests = append(batch.Requests, embedRequest{
				Model:                "models/" + model,
				Content:              content{Parts: []part{{Text: t}}},
				OutputDimensionality: dims,
			})
		}
		b, err := marshal(batch)
		if err != nil {
			return nil, opts, err
		}
		bodies = append(bodies, b)
	}
	return bodies, opts, nil
}

// embeddingsResult is what one batchEmbedContents (or embedContent)
// response holds: each embedding's values, raw, and the tokens counted.
type embeddingsResult struct {
	vectors [][]byte
	tokens  int64
}

// parseEmbeddings reads a batchEmbedContents response ({"embeddings":
// [{"values": [...]}]}) or an embedContent one ({"embedding": {...}}).
// Token counts are taken from usageMetadata where Gemini sends it, or
// from each embedding's statistics; the Gemini API often sends neither,
// and then the count is 0.
func parseEmbeddings(body []byte) (embeddingsResult, error) {
	var res embeddingsResult
	var statTokens int64
	haveUsage := false
	one := func(v []byte) error {
		var values []byte
		err := members(v, func(key string, val []byte) (err error) {
			switch key {
			case "values":
				if len(val) == 0 || val[0] != '[' {
					return errors.New("values is not a list")
				}
				err = elements(val, func(e []byte) error {
					if !isNumber(e) {
						return errNotNumber
					}
					return nil
				})
				values = val
			case "statistics":
				err = members(val, func(k string, v []byte) error {
					if k == "tokenCount" {
						n, err := count(v)
						statTokens += n
						return err
					}
					return nil
				})
			}
			return field(key, err)
		})
		if values == nil && err == nil {
			err = errors.New("an embedding has no values")
		}
		res.vectors = append(res.vectors, values)
		return err
	}
	found := false
	err := members(body, func(key string, val []byte) (err error) {
		switch key {
		case "embeddings":
			found = true
			err = elements(val, one)
		case "embedding":
			found = true
			err = one(val)
		case "usageMetadata":
			err = members(val, func(k string, v []byte) (err error) {
				switch k {
				case "promptTokenCount", "totalTokenCount":
					if !haveUsage || k == "promptTokenCount" {
						res.tokens, err = count(v)
						haveUsage = true
					}
				}
				return field(k, err)
			})
		}
		return field(key, err)
	})
	if err != nil {
		return res, err
	}
	if !found {
		return res, errors.New("the response has no embeddings")
	}
	if !haveUsage {
		res.tokens = statTokens
	}
	return res, nil
}

// embeddingsResponse writes OpenAI's embeddings response. With base64,
// each vector is little-endian float32s, as OpenAI encodes it.
func embeddingsResponse(results []embeddingsResult, opts embedOptions) []byte {
	var tokens int64
	b := []byte(`{"object":"list","data":[`)
	index := 0
	for _, r := range results {
		tokens += r.tokens
		for _, v := range r.vectors {
			if index > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"object":"embedding","index":`...)
			b = strconv.AppendInt(b, int64(index), 10)
			b = append(b, `,"embedding":`...)
			if opts.base64 {
				b = jsonx.AppendString(b, base64Vector(v))
			} else {
				b = append(b, compact(v)...)
			}
			b = append(b, '}')
			index++
		}
	}
	b = append(b, `],"model":`...)
	b = jsonx.AppendString(b, opts.model)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, tokens, 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, tokens, 10)
	return append(b, `}}`...)
}

func base64Vector(values []byte) string {
	var buf []byte
	_ = elements(values, func(e []byte) error {
		f, _ := strconv.ParseFloat(string(e), 32)
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32(f)))
		return nil
	})
	return base64.StdEncoding.EncodeToString(buf)
}
