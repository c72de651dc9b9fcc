package proxy

import (
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/record"
)

// Attribution headers, with Helicone's names accepted as aliases so that
// Helicone users switch without code changes.
const (
	headerUser          = "X-Switchyard-User"
	headerSession       = "X-Switchyard-Session"
	headerTags          = "X-Switchyard-Tags"
	headerMetaPrefix    = "X-Switchyard-Meta-"
	heliconeUser        = "Helicone-User-Id"
	heliconeSession     = "Helicone-Session-Id"
	heliconePropertyPfx = "Helicone-Property-"

	maxTags          = 32
	maxMetadata      = 32
	maxAttributeSize = 256
)

// applyAttribution copies who and what a request is for from its headers
// into the record. Values are bounded so that a client cannot bloat records.
func applyAttribution(h http.Header, rec *record.Record) {
	rec.User = clip(firstHeader(h, headerUser, heliconeUser))
	rec.SessionID = clip(firstHeader(h, headerSession, heliconeSession))
	if tags := h.Get(headerTags); tags != "" {
		for _, t := range strings.Split(tags, ",") {
			if t = strings.TrimSpace(t); t != "" && len(rec.Tags) < maxTags {
				rec.Tags = append(rec.Tags, clip(t))
			}
		}
	}
	for name, values := range h {
		var key string
		switch {
		case strings.HasPrefix(name, headerMetaPrefix):
			key = name[len(headerMetaPrefix):]
		case strings.HasPrefix(name, heliconePropertyPfx):
			key = name[len(heliconePropertyPfx):]
		default:
			continue
		}
		if key == "" || len(values) == 0 {
			continue
		}
		if rec.Metadata == nil {
			rec.Metadata = make(map[string]string, 4)
		}
		if len(rec.Metadata) < maxMetadata {
			rec.Metadata[strings.ToLower(key)] = clip(values[0])
		}
	}
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

func clip(s string) string {
	if len(s) > maxAttributeSize {
		return s[:maxAttributeSize]
	}
	return s
}

// applyTraceContext reads a W3C traceparent header: the request joins the
// caller's trace, with the caller's span as its parent. Without a valid one
// the request starts a new trace. Either way the proxy's own span id is new.
// It returns the traceparent to send back.
func applyTraceContext(h http.Header, rec *record.Record) string {
	flags := "01"
	if tp := h.Get("Traceparent"); tp != "" {
		if traceID, parent, f, ok := parseTraceparent(tp); ok {
			rec.TraceID, rec.ParentSpanID, flags = traceID, parent, f
		}
	}
	if rec.TraceID == "" {
		rec.TraceID = randomHex(16)
	}
	rec.SpanID = randomHex(8)
	return "00-" + rec.TraceID + "-" + rec.SpanID + "-" + flags
}

// parseTraceparent accepts version 00 (and, as the spec asks, later versions
// read as 00) and rejects all-zero ids.
func parseTraceparent(tp string) (traceID, parentID, flags string, ok bool) {
	tp = strings.TrimSpace(tp)
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return "", "", "", false
	}
	version, traceID, parentID, flags := tp[0:2], tp[3:35], tp[36:52], tp[53:55]
	if version == "ff" || !isLowerHex(version) || !isLowerHex(traceID) || !isLowerHex(parentID) || !isLowerHex(flags) {
		return "", "", "", false
	}
	if version == "00" && len(tp) != 55 {
		return "", "", "", false
	}
	if strings.Trim(traceID, "0") == "" || strings.Trim(parentID, "0") == "" {
		return "", "", "", false
	}
	return traceID, parentID, flags, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// randomHex returns n random bytes in hex. Span and trace ids need to be
// unique, not secret, so the fast per-goroutine generator is enough.
func randomHex(n int) string {
	var b [16]byte
	for i := 0; i < n; i += 8 {
		v := rand.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:n])
}
