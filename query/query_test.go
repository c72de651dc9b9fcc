package query

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/ingest"
	"github.com/switchyard/switchyard/internal/chdb"
	"github.com/switchyard/switchyard/internal/chserver"
	"github.com/switchyard/switchyard/internal/keys"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/record"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	adminKey = "sk-admin-key-1"
	teamKey  = "sk-team-b-key-1"
)

type api struct {
	url   string
	store *ingest.ClickHouseStore
}

func startAPI(t *testing.T) *api {
	t.Helper()
	chcfg := testenv.ClickHouse(t)
	conn := testenv.Conn(t, chcfg)
	ks, err := keys.New([]config.Key{{ID: "admin", Key: adminKey, Admin: true}, {ID: "kb", Key: teamKey, Team: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(conn, ks, config.Query{MaxLimit: 1000}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &api{url: ts.URL, store: ingest.NewClickHouseStore(conn)}
}

func (a *api) insert(t *testing.T, recs ...*record.Record) {
	t.Helper()
	if err := a.store.Insert(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

func (a *api) get(t *testing.T, key, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.url+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, raw)
		}
	}
	if resp.StatusCode != 200 {
		var e errorBody
		if err := json.Unmarshal(raw, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
			t.Errorf("GET %s: status %d with a body that is not the error shape: %s", path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode
}

// newID returns a UUIDv7 for the given time, as the proxy makes them.
func newID(ms int64, n int) string {
	return fmt.Sprintf("%08x-%04x-7000-8000-%012x", uint64(ms)>>16, uint64(ms)&0xffff, n)
}

func sample(ms int64, n int) *record.Record {
	return &record.Record{
		SchemaVersion:  record.SchemaVersion,
		RequestID:      newID(ms, n),
		TraceID:        "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:         fmt.Sprintf("%016x", n+1),
		SessionID:      "sess-1",
		StartedAtMs:    ms,
		LatencyMs:      250,
		TTFTMs:         90,
		OverheadUs:     40,
		Endpoint:       "/v1/chat/completions",
		Stream:         n%2 == 0,
		ModelRequested: "gpt-4o",
		Model:          "gpt-4o-2024",
		Provider:       []string{"openai", "azure"}[n%2],
		KeyID:          "admin",
		User:           []string{"alice", "bob"}[n%2],
		Team:           "a",
		Tags:           []string{"prod", fmt.Sprintf("n%d", n)},
		Metadata:       map[string]string{"feature": []string{"chat", "search"}[n%2]},
		StatusCode:     200,
		Outcome:        record.OutcomeOK,
		FinishReason:   "stop",
		Usage:          record.Usage{PromptTokens: 100, CompletionTokens: int64(10 + n), CachedTokens: 50, ReasoningTokens: 3},
		CostNUSD:       int64(1_000_000 + n),
		Attempts:       []record.Attempt{{Provider: "openai", Model: "gpt-4o-2024", StatusCode: 200, LatencyMs: 240}},
		Routing: record.Routing{Strategy: "ordered", Reason: "configured order", Candidates: []record.RoutingCandidate{
			{PublicModel: "gpt-4o", Provider: "openai", Model: "gpt-4o-2024", Score: 1, Why: "config order"},
			{PublicModel: "gpt-4o", Provider: "azure", Model: "gpt-4o", Skipped: "circuit open"},
		}},
		RequestBody:  `{"model":"gpt-4o","messages":[]}`,
		ResponseBody: fmt.Sprintf(`{"n":%d}`, n),
	}
}

func TestGetRequestRoundTrip(t *testing.T) {
	a := startAPI(t)
	now := time.Now().UnixMilli()
	want := sample(now, 1)
	want.Attempts = append([]record.Attempt{{Provider: "azure", Model: "gpt-4o", StatusCode: 503, LatencyMs: 12, ErrorType: "upstream_error"}}, want.Attempts...)
	want.ParentSpanID = "00f067aa0ba902b7"
	want.Usage.Estimated = true
	want.BodyTruncated = true
	a.insert(t, want, sample(now, 2))
	var got record.Record
	if status := a.get(t, adminKey, "/v1/requests/"+want.RequestID, &got); status != 200 {
		t.Fatalf("status %d", status)
	}
	if !reflect.DeepEqual(&got, want) {
		g, _ := json.Marshal(&got)
		w, _ := json.Marshal(want)
		t.Fatalf("round trip differs:\n got %s\nwant %s", g, w)
	}
	if status := a.get(t, adminKey, "/v1/requests/"+newID(now, 99), nil); status != 404 {
		t.Errorf("unknown id: status %d, want 404", status)
	}
	if status := a.get(t, adminKey, "/v1/requests/not-a-uuid", nil); status != 400 {
		t.Errorf("malformed id: status %d, want 400", status)
	}
	if status := a.get(t, "", "/v1/requests/"+want.RequestID, nil); status != 401 {
		t.Errorf("no key: status %d, want 401", status)
	}
	if status := a.get(t, teamKey, "/v1/requests/"+want.RequestID, nil); status != 404 {
		t.Errorf("another team's key: status %d, want 404", status)
	}
}

func TestListRequests(t *testing.T) {
	a := startAPI(t)
	base := time.Now().Add(-time.Hour).UnixMilli()
	var all []*record.Record
	for i := 0; i < 25; i++ {
		all = append(all, sample(base+int64(i)*1000, i))
	}
	a.insert(t, all...)
	a.insert(t, all[:5]...) // a replay: counted once
	other := sample(base, 100)
	other.Team, other.KeyID = "b", "kb"
	a.insert(t, other)

	// Paging through everything returns each record once, newest first.
	seen := map[string]bool{}
	var last int64 = 1 << 62
	cursor := ""
	pages := 0
	for {
		var page listPage
		path := "/v1/requests?limit=7&team=a"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if status := a.get(t, adminKey, path, &page); status != 200 {
			t.Fatalf("status %d", status)
		}
		pages++
		for _, r := range page.Data {
			if seen[r.RequestID] {
				t.Fatalf("%s returned twice", r.RequestID)
			}
			if r.StartedAtMs > last {
				t.Fatalf("not newest first")
			}
			if r.RequestBody != "" {
				t.Fatalf("the list carries bodies")
			}
			last = r.StartedAtMs
			seen[r.RequestID] = true
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != 25 || pages != 4 {
		t.Fatalf("saw %d records in %d pages, want 25 in 4", len(seen), pages)
	}

	count := func(key, query string) int {
		t.Helper()
		var page listPage
		if status := a.get(t, key, "/v1/requests?limit=1000&"+query, &page); status != 200 {
			t.Fatalf("%s: status %d", query, status)
		}
		return len(page.Data)
	}
	from := url.QueryEscape(time.UnixMilli(base + 10_000).UTC().Format(time.RFC3339Nano))
	for query, want := range map[string]int{
		"":                         26,
		"provider=openai":          14, // 13 of team a, 1 of team b
		"user=bob&team=a":          12,
		"tag=n3":                   1,
		"tag=prod&tag=n4":          1,
		"metadata=feature:search":  12,
		"metadata=Feature:chat":    14,
		"outcome=error":            0,
		"model=gpt-4o-2024":        26,
		"model=gpt-4o":             0,
		"from=" + from:             15,
		"to=" + fmt.Sprint(base+1): 2,
	} {
		if got := count(adminKey, query); got != want {
			t.Errorf("?%s: %d records, want %d", query, got, want)
		}
	}
	if got := count(teamKey, ""); got != 1 {
		t.Errorf("team b's key sees %d records, want its 1", got)
	}
	for _, bad := range []string{"limit=0", "cursor=bm9wZQ", "from=yesterday", "metadata=nocolon", "from=2000&to=1000"} {
		if status := a.get(t, adminKey, "/v1/requests?"+bad, nil); status != 400 {
			t.Errorf("?%s: status %d, want 400", bad, status)
		}
	}
}

func TestTrace(t *testing.T) {
	a := startAPI(t)
	base := time.Now().UnixMilli()
	root := sample(base, 1)
	child := sample(base+100, 2)
	child.ParentSpanID = root.SpanID
	grandchild := sample(base+200, 3)
	grandchild.ParentSpanID = child.SpanID
	sibling := sample(base+300, 4)
	sibling.ParentSpanID = "00f067aa0ba902b7" // the caller's span, not ours
	elsewhere := sample(base, 5)
	elsewhere.TraceID, elsewhere.SessionID = "11111111111111111111111111111111", "sess-2"
	a.insert(t, root, child, grandchild, sibling, elsewhere)
	a.insert(t, child) // replayed

	var tr traceResponse
	if status := a.get(t, adminKey, "/v1/traces/"+root.TraceID, &tr); status != 200 {
		t.Fatalf("status %d", status)
	}
	if tr.Requests != 4 || len(tr.Roots) != 2 || tr.CostNUSD != root.CostNUSD+child.CostNUSD+grandchild.CostNUSD+sibling.CostNUSD {
		t.Fatalf("trace: %d requests, %d roots, cost %d", tr.Requests, len(tr.Roots), tr.CostNUSD)
	}
	r0 := tr.Roots[0]
	if r0.Request.RequestID != root.RequestID || len(r0.Children) != 1 || r0.Children[0].Request.RequestID != child.RequestID ||
		len(r0.Children[0].Children) != 1 || r0.Children[0].Children[0].OffsetMs != 200 {
		t.Fatalf("tree shape wrong: %+v", r0)
	}
	if tr.Roots[1].Request.RequestID != sibling.RequestID || tr.DurationMs != 300+sibling.LatencyMs {
		t.Fatalf("second root %s, duration %d", tr.Roots[1].Request.RequestID, tr.DurationMs)
	}
	// The same id space also finds sessions.
	var sess traceResponse
	if status := a.get(t, adminKey, "/v1/traces/sess-1", &sess); status != 200 || sess.Requests != 4 || sess.SessionID != "sess-1" {
		t.Fatalf("session: status %d, %d requests", status, sess.Requests)
	}
	if status := a.get(t, adminKey, "/v1/traces/"+strings.Repeat("a", 32), nil); status != 404 {
		t.Errorf("unknown trace: status %d", status)
	}
	if status := a.get(t, teamKey, "/v1/traces/"+root.TraceID, nil); status != 404 {
		t.Errorf("another team's trace: status %d, want 404", status)
	}
}

func TestSpend(t *testing.T) {
	a := startAPI(t)
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-48 * time.Hour)
	var recs []*record.Record
	var wantCost int64
	for i := 0; i < 30; i++ {
		r := sample(day.Add(time.Duration(i)*2*time.Hour).UnixMilli(), i) // across three days
		if i == 7 {
			r.Outcome = record.OutcomeError
		}
		recs = append(recs, r)
		wantCost += r.CostNUSD
	}
	a.insert(t, recs...)
	a.insert(t, recs[:10]...) // replays must not count twice
	q := "/v1/spend?from=" + fmt.Sprint(day.UnixMilli()) + "&to=" + fmt.Sprint(day.Add(72*time.Hour).UnixMilli())

	var s spendResponse
	if status := a.get(t, adminKey, q+"&group_by=provider,day&interval=day", &s); status != 200 {
		t.Fatalf("status %d", status)
	}
	if s.Total.Requests != 30 || s.Total.CostNUSD != wantCost || s.Total.Errors != 1 || s.Total.PromptTokens != 3000 || s.Total.CachedTokens != 1500 {
		t.Fatalf("total = %+v, want 30 requests costing %d", s.Total, wantCost)
	}
	var groupCost float64
	var groupReqs float64
	for _, g := range s.Groups {
		groupCost += g["cost_nusd"].(float64)
		groupReqs += g["requests"].(float64)
		if g["provider"] == nil || g["day"] == nil {
			t.Fatalf("group without its dimensions: %v", g)
		}
	}
	if len(s.Groups) != 6 || int64(groupCost) != wantCost || groupReqs != 30 {
		t.Fatalf("%d groups summing to %v requests, %v nano-USD", len(s.Groups), groupReqs, groupCost)
	}
	if len(s.Series) != 6 || s.Series[0]["t"].(float64) != float64(day.UnixMilli()) {
		t.Fatalf("series = %v", s.Series)
	}
	var teamB spendResponse
	if status := a.get(t, teamKey, q, &teamB); status != 200 || teamB.Total.Requests != 0 {
		t.Fatalf("team b sees %d requests of team a", teamB.Total.Requests)
	}
	for _, bad := range []string{"&group_by=color", "&interval=fortnight"} {
		if status := a.get(t, adminKey, q+bad, nil); status != 400 {
			t.Errorf("%s: status %d, want 400", bad, status)
		}
	}
}

func TestDatabaseDown(t *testing.T) {
	port, err := chserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens there: every query fails to connect, as it does when
	// the server is down.
	conn, err := clickhouse.Open(chdb.Options(config.ClickHouse{Addr: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Database: "down", DialTimeout: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ks, _ := keys.New([]config.Key{{ID: "admin", Key: adminKey, Admin: true}})
	api := New(conn, ks, config.Query{MaxLimit: 10}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, path := range []string{"/v1/requests", "/v1/spend", "/v1/traces/sess", "/v1/requests/" + newID(time.Now().UnixMilli(), 1), "/healthz"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+adminKey)
		w := httptest.NewRecorder()
		api.Handler().ServeHTTP(w, req)
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s with the database down: status %d, want 503: %s", path, w.Code, w.Body)
		}
	}
}

// TestListAcrossWindows pages through requests spread over ten days: the
// list searches the newest hour first, then longer and longer slices, and
// must still return every request once, newest first, across the slices'
// edges and the pages'.
func TestListAcrossWindows(t *testing.T) {
	a := startAPI(t)
	now := time.Now().UnixMilli()
	var want []string
	for i := 0; i < 12; i++ {
		r := sample(now-int64(i)*19*3600_000-1000, i)
		a.insert(t, r)
		want = append(want, r.RequestID)
	}
	from := fmt.Sprint(now - 10*24*3600_000)
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("the cursor does not advance")
		}
		var page listPage
		path := "/v1/requests?limit=5&from=" + from
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if status := a.get(t, adminKey, path, &page); status != 200 {
			t.Fatalf("status %d", status)
		}
		for _, r := range page.Data {
			got = append(got, r.RequestID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged\n%v\nwant, newest first,\n%v", got, want)
	}
	var page listPage
	a.get(t, adminKey, "/v1/requests?limit=1000&user=alice&from="+from, &page)
	if len(page.Data) != 6 || page.NextCursor != "" {
		t.Fatalf("alice's requests: %d, cursor %q", len(page.Data), page.NextCursor)
	}
}
