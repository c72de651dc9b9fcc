package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// fakeSpec holds every root, a chain of references, a schema nothing
// references and a reference that must be unescaped.
func fakeSpec(extra string) []byte {
	schemas := map[string]any{
		"Unused":      map[string]any{"type": "string"},
		"Leaf":        map[string]any{"type": "integer", "description": "a <b> & c"},
		"Middle":      map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/Leaf"}},
		"Slash/Named": map[string]any{"type": "boolean"},
	}
	for _, r := range roots {
		schemas[r] = map[string]any{"type": "object"}
	}
	schemas["ErrorResponse"] = map[string]any{"type": "object", "properties": map[string]any{
		"a": map[string]any{"$ref": "#/components/schemas/Middle"},
		"b": map[string]any{"$ref": "#/components/schemas/Slash~1Named"},
		"c": map[string]any{"$ref": "#/components/schemas/" + extra},
		"n": map[string]any{"type": "number", "maximum": json.Number("1.50")},
	}}
	doc, _ := json.Marshal(map[string]any{
		"openapi":    "3.1.0",
		"info":       map[string]any{"version": "9.9.9"},
		"components": map[string]any{"schemas": schemas},
	})
	return doc
}

func TestExtract(t *testing.T) {
	out, err := extract(fakeSpec("Leaf"), "abc1234")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := extract(fakeSpec("Leaf"), "abc1234")
	if !bytes.Equal(out, again) {
		t.Error("the output is not stable")
	}
	var got struct {
		Source     source `json:"x-source"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Source.Commit != "abc1234" || got.Source.APIVersion != "9.9.9" || len(got.Source.SHA256) != 64 {
		t.Errorf("header: %+v", got.Source)
	}
	for _, name := range append([]string{"Leaf", "Middle", "Slash/Named"}, roots...) {
		if _, ok := got.Components.Schemas[name]; !ok {
			t.Errorf("%s was left out", name)
		}
	}
	if _, ok := got.Components.Schemas["Unused"]; ok {
		t.Error("a schema nothing references was copied")
	}
	if !strings.Contains(string(out), `"a <b> & c"`) || !strings.Contains(string(out), `"maximum": 1.50`) {
		t.Errorf("values were not copied as written:\n%s", out)
	}
	if !strings.HasPrefix(string(out), "{\n  \"x-source\": {") {
		t.Error("the provenance header does not come first")
	}
}

func TestExtractFailsOnDanglingReference(t *testing.T) {
	if _, err := extract(fakeSpec("Nowhere"), "abc1234"); err == nil || !strings.Contains(err.Error(), `"Nowhere"`) {
		t.Errorf("got %v, want an error naming the missing schema", err)
	}
}

// TestCheckedInSubsetIsCurrent regenerates the subset from OpenAI's document
// when $OPENAI_OPENAPI_SPEC names it. The subset itself is in the repository,
// so the conformance tests never need the document; this only catches a
// hand edit of the generated file.
func TestCheckedInSubsetIsCurrent(t *testing.T) {
	path := os.Getenv("OPENAI_OPENAPI_SPEC")
	if path == "" {
		t.Skip("set OPENAI_OPENAPI_SPEC to OpenAI's openapi.json to compare the checked-in subset with it")
	}
	spec, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := extract(spec, pinnedCommit)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../testdata/openai-schemas.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("testdata/openai-schemas.json differs from what gen makes of $OPENAI_OPENAPI_SPEC; regenerate it")
	}
}
