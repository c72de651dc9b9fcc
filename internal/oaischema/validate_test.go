package oaischema

import (
	"errors"
	"strings"
	"testing"
)

// testSpec exercises every keyword the validator implements.
const testSpec = `{
  "openapi": "3.1.0",
  "components": {"schemas": {
    "Str":       {"type": "string"},
    "Int":       {"type": "integer"},
    "Num":       {"type": "number"},
    "Bool":      {"type": "boolean"},
    "StrOrNull": {"type": ["string", "null"]},
    "Nullable":  {"type": "integer", "nullable": true},
    "Enum":      {"type": "string", "enum": ["a", "b"]},
    "NumEnum":   {"enum": [1, 2.5]},
    "Const":     {"const": {"k": [1, "x"]}},
    "Bounds":    {"type": "integer", "minimum": 0, "maximum": 10},
    "Exclusive": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    "Never":     false,
    "Anything":  true,
    "Obj": {
      "type": "object",
      "description": "annotations are ignored",
      "x-vendor": {"anything": true},
      "properties": {
        "id": {"type": "string", "format": "uuid"},
        "n": {"type": "integer"},
        "inner": {"type": "object", "properties": {"deep": {"type": "boolean"}}},
        "list": {"type": "array", "items": {"$ref": "#/components/schemas/Int"}},
        "odd key": {"type": "string"}
      },
      "required": ["id"]
    },
    "Closed":  {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false},
    "Map":     {"type": "object", "additionalProperties": {"type": "string"}},
    "AnyOf":   {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    "OneOf":   {"oneOf": [{"type": "integer"}, {"type": "number", "maximum": 100}]},
    "AllOf":   {"allOf": [{"$ref": "#/components/schemas/Obj"}, {"properties": {"extra": {"type": "string"}}, "required": ["extra"]}]},
    "Tree":    {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}}}, "required": ["children"]},
    "RefNull": {"$ref": "#/components/schemas/Int", "nullable": true},
    "Tool":    {"oneOf": [
      {"type": "object", "properties": {"type": {"enum": ["function"]}, "function": {"type": "object"}}, "required": ["type"]},
      {"type": "object", "properties": {"type": {"enum": ["custom"]}, "custom": {"type": "object"}}, "required": ["type"]}
    ]}
  }}
}`

