package mock

import (
	"net/http"
	"time"
)

// writeGeminiStream answers streamGenerateContent. Each chunk is a whole
// GenerateContentResponse carrying one text token per candidate (function
// calls come whole, in one chunk) and the usage so far; the last carries
// finishReason and the final usage. With ?alt=sse the chunks are
// server-sent events, "data: {json}\r\n\r\n", as Google sends them;
// without it the body is one JSON array written chunk by chunk,
// "[{…}\r\n,\r\n{…}]". It reports false when the client went away first.
func writeGeminiStream(w http.ResponseWriter, r *http.Request, rep *geminiReply) bool {
	h := w.Header()
	if rep.sse {
		h["Content-Type"] = headerEventStream
	} else {
		h["Content-Type"] = headerJSONUTF8
	}
	h["Cache-Control"] = headerNoCache
	w.WriteHeader(http.StatusOK)
	sse := sseWriter{w: w}
	sse.flusher, _ = w.(http.Flusher)

	var idBuf [geminiResponseIDLength]byte
	id := newGeminiResponseID(&idBuf)
	eventBuf := getBuffer()
	defer putBuffer(eventBuf)
	event := (*eventBuf)[:0]
	defer func() { *eventBuf = event }()

	pace := pacer{start: time.Now()}
	if rep.tokensPerSecond > 0 {
		pace.interval = time.Duration(float64(time.Second) / rep.tokensPerSecond)
	}
	defer pace.stop()
	ctx := r.Context()
	a := &rep.ans
	steps := max(a.tokens, 1) // no text: one final chunk, empty
	calls := len(a.calls) > 0
	if calls {
		steps = 1
	}
	cutAt := -1
	if rep.cutAfter >= 0 {
		// The last chunk, the one with finishReason, is never sent by a
		// stream that is cut.
		cutAt = min(rep.cutAfter, steps-1)
	}
	cursor := tokenCursor{a: a}
	for i := range steps {
		if i == cutAt {
			abort(w)
		}
		if !pace.wait(ctx, i) {
			return false
		}
		piece := geminiPiece{calls: calls, final: i == steps-1, sent: i + 1}
		if !calls {
			piece.text = []byte{}
			if a.tokens > 0 {
				piece.text = cursor.next()
			} else {
				piece.sent = 0
			}
		}
		event = event[:0]
		switch {
		case rep.sse:
			event = append(event, "data: "...)
		case i == 0:
			event = append(event, '[')
		default:
			event = append(event, "\r\n,\r\n"...)
		}
		event = appendGeminiResponse(event, rep, &piece, id)
		switch {
		case rep.sse:
			event = append(event, "\r\n\r\n"...)
		case piece.final:
			event = append(event, ']')
		}
		if !sse.send(event) {
			return false
		}
		if rep.malformed && i == 0 {
			garbage := append(event[:0], "\r\n,\r\n{\"candidates\":[{\"content\":"...)
			if rep.sse {
				garbage = append(event[:0], "data: {\"candidates\":[{\"content\":\r\n\r\n"...)
			}
			if !sse.send(garbage) {
				return false
			}
		}
	}
	return true
}
