package route

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Poller feeds a Router the cluster-wide figures of the query API's
// GET /v1/stats/providers?window=5m every Interval. A failed poll is logged
// and retried at the next tick; the router then routes on its own
// observations as the old snapshot expires.
type Poller struct {
	// URL is the query API's base URL, such as http://query:8081.
	URL string
	// Key is sent as a bearer token; it is never logged.
	Key string
	// Interval between polls; 5 s by default.
	Interval time.Duration
	// Client makes the requests; by default one whose timeout is the
	// interval.
	Client *http.Client
	Router *Router
	// Log receives failures and recoveries; slog.Default() by default.
	Log *slog.Logger
}

// maxStatsBody bounds the stats response read.
const maxStatsBody = 16 << 20

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	interval := p.Interval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	log := p.Log
	if log == nil {
		log = slog.Default()
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	failing := false
	for {
		err := p.Poll(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			// Once per outage; the rest at debug level.
			log.Warn("polling provider stats failed; routing on local figures until it recovers", "url", p.URL, "err", err)
			failing = true
		case err != nil:
			log.Debug("polling provider stats failed", "err", err)
		case failing:
			log.Info("polling provider stats recovered", "url", p.URL)
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// statsResponse mirrors the query API's GET /v1/stats/providers (see
// query/stats.go), the members routing uses.
type statsResponse struct {
	Data []struct {
		Provider      string     `json:"provider"`
		Model         string     `json:"model"`
		Requests      int64      `json:"requests"`
		ErrorRate     float64    `json:"error_rate"`
		RateLimitRate float64    `json:"rate_limit_rate"`
		LatencyMs     *quantiles `json:"latency_ms"`
		TTFTMs        *quantiles `json:"ttft_ms"`
		ThroughputTPS *float64   `json:"throughput_tps"`
	} `json:"data"`
}

type quantiles struct {
	P50 *float64 `json:"p50"`
}

func (q *quantiles) p50() *float64 {
	if q == nil {
		return nil
	}
	return q.P50
}

// Poll fetches one snapshot and hands it to the router.
func (p *Poller) Poll(ctx context.Context) error {
	client := p.Client
	if client == nil {
		timeout := p.Interval
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		// DefaultTransport keeps the connection between polls.
		client = &http.Client{Timeout: timeout}
	}
	url := strings.TrimRight(p.URL, "/") + "/v1/stats/providers?window=5m"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if p.Key != "" {
		req.Header.Set("Authorization", "Bearer "+p.Key)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatsBody+1))
	if err != nil {
		return fmt.Errorf("reading provider stats: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("provider stats: HTTP %d: %s", resp.StatusCode, snippet(body))
	}
	if len(body) > maxStatsBody {
		return errors.New("provider stats: response larger than 16 MiB")
	}
	var sr statsResponse
	if err := json.Unmarshal(body, &sr); err != nil {
		return fmt.Errorf("provider stats: %w", err)
	}
	stats := make([]RemoteStat, 0, len(sr.Data))
	for _, d := range sr.Data {
		stats = append(stats, RemoteStat{
			Provider: d.Provider, Model: d.Model, Requests: d.Requests,
			ErrorRate: d.ErrorRate, RateLimitRate: d.RateLimitRate,
			LatencyP50Ms: d.LatencyMs.p50(), TTFTP50Ms: d.TTFTMs.p50(), ThroughputTPS: d.ThroughputTPS,
		})
	}
	p.Router.UpdateRemote(stats, p.Router.now())
	return nil
}

func snippet(b []byte) string {
	const n = 200
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
