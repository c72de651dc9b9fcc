package proxy

import (
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/switchyard/switchyard/proxy/provider/anthropic"
)

// streamWriter writes SSE events to the client. With a keep-alive interval
// it also writes ": keep-alive" comments while the stream has sent nothing
// for that long, until the first content arrives: reasoning models can
// think for minutes before their first token, and load balancers between
// the client and Switchyard close connections that look idle.
type streamWriter struct {
	w   gin.ResponseWriter
	buf []byte
	// translate, when set, turns each OpenAI event into the client's
	// dialect (Anthropic Messages events) instead of "data:" framing.
	translate *anthropic.StreamTranslator

	keepAlive time.Duration
	mu        sync.Mutex // guards w and lastWrite while keep-alives run
	lastWrite time.Time
	stop      chan struct{}
	done      chan struct{}
}

func newStreamWriter(w gin.ResponseWriter, buf []byte, keepAlive time.Duration) *streamWriter {
	return &streamWriter{w: w, buf: buf, keepAlive: keepAlive}
}

// event writes one "data:" event; flush says whether to flush now.
func (sw *streamWriter) event(data []byte, flush bool) error {
	if sw.stop != nil {
		sw.mu.Lock()
		defer sw.mu.Unlock()
		sw.lastWrite = time.Now()
	}
	var b []byte
	if sw.translate != nil {
		b = sw.translate.Translate(sw.buf[:0], data)
	} else {
		b = append(sw.buf[:0], "data: "...)
		b = append(b, data...)
		b = append(b, "\n\n"...)
	}
	sw.buf = b
	_, err := sw.w.Write(b)
	if flush {
		sw.w.Flush()
	}
	return err
}

func (sw *streamWriter) flush() {
	if sw.stop != nil {
		sw.mu.Lock()
		defer sw.mu.Unlock()
	}
	sw.w.Flush()
}

// comment writes an SSE comment and flushes it; the caller holds mu when
// keep-alives run.
func (sw *streamWriter) comment() {
	_, _ = sw.w.Write([]byte(": keep-alive\n\n"))
	sw.w.Flush()
	sw.lastWrite = time.Now()
}

// startKeepAlive begins sending comments after each quiet interval. The
// response must be committed.
func (sw *streamWriter) startKeepAlive() {
	if sw.keepAlive <= 0 || sw.stop != nil {
		return
	}
	sw.stop, sw.done = make(chan struct{}), make(chan struct{})
	sw.lastWrite = time.Now()
	go func() {
		defer close(sw.done)
		t := time.NewTicker(sw.keepAlive / 4)
		defer t.Stop()
		for {
			select {
			case <-sw.stop:
				return
			case <-t.C:
				sw.mu.Lock()
				if time.Since(sw.lastWrite) >= sw.keepAlive {
					sw.comment()
				}
				sw.mu.Unlock()
			}
		}
	}()
}

// stopKeepAlive ends the comments and waits until nothing else writes.
// Safe to call when they never started, and more than once.
func (sw *streamWriter) stopKeepAlive() {
	if sw.stop == nil {
		return
	}
	select {
	case <-sw.stop:
	default:
		close(sw.stop)
	}
	<-sw.done
}
