// Command gen extracts from OpenAI's published OpenAPI document the component
// schemas that Switchyard's OpenAI-compatible responses conform to, plus every
// schema they reference, and writes them as the small document that package
// oaischema embeds. Run it from the repository root:
//
//	go run ./internal/oaischema/gen -spec /path/to/openai-openapi.json
//
// The document is OpenAI's (github.com/openai/openai-openapi, MIT licence);
// the output copies its schemas verbatim and records where they came from.
// Pass -commit with the openai/openai-openapi commit the document was taken
// from whenever it is not the pinned one.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/internal/oaischema"
)

// pinnedCommit is the openai/openai-openapi commit of the document the
// checked-in subset was generated from.
const pinnedCommit = "f85dbe2"

// roots are the schemas of the responses Switchyard serves in OpenAI's
// shape.
var roots = []string{
	"CreateChatCompletionResponse",
	"CreateChatCompletionStreamResponse",
	"CreateCompletionResponse",
	"CreateEmbeddingResponse",
	"ListModelsResponse",
	"Model",
	"ErrorResponse",
}

const refPrefix = "#/components/schemas/"

// source names the document a subset was cut from.
type source struct {
	Repository  string   `json:"repository"`
	Commit      string   `json:"commit"`
	License     string   `json:"license"`
	APIVersion  string   `json:"api_version"`
	SHA256      string   `json:"sha256"`
	GeneratedBy string   `json:"generated_by"`
	Roots       []string `json:"roots"`
}

// subset is the output document: a valid OpenAPI document whose only content
// is components.schemas, so that "#/components/schemas/..." references still
// resolve within it. Struct order puts the provenance first.
type subset struct {
	Source     source `json:"x-source"`
	OpenAPI    string `json:"openapi"`
	Info       info   `json:"info"`
	Components struct {
		Schemas map[string]any `json:"schemas"`
	} `json:"components"`
}

type info struct {
	Title   string `json:"title"`
	Version string `json:"version"`
	License struct {
		Name       string `json:"name"`
		Identifier string `json:"identifier"`
	} `json:"license"`
}

func main() {
	specPath := flag.String("spec", "", "OpenAI's OpenAPI document (JSON), from github.com/openai/openai-openapi")
	commit := flag.String("commit", pinnedCommit, "the openai/openai-openapi commit the document comes from")
	out := flag.String("out", "internal/oaischema/testdata/openai-schemas.json", "the file to write")
	flag.Parse()
	if *specPath == "" || *commit == "" {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/oaischema/gen -spec openai-openapi.json [-commit sha] [-out file]")
		os.Exit(2)
	}
	data, err := os.ReadFile(*specPath)
	if err == nil {
		data, err = extract(data, *commit)
	}
	if err == nil {
		err = os.WriteFile(*out, data, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// extract returns the subset document of spec: the roots, everything they
// reference, and the provenance header. It fails when a reference does not
// resolve or when the subset uses a keyword the validator does not know, so
// that a newer OpenAI document cannot silently weaken the checks.
func extract(spec []byte, commit string) ([]byte, error) {
	var doc struct {
		OpenAPI string `json:"openapi"`
		Info    struct {
			Version string `json:"version"`
			License struct {
				Name       string `json:"name"`
				Identifier string `json:"identifier"`
			} `json:"license"`
		} `json:"info"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.UseNumber() // numbers are copied as written
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		return nil, fmt.Errorf("spec: openapi %q, want 3.x", doc.OpenAPI)
	}
	picked := map[string]any{}
	var errs []error
	var visit func(name, from string)
	visit = func(name, from string) {
		if _, done := picked[name]; done {
			return
		}
		schema, ok := doc.Components.Schemas[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no schema %q in the document", from, name))
			return
		}
		picked[name] = schema
		for _, ref := range refsOf(schema) {
			if !strings.HasPrefix(ref, refPrefix) {
				errs = append(errs, fmt.Errorf("%s: reference %q is not to a component schema", name, ref))
				continue
			}
			visit(unescapePointer(strings.TrimPrefix(ref, refPrefix)), name)
		}
	}
	for _, r := range roots {
		visit(r, "roots")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	sum := sha256.Sum256(spec)
	var s subset
	s.Source = source{
		Repository:  "https://github.com/openai/openai-openapi",
		Commit:      commit,
		License:     "MIT",
		APIVersion:  doc.Info.Version,
		SHA256:      hex.EncodeToString(sum[:]),
		GeneratedBy: "go run ./internal/oaischema/gen -spec openai-openapi.json -commit " + commit,
		Roots:       slices.Clone(roots),
	}
	s.OpenAPI = doc.OpenAPI
	s.Info = info{Title: "OpenAI API (response schemas only)", Version: doc.Info.Version}
	s.Info.License.Name, s.Info.License.Identifier = "MIT", "MIT"
	s.Components.Schemas = picked

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // descriptions hold <, > and & as written
	enc.SetIndent("", "  ")
	// encoding/json writes map keys sorted, so the output is stable.
	if err := enc.Encode(&s); err != nil {
		return nil, err
	}
	if _, err := oaischema.Parse(buf.Bytes()); err != nil {
		return nil, fmt.Errorf("the subset does not compile: %w", err)
	}
	return buf.Bytes(), nil
}

// refsOf returns every $ref string inside a schema, in document order.
func refsOf(v any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if ref, ok := v[k].(string); ok && k == "$ref" {
					out = append(out, ref)
					continue
				}
				walk(v[k])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// unescapePointer undoes JSON Pointer escaping (RFC 6901) of one token.
func unescapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}
