// Package sse reads Server-Sent Events from upstream providers. It returns
// each event's name and data, joins multi-line data as the spec says, skips
// comments, and bounds the size of an event so that a hostile or broken
// upstream cannot make the proxy buffer without limit.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// ErrEventTooLarge is returned when one event exceeds the reader's limit.
var ErrEventTooLarge = errors.New("sse: event too large")

// Reader reads events from a stream.
type Reader struct {
	br       *bufio.Reader
	maxEvent int
	data     []byte
	event    []byte
	line     []byte
}

// NewReader reads from br; one event's data may hold at most maxEvent bytes.
func NewReader(br *bufio.Reader, maxEvent int) *Reader {
	return &Reader{br: br, maxEvent: maxEvent}
}

// Next returns the next event that carries data. The returned slices are
// valid until the following call. At the end of the stream it returns
// io.EOF, or io.ErrUnexpectedEOF if the stream ended inside an event.
func (r *Reader) Next() (event, data []byte, err error) {
	r.data = r.data[:0]
	r.event = r.event[:0]
	hasData := false
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF && hasData {
				// A final event without its blank line still counts: many
				// servers close right after the last data line.
				return r.event, r.data, nil
			}
			if err == io.EOF && (len(r.event) > 0) {
				return nil, nil, io.ErrUnexpectedEOF
			}
			return nil, nil, err
		}
		if len(line) == 0 {
			if hasData {
				return r.event, r.data, nil
			}
			r.event = r.event[:0]
			continue
		}
		if line[0] == ':' {
			continue // comment, e.g. a keep-alive
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if hasData {
				r.data = append(r.data, '\n')
			}
			if len(r.data)+len(value) > r.maxEvent {
				return nil, nil, ErrEventTooLarge
			}
			r.data = append(r.data, value...)
			hasData = true
		case "event":
			r.event = append(r.event[:0], value...)
		}
	}
}

// Buffered is the number of bytes already read from the stream but not yet
// returned: zero means the next call will wait on the network, so the
// caller should flush what it has written.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// readLine returns one line without its terminator (\n or \r\n; a lone \r
// is not a line end here, and no provider sends one).
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.line = append(r.line[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(r.line) > r.maxEvent {
				return nil, ErrEventTooLarge
			}
			line, err = r.br.ReadSlice('\n')
			r.line = append(r.line, line...)
		}
		line = r.line
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			return trimEOL(line), nil
		}
		return nil, err
	}
	return trimEOL(line), nil
}

func trimEOL(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line
}
