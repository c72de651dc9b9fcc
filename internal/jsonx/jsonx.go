// Package jsonx reads and edits JSON at the byte level for the proxy's hot
// path: it walks an object's members and an array's elements, validating
// the grammar as it goes (a document Members accepts is valid JSON), and
// rewrites top-level members in place, so that the proxy can read "model"
// or "usage" and add "stream_options" without decoding and re-encoding a
// whole body with reflection.
package jsonx

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// ErrNotObject is returned when the input is not a JSON object.
var ErrNotObject = errors.New("jsonx: not a JSON object")

// ErrSyntax is returned when the extent of a value cannot be found.
var ErrSyntax = errors.New("jsonx: malformed JSON")

// Member is one member of an object: its key and the byte offsets of its
// raw value in the object's text.
type Member struct {
	rawKey     []byte // between the quotes, escapes as written
	KeyStart   int    // offset of the key's opening quote
	ValueStart int
	ValueEnd   int
}

// Members calls fn for each top-level member of the object in data, in
// order; fn returns false to stop early. The whole of data must be one valid
// JSON object (surrounding whitespace allowed), or Members returns an error
// — also when fn stopped early, if what fn saw was malformed.
func Members(data []byte, fn func(m Member) bool) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return ErrNotObject
	}
	end, err := skipObject(data, i, 0, fn)
	if err != nil {
		return err
	}
	if skipSpace(data, end) != len(data) {
		return ErrSyntax
	}
	return nil
}

// Elements calls fn with the start and end offsets of each element of the
// array that is the whole of data.
func Elements(data []byte, fn func(start, end int) bool) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return ErrSyntax
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		if skipSpace(data, i+1) != len(data) {
			return ErrSyntax
		}
		return nil
	}
	for {
		end, err := skipValue(data, i, 1)
		if err != nil {
			return err
		}
		if !fn(i, end) {
			return nil
		}
		i = skipSpace(data, end)
		if i >= len(data) {
			return ErrSyntax
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			if skipSpace(data, i+1) != len(data) {
				return ErrSyntax
			}
			return nil
		default:
			return ErrSyntax
		}
	}
}

// maxDepth bounds nesting, so that a hostile document cannot exhaust the
// stack.
const maxDepth = 1000

// skipObject validates the object at data[i] and returns the index after
// it, calling fn (when not nil) for each member until fn returns false.
func skipObject(data []byte, i, depth int, fn func(Member) bool) (int, error) {
	if depth > maxDepth {
		return 0, ErrSyntax
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return 0, ErrSyntax
		}
		keyStart := i
		keyEnd, err := skipString(data, i)
		if err != nil {
			return 0, err
		}
		i = skipSpace(data, keyEnd)
		if i >= len(data) || data[i] != ':' {
			return 0, ErrSyntax
		}
		start := skipSpace(data, i+1)
		end, err := skipValue(data, start, depth+1)
		if err != nil {
			return 0, err
		}
		if fn != nil {
			if !fn(Member{rawKey: data[keyStart+1 : keyEnd-1], KeyStart: keyStart, ValueStart: start, ValueEnd: end}) {
				fn = nil // keep validating, stop calling
			}
		}
		i = skipSpace(data, end)
		if i >= len(data) {
			return 0, ErrSyntax
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, ErrSyntax
		}
	}
}

// Get returns the raw value of the last top-level member named key (JSON's
// "last one wins"), or nil if there is none.
func Get(data []byte, key string) ([]byte, error) {
	var val []byte
	err := Members(data, func(m Member) bool {
		if m.Is(key) {
			val = data[m.ValueStart:m.ValueEnd]
		}
		return true
	})
	return val, err
}

