package redact

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/switchyard/switchyard/config"
)

const prose = "I'm planning a two-week trip to Japan in late October with my partner, and we'd like to split " +
	"our time between big cities and quieter places in the countryside. Could you suggest a rough itinerary " +
	"for 14 days, tell us whether a rail pass is still worth buying after the 2023 price increase (about 70%), " +
	"and give us some practical tips? Days 1-4: Tokyo. Days 5-6: Hakone. Days 7-10: Kyoto, with a half-day " +
	"in Nara. Carry some cash: small restaurants often don't take cards, and don't tip.\n\n"

// chatBody returns an OpenAI chat request of about size bytes; with
// secrets, one user message carries an email, a card number and a key.
func chatBody(size int, secrets bool) string {
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	msgs := []message{{"system", "You are a helpful travel assistant. Answer in plain English."}}
	for i := 0; ; i++ {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		content := fmt.Sprintf("(turn %d) %s", i, prose)
		if secrets && i == 3 {
			content += "Book it for jane.doe@example.com with card 4111 1111 1111 1111; my key is sk-proj-abcdefghijklmnopqrstuvwxyz012345."
		}
		msgs = append(msgs, message{role, content})
		body, _ := json.Marshal(map[string]any{"model": "gpt-4o-mini", "messages": msgs, "temperature": 0.7, "max_tokens": 1024, "stream": true})
		if len(body) >= size {
			return string(body)
		}
	}
}

func BenchmarkRedact(b *testing.B) {
	r := mustNew(b, config.Redact{})
	for _, bc := range []struct {
		name    string
		size    int
		secrets bool
	}{
		{"16KB/clean", 16 << 10, false},
		{"16KB/secrets", 16 << 10, true},
		{"256KB/clean", 256 << 10, false},
	} {
		body := chatBody(bc.size, bc.secrets)
		if _, matched := r.Redact(body); matched != bc.secrets {
			b.Fatalf("%s: matched %v", bc.name, matched)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				r.Redact(body)
			}
		})
	}
}

// BenchmarkRedactCustom adds two configured patterns, one with a literal
// prefix (skipped by a substring search) and one without.
func BenchmarkRedactCustom(b *testing.B) {
	r := mustNew(b, config.Redact{Patterns: []config.RedactPattern{
		{Name: "employee_id", Regex: `EMP-[0-9]{6}`},
		{Name: "ssn", Regex: `\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b`},
	}})
	body := chatBody(16<<10, false)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r.Redact(body)
	}
}
