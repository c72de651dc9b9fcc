package redact

import (
	"strings"
	"unsafe"
)

// The built-in detectors are hand-written rather than regular expressions:
// each starts from a literal that a body without secrets rarely has (Go's
// regexp would walk every byte of every body), and they need look-behind,
// which RE2 lacks.

// Character sets.
var (
	alnum       = charset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
	upperDigit  = charset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
	keyChars    = charset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
	alnumUnder  = charset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
	alnumDash   = charset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
	b64token    = charset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/")
	emailLocal  = charset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
	emailDomain = charset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")
)

type byteSet [256]bool

func charset(chars string) *byteSet {
	var s byteSet
	for i := 0; i < len(chars); i++ {
		s[chars[i]] = true
	}
	return &s
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// tokenRule is a secret that starts with a known prefix: the prefix, then
// at least min characters of body (exactly min when exact). It must not
// follow a letter, digit or underscore. The search looks for the prefix
// from its anchor'th byte, a byte rarer in prose and JSON than the first
// ('s' of "sk-" is everywhere; "k-" is not).
type tokenRule struct {
	name     string
	prefixes []string
	anchor   int
	body     *byteSet
	min      int
	exact    bool
}

var tokenRules = []tokenRule{
	{name: "anthropic_key", prefixes: []string{"sk-ant-"}, anchor: 1, body: keyChars, min: 20},
	{name: "openai_key", prefixes: []string{"sk-"}, anchor: 1, body: keyChars, min: 20}, // sk-proj-, sk-svcacct-, sk-admin- too
	{name: "stripe_key", prefixes: []string{"sk_live_", "sk_test_", "rk_live_", "rk_test_"}, anchor: 1, body: alnum, min: 16},
	{name: "aws_access_key", prefixes: []string{"AKIA", "ASIA"}, anchor: 1, body: upperDigit, min: 16, exact: true},
	{name: "google_api_key", prefixes: []string{"AIza"}, anchor: 2, body: keyChars, min: 35},
	{name: "github_token", prefixes: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}, anchor: 3, body: alnum, min: 36},
	{name: "github_token", prefixes: []string{"github_pat_"}, anchor: 6, body: alnumUnder, min: 22},
	{name: "slack_token", prefixes: []string{"xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-"}, body: alnumDash, min: 10},
}

func builtinRules() []rule {
	rules := []rule{
		{name: "private_key", find: findPrivateKeys},
		{name: "jwt", find: findJWTs},
		{name: "bearer_token", find: findBearerTokens},
	}
	for _, tr := range tokenRules {
		rules = append(rules, rule{name: tr.name, find: tr.find})
	}
	rules = append(rules,
		rule{name: "secret", find: findJSONSecrets},
		rule{name: "email", find: findEmails},
		rule{name: "payment_card", find: findCards},
	)
	for i := range rules {
		rules[i].marker = Marker(rules[i].name)
	}
	return rules
}

// wordBefore reports whether s[i-1] is a letter, digit or underscore.
func wordBefore(s string, i int) bool { return i > 0 && alnumUnder[s[i-1]] }

// run returns the end of the run of set characters at i.
func run(s string, i int, set *byteSet) int {
	for i < len(s) && set[s[i]] {
		i++
	}
	return i
}

func (tr tokenRule) find(t *text, dst []span) []span {
	s := t.s
	for _, prefix := range tr.prefixes {
		if len(s) < len(prefix) {
			continue
		}
		head, anchor := prefix[:tr.anchor], prefix[tr.anchor:]
		for from := tr.anchor; ; {
			i := strings.Index(s[from:], anchor)
			if i < 0 {
				break
			}
			start := from + i - tr.anchor
			from += i + len(anchor)
			if s[start:start+tr.anchor] != head || wordBefore(s, start) {
				continue
			}
			bodyEnd := run(s, from, tr.body)
			n := bodyEnd - from
			if n < tr.min || (tr.exact && n != tr.min) {
				continue
			}
			dst = append(dst, span{start: start, end: bodyEnd})
			from = bodyEnd
		}
	}
	return dst
}