// Set returns a copy of the object in data with the top-level member key
// set to the raw JSON value. Every existing member of that name is
// replaced, so the result has exactly one; when there is none, the member is
// appended before the closing brace.
func Set(data []byte, key string, value []byte) ([]byte, error) {
	var spans [][2]int
	closing := -1
	err := Members(data, func(m Member) bool {
		if m.Is(key) {
			spans = append(spans, [2]int{m.ValueStart, m.ValueEnd})
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if len(spans) == 0 {
		closing = bytes.LastIndexByte(data, '}')
		out := make([]byte, 0, len(data)+len(key)+len(value)+4)
		out = append(out, data[:closing]...)
		if hasMember(data[:closing]) {
			out = append(out, ',')
		}
		out = appendQuoted(out, key)
		out = append(out, ':')
		out = append(out, value...)
		return append(out, data[closing:]...), nil
	}
	out := make([]byte, 0, len(data)+len(value))
	prev := 0
	for _, s := range spans {
		out = append(out, data[prev:s[0]]...)
		out = append(out, value...)
		prev = s[1]
	}
	return append(out, data[prev:]...), nil
}

// hasMember reports whether the object text before its closing brace holds
// any member, i.e. whether an appended member needs a leading comma.
func hasMember(beforeClosing []byte) bool {
	t := bytes.TrimRight(beforeClosing, " \t\r\n")
	return len(t) > 0 && t[len(t)-1] != '{'
}

// InsertMember returns data with `"key":value` added as the last member of
// the object that spans data[start:end] (as found by Members or SkipValue).
func InsertMember(data []byte, start, end int, key string, value []byte) ([]byte, error) {
	if start < 0 || end > len(data) || start >= end || data[start] != '{' || data[end-1] != '}' {
		return nil, ErrNotObject
	}
	closing := end - 1
	out := make([]byte, 0, len(data)+len(key)+len(value)+4)
	out = append(out, data[:closing]...)
	if hasMember(data[start:closing]) {
		out = append(out, ',')
	}
	out = appendQuoted(out, key)
	out = append(out, ':')
	out = append(out, value...)
	return append(out, data[closing:]...), nil
}

func appendQuoted(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// Is reports whether the member's key is name, without allocating unless
// the key is written with escapes.
func (m Member) Is(name string) bool {
	if bytes.IndexByte(m.rawKey, '\\') < 0 {
		return string(m.rawKey) == name
	}
	return m.Key() == name
}

// KeyBytes returns the member's key without allocating when it is written
// without escapes (the usual case); the slice must not be modified.
func (m Member) KeyBytes() []byte {
	if bytes.IndexByte(m.rawKey, '\\') < 0 && utf8.Valid(m.rawKey) {
		return m.rawKey
	}
	return []byte(m.Key())
}

// Key returns the member's key, unescaped (invalid UTF-8 becomes U+FFFD,
// as encoding/json does).
func (m Member) Key() string {
	if bytes.IndexByte(m.rawKey, '\\') < 0 && utf8.Valid(m.rawKey) {
		return string(m.rawKey)
	}
	var s string
	quoted := make([]byte, 0, len(m.rawKey)+2)
	quoted = append(append(append(quoted, '"'), m.rawKey...), '"')
	_ = json.Unmarshal(quoted, &s) // validated already
	return s
}

// Unquote returns the string a raw JSON string value holds; a raw value
// that is not a string is an error.
func Unquote(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", ErrSyntax
	}
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1]), nil
	}
	// Escapes, or invalid UTF-8 that becomes U+FFFD as encoding/json does.
	out, err := AppendUnquoted(make([]byte, 0, len(raw)), raw)
	if err != nil || len(out) == 0 {
		return "", err
	}
	// out is referenced nowhere else: the string can own it.
	return unsafe.String(&out[0], len(out)), nil
}

// Int parses a raw JSON number that is an integer (as token counts are);
// null reads as 0.
func Int(raw []byte) (int64, error) {
	if string(raw) == "null" {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		// Some providers write integral counts as 12.0.
		f, ferr := strconv.ParseFloat(string(raw), 64)
		if ferr != nil || f != float64(int64(f)) {
			return 0, ErrSyntax
		}
		return int64(f), nil
	}
	return n, nil
}

