package mock

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
)

// This file generates JSON from a JSON Schema: the arguments of simulated
// tool calls and the replies of structured outputs (OpenAI's json_schema,
// Gemini's responseSchema). The output is deterministic and valid against
// the schema for the keywords below; others (pattern, multipleOf,
// uniqueItems, not, if/then/else, …) are ignored.
//
// Understood: type (a name or a list, case-insensitive, so that Gemini's
// "OBJECT" works), properties (in the order written, or Gemini's
// propertyOrdering), required, items, prefixItems, enum (the first value),
// const, nullable, anyOf/oneOf (the first alternative that is not null),
// allOf (merged), $ref to "#", "#/$defs/…" or "#/definitions/…", minimum,
// maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength,
// minItems, maxItems and format (date-time, date, time, email, uri, uuid, …).

// generateFromSchema returns the document that the JSON Schema raw
// generates, or why raw is not a schema. Clients send the same tools and
// response formats with every request, and parsing a schema costs far more
// than the rest of an answer, so documents are cached by schema, up to
// schemaCacheEntries of them (the cache is emptied when full). The document
// is shared: it must not be modified.
func generateFromSchema(raw []byte) ([]byte, error) {
	key := hashBytes(raw)
	schemaCache.Lock()
	out, ok := schemaCache.entries[key]
	schemaCache.Unlock()
	if ok && bytes.Equal(out.schema, raw) {
		return out.doc, out.err
	}
	out = schemaOutput{schema: bytes.Clone(raw)}
	ps, err := parseSchema(raw)
	if err != nil {
		out.err = err
	} else {
		out.doc = ps.generate(nil)
	}
	schemaCache.Lock()
	if len(schemaCache.entries) >= schemaCacheEntries {
		clear(schemaCache.entries)
	}
	schemaCache.entries[key] = out
	schemaCache.Unlock()
	return out.doc, out.err
}

const schemaCacheEntries = 1024

var schemaCache = struct {
	sync.Mutex
	entries map[uint64]schemaOutput
}{entries: map[uint64]schemaOutput{}}

type schemaOutput struct {
	schema []byte // a copy of the schema, so that a hash collision is harmless
	doc    []byte
	err    error
}

// schemaNode is one parsed schema.
type schemaNode struct {
	types       []string // lower case; empty: unconstrained
	props       []schemaProperty
	ordering    []string
	required    []string
	items       *schemaNode
	prefixItems []*schemaNode
	enum        []json.RawMessage
	constant    json.RawMessage // nil: no const

	minimum, maximum, exclusiveMinimum, exclusiveMaximum *float64
	minLength, maxLength, minItems, maxItems             int // -1: unset

	format              string
	anyOf, oneOf, allOf []*schemaNode
	ref                 string
	never               bool // the schema false
}

type schemaProperty struct {
	name   string
	schema *schemaNode
}

// Generation limits keep a hostile or recursive schema from producing an
// unbounded document.
const (
	schemaMaxDepth = 32
	// schemaFullDepth is the depth past which objects get only their
	// required properties and arrays only their minimum of items.
	schemaFullDepth = 8
	// schemaMaxNodes bounds the values generated; past it, every value is
	// the smallest of its type.
	schemaMaxNodes  = 4096
	schemaMaxLength = 4096     // the longest string generated
	schemaMaxItems  = 64       // the most items generated for one array
	schemaMaxBytes  = 64 << 10 // about 16,000 tokens; past it, every value is the smallest of its type
)

// parsedSchema is a schema with its definitions, ready to generate from.
type parsedSchema struct {
	root *schemaNode
	defs map[string]*schemaNode
}

// parseSchema parses a JSON Schema. An empty or null raw is the empty
// schema, which accepts anything.
func parseSchema(raw []byte) (*parsedSchema, error) {
	ps := &parsedSchema{defs: map[string]*schemaNode{}}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		ps.root = &schemaNode{minLength: -1, maxLength: -1, minItems: -1, maxItems: -1}
		return ps, nil
	}
	root, err := ps.parse(raw, 0)
	if err != nil {
		return nil, err
	}
	ps.root = root
	return ps, nil
}

var errSchemaTooDeep = errors.New("the schema is nested too deeply")

