package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/internal/jsonx"
)

// Gemini's parameters and responseSchema take an OpenAPI 3.0 Schema object,
// a subset of JSON Schema, and reject keywords outside it. toGeminiSchema
// converts a JSON Schema (what OpenAI's tools and json_schema carry):
//
//   - kept: type, format (the ones Gemini knows: date-time, enum, float,
//     double, int32, int64), title, description, nullable, enum (of
//     strings), properties, required, items, min/maxItems,
//     min/maxLength, pattern, minimum, maximum, min/maxProperties, anyOf,
//     default, example, propertyOrdering;
//   - translated: a list of types (["string","null"] becomes nullable
//     STRING; several non-null types become anyOf), oneOf (becomes anyOf),
//     an anyOf branch of type null (becomes nullable), const (a one-value
//     enum), examples (the first becomes example), allOf (merged), and
//     local $ref (inlined from $defs or definitions; a recursive reference
//     is cut to a plain OBJECT);
//   - added: propertyOrdering, because Gemini otherwise orders an output
//     object's properties alphabetically rather than as the schema lists
//     them, as OpenAI's structured outputs do;
//   - dropped: everything else, notably additionalProperties, $schema, $id,
//     $defs, strict, unevaluatedProperties, patternProperties, not,
//     if/then/else, multipleOf, exclusiveMinimum/Maximum, unknown formats,
//     and enums with values that are not strings;
//   - types are written in Gemini's enum spelling (OBJECT, STRING, ...).

// schema is a Gemini Schema object, and, through jsonSchema, the in-between
// form of the reverse conversion.
type schema struct {
	Type             string          `json:"type,omitempty"`
	Format           string          `json:"format,omitempty"`
	Title            string          `json:"title,omitempty"`
	Description      string          `json:"description,omitempty"`
	Nullable         bool            `json:"nullable,omitempty"`
	Enum             []string        `json:"enum,omitempty"`
	Properties       *properties     `json:"properties,omitempty"`
	PropertyOrdering []string        `json:"propertyOrdering,omitempty"`
	Required         []string        `json:"required,omitempty"`
	Items            *schema         `json:"items,omitempty"`
	MinItems         json.RawMessage `json:"minItems,omitempty"`
	MaxItems         json.RawMessage `json:"maxItems,omitempty"`
	MinLength        json.RawMessage `json:"minLength,omitempty"`
	MaxLength        json.RawMessage `json:"maxLength,omitempty"`
	Pattern          string          `json:"pattern,omitempty"`
	Minimum          json.RawMessage `json:"minimum,omitempty"`
	Maximum          json.RawMessage `json:"maximum,omitempty"`
	MinProperties    json.RawMessage `json:"minProperties,omitempty"`
	MaxProperties    json.RawMessage `json:"maxProperties,omitempty"`
	AnyOf            []*schema       `json:"anyOf,omitempty"`
	Default          json.RawMessage `json:"default,omitempty"`
	Example          json.RawMessage `json:"example,omitempty"`
}

// properties keeps an object's properties in the order the schema wrote
// them.
type properties struct {
	names   []string
	schemas []*schema
}

func (p *properties) set(name string, s *schema) {
	for i, n := range p.names {
		if n == name {
			p.schemas[i] = s
			return
		}
	}
	p.names = append(p.names, name)
	p.schemas = append(p.schemas, s)
}

func (p *properties) has(name string) bool {
	for _, n := range p.names {
		if n == name {
			return true
		}
	}
	return false
}

func (p *properties) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, n := range p.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonx.AppendString(b, n)
		b = append(b, ':')
		v, err := marshal(p.schemas[i])
		if err != nil {
			return nil, err
		}
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// Bounds on a schema's expansion: local references can make a small
// document name an exponentially large tree.
const (
	maxSchemaNodes = 10000
	maxSchemaDepth = 64
)

// geminiFormats are the formats Gemini accepts, by type.
var geminiFormats = map[string]map[string]bool{
	"STRING":  {"date-time": true, "enum": true},
	"NUMBER":  {"float": true, "double": true},
	"INTEGER": {"int32": true, "int64": true},
}

