package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// requestCount counts the requests sent to Switchyard.
type requestCount struct {
	sent     int64 // every request the harness sent
	answered int64 // those that got an HTTP answer
}

func (c *requestCount) add(sent, answered int64) {
	c.sent += sent
	c.answered += answered
}

// recordCount is what the logging pipeline did with the requests sent to
// Switchyard.
type recordCount struct {
	requestCount
	served    int64 // requests the proxy counted (switchyard_proxy_requests_total)
	published int64
	stored    int64
	dropped   int64
	err       error // why the counts could not be read or did not add up
}

// complete reports whether every answered request has a stored record and
// nothing was dropped. A request that got no answer (the client gave up) may
// or may not have reached the proxy, so it is not required to have a record.
func (r recordCount) complete() bool { return r.err == nil && r.shortfall() == "" }

// shortfall says what is missing, or "" if nothing is.
func (r recordCount) shortfall() string {
	switch {
	case r.dropped > 0:
		return fmt.Sprintf("the proxy dropped %d records", r.dropped)
	case r.published < r.answered:
		return fmt.Sprintf("%d answered requests have no published record", r.answered-r.published)
	case r.published < r.served:
		return fmt.Sprintf("the proxy served %d requests but published %d records", r.served, r.published)
	case r.published > r.sent:
		return fmt.Sprintf("%d records published for %d requests sent", r.published, r.sent)
	case r.stored < r.published:
		return fmt.Sprintf("%d published records are not stored", r.published-r.stored)
	case r.stored > r.published:
		return fmt.Sprintf("%d records stored for %d published (duplicates)", r.stored, r.published)
	}
	return ""
}

// checkRecords waits until the proxy has published a record for every
// request sent to it and the ingester has stored every published record, or
// until timeout passes.
func checkRecords(ctx context.Context, s *stack, count requestCount, timeout time.Duration) recordCount {
	proxyMetrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", s.ports.Proxy)
	ingestMetrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", s.ports.Ingest)
	rc := recordCount{requestCount: count}
	deadline := time.Now().Add(timeout)
	last := recordCount{published: -1}
	for {
		pm, perr := scrapeMetrics(proxyMetrics)
		im, ierr := scrapeMetrics(ingestMetrics)
		switch {
		case perr != nil:
			rc.err = fmt.Errorf("proxy metrics: %w", perr)
		case ierr != nil:
			rc.err = fmt.Errorf("ingest metrics: %w", ierr)
		default:
			rc.err = nil
			rc.published = int64(pm["switchyard_records_published_total"])
			rc.dropped = int64(pm["switchyard_records_dropped_total"])
			rc.served = int64(pm["switchyard_proxy_requests_total"])
			rc.stored = int64(im["switchyard_ingest_records_total"])
		}
		// Complete, and the proxy not still counting: done.
		if rc.complete() && rc.published == last.published && rc.served == last.served {
			return rc
		}
		last = rc
		if time.Now().After(deadline) {
			if rc.err == nil {
				rc.err = fmt.Errorf("after %s: %s", timeout, rc.shortfall())
			}
			return rc
		}
		select {
		case <-ctx.Done():
			rc.err = ctx.Err()
			return rc
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// scrapeMetrics reads a Prometheus text page, summing each metric's samples
// over their labels.
func scrapeMetrics(url string) (map[string]float64, error) {
	resp, err := probeClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		name, value := line[:i], line[i+1:]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			samples[name] += v
		}
	}
	return samples, sc.Err()
}
