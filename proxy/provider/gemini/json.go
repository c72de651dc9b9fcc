package gemini

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/jsonx"
)

// env holds what a translation takes from outside its input — the clock
// and random ids — so that tests can make the output deterministic.
type env struct {
	now   func() time.Time
	newID func() string
}

var defaultEnv = env{now: time.Now, newID: randomID}

// randomID returns 24 random base-62 characters, as OpenAI's ids carry.
func randomID() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var b [24]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// marshal encodes v as compact JSON without escaping <, > and &, so that
// text passes through as the model wrote it.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// camel turns a proto field name written in snake_case (inline_data) into
// its JSON name (inlineData). Google's JSON parsers accept both spellings,
// and its own curl examples use snake_case, so the decoders here do too.
func camel(key string) string {
	if strings.IndexByte(key, '_') < 0 {
		return key
	}
	var b strings.Builder
	up := false
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '_':
			up = true
		case up && c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
			up = false
		default:
			b.WriteByte(c)
			up = false
		}
	}
	return b.String()
}

// members calls fn for each member of the object in raw with its key in
// camelCase; a null raw is an empty object. It stops at fn's first error.
func members(raw []byte, fn func(key string, val []byte) error) error {
	if isNull(raw) {
		return nil
	}
	var ferr error
	err := jsonx.Members(raw, func(m jsonx.Member) bool {
		ferr = fn(camel(m.Key()), raw[m.ValueStart:m.ValueEnd])
		return ferr == nil
	})
	if err != nil {
		return err
	}
	return ferr
}

// elements calls fn for each element of the array in raw; null is empty.
func elements(raw []byte, fn func(val []byte) error) error {
	if isNull(raw) {
		return nil
	}
	var ferr error
	err := jsonx.Elements(raw, func(s, e int) bool {
		ferr = fn(raw[s:e])
		return ferr == nil
	})
	if err != nil {
		return err
	}
	return ferr
}

func isNull(raw []byte) bool { return jsonx.IsNull(bytes.TrimSpace(raw)) }

var errNotString = errors.New("not a string")

// str reads a JSON string; null is "".
func str(raw []byte) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	if raw[0] != '"' {
		return "", errNotString
	}
	return jsonx.Unquote(raw)
}

// count reads a token count or another integer, written as a number or,
// as proto3 JSON writes int64, as a string; null is 0.
func count(raw []byte) (int64, error) {
	if isNull(raw) {
		return 0, nil
	}
	if raw[0] == '"' {
		s, err := jsonx.Unquote(raw)
		if err != nil {
			return 0, err
		}
		return strconv.ParseInt(s, 10, 64)
	}
	return jsonx.Int(raw)
}

// boolean reads true or false; null is false.
func boolean(raw []byte) (bool, error) {
	switch string(raw) {
	case "true":
		return true, nil
	case "false", "null":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// isNumber reports whether raw is one JSON number.
func isNumber(raw []byte) bool {
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return false
	}
	end, err := jsonx.SkipValue(raw, 0)
	return err == nil && end == len(raw)
}

// isObject reports whether raw is a JSON object (validated).
func isObject(raw []byte) bool {
	return len(raw) > 0 && raw[0] == '{' && jsonx.Members(raw, func(jsonx.Member) bool { return true }) == nil
}

// compact returns raw without insignificant whitespace.
func compact(raw []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return raw
	}
	return buf.Bytes()
}

func ptr[T any](v T) *T { return &v }