func parseTestSpec(t *testing.T) *Spec {
	t.Helper()
	s, err := Parse([]byte(testSpec))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidateAccepts(t *testing.T) {
	s := parseTestSpec(t)
	for _, tt := range []struct{ schema, doc string }{
		{"Str", `"x"`},
		{"Int", `3`},
		{"Int", `3.0`},
		{"Int", `1e3`},
		{"Int", `123456789012345678901234567890`},
		{"Num", `3.5`},
		{"Num", `3`},
		{"Bool", `false`},
		{"StrOrNull", `null`},
		{"StrOrNull", `"x"`},
		{"Nullable", `null`},
		{"Enum", `"b"`},
		{"NumEnum", `2.50`},
		{"Const", `{"k": [1.0, "x"]}`},
		{"Bounds", `0`},
		{"Bounds", `10`},
		{"Exclusive", `0.5`},
		{"Anything", `{"a": [1, null]}`},
		{"Obj", `{"id": "x"}`},
		{"Obj", `{"id": "x", "n": 1, "inner": {"deep": true}, "list": [1, 2], "odd key": "v", "unnamed": 1}`},
		{"Closed", `{"a": "x"}`},
		{"Map", `{"a": "x", "b": "y"}`},
		{"AnyOf", `"x"`},
		{"AnyOf", `1`},
		{"OneOf", `1000`},
		{"OneOf", `1.5`},
		{"AllOf", `{"id": "x", "extra": "y"}`},
		{"Tree", `{"children": [{"children": []}, {"children": [{"children": []}]}]}`},
		{"RefNull", `null`},
		{"RefNull", `7`},
		{"Tool", `{"type": "custom", "custom": {}}`},
		{"Str", "\"x\"\n"},
	} {
		if err := s.Validate(tt.schema, []byte(tt.doc)); err != nil {
			t.Errorf("%s %s: %v", tt.schema, tt.doc, err)
		}
	}
}

// TestValidateRejects gives, for each keyword, a document that violates it
// and the path and words of the problem that must be reported.
func TestValidateRejects(t *testing.T) {
	s := parseTestSpec(t)
	for _, tt := range []struct{ schema, doc, path, words string }{
		{"Str", `1`, "$", "is not of type string"},
		{"Int", `1.5`, "$", "is not of type integer"},
		{"Num", `"1"`, "$", "is not of type number"},
		{"Bool", `0`, "$", "is not of type boolean"},
		{"StrOrNull", `1`, "$", "is not of type string or null"},
		{"Int", `null`, "$", "is not of type integer"},
		{"Enum", `"c"`, "$", `"c" is not one of ["a", "b"]`},
		{"NumEnum", `2`, "$", "is not one of"},
		{"Const", `{"k": [1, "y"]}`, "$", "is not the constant"},
		{"Bounds", `-1`, "$", "is not at least 0"},
		{"Bounds", `11`, "$", "is not at most 10"},
		{"Exclusive", `0`, "$", "is not more than 0"},
		{"Exclusive", `1`, "$", "is not less than 1"},
		{"Never", `1`, "$", "no value is allowed"},
		{"Obj", `[]`, "$", "is not of type object"},
		{"Obj", `{"n": 1}`, "$", `required member "id" is missing`},
		{"Obj", `{"id": 1}`, "$.id", "is not of type string"},
		{"Obj", `{"id": "x", "inner": {"deep": "yes"}}`, "$.inner.deep", "is not of type boolean"},
		{"Obj", `{"id": "x", "list": [1, "two"]}`, "$.list[1]", "is not of type integer"},
		{"Obj", `{"id": "x", "odd key": 1}`, `$["odd key"]`, "is not of type string"},
		{"Closed", `{"a": "x", "b": 1}`, "$.b", "additionalProperties: false"},
		{"Map", `{"a": 1}`, "$.a", "is not of type string"},
		{"AnyOf", `true`, "$", "matches none of anyOf"},
		{"OneOf", `"x"`, "$", "matches none of oneOf"},
		{"OneOf", `5`, "$", "matches alternatives [0 1] of oneOf"},
		{"AllOf", `{"id": "x"}`, "$", `required member "extra" is missing`},
		{"AllOf", `{"extra": "y"}`, "$", `required member "id" is missing`},
		{"Tree", `{"children": [{"children": [{}]}]}`, "$.children[0].children[0]", `required member "children" is missing`},
		{"RefNull", `"7"`, "$", "is not of type integer"},
		{"Tool", `{"type": "other"}`, "$", "matches none of oneOf"},
	} {
		err := s.Validate(tt.schema, []byte(tt.doc))
		var verr *Error
		if !errors.As(err, &verr) {
			t.Errorf("%s %s: got %v, want a validation error", tt.schema, tt.doc, err)
			continue
		}
		found := false
		for _, p := range verr.Problems {
			found = found || p.Path == tt.path && strings.Contains(p.Message, tt.words)
		}
		if !found {
			t.Errorf("%s %s: want %q at %s, got: %v", tt.schema, tt.doc, tt.words, tt.path, err)
		}
	}
}

func TestStrict(t *testing.T) {
	s := parseTestSpec(t)
	for _, tt := range []struct {
		schema, doc string
		wantPath    string // "" if the document passes
	}{
		{"Obj", `{"id": "x"}`, ""},
		{"Obj", `{"id": "x", "idd": "y"}`, "$.idd"},
		{"Obj", `{"id": "x", "inner": {"deep": true, "deeep": false}}`, "$.inner.deeep"},
		{"AllOf", `{"id": "x", "extra": "y"}`, ""}, // each part knows the other's names
		{"AllOf", `{"id": "x", "extra": "y", "more": 1}`, "$.more"},
		{"Map", `{"anything": "goes"}`, ""},                  // additionalProperties is set
		{"Tool", `{"type": "function", "function": {}}`, ""}, // each alternative judged by its names
		{"Tool", `{"type": "function", "custom": {}}`, "$"},
	} {
		err := s.Validate(tt.schema, []byte(tt.doc), Strict())
		if tt.wantPath == "" {
			if err != nil {
				t.Errorf("%s %s: %v", tt.schema, tt.doc, err)
			}
			continue
		}
		var verr *Error
		if !errors.As(err, &verr) || verr.Problems[0].Path != tt.wantPath {
			t.Errorf("%s %s: got %v, want a problem at %s", tt.schema, tt.doc, err, tt.wantPath)
		}
		// Without Strict, extra members are what JSON Schema allows.
		if err := s.Validate(tt.schema, []byte(tt.doc)); err != nil {
			t.Errorf("%s %s without Strict: %v", tt.schema, tt.doc, err)
		}
	}
}

func TestValidateInput(t *testing.T) {
	s := parseTestSpec(t)
	for _, doc := range []string{``, `{`, `1 2`, `"x" }`} {
		if err := s.Validate("Anything", []byte(doc)); err == nil || errors.As(err, new(*Error)) {
			t.Errorf("%q: got %v, want a not-JSON error", doc, err)
		}
	}
	if err := s.Validate("Missing", []byte(`1`)); err == nil || !strings.Contains(err.Error(), `no schema "Missing"`) {
		t.Errorf("unknown schema: %v", err)
	}
}

func TestParseRejectsWhatItCannotCheck(t *testing.T) {
	for schema, words := range map[string]string{
		`{"type": "string", "pattern": "^a"}`:                       `keyword "pattern" is not supported`,
		`{"$ref": "#/components/schemas/Nowhere"}`:                  "does not resolve",
		`{"$ref": "other.json#/Foo"}`:                               "only references",
		`{"type": "text"}`:                                          `unknown type "text"`,
		`{"items": [{"type": "string"}]}`:                           "tuple items",
		`{"minimum": 0, "exclusiveMinimum": true}`:                  "boolean exclusive bounds",
		`{"anyOf": []}`:                                             "non-empty list",
		`{"properties": {"a": {"type": "string", "minLength": 1}}}`: "properties.a.minLength",
		`3`: "must be an object or a boolean",
	} {
		_, err := Parse([]byte(`{"components": {"schemas": {"S": ` + schema + `}}}`))
		if err == nil || !strings.Contains(err.Error(), words) {
			t.Errorf("%s: got %v, want an error with %q", schema, err, words)
		}
	}
	if _, err := Parse([]byte(`{"openapi": "3.1.0"}`)); err == nil {
		t.Error("a document without schemas parsed")
	}
}

func TestValidateWith(t *testing.T) {
	if err := ValidateWith([]byte(testSpec), "Obj", []byte(`{"id": "x"}`)); err != nil {
		t.Error(err)
	}
	if err := ValidateWith([]byte(testSpec), "Obj", []byte(`{}`)); err == nil {
		t.Error("a document without its required member passed")
	}
}
