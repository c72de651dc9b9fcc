package redact

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
)

func mustNew(t testing.TB, cfg config.Redact) *Redactor {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBuiltins(t *testing.T) {
	r := mustNew(t, config.Redact{})
	for _, tc := range []struct{ in, want string }{
		// Emails.
		{"mail bob.smith+tag@example.co.uk now", "mail [REDACTED:email] now"},
		{"a@b.c", "a@b.c"},
		{"@dataclass and @media", "@dataclass and @media"},
		{"git@github.com:org/repo", "[REDACTED:email]:org/repo"},
		{"...see:jo@x.io.", "...see:[REDACTED:email]."},
		// Payment cards: test numbers of each network pass Luhn.
		{"card 4111 1111 1111 1111 exp", "card [REDACTED:payment_card] exp"},
		{"card 4111-1111-1111-1111.", "card [REDACTED:payment_card]."},
		{"amex 378282246310005", "amex [REDACTED:payment_card]"},
		{"mc 5555555555554444", "mc [REDACTED:payment_card]"},
		{"mc2 2223003122003222", "mc2 [REDACTED:payment_card]"},
		{"disc 6011111111111117", "disc [REDACTED:payment_card]"},
		{"order 1234 4111 1111 1111 1111", "order 1234 [REDACTED:payment_card]"},
		{"bad luhn 4111111111111112", "bad luhn 4111111111111112"},
		{"ms 1732634400123 and 17326344001234567", "ms 1732634400123 and 17326344001234567"},
		{"id a4111111111111111 4111111111111111b", "id a4111111111111111 4111111111111111b"},
		{"too long 41111111111111111111111", "too long 41111111111111111111111"},
		{"date 2024-08-06 phone +1 415 555 0100", "date 2024-08-06 phone +1 415 555 0100"},
		// Keys and tokens.
		{"key sk-proj-abcdefghijklmnopqrstuvwxyz012345", "key [REDACTED:openai_key]"},
		{"sk-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP1234", "[REDACTED:openai_key]"},
		{"x sk-ant-api03-abcdefghijklmnopqrstuvwxyz-_0123456789", "x [REDACTED:anthropic_key]"},
		{"task-abcdefghijklmnopqrstuvwxyz0123 sk-short", "task-abcdefghijklmnopqrstuvwxyz0123 sk-short"},
		{"stripe sk_live_abcdefghijklmnop1234", "stripe [REDACTED:stripe_key]"},
		{"aws AKIAIOSFODNN7EXAMPLE end", "aws [REDACTED:aws_access_key] end"},
		{"AKIAIOSFODNN7EXAMPLEX", "AKIAIOSFODNN7EXAMPLEX"},
		{"g AIzaSyA-abcdefghijklmnopqrstuvwxyz01234", "g [REDACTED:google_api_key]"},
		{"gh ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", "gh [REDACTED:github_token]"},
		{"gh github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz", "gh [REDACTED:github_token]"},
		{"slack xoxb-123456789012-abcdefghij", "slack [REDACTED:slack_token]"},
		{"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk ok",
			"jwt [REDACTED:jwt] ok"},
		{"Authorization: Bearer abcdefghijklmnop0123456789.xyz=", "Authorization: Bearer [REDACTED:bearer_token]"},
		{"the bearer of bad news", "the bearer of bad news"},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\nafter", "[REDACTED:private_key]\nafter"},
		// Nothing.
		{"Hello, world! 12345 tokens.", "Hello, world! 12345 tokens."},
	} {
		got, matched := r.Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
		if matched != (tc.in != tc.want) {
			t.Errorf("Redact(%q): matched %v", tc.in, matched)
		}
	}
}

// TestJSON redacts inside JSON: results stay valid JSON, escapes are kept
// whole and markers land inside the strings.
func TestJSON(t *testing.T) {
	r := mustNew(t, config.Redact{Patterns: []config.RedactPattern{
		{Name: "member", Regex: `"note":\s*"[^"]*"`},
	}})
	for _, tc := range []struct{ in, want string }{
		{`{"content":"write to bob@example.com"}`, `{"content":"write to [REDACTED:email]"}`},
		{`{"content":"line\nbob@example.com"}`, `{"content":"line\n[REDACTED:email]"}`},
		{`{"content":"\u00e9bob@example.com"}`, `{"content":"\u00e9[REDACTED:email]"}`},
		{`{"content":"\\bob@example.com"}`, `{"content":"\\[REDACTED:email]"}`},
		{`{"n":4111111111111111,"m":[4111111111111111]}`, `{"n":"[REDACTED:payment_card]","m":["[REDACTED:payment_card]"]}`},
		{`{"api_key": "abc123", "db_password":"p\"w", "x-api-key":"k"}`,
			`{"api_key": "[REDACTED:secret]", "db_password":"[REDACTED:secret]", "x-api-key":"[REDACTED:secret]"}`},
		{`{"arguments":"{\"apiKey\": \"abc\", \"q\": 1}"}`, `{"arguments":"{\"apiKey\": \"[REDACTED:secret]\", \"q\": 1}"}`},
		{`{"token":"Hello","logprob":-0.1,"password":{"type":"string"}}`, `{"token":"Hello","logprob":-0.1,"password":{"type":"string"}}`},
		{`{"note": "hi", "a": 1}`, `{"[REDACTED:member]": "[REDACTED:member]", "a": 1}`},
		{`{"auth":"Bearer abcdefghijklmnopqrstuvwxyz"}`, `{"auth":"Bearer [REDACTED:bearer_token]"}`},
	} {
		got, _ := r.Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("Redact(%s) = %s: not valid JSON", tc.in, got)
		}
	}
	// A pattern that matches JSON structure leaves it alone in JSON, and
	// replaces what it matches elsewhere.
	braces := mustNew(t, config.Redact{Patterns: []config.RedactPattern{{Name: "braces", Regex: `[{}\[\]]`}}})
	if got, _ := braces.Redact(`{"a":[1,"{x}"]}`); got != `{"a":[1,"[REDACTED:braces]x[REDACTED:braces]"]}` {
		t.Errorf("JSON: %q", got)
	}
	if got, _ := braces.Redact("plain {text}"); got != "plain [REDACTED:braces]text[REDACTED:braces]" {
		t.Errorf("plain text: %q", got)
	}
}

