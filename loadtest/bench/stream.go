package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// streamBody is chatBody for the long-completion model, asking for a stream
// with usage in the final chunk (Switchyard always asks the upstream for it,
// so the direct and floor requests ask too and every target streams the same
// chunks).
var streamBody = strings.Replace(strings.TrimSuffix(chatBody, "}"), `"bench-model"`, `"bench-stream-model"`, 1) +
	`,"stream":true,"stream_options":{"include_usage":true}}`

// streamTally is one target's streaming measurements.
type streamTally struct {
	ttfb     []time.Duration // request sent → first "data:" line read
	perChunk []time.Duration // mean gap between data lines, per request
	chunks   int             // data lines of the last stream, [DONE] included
	failed   int
	lastErr  error
}

func quantileOf(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// streamBlock is how many streams a target gets in a row. Blocks rotate
// between the targets, with a pause between them, so that the work
// Switchyard's records cause after the fact (Kafka, ingest, ClickHouse) falls
// on Switchyard's own block rather than on the next target's streams.
const streamBlock = 50

// measureStreams sends n streaming requests to each target from one client,
// one at a time, in blocks that rotate through the targets so that all three
// see the same machine noise. It first sends warmup requests to each,
// unrecorded.
func measureStreams(ctx context.Context, targets []*target, n, warmup int, count *requestCount) map[string]*streamTally {
	tallies := map[string]*streamTally{}
	for _, t := range targets {
		tallies[t.name] = &streamTally{}
	}
	one := func(t *target, record bool) {
		ttfb, perChunk, chunks, answered, err := streamOnce(ctx, t)
		if t.name == "switchyard" {
			count.add(1, answered)
		}
		if !record {
			return
		}
		st := tallies[t.name]
		if err != nil {
			st.failed++
			st.lastErr = err
			return
		}
		st.ttfb = append(st.ttfb, ttfb)
		st.perChunk = append(st.perChunk, perChunk)
		st.chunks = chunks
	}
	for _, t := range targets {
		for range warmup {
			one(t, false)
		}
	}
	for block := 0; block*streamBlock < n; block++ {
		for j := range targets {
			t := targets[(block+j)%len(targets)]
			time.Sleep(settle)
			for range min(streamBlock, n-block*streamBlock) {
				if ctx.Err() != nil {
					return tallies
				}
				one(t, true)
			}
		}
	}
	return tallies
}

// streamOnce sends one streaming request and reads the stream to its end.
// answered is 1 if an HTTP answer came back, 0 if not.
func streamOnce(ctx context.Context, t *target) (ttfb, perChunk time.Duration, chunks int, answered int64, err error) {
	ttfb, perChunk, chunks, err = readStream(ctx, t, &answered)
	return ttfb, perChunk, chunks, answered, err
}

func readStream(ctx context.Context, t *target, answered *int64) (ttfb, perChunk time.Duration, chunks int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.streamURL, strings.NewReader(streamBody))
	if err != nil {
		return 0, 0, 0, err
	}
	req.Header = requestHeader()
	start := time.Now()
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	*answered = 1
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, 0, 0, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var first, last time.Time
	done := false
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("data:")) {
			continue
		}
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		last = now
		chunks++
		if bytes.Equal(bytes.TrimSpace(line[len("data:"):]), []byte("[DONE]")) {
			done = true
			break
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, 0, err
	}
	if !done {
		return 0, 0, 0, fmt.Errorf("stream ended without data: [DONE] after %d chunks", chunks)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // reuse the connection
	ttfb = first.Sub(start)
	if chunks > 1 {
		perChunk = last.Sub(first) / time.Duration(chunks-1)
	}
	return ttfb, perChunk, chunks, nil
}