type schemaConverter struct {
	root    []byte
	nodes   int
	scanned int      // bytes of schema text converted, references counted each time
	refs    []string // references being expanded, to cut cycles
}

// maxScanned bounds the text a conversion reads: a large definition
// referenced many times would otherwise cost time and memory in proportion
// to the product, whatever the node count.
func (c *schemaConverter) maxScanned() int { return 16*len(c.root) + 1<<20 }

// toGeminiSchema converts a JSON Schema to Gemini's Schema object.
func toGeminiSchema(raw []byte) (*schema, error) {
	c := &schemaConverter{root: raw}
	return c.convert(raw, 0)
}

func (c *schemaConverter) convert(raw []byte, depth int) (*schema, error) {
	raw = bytes.TrimSpace(raw)
	c.nodes++
	c.scanned += len(raw)
	if c.nodes > maxSchemaNodes || depth > maxSchemaDepth || c.scanned > c.maxScanned() {
		return nil, unsupported("a JSON schema larger than %d nodes or deeper than %d levels once its references are inlined", maxSchemaNodes, maxSchemaDepth)
	}
	if string(raw) == "true" || string(raw) == "false" {
		return &schema{}, nil // "anything"; Gemini has no way to say "nothing"
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, badRequest("a JSON schema must be an object")
	}
	kw := map[string][]byte{}
	err := jsonx.Members(raw, func(m jsonx.Member) bool {
		kw[m.Key()] = raw[m.ValueStart:m.ValueEnd]
		return true
	})
	if err != nil {
		return nil, badRequest("a JSON schema is not valid JSON")
	}
	s := &schema{}

	if ref, ok := kw["$ref"]; ok {
		base, err := c.ref(ref, depth)
		if err != nil {
			return nil, err
		}
		*s = *base
	}
	if all, ok := kw["allOf"]; ok {
		err := elements(all, func(v []byte) error {
			sub, err := c.convert(v, depth+1)
			if err != nil {
				return err
			}
			merge(s, sub)
			return nil
		})
		if err != nil {
			return nil, asBadRequest(err, "allOf must be a list of schemas")
		}
	}

	if t, ok := kw["type"]; ok {
		if err := c.types(s, t); err != nil {
			return nil, err
		}
	}
	if v, ok := kw["nullable"]; ok {
		s.Nullable = string(v) == "true"
	}
	for _, k := range []string{"title", "description", "pattern", "format"} {
		v, ok := kw[k]
		if !ok {
			continue
		}
		str, err := str(v)
		if err != nil {
			return nil, badRequest("schema keyword %s must be a string", k)
		}
		switch k {
		case "title":
			s.Title = str
		case "description":
			s.Description = str
		case "pattern":
			s.Pattern = str
		case "format":
			s.Format = str
		}
	}
	if v, ok := kw["enum"]; ok {
		s.Enum = nil
		allStrings := true
		_ = elements(v, func(e []byte) error {
			switch {
			case string(e) == "null":
				s.Nullable = true
			case e[0] == '"':
				str, _ := jsonx.Unquote(e)
				s.Enum = append(s.Enum, str)
			default:
				allStrings = false
			}
			return nil
		})
		if !allStrings {
			s.Enum = nil // Gemini's enums are of strings only
		}
	}
	if v, ok := kw["const"]; ok && s.Enum == nil && len(v) > 0 && v[0] == '"' {
		str, _ := jsonx.Unquote(v)
		s.Enum = []string{str}
	}
	if v, ok := kw["properties"]; ok && !isNull(v) {
		if s.Properties == nil {
			s.Properties = &properties{}
		}
		var convErr error
		err := jsonx.Members(v, func(m jsonx.Member) bool {
			var sub *schema
			if sub, convErr = c.convert(v[m.ValueStart:m.ValueEnd], depth+1); convErr != nil {
				return false
			}
			s.Properties.set(m.Key(), sub)
			return true
		})
		if convErr != nil {
			return nil, convErr
		}
		if err != nil {
			return nil, badRequest("schema keyword properties must be an object")
		}
	}
	if v, ok := kw["required"]; ok {
		s.Required = nil
		err := elements(v, func(e []byte) error {
			name, err := str(e)
			if err != nil {
				return err
			}
			s.Required = append(s.Required, name)
			return nil
		})
		if err != nil {
			return nil, badRequest("schema keyword required must be a list of names")
		}
	}
	if v, ok := kw["items"]; ok {
		if len(v) > 0 && v[0] == '[' { // draft-4 tuple form: keep the first
			var first []byte
			_ = elements(v, func(e []byte) error {
				if first == nil {
					first = e
				}
				return nil
			})
			v = first
		}
		if v != nil {
			if s.Items, err = c.convert(v, depth+1); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range []string{"minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum", "minProperties", "maxProperties"} {
		v, ok := kw[k]
		if !ok || isNull(v) {
			continue
		}
		if !isNumber(v) {
			return nil, badRequest("schema keyword %s must be a number", k)
		}
		n := json.RawMessage(v)
		switch k {
		case "minItems":
			s.MinItems = n
		case "maxItems":
			s.MaxItems = n
		case "minLength":
			s.MinLength = n
		case "maxLength":
			s.MaxLength = n
		case "minimum":
			s.Minimum = n
		case "maximum":
			s.Maximum = n
		case "minProperties":
			s.MinProperties = n
		case "maxProperties":
			s.MaxProperties = n
		}
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		v, ok := kw[k]
		if !ok {
			continue
		}
		err := elements(v, func(e []byte) error {
			sub, err := c.convert(e, depth+1)
			if err != nil {
				return err
			}
			if sub.Type == "NULL" && sub.Properties == nil && len(sub.AnyOf) == 0 {
				s.Nullable = true // anyOf [X, null] is Gemini's nullable X
				return nil
			}
			s.AnyOf = append(s.AnyOf, sub)
			return nil
		})
		if err != nil {
			return nil, asBadRequest(err, k+" must be a list of schemas")
		}
	}
	if len(s.AnyOf) == 1 && s.Type == "" {
		// After removing null, one branch is left: inline it.
		only := s.AnyOf[0]
		s.AnyOf = nil
		own := *s
		*s = *only
		overlay(s, &own)
	}
	if v, ok := kw["default"]; ok {
		s.Default = json.RawMessage(v)
	}
	if v, ok := kw["example"]; ok {
		s.Example = json.RawMessage(v)
	} else if v, ok := kw["examples"]; ok && len(v) > 0 && v[0] == '[' {
		_ = elements(v, func(e []byte) error {
			if s.Example == nil {
				s.Example = json.RawMessage(e)
			}
			return nil
		})
	}
	if v, ok := kw["propertyOrdering"]; ok {
		s.PropertyOrdering = nil
		_ = elements(v, func(e []byte) error {
			if name, err := str(e); err == nil {
				s.PropertyOrdering = append(s.PropertyOrdering, name)
			}
			return nil
		})
	}

	tidy(s)
	return s, nil
}

// types reads the type keyword: a name or a list of names.
func (c *schemaConverter) types(s *schema, raw []byte) error {
	var names []string
	if len(raw) > 0 && raw[0] == '[' {
		err := elements(raw, func(e []byte) error {
			n, err := str(e)
			names = append(names, n)
			return err
		})
		if err != nil {
			return badRequest("schema keyword type must be a name or a list of names")
		}
	} else {
		n, err := str(raw)
		if err != nil {
			return badRequest("schema keyword type must be a name or a list of names")
		}
		names = []string{n}
	}
	var kept []string
	for _, n := range names {
		if strings.EqualFold(n, "null") && len(names) > 1 {
			s.Nullable = true
			continue
		}
		kept = append(kept, strings.ToUpper(n))
	}
	switch len(kept) {
	case 0:
	case 1:
		s.Type = kept[0]
	default:
		for _, t := range kept {
			s.AnyOf = append(s.AnyOf, &schema{Type: t})
		}
	}
	return nil
}

// tidy drops what Gemini would reject and fills in what it needs.
func tidy(s *schema) {
	if s.Type == "" && len(s.AnyOf) == 0 {
		switch {
		case s.Properties != nil:
			s.Type = "OBJECT"
		case s.Items != nil:
			s.Type = "ARRAY"
		case s.Enum != nil:
			s.Type = "STRING"
		}
	}
	if s.Format != "" && !geminiFormats[s.Type][s.Format] {
		s.Format = ""
	}
	if s.Properties != nil && len(s.Properties.names) == 0 {
		s.Properties = nil // Gemini rejects an empty properties map
	}
	if len(s.Required) > 0 {
		kept := s.Required[:0]
		for _, name := range s.Required {
			if s.Properties != nil && s.Properties.has(name) && !contains(kept, name) {
				kept = append(kept, name)
			}
		}
		s.Required = kept
		if len(kept) == 0 {
			s.Required = nil
		}
	}
	if s.PropertyOrdering == nil && s.Properties != nil && len(s.Properties.names) > 1 {
		s.PropertyOrdering = append([]string(nil), s.Properties.names...)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ref inlines a local reference.
func (c *schemaConverter) ref(raw []byte, depth int) (*schema, error) {
	ref, err := str(raw)
	if err != nil {
		return nil, badRequest("schema keyword $ref must be a string")
	}
	if !strings.HasPrefix(ref, "#") {
		return nil, unsupported("a JSON schema with the non-local reference %q", ref)
	}
	for _, r := range c.refs {
		if r == ref {
			// Recursive: Gemini's Schema cannot say it, so the recursion is
			// cut to an object of any shape.
			return &schema{Type: "OBJECT"}, nil
		}
	}
	target, err := pointer(c.root, ref[1:])
	if err != nil {
		return nil, badRequest("schema reference %q resolves to nothing", ref)
	}
	c.refs = append(c.refs, ref)
	defer func() { c.refs = c.refs[:len(c.refs)-1] }()
	return c.convert(target, depth+1)
}

// pointer resolves a JSON pointer (RFC 6901, in its URI fragment form)
// within doc.
func pointer(doc []byte, ptr string) ([]byte, error) {
	if p, err := url.PathUnescape(ptr); err == nil {
		ptr = p
	}
	if ptr == "" {
		return doc, nil
	}
	if ptr[0] != '/' {
		return nil, fmt.Errorf("bad pointer")
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		var next []byte
		cur = bytes.TrimSpace(cur)
		switch {
		case len(cur) > 0 && cur[0] == '{':
			_ = jsonx.Members(cur, func(m jsonx.Member) bool {
				if m.Is(tok) {
					next = cur[m.ValueStart:m.ValueEnd]
				}
				return true
			})
		case len(cur) > 0 && cur[0] == '[':
			idx, err := strconv.Atoi(tok)
			if err != nil {
				return nil, err
			}
			i := 0
			_ = jsonx.Elements(cur, func(s, e int) bool {
				if i == idx {
					next = cur[s:e]
					return false
				}
				i++
				return true
			})
		}
		if next == nil {
			return nil, fmt.Errorf("no %q", tok)
		}
		cur = next
	}
	return cur, nil
}

// merge folds src (an allOf branch) into dst: properties and required
// accumulate; other keywords keep dst's value when it has one.
func merge(dst, src *schema) {
	if src.Properties != nil {
		if dst.Properties == nil {
			dst.Properties = &properties{}
		}
		for i, n := range src.Properties.names {
			dst.Properties.set(n, src.Properties.schemas[i])
		}
	}
	for _, r := range src.Required {
		if !contains(dst.Required, r) {
			dst.Required = append(dst.Required, r)
		}
	}
	props, req := dst.Properties, dst.Required
	base := *src
	base.Properties, base.Required = nil, nil
	overlay(&base, dst)
	*dst = base
	dst.Properties, dst.Required = props, req
	dst.PropertyOrdering = nil // recomputed by tidy
}

// overlay sets on dst every keyword src has.
func overlay(dst, src *schema) {
	if src.Type != "" {
		dst.Type = src.Type
	}
	if src.Format != "" {
		dst.Format = src.Format
	}
	if src.Title != "" {
		dst.Title = src.Title
	}
	if src.Description != "" {
		dst.Description = src.Description
	}
	dst.Nullable = dst.Nullable || src.Nullable
	if src.Enum != nil {
		dst.Enum = src.Enum
	}
	if src.Properties != nil {
		dst.Properties = src.Properties
	}
	if src.PropertyOrdering != nil {
		dst.PropertyOrdering = src.PropertyOrdering
	}
	if src.Required != nil {
		dst.Required = src.Required
	}
	if src.Items != nil {
		dst.Items = src.Items
	}
	for _, p := range [][2]*json.RawMessage{
		{&dst.MinItems, &src.MinItems}, {&dst.MaxItems, &src.MaxItems},
		{&dst.MinLength, &src.MinLength}, {&dst.MaxLength, &src.MaxLength},
		{&dst.Minimum, &src.Minimum}, {&dst.Maximum, &src.Maximum},
		{&dst.MinProperties, &src.MinProperties}, {&dst.MaxProperties, &src.MaxProperties},
		{&dst.Default, &src.Default}, {&dst.Example, &src.Example},
	} {
		if *p[1] != nil {
			*p[0] = *p[1]
		}
	}
	if src.Pattern != "" {
		dst.Pattern = src.Pattern
	}
	if src.AnyOf != nil {
		dst.AnyOf = src.AnyOf
	}
}

// The reverse: a Gemini Schema (from a native request) to JSON Schema, for
// an OpenAI-shaped upstream. Types become lower case, nullable becomes a
// type list (or an anyOf with null), propertyOrdering is dropped.

type jsonSchema struct {
	Type          any               `json:"type,omitempty"`
	Format        string            `json:"format,omitempty"`
	Title         string            `json:"title,omitempty"`
	Description   string            `json:"description,omitempty"`
	Enum          []any             `json:"enum,omitempty"`
	Properties    *jsonProperties   `json:"properties,omitempty"`
	Required      []string          `json:"required,omitempty"`
	Items         *jsonSchema       `json:"items,omitempty"`
	MinItems      json.RawMessage   `json:"minItems,omitempty"`
	MaxItems      json.RawMessage   `json:"maxItems,omitempty"`
	MinLength     json.RawMessage   `json:"minLength,omitempty"`
	MaxLength     json.RawMessage   `json:"maxLength,omitempty"`
	Pattern       string            `json:"pattern,omitempty"`
	Minimum       json.RawMessage   `json:"minimum,omitempty"`
	Maximum       json.RawMessage   `json:"maximum,omitempty"`
	MinProperties json.RawMessage   `json:"minProperties,omitempty"`
	MaxProperties json.RawMessage   `json:"maxProperties,omitempty"`
	AnyOf         []*jsonSchema     `json:"anyOf,omitempty"`
	Default       json.RawMessage   `json:"default,omitempty"`
	Examples      []json.RawMessage `json:"examples,omitempty"`
}

type jsonProperties struct {
	names   []string
	schemas []*jsonSchema
}

func (p *jsonProperties) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, n := range p.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonx.AppendString(b, n)
		b = append(b, ':')
		v, err := marshal(p.schemas[i])
		if err != nil {
			return nil, err
		}
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// fromGeminiSchema converts a Gemini Schema object to JSON Schema.
func fromGeminiSchema(raw []byte) (*jsonSchema, error) {
	return fromGeminiSchemaDepth(raw, 0)
}

func fromGeminiSchemaDepth(raw []byte, depth int) (*jsonSchema, error) {
	if depth > maxSchemaDepth {
		return nil, badRequest("schema deeper than %d levels", maxSchemaDepth)
	}
	s := &jsonSchema{}
	nullable := false
	var ordering []string
	err := members(raw, func(key string, val []byte) (err error) {
		switch key {
		case "type":
			var t string
			if t, err = str(val); err == nil && t != "" && t != "TYPE_UNSPECIFIED" {
				s.Type = strings.ToLower(t)
			}
		case "format":
			s.Format, err = str(val)
		case "title":
			s.Title, err = str(val)
		case "description":
			s.Description, err = str(val)
		case "nullable":
			nullable, err = boolean(val)
		case "enum":
			err = elements(val, func(e []byte) error {
				v, err := str(e)
				s.Enum = append(s.Enum, v)
				return err
			})
		case "properties":
			s.Properties = &jsonProperties{}
			var subErr error
			err = jsonx.Members(val, func(m jsonx.Member) bool {
				var sub *jsonSchema
				sub, subErr = fromGeminiSchemaDepth(val[m.ValueStart:m.ValueEnd], depth+1)
				s.Properties.names = append(s.Properties.names, m.Key())
				s.Properties.schemas = append(s.Properties.schemas, sub)
				return subErr == nil
			})
			if subErr != nil {
				err = subErr
			}
		case "propertyOrdering":
			err = elements(val, func(e []byte) error {
				v, err := str(e)
				ordering = append(ordering, v)
				return err
			})
		case "required":
			err = elements(val, func(e []byte) error {
				v, err := str(e)
				s.Required = append(s.Required, v)
				return err
			})
		case "items":
			if !isNull(val) {
				s.Items, err = fromGeminiSchemaDepth(val, depth+1)
			}
		case "anyOf":
			err = elements(val, func(e []byte) error {
				sub, err := fromGeminiSchemaDepth(e, depth+1)
				s.AnyOf = append(s.AnyOf, sub)
				return err
			})
		case "minItems":
			err = number(&s.MinItems, unquoteInt(val))
		case "maxItems":
			err = number(&s.MaxItems, unquoteInt(val))
		case "minLength":
			err = number(&s.MinLength, unquoteInt(val))
		case "maxLength":
			err = number(&s.MaxLength, unquoteInt(val))
		case "minProperties":
			err = number(&s.MinProperties, unquoteInt(val))
		case "maxProperties":
			err = number(&s.MaxProperties, unquoteInt(val))
		case "minimum":
			err = number(&s.Minimum, val)
		case "maximum":
			err = number(&s.Maximum, val)
		case "pattern":
			s.Pattern, err = str(val)
		case "default":
			s.Default = json.RawMessage(val)
		case "example":
			s.Examples = []json.RawMessage{json.RawMessage(val)}
		}
		return field(key, err)
	})
	if err != nil {
		return nil, err
	}
	if s.Format == "enum" {
		s.Format = ""
	}
	if s.Properties != nil && len(ordering) > 0 {
		reorder(s.Properties, ordering)
	}
	if nullable {
		switch t := s.Type.(type) {
		case string:
			s.Type = []string{t, "null"}
		default:
			if len(s.AnyOf) > 0 {
				s.AnyOf = append(s.AnyOf, &jsonSchema{Type: "null"})
			}
		}
		if s.Enum != nil {
			s.Enum = append(s.Enum, nil) // else the enum would refuse null
		}
	}
	return s, nil
}

// unquoteInt accepts an int64 written as a string, as proto3 JSON does.
func unquoteInt(raw []byte) []byte {
	if len(raw) > 1 && raw[0] == '"' {
		if s, err := jsonx.Unquote(raw); err == nil {
			return []byte(s)
		}
	}
	return raw
}

// reorder puts properties in the order propertyOrdering names.
func reorder(p *jsonProperties, ordering []string) {
	var names []string
	var schemas []*jsonSchema
	used := make([]bool, len(p.names))
	for _, want := range ordering {
		for i, n := range p.names {
			if n == want && !used[i] {
				names, schemas, used[i] = append(names, n), append(schemas, p.schemas[i]), true
			}
		}
	}
	for i, n := range p.names {
		if !used[i] {
			names, schemas = append(names, n), append(schemas, p.schemas[i])
		}
	}
	p.names, p.schemas = names, schemas
}
