// Package redact scrubs secrets and personal data from request and response
// bodies before they are recorded: email addresses, payment card numbers,
// API keys and tokens, secret-looking JSON values, and the patterns a
// deployment adds in config (proxy.redact).
//
// Bodies are JSON (or SSE streams of JSON), and a redacted body must stay
// what it was: a match is replaced only where it lies inside a JSON string
// or is a whole JSON number, never across a quote or inside an escape
// sequence, and markers contain no quote, backslash or control character.
// So valid JSON in is valid JSON out, whatever the patterns match.
//
// Redaction runs once per record, off the request path, over bodies of up
// to a few hundred kilobytes: every built-in detector starts from a cheap
// literal search (an '@', a run of digits, a key prefix) and does nothing
// more on a body that has none.
package redact

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/switchyard/switchyard/config"
)

// Redactor scrubs text. It is immutable and safe for concurrent use.
type Redactor struct {
	rules []rule
}

// rule finds the spans of one kind of secret.
type rule struct {
	name   string
	marker string
	find   func(t *text, dst []span) []span
}

// span is a byte range of the text to replace with a rule's marker.
type span struct {
	start, end int
	rule       int
}

// Marker returns the replacement of a built-in or named pattern.
func Marker(name string) string { return "[REDACTED:" + name + "]" }