func (ps *parsedSchema) parse(raw []byte, depth int) (*schemaNode, error) {
	if depth > 64 {
		return nil, errSchemaTooDeep
	}
	s := &schemaNode{minLength: -1, maxLength: -1, minItems: -1, maxItems: -1}
	raw = bytes.TrimSpace(raw)
	switch string(raw) {
	case "true":
		return s, nil
	case "false":
		s.never = true
		return s, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errors.New("a schema must be an object or a boolean")
	}
	var err error
	sub := func(raw json.RawMessage) *schemaNode {
		if err != nil {
			return nil
		}
		var n *schemaNode
		n, err = ps.parse(raw, depth+1)
		return n
	}
	list := func(key string, raw json.RawMessage) []*schemaNode {
		var elems []json.RawMessage
		if e := json.Unmarshal(raw, &elems); e != nil {
			err = errors.New("'" + key + "' must be an array of schemas")
			return nil
		}
		out := make([]*schemaNode, 0, len(elems))
		for _, e := range elems {
			out = append(out, sub(e))
		}
		return out
	}
	number := func(key string, raw json.RawMessage) *float64 {
		var f flexNumber
		if e := json.Unmarshal(raw, &f); e != nil {
			if raw[0] == 't' || raw[0] == 'f' {
				return nil // draft 4's boolean exclusive bounds: ignored
			}
			err = errors.New("'" + key + "' must be a number")
			return nil
		}
		v := float64(f)
		return &v
	}
	count := func(key string, raw json.RawMessage) int {
		p := number(key, raw)
		if p == nil || *p < 0 {
			return -1
		}
		return int(min(*p, math.MaxInt32))
	}
	for key, val := range m {
		if err != nil {
			break
		}
		switch key {
		case "type":
			s.types, err = parseTypes(val)
		case "properties":
			err = orderedMembers(val, func(name string, v json.RawMessage) {
				s.props = append(s.props, schemaProperty{name: name, schema: sub(v)})
			})
			if err != nil {
				err = errors.New("'properties' must be an object of schemas")
			}
		case "propertyOrdering", "property_ordering", "required":
			var names []string
			if json.Unmarshal(val, &names) != nil {
				err = errors.New("'" + key + "' must be an array of strings")
			}
			if key == "required" {
				s.required = names
			} else {
				s.ordering = names
			}
		case "items":
			if len(val) > 0 && val[0] == '[' { // draft 4 tuples
				s.prefixItems = list(key, val)
			} else {
				s.items = sub(val)
			}
		case "prefixItems":
			s.prefixItems = list(key, val)
		case "enum":
			if json.Unmarshal(val, &s.enum) != nil {
				err = errors.New("'enum' must be an array")
			}
		case "const":
			s.constant = val
		case "nullable":
			// Gemini and OpenAPI 3.0: null is allowed besides the type. The
			// generator never chooses null when it has another choice.
		case "minimum":
			s.minimum = number(key, val)
		case "maximum":
			s.maximum = number(key, val)
		case "exclusiveMinimum":
			s.exclusiveMinimum = number(key, val)
		case "exclusiveMaximum":
			s.exclusiveMaximum = number(key, val)
		case "minLength", "min_length":
			s.minLength = count(key, val)
		case "maxLength", "max_length":
			s.maxLength = count(key, val)
		case "minItems", "min_items":
			s.minItems = count(key, val)
		case "maxItems", "max_items":
			s.maxItems = count(key, val)
		case "format":
			_ = json.Unmarshal(val, &s.format)
		case "anyOf", "any_of":
			s.anyOf = list(key, val)
		case "oneOf":
			s.oneOf = list(key, val)
		case "allOf":
			s.allOf = list(key, val)
		case "$ref":
			if json.Unmarshal(val, &s.ref) != nil {
				err = errors.New("'$ref' must be a string")
			}
		case "$defs", "definitions":
			e := orderedMembers(val, func(name string, v json.RawMessage) {
				ps.defs[key+"/"+name] = sub(v)
			})
			if e != nil && err == nil {
				err = errors.New("'" + key + "' must be an object of schemas")
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func parseTypes(raw json.RawMessage) ([]string, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{strings.ToLower(one)}, nil
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil {
		return nil, errors.New("'type' must be a string or an array of strings")
	}
	for i := range many {
		many[i] = strings.ToLower(many[i])
	}
	return many, nil
}

// orderedMembers calls fn for each member of the JSON object raw, in order.
func orderedMembers(raw []byte, fn func(name string, value json.RawMessage)) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("not an object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		fn(name, v)
	}
	return nil
}

// flexNumber is a JSON number, or a string holding one (proto3 JSON writes
// 64-bit integers as strings, and Gemini's schemas do).
type flexNumber float64

func (f *flexNumber) UnmarshalJSON(raw []byte) error {
	s := string(raw)
	if raw[0] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	*f = flexNumber(v)
	return nil
}

// resolve follows a $ref.
func (ps *parsedSchema) resolve(ref string) *schemaNode {
	if ref == "#" {
		return ps.root
	}
	for _, prefix := range [...]string{"#/$defs/", "#/definitions/"} {
		if name, ok := strings.CutPrefix(ref, prefix); ok {
			name = strings.ReplaceAll(strings.ReplaceAll(name, "~1", "/"), "~0", "~")
			return ps.defs[prefix[2:]+name]
		}
	}
	return nil
}

// schemaGen generates one document. counter varies the values so that
// sibling strings and numbers differ, deterministically.
type schemaGen struct {
	ps      *parsedSchema
	counter int
	nodes   int
	start   int // where the document starts in the buffer
}

// generate appends a document valid against the schema.
func (ps *parsedSchema) generate(b []byte) []byte {
	g := schemaGen{ps: ps, start: len(b)}
	return g.value(b, ps.root, 0)
}

// exhausted says the document has grown as large as it may.
func (g *schemaGen) exhausted(b []byte, depth int) bool {
	return depth >= schemaMaxDepth || g.nodes > schemaMaxNodes || len(b)-g.start > schemaMaxBytes
}

func (g *schemaGen) value(b []byte, s *schemaNode, depth int) []byte {
	for hops := 0; s != nil && s.ref != "" && hops < schemaMaxDepth; hops++ {
		s = g.ps.resolve(s.ref)
	}
	if s == nil || s.ref != "" {
		return g.str(b, nil)
	}
	g.nodes++
	if s.constant != nil {
		return append(b, s.constant...)
	}
	if len(s.enum) > 0 {
		for _, e := range s.enum {
			if string(e) != "null" {
				return append(b, e...)
			}
		}
		return append(b, s.enum[0]...)
	}
	if len(s.allOf) > 0 {
		s = g.merge(s)
	}
	// Deep in the document, null ends a recursive structure where the
	// schema allows it; elsewhere the generator says something.
	deep := depth >= schemaFullDepth
	for _, alts := range [...][]*schemaNode{s.anyOf, s.oneOf} {
		if len(alts) == 0 {
			continue
		}
		pick := alts[0]
		for _, alt := range alts {
			if isNullSchema(alt) == deep {
				pick = alt
				break
			}
		}
		return g.value(b, pick, depth+1)
	}
	typ := ""
	for _, t := range s.types {
		if t != "null" {
			typ = t
			break
		}
	}
	if deep && contains(s.types, "null") {
		typ = "null"
	}
	if typ == "" {
		switch {
		case len(s.types) > 0:
			typ = "null"
		case len(s.props) > 0 || len(s.required) > 0:
			typ = "object"
		case s.items != nil || len(s.prefixItems) > 0:
			typ = "array"
		}
	}
	exhausted := g.exhausted(b, depth)
	switch typ {
	case "object":
		return g.object(b, s, depth, exhausted)
	case "array":
		return g.array(b, s, depth, exhausted)
	case "integer":
		return g.integer(b, s)
	case "number":
		return g.number(b, s)
	case "boolean":
		return append(b, "true"...)
	case "null":
		return append(b, "null"...)
	}
	if s.never {
		return append(b, "null"...)
	}
	if exhausted {
		return append(b, `""`...)
	}
	return g.str(b, s)
}

func isNullSchema(s *schemaNode) bool {
	return s != nil && len(s.types) == 1 && s.types[0] == "null"
}

// merge folds allOf into one schema: the properties and required names of
// every part, and the first part's other constraints where s has none.
func (g *schemaGen) merge(s *schemaNode) *schemaNode {
	m := *s
	m.allOf = nil
	m.props = append([]schemaProperty(nil), s.props...)
	m.required = append([]string(nil), s.required...)
	for _, part := range s.allOf {
		for hops := 0; part != nil && part.ref != "" && hops < schemaMaxDepth; hops++ {
			part = g.ps.resolve(part.ref)
		}
		if part == nil {
			continue
		}
		m.props = append(m.props, part.props...)
		m.required = append(m.required, part.required...)
		if len(m.types) == 0 {
			m.types = part.types
		}
		if m.items == nil {
			m.items = part.items
		}
		if len(m.enum) == 0 && m.constant == nil {
			m.enum, m.constant = part.enum, part.constant
		}
	}
	return &m
}

func (g *schemaGen) object(b []byte, s *schemaNode, depth int, exhausted bool) []byte {
	b = append(b, '{')
	if exhausted {
		return append(b, '}')
	}
	full := depth < schemaFullDepth
	first := true
	emit := func(name string, ps *schemaNode) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, name)
		b = append(b, ':')
		b = g.value(b, ps, depth+1)
	}
	done := map[string]bool{}
	// Gemini's propertyOrdering first, then the properties as written.
	for _, name := range s.ordering {
		if p := findProperty(s.props, name); p != nil && !done[name] && (full || contains(s.required, name)) {
			done[name] = true
			emit(name, p)
		}
	}
	for _, p := range s.props {
		if !done[p.name] && (full || contains(s.required, p.name)) {
			done[p.name] = true
			emit(p.name, p.schema)
		}
	}
	for _, name := range s.required { // required but never described
		if !done[name] {
			done[name] = true
			emit(name, nil)
		}
	}
	return append(b, '}')
}

func findProperty(props []schemaProperty, name string) *schemaNode {
	for _, p := range props {
		if p.name == name {
			return p.schema
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func (g *schemaGen) array(b []byte, s *schemaNode, depth int, exhausted bool) []byte {
	b = append(b, '[')
	n := 2
	if depth >= schemaFullDepth {
		n = 0
	}
	n = max(n, len(s.prefixItems), s.minItems)
	if s.maxItems >= 0 {
		n = min(n, s.maxItems)
	}
	n = min(n, schemaMaxItems)
	if exhausted {
		n = 0
	}
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		item := s.items
		if i < len(s.prefixItems) {
			item = s.prefixItems[i]
		}
		b = g.value(b, item, depth+1)
	}
	return append(b, ']')
}

func (g *schemaGen) integer(b []byte, s *schemaNode) []byte {
	v := float64(1 + g.next()%9)
	lo, hi := math.Inf(-1), math.Inf(1)
	if s.minimum != nil {
		lo = math.Ceil(*s.minimum)
	}
	if s.exclusiveMinimum != nil {
		lo = max(lo, math.Floor(*s.exclusiveMinimum)+1)
	}
	if s.maximum != nil {
		hi = math.Floor(*s.maximum)
	}
	if s.exclusiveMaximum != nil {
		hi = min(hi, math.Ceil(*s.exclusiveMaximum)-1)
	}
	v = clamp(v, lo, hi)
	if math.IsInf(v, 0) || math.IsNaN(v) || math.Abs(v) > 1<<53 {
		v = 0
	}
	return strconv.AppendInt(b, int64(v), 10)
}

func (g *schemaGen) number(b []byte, s *schemaNode) []byte {
	v := float64(1+g.next()%9) + 0.5
	lo, hi := math.Inf(-1), math.Inf(1)
	loExclusive, hiExclusive := false, false
	if s.minimum != nil {
		lo = *s.minimum
	}
	if s.exclusiveMinimum != nil && *s.exclusiveMinimum >= lo {
		lo, loExclusive = *s.exclusiveMinimum, true
	}
	if s.maximum != nil {
		hi = *s.maximum
	}
	if s.exclusiveMaximum != nil && *s.exclusiveMaximum <= hi {
		hi, hiExclusive = *s.exclusiveMaximum, true
	}
	within := (v > lo || !loExclusive && v == lo) && (v < hi || !hiExclusive && v == hi)
	if !within {
		switch {
		case !math.IsInf(lo, 0) && !math.IsInf(hi, 0):
			v = lo + (hi-lo)/2
		case !math.IsInf(lo, 0):
			v = lo + 1
		default:
			v = hi - 1
		}
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		v = 0
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func clamp(v, lo, hi float64) float64 {
	if v < lo {
		v = lo
	}
	if v > hi {
		v = hi
	}
	return v
}

func (g *schemaGen) next() int {
	g.counter++
	return g.counter - 1
}

// formatExamples are values of the string formats JSON Schema names.
var formatExamples = map[string]string{
	"date-time":     "2024-01-01T00:00:00Z",
	"date":          "2024-01-01",
	"time":          "12:00:00",
	"duration":      "PT1H",
	"email":         "user@example.com",
	"idn-email":     "user@example.com",
	"hostname":      "example.com",
	"idn-hostname":  "example.com",
	"ipv4":          "192.0.2.1",
	"ipv6":          "2001:db8::1",
	"uri":           "https://example.com/",
	"url":           "https://example.com/",
	"iri":           "https://example.com/",
	"uri-reference": "https://example.com/",
	"uuid":          "123e4567-e89b-42d3-a456-426614174000",
}

// str appends a string: an example of its format, or two words, padded or
// cut to its length bounds.
func (g *schemaGen) str(b []byte, s *schemaNode) []byte {
	k := g.next()
	var v []byte
	if s != nil && formatExamples[s.format] != "" {
		v = append(v, formatExamples[s.format]...)
	} else {
		v = append(v, words[(2*k)%len(words)]...)
		v = append(v, ' ')
		v = append(v, words[(2*k+1)%len(words)]...)
	}
	if s != nil {
		if s.minLength > len(v) {
			for len(v) < min(s.minLength, schemaMaxLength) {
				v = append(v, 'x')
			}
		}
		if s.maxLength >= 0 && len(v) > s.maxLength {
			v = v[:s.maxLength] // ASCII: bytes are characters
		}
	}
	b = append(b, '"')
	b = appendEscaped(b, v)
	return append(b, '"')
}
