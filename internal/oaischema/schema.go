package oaischema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// schema is one compiled JSON Schema. Absent keywords are zero values.
type schema struct {
	// always is set for the boolean schemas true and false.
	always *bool

	ref      *schema
	refName  string
	types    []string // empty: any type
	nullable bool     // OpenAPI 3.0: null is accepted whatever else is said
	enum     []any
	constant *any

	properties map[string]*schema
	required   []string
	// additional is the additionalProperties schema; noAdditional is
	// additionalProperties: false; hasAdditional says the keyword is there.
	additional    *schema
	noAdditional  bool
	hasAdditional bool
	items         *schema

	anyOf, oneOf, allOf []*schema

	minimum, maximum, exclusiveMinimum, exclusiveMaximum *big.Rat
}

const refPrefix = "#/components/schemas/"

var knownTypes = []string{"object", "array", "string", "integer", "number", "boolean", "null"}

// annotations are keywords that assert nothing about a document.
var annotations = map[string]bool{
	"description": true, "title": true, "default": true, "example": true, "examples": true,
	"deprecated": true, "format": true, "discriminator": true, "readOnly": true, "writeOnly": true,
	"externalDocs": true, "xml": true, "$comment": true, "contentMediaType": true, "contentEncoding": true,
}

type compiler struct {
	named map[string]*schema
	errs  []error
}

func (c *compiler) fail(path, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (c *compiler) compile(v any, path string) *schema {
	s := &schema{}
	c.compileInto(s, v, path)
	return s
}

// compileInto fills s from the decoded schema v. Named schemas are
// allocated before any is filled, so that a $ref, even a recursive one, is a
// plain pointer.
func (c *compiler) compileInto(s *schema, v any, path string) {
	if b, ok := v.(bool); ok {
		s.always = &b
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		c.fail(path, "a schema must be an object or a boolean, not %s", describe(v))
		return
	}
	for _, key := range sortedKeys(m) {
		val, at := m[key], path+"."+key
		switch key {
		case "$ref":
			ref, _ := val.(string)
			name, ok := strings.CutPrefix(ref, refPrefix)
			if !ok {
				c.fail(at, "only references to %s... are supported, not %s", refPrefix, describe(val))
				continue
			}
			name = strings.ReplaceAll(strings.ReplaceAll(name, "~1", "/"), "~0", "~")
			if s.ref = c.named[name]; s.ref == nil {
				c.fail(at, "%q does not resolve", ref)
			}
			s.refName = name
		case "type":
			switch t := val.(type) {
			case string:
				s.types = []string{t}
			case []any:
				for _, e := range t {
					name, _ := e.(string)
					s.types = append(s.types, name)
				}
			}
			if len(s.types) == 0 {
				c.fail(at, "want a type name or a list of them, not %s", describe(val))
			}
			for _, t := range s.types {
				if !slices.Contains(knownTypes, t) {
					c.fail(at, "unknown type %q", t)
				}
			}
		case "nullable":
			b, ok := val.(bool)
			if !ok {
				c.fail(at, "want a boolean")
			}
			s.nullable = b
		case "enum":
			list, ok := val.([]any)
			if !ok || len(list) == 0 {
				c.fail(at, "want a non-empty list")
			}
			s.enum = list
		case "const":
			s.constant = &val
		case "properties":
			props, ok := val.(map[string]any)
			if !ok {
				c.fail(at, "want an object")
				continue
			}
			s.properties = make(map[string]*schema, len(props))
			for _, name := range sortedKeys(props) {
				s.properties[name] = c.compile(props[name], at+"."+name)
			}
		case "required":
			list, _ := val.([]any)
			for _, e := range list {
				name, ok := e.(string)
				if !ok {
					c.fail(at, "want a list of names")
				}
				s.required = append(s.required, name)
			}
		case "additionalProperties":
			s.hasAdditional = true
			if b, ok := val.(bool); ok && !b {
				s.noAdditional = true
			} else if !ok {
				s.additional = c.compile(val, at)
			}
		case "items":
			if _, tuple := val.([]any); tuple {
				c.fail(at, "tuple items (a list of schemas) are not supported")
				continue
			}
			s.items = c.compile(val, at)
		case "anyOf", "oneOf", "allOf":
			list, ok := val.([]any)
			if !ok || len(list) == 0 {
				c.fail(at, "want a non-empty list of schemas")
				continue
			}
			out := make([]*schema, len(list))
			for i, e := range list {
				out[i] = c.compile(e, fmt.Sprintf("%s[%d]", at, i))
			}
			switch key {
			case "anyOf":
				s.anyOf = out
			case "oneOf":
				s.oneOf = out
			default:
				s.allOf = out
			}
		case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
			r, ok := rat(val)
			if !ok {
				c.fail(at, "want a number (OpenAPI 3.0's boolean exclusive bounds are not supported), not %s", describe(val))
				continue
			}
			switch key {
			case "minimum":
				s.minimum = r
			case "maximum":
				s.maximum = r
			case "exclusiveMinimum":
				s.exclusiveMinimum = r
			default:
				s.exclusiveMaximum = r
			}
		default:
			if !annotations[key] && !strings.HasPrefix(key, "x-") {
				c.fail(at, "keyword %q is not supported", key)
			}
		}
	}
}

// rat returns a JSON number as an exact rational.
func rat(v any) (*big.Rat, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	return new(big.Rat).SetString(n.String())
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
