package mock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/internal/oaischema"
)

// schemaChecker is a small JSON Schema validator for the keywords the
// generator claims to honour; it is independent of the generator's code.
type schemaChecker struct {
	defs map[string]any
	root any
}

func newSchemaChecker(t testing.TB, schema string) *schemaChecker {
	t.Helper()
	root := decodeAny(t, schema)
	c := &schemaChecker{defs: map[string]any{}, root: root}
	if m, ok := root.(map[string]any); ok {
		for _, key := range []string{"$defs", "definitions"} {
			if defs, ok := m[key].(map[string]any); ok {
				for name, d := range defs {
					c.defs["#/"+key+"/"+name] = d
				}
			}
		}
	}
	return c
}

func decodeAny(t testing.TB, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value: %s", s)
	}
	return v
}

var (
	uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	datePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

func (c *schemaChecker) check(schema, v any, path string) []string {
	s, ok := schema.(map[string]any)
	if !ok {
		if b, ok := schema.(bool); ok && !b {
			return []string{path + ": the schema false"}
		}
		return nil
	}
	if ref, ok := s["$ref"].(string); ok {
		target := c.defs[ref]
		if ref == "#" {
			target = c.root
		}
		if target == nil {
			return []string{path + ": unresolved " + ref}
		}
		return c.check(target, v, path)
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	if v == nil && s["nullable"] == true {
		return nil
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{strings.ToLower(t)}
		case []any:
			for _, x := range t {
				types = append(types, strings.ToLower(x.(string)))
			}
		}
		matched := false
		for _, typ := range types {
			matched = matched || jsonTypeIs(v, typ)
		}
		if !matched {
			fail("%v is not %v", v, types)
			return errs
		}
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || reflect.DeepEqual(e, v)
		}
		if !found {
			fail("%v not in enum %v", v, enum)
		}
	}
	if cst, ok := s["const"]; ok && !reflect.DeepEqual(cst, v) {
		fail("%v is not the const %v", v, cst)
	}
	for _, part := range asList(s["allOf"]) {
		errs = append(errs, c.check(part, v, path)...)
	}
	if alts := asList(s["anyOf"]); len(alts) > 0 {
		ok := false
		for _, alt := range alts {
			ok = ok || len(c.check(alt, v, path)) == 0
		}
		if !ok {
			fail("matches no anyOf alternative")
		}
	}
	if alts := asList(s["oneOf"]); len(alts) > 0 {
		n := 0
		for _, alt := range alts {
			if len(c.check(alt, v, path)) == 0 {
				n++
			}
		}
		if n != 1 {
			fail("matches %d oneOf alternatives", n)
		}
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asList(s["required"]) {
			if _, ok := v[r.(string)]; !ok {
				fail("required %q missing", r)
			}
		}
		for name, val := range v {
			if p, ok := props[name]; ok {
				errs = append(errs, c.check(p, val, path+"."+name)...)
			} else if s["additionalProperties"] == false {
				fail("%q is not allowed", name)
			}
		}
	case []any:
		prefix := asList(s["prefixItems"])
		for i, item := range v {
			if i < len(prefix) {
				errs = append(errs, c.check(prefix[i], item, fmt.Sprintf("%s[%d]", path, i))...)
			} else if items, ok := s["items"]; ok {
				errs = append(errs, c.check(items, item, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
		if n, ok := bound(s, "minItems"); ok && float64(len(v)) < n {
			fail("fewer than %v items", n)
		}
		if n, ok := bound(s, "maxItems"); ok && float64(len(v)) > n {
			fail("more than %v items", n)
		}
	case string:
		n := float64(utf8.RuneCountInString(v))
		if m, ok := bound(s, "minLength"); ok && n < m {
			fail("shorter than %v", m)
		}
		if m, ok := bound(s, "maxLength"); ok && n > m {
			fail("longer than %v", m)
		}
		switch s["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				fail("not a date-time: %q", v)
			}
		case "date":
			if !datePattern.MatchString(v) {
				fail("not a date: %q", v)
			}
		case "email":
			if !strings.Contains(v, "@") {
				fail("not an email: %q", v)
			}
		case "uuid":
			if !uuidPattern.MatchString(v) {
				fail("not a uuid: %q", v)
			}
		}
	case json.Number:
		x, _ := v.Float64()
		if m, ok := bound(s, "minimum"); ok && x < m {
			fail("%v < minimum %v", x, m)
		}
		if m, ok := bound(s, "maximum"); ok && x > m {
			fail("%v > maximum %v", x, m)
		}
		if m, ok := bound(s, "exclusiveMinimum"); ok && x <= m {
			fail("%v <= exclusiveMinimum %v", x, m)
		}
		if m, ok := bound(s, "exclusiveMaximum"); ok && x >= m {
			fail("%v >= exclusiveMaximum %v", x, m)
		}
	}
	return errs
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func bound(s map[string]any, key string) (float64, bool) {
	switch n := s[key].(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case string: // Gemini's int64 fields
		var f float64
		_, err := fmt.Sscan(n, &f)
		return f, err == nil
	}
	return 0, false
}

func jsonTypeIs(v any, typ string) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	}
	return false
}

// schemaCases are schemas of the kinds that tools and structured outputs
// use: OpenAI strict schemas, Pydantic's ($defs, anyOf with null), Zod's,
// Gemini's (upper-case types, propertyOrdering, int64 bounds as strings).
var schemaCases = map[string]string{
	"weather": `{"type":"object","properties":{"location":{"type":"string","description":"City"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location","unit"],"additionalProperties":false}`,
	"pydantic": `{"$defs":{"Step":{"properties":{"explanation":{"title":"Explanation","type":"string"},"output":{"title":"Output","type":"string"}},"required":["explanation","output"],"title":"Step","type":"object"}},
		"properties":{"steps":{"items":{"$ref":"#/$defs/Step"},"title":"Steps","type":"array"},"final_answer":{"title":"Final Answer","type":"string"},"note":{"anyOf":[{"type":"null"},{"type":"string"}],"default":null}},"required":["steps","final_answer"],"title":"MathReasoning","type":"object"}`,
	"definitions":   `{"definitions":{"Item":{"type":"object","properties":{"sku":{"type":"string","format":"uuid"},"qty":{"type":"integer","minimum":1,"maximum":3}}}},"type":"object","properties":{"items":{"type":"array","items":{"$ref":"#/definitions/Item"},"minItems":3}}}`,
	"bounds":        `{"type":"object","properties":{"a":{"type":"integer","minimum":100},"b":{"type":"integer","maximum":-5},"c":{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1},"d":{"type":"number","minimum":10.25,"maximum":10.25},"e":{"type":"integer","exclusiveMinimum":7,"exclusiveMaximum":9}}}`,
	"strings":       `{"type":"object","properties":{"short":{"type":"string","maxLength":3},"long":{"type":"string","minLength":40},"when":{"type":"string","format":"date-time"},"day":{"type":"string","format":"date"},"mail":{"type":"string","format":"email"},"id":{"type":"string","format":"uuid"}}}`,
	"consts":        `{"type":"object","properties":{"kind":{"const":"circle"},"nothing":{"type":"null"},"maybe":{"type":["null","boolean"]},"pick":{"enum":[null,"x",3]},"obj":{"enum":[{"a":1}]}}}`,
	"tuple":         `{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":{"type":"boolean"},"minItems":4,"maxItems":4}`,
	"recursive":     `{"$defs":{"node":{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["name","children"]}},"$ref":"#/$defs/node"}`,
	"root ref":      `{"type":"object","properties":{"value":{"type":"integer"},"next":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},"required":["value","next"]}`,
	"allOf":         `{"allOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]},{"properties":{"b":{"type":"integer"}},"required":["b"]}]}`,
	"oneOf":         `{"type":"object","properties":{"shape":{"oneOf":[{"type":"object","properties":{"r":{"type":"number"}},"required":["r"],"additionalProperties":false},{"type":"string"}]}}}`,
	"gemini":        `{"type":"OBJECT","properties":{"recipes":{"type":"ARRAY","minItems":"1","maxItems":"1","items":{"type":"OBJECT","properties":{"name":{"type":"STRING"},"minutes":{"type":"INTEGER","nullable":true},"vegan":{"type":"BOOLEAN"}},"propertyOrdering":["vegan","name","minutes"]}}},"required":["recipes"]}`,
	"nested arrays": `{"type":"array","items":{"type":"array","items":{"type":"array","items":{"type":"number"}}}}`,
	"empty":         `{}`,
	"untyped":       `{"properties":{"x":{"items":{"type":"integer"}}},"required":["x","y"]}`,
}

func TestSchemaGeneration(t *testing.T) {
	for name, schema := range schemaCases {
		t.Run(name, func(t *testing.T) {
			ps, err := parseSchema([]byte(schema))
			if err != nil {
				t.Fatal(err)
			}
			doc := ps.generate(nil)
			if !json.Valid(doc) {
				t.Fatalf("not JSON: %s", doc)
			}
			if errs := newSchemaChecker(t, schema).check(decodeAny(t, schema), decodeAny(t, string(doc)), "$"); len(errs) > 0 {
				t.Errorf("%s\ndoes not match the schema:\n%s", doc, strings.Join(errs, "\n"))
			}
			if again := ps.generate(nil); !bytes.Equal(doc, again) {
				t.Errorf("not deterministic: %s then %s", doc, again)
			}
		})
	}
}

func TestSchemaGenerationOrder(t *testing.T) {
	ps, err := parseSchema([]byte(schemaCases["gemini"]))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(ps.generate(nil))
	if i, j, k := strings.Index(doc, `"vegan"`), strings.Index(doc, `"name"`), strings.Index(doc, `"minutes"`); !(i < j && j < k) {
		t.Errorf("propertyOrdering not honoured: %s", doc)
	}
	ps, _ = parseSchema([]byte(`{"type":"object","properties":{"z":{"type":"string"},"a":{"type":"string"},"m":{"type":"string"}}}`))
	if doc := string(ps.generate(nil)); !strings.HasPrefix(doc, `{"z":`) || strings.Index(doc, `"a"`) > strings.Index(doc, `"m"`) {
		t.Errorf("properties not in the order written: %s", doc)
	}
}

// The generator also satisfies internal/oaischema's validator, which reads
// the schema as OpenAPI does: a second opinion, written by someone else.
func TestSchemaGenerationMatchesOAISchema(t *testing.T) {
	for _, name := range []string{"weather", "pydantic", "consts", "oneOf", "allOf"} {
		schema := schemaCases[name]
		// Hoist $defs into components so that its references resolve.
		wrapped := strings.ReplaceAll(schema, "#/$defs/", "#/components/schemas/")
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(wrapped), &m); err != nil {
			t.Fatal(err)
		}
		components := map[string]json.RawMessage{}
		if defs, ok := m["$defs"]; ok {
			if err := json.Unmarshal(defs, &components); err != nil {
				t.Fatal(err)
			}
			delete(m, "$defs")
		}
		root, _ := json.Marshal(m)
		components["Root"] = root
		spec, _ := json.Marshal(map[string]any{"components": map[string]any{"schemas": components}})
		ps, err := parseSchema([]byte(schema))
		if err != nil {
			t.Fatal(err)
		}
		doc := ps.generate(nil)
		if err := oaischema.ValidateWith(spec, "Root", doc); err != nil {
			t.Errorf("%s: %v\n%s", name, err, doc)
		}
	}
}

func TestSchemaGenerationIsBounded(t *testing.T) {
	for _, schema := range []string{
		`{"$ref":"#"}`,
		`{"type":"object","properties":{"a":{"$ref":"#"},"b":{"$ref":"#"},"c":{"$ref":"#"}},"required":["a","b","c"]}`,
		`{"type":"array","minItems":1000000,"items":{"type":"array","minItems":1000000,"items":{"type":"string","minLength":1000000}}}`,
		`{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`,
	} {
		ps, err := parseSchema([]byte(schema))
		if err != nil {
			t.Fatal(err)
		}
		doc := ps.generate(nil)
		if !json.Valid(doc) || len(doc) > 4<<20 {
			t.Errorf("%s: %d bytes, valid %v", schema, len(doc), json.Valid(doc))
		}
	}
	for _, bad := range []string{`[]`, `{"properties":[]}`, `{"type":5}`, `{"anyOf":{}}`, `{"minimum":"x"}`, strings.Repeat(`{"items":`, 100) + "{}" + strings.Repeat("}", 100)} {
		if _, err := parseSchema([]byte(bad)); err == nil {
			t.Errorf("%s: parsed", bad)
		}
	}
}