// findEmails finds local@domain.tld around each '@'.
func findEmails(t *text, dst []span) []span {
	s := t.s
	prevEnd := 0
	for from := 0; ; {
		i := strings.IndexByte(s[from:], '@')
		if i < 0 {
			return dst
		}
		at := from + i
		from = at + 1
		start := at
		for start > prevEnd && emailLocal[s[start-1]] {
			start--
		}
		// A local part starts and ends with a letter or digit in practice;
		// trimming dots keeps "...see:bob@x.com" from taking the dots.
		for start < at && (s[start] == '.' || s[start] == '-' || s[start] == '+') {
			start++
		}
		if start == at {
			continue
		}
		end := run(s, at+1, emailDomain)
		for end > at+1 && (s[end-1] == '.' || s[end-1] == '-') {
			end--
		}
		domain := s[at+1 : end]
		dot := strings.LastIndexByte(domain, '.')
		if dot <= 0 || len(domain)-dot-1 < 2 || !allLetters(domain[dot+1:]) {
			continue
		}
		dst = append(dst, span{start: start, end: end})
		prevEnd, from = end, end
	}
}

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// findBearerTokens finds the token after "Bearer " (in any of its usual
// cases): RFC 6750's b64token, at least 16 characters so that prose ("the
// bearer of bad news") is left alone.
func findBearerTokens(t *text, dst []span) []span {
	s := t.s
	for _, word := range []string{"Bearer", "bearer", "BEARER"} {
		for from := 0; ; {
			i := strings.Index(s[from:], word)
			if i < 0 {
				break
			}
			start := from + i
			from = start + len(word)
			if wordBefore(s, start) {
				continue
			}
			j := from
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			if j == from {
				continue
			}
			end := run(s, j, b64token)
			for end < len(s) && s[end] == '=' {
				end++
			}
			if end-j < 16 {
				continue
			}
			dst = append(dst, span{start: j, end: end})
			from = end
		}
	}
	return dst
}

// findJWTs finds header.payload.signature with a header that starts eyJ
// (base64url of '{"').
func findJWTs(t *text, dst []span) []span {
	s := t.s
	for from := 2; from < len(s); {
		i := strings.IndexByte(s[from:], 'J')
		if i < 0 {
			return dst
		}
		start := from + i - 2
		from += i + 1
		if s[start] != 'e' || s[start+1] != 'y' || (start > 0 && keyChars[s[start-1]]) {
			continue
		}
		end, ok := start, true
		for part := 0; part < 3 && ok; part++ {
			if part > 0 {
				if end >= len(s) || s[end] != '.' {
					ok = false
					break
				}
				end++
			}
			next := run(s, end, keyChars)
			ok = next-end >= 10
			end = next
		}
		if !ok {
			continue
		}
		dst = append(dst, span{start: start, end: end})
		from = end
	}
	return dst
}

// findPrivateKeys finds PEM private key blocks, to their END line or, when
// that is missing (a truncated body), to the end of the JSON string.
func findPrivateKeys(t *text, dst []span) []span {
	s := t.s
	for from := 0; ; {
		i := strings.Index(s[from:], "KEY-----")
		if i < 0 {
			return dst
		}
		anchor := from + i
		from = anchor + 1
		at := anchor - len("PRIVATE ")
		if at < 0 || s[at:anchor] != "PRIVATE " {
			continue
		}
		begin := strings.LastIndex(s[max(0, at-40):at], "-----BEGIN")
		if begin < 0 {
			continue
		}
		start := max(0, at-40) + begin
		end := len(s)
		if e := strings.Index(s[at+16:], "-----END"); e >= 0 {
			tail := at + 16 + e
			if k := strings.Index(s[tail:], "PRIVATE KEY-----"); k >= 0 && k < 40 {
				end = tail + k + len("PRIVATE KEY-----")
			}
		}
		if end == len(s) {
			end = stringEnd(s, at)
		}
		dst = append(dst, span{start: start, end: end})
		from = max(from, end)
	}
}