// IsNull reports whether a raw value is absent or null.
func IsNull(raw []byte) bool { return len(raw) == 0 || string(raw) == "null" }

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// stringStop marks the bytes that end a run of plain string content: the
// closing quote, an escape, and control characters (invalid in JSON).
var stringStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// skipString validates the string starting at data[i] and returns the
// index just past it.
func skipString(data []byte, i int) (int, error) {
	j := i + 1
	for {
		// Eight bytes at a time while none of them can end the run (a
		// quote, a backslash, a control character): bodies are long.
		for j+8 <= len(data) && !mayStop(binary.LittleEndian.Uint64(data[j:])) {
			j += 8
		}
		for j < len(data) && !stringStop[data[j]] {
			j++
		}
		if j >= len(data) {
			return 0, ErrSyntax
		}
		switch data[j] {
		case '"':
			return j + 1, nil
		case '\\':
			j++
			if j >= len(data) {
				return 0, ErrSyntax
			}
			switch data[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+4 >= len(data) || !isHex(data[j+1]) || !isHex(data[j+2]) || !isHex(data[j+3]) || !isHex(data[j+4]) {
					return 0, ErrSyntax
				}
				j += 5
			default:
				return 0, ErrSyntax
			}
		default:
			return 0, ErrSyntax // a control character
		}
	}
}

// mayStop reports whether any of eight bytes may be a quote, a backslash or
// a control character (below 0x20). It has no false negatives; a false
// positive only sends the caller to its byte-by-byte loop.
func mayStop(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	below20 := (x - ones*0x20) & ^x & highs
	return below20|zero(x^(ones*'"'))|zero(x^(ones*'\\')) != 0
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// SkipValue validates the JSON value starting at data[i] and returns the
// index just past it.
func SkipValue(data []byte, i int) (int, error) { return skipValue(data, i, 0) }

func skipValue(data []byte, i, depth int) (int, error) {
	if i >= len(data) {
		return 0, ErrSyntax
	}
	switch c := data[i]; {
	case c == '"':
		return skipString(data, i)
	case c == '{':
		return skipObject(data, i, depth, nil)
	case c == '[':
		return skipArray(data, i, depth)
	case c == 't':
		return skipLiteral(data, i, "true")
	case c == 'f':
		return skipLiteral(data, i, "false")
	case c == 'n':
		return skipLiteral(data, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return skipNumber(data, i)
	}
	return 0, ErrSyntax
}

func skipArray(data []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, ErrSyntax
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1, nil
	}
	for {
		end, err := skipValue(data, i, depth+1)
		if err != nil {
			return 0, err
		}
		i = skipSpace(data, end)
		if i >= len(data) {
			return 0, ErrSyntax
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, ErrSyntax
		}
	}
}

func skipLiteral(data []byte, i int, lit string) (int, error) {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return 0, ErrSyntax
	}
	return i + len(lit), nil
}

// skipNumber follows JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(data []byte, i int) (int, error) {
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		i = skipDigits(data, i)
	default:
		return 0, ErrSyntax
	}
	if i < len(data) && data[i] == '.' {
		j := skipDigits(data, i+1)
		if j == i+1 {
			return 0, ErrSyntax
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := skipDigits(data, i)
		if j == i {
			return 0, ErrSyntax
		}
		i = j
	}
	return i, nil
}

func skipDigits(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}

// Delete returns data without the top-level members named in keys. When no
// member matches, data itself is returned; otherwise the object is rebuilt
// from the kept members' raw text.
func Delete(data []byte, keys ...string) ([]byte, error) {
	var kept []Member
	deleted := false
	err := Members(data, func(m Member) bool {
		for _, k := range keys {
			if m.Is(k) {
				deleted = true
				return true
			}
		}
		kept = append(kept, m)
		return true
	})
	if err != nil || !deleted {
		return data, err
	}
	out := make([]byte, 0, len(data))
	out = append(out, '{')
	for i, m := range kept {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, data[m.KeyStart:m.ValueEnd]...)
	}
	return append(out, '}'), nil
}
