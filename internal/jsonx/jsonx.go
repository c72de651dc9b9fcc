// Package jsonx edits the top-level members of a JSON object in place, at the
// byte level, so that the proxy can rewrite "model" or add "stream_options"
// without decoding and re-encoding a whole request body.
//
// It finds the extent of values; it does not validate them. Callers validate
// a body once (encoding/json) before editing it.
package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ErrNotObject is returned when the input is not a JSON object.
var ErrNotObject = errors.New("jsonx: not a JSON object")

// ErrSyntax is returned when the extent of a value cannot be found.
var ErrSyntax = errors.New("jsonx: malformed JSON")

// Member is one top-level member: its key (decoded) and the byte offsets of
// the raw value in the object's text.
type Member struct {
	Key        string
	KeyStart   int // offset of the key's opening quote
	ValueStart int
	ValueEnd   int
}

// Members calls fn for each top-level member of the object in data, in
// order. fn returns false to stop early.
func Members(data []byte, fn func(m Member) bool) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return ErrNotObject
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return nil
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return ErrSyntax
		}
		keyStart := i
		keyEnd, err := skipString(data, i)
		if err != nil {
			return err
		}
		key, err := decodeKey(data[i:keyEnd])
		if err != nil {
			return err
		}
		i = skipSpace(data, keyEnd)
		if i >= len(data) || data[i] != ':' {
			return ErrSyntax
		}
		start := skipSpace(data, i+1)
		end, err := SkipValue(data, start)
		if err != nil {
			return err
		}
		if !fn(Member{Key: key, KeyStart: keyStart, ValueStart: start, ValueEnd: end}) {
			return nil
		}
		i = skipSpace(data, end)
		if i >= len(data) {
			return ErrSyntax
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return nil
		default:
			return ErrSyntax
		}
	}
}

// Get returns the raw value of the last top-level member named key (JSON's
// "last one wins"), or nil if there is none.
func Get(data []byte, key string) ([]byte, error) {
	var val []byte
	err := Members(data, func(m Member) bool {
		if m.Key == key {
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
		if m.Key == key {
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

func decodeKey(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", ErrSyntax
	}
	return s, nil
}

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

// skipString returns the index just past the string starting at data[i].
func skipString(data []byte, i int) (int, error) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, ErrSyntax
}

// SkipValue returns the index just past the JSON value starting at data[i].
func SkipValue(data []byte, i int) (int, error) {
	if i >= len(data) {
		return 0, ErrSyntax
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, err := skipString(data, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, ErrSyntax
	default:
		j := i
		for j < len(data) {
			c := data[j]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
				break
			}
			j++
		}
		if j == i {
			return 0, ErrSyntax
		}
		return j, nil
	}
}

// Delete returns data without the top-level members named in keys. When no
// member matches, data itself is returned; otherwise the object is rebuilt
// from the kept members' raw text.
func Delete(data []byte, keys ...string) ([]byte, error) {
	var kept []Member
	deleted := false
	err := Members(data, func(m Member) bool {
		for _, k := range keys {
			if m.Key == k {
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