// stringEnd returns the position of the next unescaped quote from i, or
// the end of s.
func stringEnd(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case '\\':
			i += 2
		case '"':
			return i
		default:
			i++
		}
	}
	return len(s)
}

// secretKeys are words that make a JSON member's string value a secret
// when its key contains them, in any case ("db_password", "x-api-key",
// "aws_secret_access_key", "Authorization"). A bare "token" is not one:
// logprobs have it.
var secretKeys = []string{
	"password", "passwd", "passphrase", "secret", "api_key", "api-key", "apikey", "access_key", "private_key",
	"access_token", "refresh_token", "auth_token", "id_token", "session_token", "api_token", "bearer_token",
	"authorization", "credential",
}

const maxKeyLen = 64

// findJSONSecrets finds the string values of members whose key names a
// secret, in JSON and in JSON escaped inside a JSON string (tool call
// arguments: {\"api_key\": \"...\"}). It visits every ':' (there are few)
// and reads the key before it.
func findJSONSecrets(t *text, dst []span) []span {
	s := t.s
	for from := 0; ; {
		i := strings.IndexByte(s[from:], ':')
		if i < 0 {
			return dst
		}
		colon := from + i
		from = colon + 1
		if sp, ok := secretMember(s, colon); ok {
			dst = append(dst, sp)
			from = sp.end
		}
	}
}

// secretMember reads the member whose ':' is at colon, and returns the span
// of its string value if its key names a secret.
func secretMember(s string, colon int) (span, bool) {
	k := colon - 1
	for k >= 0 && isJSONSpace(s[k]) {
		k--
	}
	if k < 1 || s[k] != '"' {
		return span{}, false
	}
	escaped := s[k-1] == '\\' // \"key\": \"value\" is JSON inside a JSON string
	keyEnd := k
	if escaped {
		keyEnd--
	}
	keyStart := keyEnd
	for keyStart > 0 && keyEnd-keyStart < maxKeyLen && keyChars[s[keyStart-1]] {
		keyStart--
	}
	if keyStart == keyEnd || keyStart == 0 || s[keyStart-1] != '"' || (escaped != (keyStart >= 2 && s[keyStart-2] == '\\')) {
		return span{}, false
	}
	if keyEnd-keyStart < 6 || !namesSecret(s[keyStart:keyEnd]) { // the shortest secret word has 6 letters
		return span{}, false
	}
	j := colon + 1
	for j < len(s) && isJSONSpace(s[j]) {
		j++
	}
	if escaped {
		if j+1 >= len(s) || s[j] != '\\' || s[j+1] != '"' {
			return span{}, false
		}
		start := j + 2
		end := start
		for end < len(s) && s[end] != '\\' && s[end] != '"' {
			end++
		}
		return valueSpan(s, start, end)
	}
	if j >= len(s) || s[j] != '"' {
		return span{}, false
	}
	start := j + 1
	return valueSpan(s, start, stringEnd(s, start))
}

// namesSecret reports whether a key contains a secret word, in any case.
func namesSecret(key string) bool {
	var buf [maxKeyLen]byte
	lower := buf[:len(key)]
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	for _, w := range secretKeys {
		if strings.Contains(unsafeString(lower), w) {
			return true
		}
	}
	return false
}

func valueSpan(s string, start, end int) (span, bool) {
	if end <= start || end > len(s) {
		return span{}, false
	}
	v := s[start:end]
	if strings.HasPrefix(v, "[REDACTED:") && strings.IndexByte(v, ']') == len(v)-1 {
		return span{}, false // already redacted
	}
	return span{start: start, end: end}, true
}