// New builds a Redactor: the built-in detectors unless cfg.Defaults is
// false, then cfg.Patterns in order. Every bad pattern is reported.
func New(cfg config.Redact) (*Redactor, error) {
	r := &Redactor{}
	if cfg.Defaults == nil || *cfg.Defaults {
		r.rules = append(r.rules, builtinRules()...)
	}
	var errs []error
	for i, p := range cfg.Patterns {
		path := fmt.Sprintf("proxy.redact.patterns[%d]", i)
		if p.Name == "" {
			errs = append(errs, fmt.Errorf("%s: name is required", path))
		} else if strings.ContainsAny(p.Name, "]\"\\") || !utf8.ValidString(p.Name) || hasControl(p.Name) {
			errs = append(errs, fmt.Errorf("%s: name %q may not contain ], quotes, backslashes or control characters", path, p.Name))
		}
		marker := p.Replacement
		if marker == "" {
			marker = Marker(p.Name)
		} else if strings.ContainsAny(marker, "\"\\") || !utf8.ValidString(marker) || hasControl(marker) {
			// A marker is written into JSON strings as it is.
			errs = append(errs, fmt.Errorf("%s: replacement %q may not contain quotes, backslashes or control characters", path, marker))
		}
		re, err := regexp.Compile(p.Regex)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: regex: %w", path, err))
			continue
		}
		r.rules = append(r.rules, regexRule(p.Name, marker, re))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// regexRule matches a configured pattern. A literal prefix, when the
// pattern has one, skips texts that cannot match.
func regexRule(name, marker string, re *regexp.Regexp) rule {
	prefix, _ := re.LiteralPrefix()
	return rule{name: name, marker: marker, find: func(t *text, dst []span) []span {
		if prefix != "" && !strings.Contains(t.s, prefix) {
			return dst
		}
		for _, m := range re.FindAllStringIndex(t.s, -1) {
			if m[1] > m[0] {
				dst = append(dst, span{start: m[0], end: m[1]})
			}
		}
		return dst
	}}
}

// text is one input and what the detectors share about it.
type text struct {
	s string
}

var spanPool = sync.Pool{New: func() any { s := make([]span, 0, 16); return &s }}

// Redact returns s with every match replaced by its marker, and whether
// anything matched.
func (r *Redactor) Redact(s string) (string, bool) {
	if s == "" || len(r.rules) == 0 {
		return s, false
	}
	t := &text{s: s}
	buf := spanPool.Get().(*[]span)
	spans := (*buf)[:0]
	for i := range r.rules {
		n := len(spans)
		spans = r.rules[i].find(t, spans)
		for j := n; j < len(spans); j++ {
			spans[j].rule = i
		}
	}
	if len(spans) == 0 {
		*buf = spans
		spanPool.Put(buf)
		return s, false
	}
	spans = resolveOverlaps(spans)
	out, changed := r.apply(s, spans)
	*buf = spans[:0]
	spanPool.Put(buf)
	return out, changed
}

// resolveOverlaps orders spans and drops those that overlap an earlier
// one; of spans starting together the longer wins, then the earlier rule.
func resolveOverlaps(spans []span) []span {
	sort.Slice(spans, func(i, j int) bool {
		a, b := spans[i], spans[j]
		if a.start != b.start {
			return a.start < b.start
		}
		if a.end != b.end {
			return a.end > b.end
		}
		return a.rule < b.rule
	})
	kept, end := spans[:0], -1
	for _, sp := range spans {
		if sp.start >= end {
			kept = append(kept, sp)
			end = sp.end
		}
	}
	return kept
}

// apply writes s with the spans replaced, keeping JSON intact: see
// lexer. The part of a span inside a JSON string is replaced; quotes are
// kept; a part outside strings is replaced only if it is a whole number or
// literal (then by a quoted marker), or if s is not JSON at all.
func (r *Redactor) apply(s string, spans []span) (string, bool) {
	var b strings.Builder
	b.Grow(len(s) + 16*len(spans))
	lx := lexer{s: s}
	last, changed := 0, false
	isJSON := -1 // unknown
	for _, sp := range spans {
		marker := r.rules[sp.rule].marker
		for _, seg := range lx.segments(sp.start, sp.end) {
			if seg.start < last {
				continue
			}
			switch {
			case seg.inString:
				b.WriteString(s[last:seg.start])
				b.WriteString(marker)
			case isValueToken(s, seg.start, seg.end):
				b.WriteString(s[last:seg.start])
				b.WriteByte('"')
				b.WriteString(marker)
				b.WriteByte('"')
			default:
				if isJSON < 0 {
					isJSON = 0
					if json.Valid([]byte(s)) {
						isJSON = 1
					}
				}
				if isJSON == 1 {
					continue // structure between strings: keep it
				}
				b.WriteString(s[last:seg.start])
				b.WriteString(marker)
			}
			last, changed = seg.end, true
		}
	}
	if !changed {
		return s, false
	}
	b.WriteString(s[last:])
	return b.String(), true
}

// isValueToken reports whether s[start:end] is a whole JSON number or
// literal standing as a value: after '[', ',', ':' or the start, before
// ']', ',', '}' or the end.
func isValueToken(s string, start, end int) bool {
	tok := s[start:end]
	if tok != "true" && tok != "false" && tok != "null" && !isJSONNumber(tok) {
		return false
	}
	i := start - 1
	for i >= 0 && isJSONSpace(s[i]) {
		i--
	}
	if i >= 0 && s[i] != '[' && s[i] != ',' && s[i] != ':' {
		return false
	}
	j := end
	for j < len(s) && isJSONSpace(s[j]) {
		j++
	}
	return j == len(s) || s[j] == ']' || s[j] == ',' || s[j] == '}'
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isJSONNumber(tok string) bool {
	if tok == "" || !json.Valid([]byte(tok)) {
		return false
	}
	c := tok[0]
	return c == '-' || ('0' <= c && c <= '9')
}

// segment is a part of a span on one side of JSON string boundaries.
type segment struct {
	start, end int
	inString   bool
}

// lexer tracks, from the start of the text forwards, whether a position
// is inside a JSON string and where escape sequences are, so that spans are
// cut at string quotes and never split an escape. On text that is not JSON
// it still pairs double quotes, which is harmless there.
type lexer struct {
	s        string
	pos      int
	inString bool
	segs     []segment
}

// escapeLen returns the length of the escape sequence at i (s[i] == '\\').
func escapeLen(s string, i int) int {
	if i+1 < len(s) && s[i+1] == 'u' {
		return min(6, len(s)-i)
	}
	return min(2, len(s)-i)
}

// advance moves to end, and returns where it stopped: past end when end
// falls inside an escape sequence.
func (lx *lexer) advance(end int) int {
	for lx.pos < end {
		c := lx.s[lx.pos]
		switch {
		case lx.inString && c == '\\':
			lx.pos += escapeLen(lx.s, lx.pos)
		case c == '"':
			lx.inString = !lx.inString
			lx.pos++
		default:
			lx.pos++
		}
	}
	return lx.pos
}

// segments splits [start, end) at string quotes. A start inside an escape
// sequence moves past it; an end inside one moves to its end.
func (lx *lexer) segments(start, end int) []segment {
	lx.segs = lx.segs[:0]
	if start < lx.pos {
		start = lx.pos // the previous span ended inside an escape
	}
	start = lx.advance(start)
	for start < end {
		if lx.s[start] == '"' {
			lx.advance(start + 1)
			start++
			continue
		}
		in := lx.inString
		segStart := start
		for lx.pos < end && lx.s[lx.pos] != '"' {
			lx.advance(lx.pos + 1)
		}
		start = lx.pos
		if start > segStart {
			lx.segs = append(lx.segs, segment{start: segStart, end: start, inString: in})
		}
	}
	return lx.segs
}