func TestSSE(t *testing.T) {
	r := mustNew(t, config.Redact{})
	in := "data: {\"choices\":[{\"delta\":{\"content\":\"mail me at ann@example.org\"}}]}\n\n" +
		"data: {\"choices\":[{\"delta\":{\"content\":\" or call 4111 1111 1111 1111\"}}]}\n\ndata: [DONE]\n\n"
	got, matched := r.Redact(in)
	if !matched || strings.Contains(got, "ann@") || strings.Contains(got, "4111") {
		t.Fatalf("not redacted: %s", got)
	}
	for _, line := range strings.Split(got, "\n") {
		if payload, ok := strings.CutPrefix(line, "data: "); ok && payload != "[DONE]" && !json.Valid([]byte(payload)) {
			t.Errorf("event no longer JSON: %s", payload)
		}
	}
}

func TestCustomPatterns(t *testing.T) {
	off := false
	r := mustNew(t, config.Redact{Defaults: &off, Patterns: []config.RedactPattern{
		{Name: "employee_id", Regex: `\bEMP-[0-9]{6}\b`},
		{Name: "ssn", Regex: `\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b`, Replacement: "***-**-****"},
		{Name: "empty", Regex: `z*`},
	}})
	got, matched := r.Redact("EMP-123456 has SSN 123-45-6789 and bob@example.com")
	if want := "[REDACTED:employee_id] has SSN ***-**-**** and bob@example.com"; got != want || !matched {
		t.Errorf("got %q (%v), want %q", got, matched, want)
	}
	if got, matched := r.Redact("no match here"); got != "no match here" || matched {
		t.Errorf("empty matches replaced: %q %v", got, matched)
	}
}

