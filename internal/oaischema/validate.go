package oaischema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

type validator struct {
	strict bool
}

// check returns every way v departs from s. named is, in strict mode, the
// set of member names that the schemas s is composed with already allow at
// this location.
func (vd *validator) check(s *schema, v any, path string, named map[string]bool) []Problem {
	if s.always != nil {
		if !*s.always {
			return []Problem{{path, "no value is allowed here"}}
		}
		return nil
	}
	if v == nil && s.nullable {
		return nil
	}
	obj, isObject := v.(map[string]any)
	// In strict mode, the names allowed here are those of the enclosing
	// schemas and of every schema this one is composed of (not its
	// alternatives: each of those is judged with its own names).
	var here map[string]bool
	if vd.strict && isObject {
		here = make(map[string]bool, len(named))
		for n := range named {
			here[n] = true
		}
		localNames(s, here, map[*schema]bool{})
	}

	var ps []Problem
	if s.ref != nil {
		ps = append(ps, vd.check(s.ref, v, path, here)...)
	}
	if len(s.types) > 0 && !slices.ContainsFunc(s.types, func(t string) bool { return hasType(v, t) }) {
		// Nothing else is worth saying about a value of the wrong type.
		return append(ps, Problem{path, fmt.Sprintf("%s is not of type %s", describe(v), strings.Join(s.types, " or "))})
	}
	if s.enum != nil && !slices.ContainsFunc(s.enum, func(e any) bool { return equal(e, v) }) {
		ps = append(ps, Problem{path, fmt.Sprintf("%s is not one of %s", describe(v), describeList(s.enum))})
	}
	if s.constant != nil && !equal(*s.constant, v) {
		ps = append(ps, Problem{path, fmt.Sprintf("%s is not the constant %s", describe(v), describe(*s.constant))})
	}
	if n, ok := rat(v); ok {
		ps = append(ps, checkBounds(s, n, path)...)
	}
	for _, part := range s.allOf {
		ps = append(ps, vd.check(part, v, path, here)...)
	}
	if s.anyOf != nil {
		var failures [][]Problem
		for _, alt := range s.anyOf {
			p := vd.check(alt, v, path, here)
			if len(p) == 0 {
				failures = nil
				break
			}
			failures = append(failures, p)
		}
		if failures != nil {
			ps = append(ps, Problem{path, "matches none of anyOf: " + describeFailures(failures)})
		}
	}
	if s.oneOf != nil {
		var failures [][]Problem
		var matched []int
		for i, alt := range s.oneOf {
			p := vd.check(alt, v, path, here)
			if len(p) == 0 {
				matched = append(matched, i)
			}
			failures = append(failures, p)
		}
		switch len(matched) {
		case 0:
			ps = append(ps, Problem{path, "matches none of oneOf: " + describeFailures(failures)})
		case 1:
		default:
			ps = append(ps, Problem{path, fmt.Sprintf("matches alternatives %v of oneOf; it must match exactly one", matched)})
		}
	}
	switch v := v.(type) {
	case map[string]any:
		ps = append(ps, vd.checkObject(s, obj, path, here)...)
	case []any:
		if s.items != nil {
			for i, e := range v {
				ps = append(ps, vd.check(s.items, e, fmt.Sprintf("%s[%d]", path, i), nil)...)
			}
		}
	}
	return ps
}

func (vd *validator) checkObject(s *schema, obj map[string]any, path string, here map[string]bool) []Problem {
	var ps []Problem
	for _, name := range s.required {
		if _, ok := obj[name]; !ok {
			ps = append(ps, Problem{path, fmt.Sprintf("required member %q is missing", name)})
		}
	}
	strictHere := vd.strict && s.properties != nil && !s.hasAdditional
	var alternatives map[string]bool
	if strictHere && (s.anyOf != nil || s.oneOf != nil) {
		// Each alternative judges its own members strictly; here only a name
		// that no alternative knows is an error.
		alternatives = map[string]bool{}
		for _, alt := range append(slices.Clone(s.anyOf), s.oneOf...) {
			localNames(alt, alternatives, map[*schema]bool{})
		}
	}
	for _, name := range sortedKeys(obj) {
		at := memberPath(path, name)
		if prop, ok := s.properties[name]; ok {
			ps = append(ps, vd.check(prop, obj[name], at, nil)...)
			continue
		}
		switch {
		case s.noAdditional:
			ps = append(ps, Problem{at, "member is not allowed (additionalProperties: false)"})
		case s.additional != nil:
			ps = append(ps, vd.check(s.additional, obj[name], at, nil)...)
		case strictHere && !here[name] && !alternatives[name]:
			ps = append(ps, Problem{at, "member is not in the schema"})
		}
	}
	return ps
}

// localNames adds to names the properties of s and of the schemas s is made
// of at the same location: its $ref and its allOf parts.
func localNames(s *schema, names map[string]bool, seen map[*schema]bool) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	for n := range s.properties {
		names[n] = true
	}
	localNames(s.ref, names, seen)
	for _, part := range s.allOf {
		localNames(part, names, seen)
	}
}

func checkBounds(s *schema, n *big.Rat, path string) []Problem {
	var ps []Problem
	bound := func(limit *big.Rat, ok func(cmp int) bool, what string) {
		if limit != nil && !ok(n.Cmp(limit)) {
			ps = append(ps, Problem{path, fmt.Sprintf("%s is not %s %s", n.RatString(), what, limit.RatString())})
		}
	}
	bound(s.minimum, func(c int) bool { return c >= 0 }, "at least")
	bound(s.maximum, func(c int) bool { return c <= 0 }, "at most")
	bound(s.exclusiveMinimum, func(c int) bool { return c > 0 }, "more than")
	bound(s.exclusiveMaximum, func(c int) bool { return c < 0 }, "less than")
	return ps
}

func hasType(v any, typ string) bool {
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
		n, ok := rat(v)
		return ok && n.IsInt()
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

// equal is JSON equality: numbers by value, objects and arrays member by
// member.
func equal(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		x, ok1 := rat(a)
		y, ok2 := rat(b)
		return ok1 && ok2 && x.Cmp(y) == 0
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, av := range a {
			if bv, ok := bm[k]; !ok || !equal(av, bv) {
				return false
			}
		}
		return true
	case []any:
		bs, ok := b.([]any)
		return ok && slices.EqualFunc(a, bs, equal)
	default:
		return a == b
	}
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func memberPath(path, name string) string {
	if identifier.MatchString(name) {
		return path + "." + name
	}
	return path + "[" + strconv.Quote(name) + "]"
}

// describe renders a value briefly for a message.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		return strconv.Quote(v)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

func describeList(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = describe(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func describeFailures(failures [][]Problem) string {
	var b strings.Builder
	for i, ps := range failures {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "[%d] ", i)
		for j, p := range ps {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(p.String())
		}
	}
	return b.String()
}
