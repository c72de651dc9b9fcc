// Package oaischema checks JSON documents against the schemas of an OpenAPI
// 3.x document. It owns the conformance tests' notion of "matches the
// published shape": by default, the response schemas of OpenAI's API, so that
// the mock and the proxy can be held to the spec OpenAI-compatible clients
// are generated from; and, through Parse, any other OpenAPI document, such as
// the query API's own openapi.json.
//
// It is for tests: nothing on a request path imports it.
//
// # The OpenAI subset
//
// testdata/openai-schemas.json is data, not code of ours: the component
// schemas CreateChatCompletionResponse, CreateChatCompletionStreamResponse,
// CreateCompletionResponse, CreateEmbeddingResponse, ListModelsResponse,
// Model and ErrorResponse, and every schema they reference, copied verbatim
// from OpenAI's published OpenAPI document (github.com/openai/openai-openapi,
// MIT licence). Its "x-source" member names the commit and the checksum of
// the document it was cut from. To move to a newer document:
//
//	go run ./internal/oaischema/gen -spec /path/to/openai-openapi.json -commit <sha>
//
// The generator fails if the new schemas use a keyword this package does not
// understand, rather than let such a keyword go unchecked.
//
// # What is checked
//
// type (one or a list; OpenAPI 3.0's nullable too), enum, const, properties,
// required, additionalProperties, items, anyOf, oneOf (exactly one), allOf,
// $ref to "#/components/schemas/...", minimum, maximum, exclusiveMinimum and
// exclusiveMaximum. Annotations (description, format, default, examples,
// discriminator, x-…) are ignored; any other keyword makes Parse fail.
//
// Members a schema does not name are accepted unless it says
// "additionalProperties": false, as JSON Schema says: the proxy deliberately
// adds OpenRouter's usage.cost and error metadata to OpenAI's shapes. The
// Strict option rejects them instead, for servers meant to send exactly what
// the spec names.
package oaischema

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

//go:embed testdata/openai-schemas.json
var openAISubset []byte

var openAI = sync.OnceValues(func() (*Spec, error) { return Parse(openAISubset) })

// OpenAI returns the embedded subset of OpenAI's published spec.
func OpenAI() (*Spec, error) { return openAI() }

// Validate checks doc, one JSON value, against the named component schema of
// OpenAI's published spec (for example "CreateChatCompletionResponse"). It
// returns nil or an *Error that lists every problem with its JSON path.
func Validate(schemaName string, doc []byte, opts ...Option) error {
	s, err := openAI()
	if err != nil {
		return err
	}
	return s.Validate(schemaName, doc, opts...)
}

// ValidateWith checks doc against the named component schema of spec, an
// OpenAPI 3.x document. Callers that validate many documents against one
// spec should Parse it once instead.
func ValidateWith(spec []byte, schemaName string, doc []byte, opts ...Option) error {
	s, err := Parse(spec)
	if err != nil {
		return err
	}
	return s.Validate(schemaName, doc, opts...)
}

// Spec is the compiled component schemas of an OpenAPI document. It is safe
// for concurrent use.
type Spec struct {
	schemas map[string]*schema
}

// Parse compiles every schema under components.schemas of an OpenAPI 3.x
// document (JSON). It fails on a reference that does not resolve and on a
// keyword the validator does not implement.
func Parse(openAPIDoc []byte) (*Spec, error) {
	var doc struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		return nil, fmt.Errorf("oaischema: %w", err)
	}
	if len(doc.Components.Schemas) == 0 {
		return nil, errors.New("oaischema: the document has no components.schemas")
	}
	c := compiler{named: make(map[string]*schema, len(doc.Components.Schemas))}
	for name := range doc.Components.Schemas {
		c.named[name] = &schema{}
	}
	for name, raw := range doc.Components.Schemas {
		v, err := decode(raw)
		if err != nil {
			return nil, fmt.Errorf("oaischema: components.schemas.%s: %w", name, err)
		}
		c.compileInto(c.named[name], v, "components.schemas."+name)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, fmt.Errorf("oaischema: %w", err)
	}
	return &Spec{schemas: c.named}, nil
}

// Names returns the spec's schema names, sorted.
func (s *Spec) Names() []string {
	names := make([]string, 0, len(s.schemas))
	for n := range s.schemas {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Validate checks doc, one JSON value, against the named component schema.
// It returns nil or an *Error that lists every problem with its JSON path.
func (s *Spec) Validate(schemaName string, doc []byte, opts ...Option) error {
	root, ok := s.schemas[schemaName]
	if !ok {
		return fmt.Errorf("oaischema: no schema %q", schemaName)
	}
	v, err := decode(doc)
	if err != nil {
		return fmt.Errorf("oaischema: the document is not JSON: %w", err)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	vd := validator{strict: o.strict}
	if problems := vd.check(root, v, "$", nil); len(problems) > 0 {
		return &Error{Schema: schemaName, Problems: problems}
	}
	return nil
}

// An Option changes how a document is judged.
type Option func(*options)

type options struct{ strict bool }

// Strict rejects an object member that its schema does not name, where the
// schema names properties and leaves additionalProperties unset, so that a
// misspelt or invented field fails. Members named by the schemas it is
// composed with (allOf, anyOf, oneOf, $ref) count as named; a schema that
// sets additionalProperties is judged as written.
func Strict() Option { return func(o *options) { o.strict = true } }

// Error is a document's failure to match a schema.
type Error struct {
	Schema   string
	Problems []Problem
}

// Problem is one way a document departs from its schema.
type Problem struct {
	// Path is where in the document, as a JSONPath: $.choices[0].message.
	Path    string
	Message string
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "does not match %s:", e.Schema)
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// decode reads exactly one JSON value, keeping numbers exact.
func decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}