func TestNewErrors(t *testing.T) {
	_, err := New(config.Redact{Patterns: []config.RedactPattern{
		{Name: "", Regex: "a"},
		{Name: "bad", Regex: "(("},
		{Name: "quote", Regex: "a", Replacement: `"x"`},
		{Name: "slash", Regex: "a", Replacement: `\x`},
		{Name: "br]acket", Regex: "a"},
	}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"patterns[0]: name", "patterns[1]: regex", "patterns[2]: replacement", "patterns[3]: replacement", "patterns[4]: name"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestIdempotent(t *testing.T) {
	r := mustNew(t, config.Redact{})
	in := `{"messages":[{"role":"user","content":"key sk-proj-abcdefghijklmnopqrstuvwxyz0123, card 4111 1111 1111 1111, mail a.b@c.de"}],"password":"x@y.zz"}`
	once, _ := r.Redact(in)
	twice, matched := r.Redact(once)
	if twice != once || matched {
		t.Errorf("second pass changed %s\nto %s", once, twice)
	}
}

// FuzzRedact: redaction never panics, is idempotent with the built-in
// patterns, and keeps valid JSON valid whatever the patterns match.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		`{"content":"line\nbob@example.com \u00e9x@y.io"}`,
		`{"n":4111111111111111,"api_key":"abc","arguments":"{\"password\": \"p\"}"}`,
		"Bearer abcdefghijklmnopqrstuvwxyz sk-ant-abcdefghijklmnopqrstuvwxyz AKIAIOSFODNN7EXAMPLE",
		"data: {\"x\":\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r\"}\n\n",
		"-----BEGIN PRIVATE KEY-----\\nabc",
		`["4111 1111 1111 1111", 378282246310005, "x\\"@a.bc"]`,
	} {
		f.Add(s)
	}
	builtin := mustNew(f, config.Redact{})
	hostile := mustNew(f, config.Redact{Patterns: []config.RedactPattern{
		{Name: "structure", Regex: `[{}\[\]":,\\]+`},
		{Name: "values", Regex: `"[^"]*"\s*:\s*[^,}]*`},
		{Name: "literals", Regex: `true|false|null|-?[0-9]+`},
	}})
	f.Fuzz(func(t *testing.T, s string) {
		if want := strings.IndexAny(s, "0123456789"); nextDigit(s, 0) != want && !(want < 0 && nextDigit(s, 0) == len(s)) {
			t.Fatalf("nextDigit(%q) = %d, want %d", s, nextDigit(s, 0), want)
		}
		once, _ := builtin.Redact(s)
		twice, _ := builtin.Redact(once)
		if twice != once {
			t.Fatalf("not idempotent:\n in    %q\n once  %q\n twice %q", s, once, twice)
		}
		if json.Valid([]byte(s)) {
			if !json.Valid([]byte(once)) {
				t.Fatalf("built-ins broke JSON:\n in  %q\n out %q", s, once)
			}
			if out, _ := hostile.Redact(s); !json.Valid([]byte(out)) {
				t.Fatalf("custom patterns broke JSON:\n in  %q\n out %q", s, out)
			}
		}
	})
}

func TestNextDigit(t *testing.T) {
	for _, s := range []string{"", "abc", "abcdefgh9", "99999999", "abcdefghijklmnop0xyz", "\xff\xb9\xb0abcdefg5", "/:/:/:/:/:/:/:/:9", strings.Repeat("x", 100) + "9"} {
		for i := 0; i <= len(s); i++ {
			w := strings.IndexAny(s[i:], "0123456789")
			if w < 0 {
				w = len(s)
			} else {
				w += i
			}
			if got := nextDigit(s, i); got != w {
				t.Errorf("nextDigit(%q, %d) = %d, want %d", s, i, got, w)
			}
		}
	}
}
