package query

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/ingest"
	"github.com/switchyard/switchyard/internal/keys"
	"github.com/switchyard/switchyard/internal/testenv"
	"github.com/switchyard/switchyard/migrations"
	"github.com/switchyard/switchyard/record"
)

// twinAPI serves one database twice: as the API does, and with spend read
// from the raw table only.
type twinAPI struct {
	api       // the real thing
	raw  *api // rawSpendOnly
	conn driver.Conn
}

func startTwinAPI(t *testing.T, conn driver.Conn) *twinAPI {
	t.Helper()
	ks, err := keys.New([]config.Key{
		{ID: "admin", Key: adminKey, Admin: true},
		{ID: "kb", Key: teamKey, Team: "b"},
		{ID: "k3", Key: loneKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(conn, ks, config.Query{MaxLimit: 1000}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	live := httptest.NewServer(srv.Handler())
	t.Cleanup(live.Close)
	raw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.Handler().ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), rawSpendOnly{}, true)))
	}))
	t.Cleanup(raw.Close)
	store := ingest.NewClickHouseStore(conn)
	return &twinAPI{api: api{url: live.URL, store: store}, raw: &api{url: raw.URL, store: store}, conn: conn}
}

// loneKey has neither a team nor admin rights: it sees its own key's data.
const loneKey = "sk-lone-key-1"

// variedRecords spreads n requests over three UTC days before day (and the
// start of day itself) across teams, keys, users, models, providers,
// outcomes and endpoints, with start times that fall on and between minute
// and day boundaries.
func variedRecords(day time.Time, n int) []*record.Record {
	var recs []*record.Record
	for i := 0; i < n; i++ {
		// A stride that is prime to the day in ms walks every minute and
		// second offset; every 17th record sits exactly on a minute.
		offset := int64(i) * 3 * 86_400_000 / int64(n)
		offset += int64(i*7919) % 60_000
		if i%17 == 0 {
			offset = offset / 60_000 * 60_000
		}
		if i%41 == 0 {
			offset = offset / 86_400_000 * 86_400_000 // midnight
		}
		ms := day.Add(-72*time.Hour).UnixMilli() + offset
		r := sample(ms, i)
		r.Team = []string{"a", "b", ""}[i%3]
		r.KeyID = []string{"k1", "k2", "k3", "kb"}[i%4]
		r.User = []string{"u1", "u2", ""}[(i/2)%3]
		r.Model = []string{"m1", "m2"}[(i/3)%2]
		r.Provider = []string{"p1", "p2", "p3"}[(i/5)%3]
		r.Outcome = []string{record.OutcomeOK, record.OutcomeOK, record.OutcomeOK, record.OutcomeError, record.OutcomeRateLimited}[(i/7)%5]
		r.Endpoint = []string{"/v1/chat/completions", "/v1/embeddings"}[(i/11)%2]
		r.Tags = []string{[]string{"prod", "dev"}[i%2]}
		r.Usage = record.Usage{
			PromptTokens: int64(100 + i), CompletionTokens: int64(i % 97), CachedTokens: int64(i % 13),
			CacheWriteTokens: int64(i % 5), ReasoningTokens: int64(i % 3),
		}
		r.CostNUSD = int64(1_000 + i*i)
		recs = append(recs, r)
	}
	return recs
}

// TestSpendRollupsMatchRaw asks every group_by combination, with every
// interval, over ranges aligned and not to minutes and days, with filters
// each table can and cannot answer, from the API and from the raw table
// alone: the answers must be identical.
func TestSpendRollupsMatchRaw(t *testing.T) {
	a := startTwinAPI(t, testenv.Conn(t, testenv.ClickHouse(t)))
	day := time.Now().UTC().Truncate(24 * time.Hour)
	a.insert(t, variedRecords(day, 600)...)

	d0 := day.Add(-72 * time.Hour)
	ms := func(t time.Time) string { return fmt.Sprint(t.UnixMilli()) }
	ranges := [][2]string{
		{ms(d0), ms(day.Add(24 * time.Hour))}, // whole days
		{ms(d0.Add(37*time.Minute + 12345*time.Millisecond)), ms(day.Add(-5*time.Hour - 3*time.Minute - 7891*time.Millisecond))}, // nothing aligned
		{ms(d0.Add(26*time.Hour + time.Second)), ms(d0.Add(26*time.Hour + 50*time.Second))},                                      // inside one minute
		{ms(d0.Add(27*time.Hour + 10500*time.Millisecond)), ms(d0.Add(31*time.Hour + 200*time.Millisecond))},                     // inside one day
		{ms(d0.Add(5 * time.Minute)), ms(day.Add(-17 * time.Minute))},                                                            // whole minutes
		{d0.Add(90 * time.Minute).Format(time.RFC3339Nano), day.Add(-time.Hour).Format(time.RFC3339Nano)},                        // RFC 3339
	}
	filters := []string{
		"",
		"&model=m1",
		"&team=a&provider=p2",
		"&user=u1",
		"&outcome=error",
		"&key=k2&user=u2",
		"&tag=prod",                             // raw only
		"&endpoint=/v1/embeddings",              // raw only
		"&metadata=feature:chat&provider=p1",    // raw only
		"&user=",                                // requests without a user
		"&model=m2&team=b&provider=p3&key=kb",   // several, and rare
		"&model=nothing",                        // matches nothing
		"&model_requested=gpt-4o&outcome=error", // raw only
	}
	dims := []string{"model", "provider", "key", "user", "team", "day", "outcome"}
	intervalNames := []string{"", "minute", "hour", "day"}

	type comparison struct{ key, query string }
	var cases []comparison
	sources := map[spendSource]int{}
	rawOnly := 0
	for subset := 0; subset < 1<<len(dims); subset++ {
		var groups []string
		for i, d := range dims {
			if subset&(1<<i) != 0 {
				groups = append(groups, d)
			}
		}
		for iv, interval := range intervalNames {
			n := subset*len(intervalNames) + iv
			rng := ranges[n%len(ranges)]
			filter := filters[(n/len(ranges)+n)%len(filters)]
			query := "/v1/spend?from=" + url.QueryEscape(rng[0]) + "&to=" + url.QueryEscape(rng[1]) + filter
			if len(groups) > 0 {
				query += "&group_by=" + strings.Join(groups, ",")
			}
			if interval != "" {
				query += "&interval=" + interval
			}
			plan := planFor(t, query, groups, intervals[interval])
			if len(plan) == 1 && plan[0].source == sourceRaw {
				// Both sides would run the same SQL: compare a few only.
				if rawOnly++; rawOnly%8 != 0 {
					continue
				}
			}
			for _, seg := range plan {
				sources[seg.source]++
			}
			cases = append(cases, comparison{adminKey, query})
			if n%9 == 0 { // scoped keys: a team's, and one with only its key
				cases = append(cases, comparison{teamKey, query}, comparison{loneKey, query})
			}
		}
	}
	for src := range spendSources {
		if sources[spendSource(src)] == 0 {
			t.Errorf("the comparisons read %v; every source should have been used", sources)
		}
	}
	t.Logf("%d comparisons; segments read: %v", len(cases), sources)
	// In parallel chunks: the server has cores to spare while one query
	// makes its round trips.
	const chunks = 4
	for c := 0; c < chunks; c++ {
		t.Run(fmt.Sprint("chunk", c), func(t *testing.T) {
			t.Parallel()
			for i := c; i < len(cases); i += chunks {
				compareSpend(t, a, cases[i].key, cases[i].query)
			}
		})
	}
	// Endpoint is in no rollup: always raw, and still the same answer.
	compareSpend(t, a, adminKey, "/v1/spend?from="+ranges[0][0]+"&to="+ranges[0][1]+"&group_by=endpoint,model&interval=day")
}

// planFor returns the plan the API makes for query (made by an admin key).
func planFor(t *testing.T, query string, groups []string, bucket int64) []spendSegment {
	t.Helper()
	u, _ := url.Parse(query)
	sel, ok := parseSpendSelection(httptest.NewRecorder(), u.Query(), &keys.Key{Admin: true})
	if !ok {
		t.Fatalf("%s: bad query", query)
	}
	return planSpend(sel, groups, bucket, false)
}

func compareSpend(t *testing.T, a *twinAPI, key, query string) {
	t.Helper()
	var fast, raw spendResponse
	if status := a.get(t, key, query, &fast); status != 200 {
		t.Fatalf("%s: status %d", query, status)
	}
	if status := a.raw.get(t, key, query, &raw); status != 200 {
		t.Fatalf("%s (raw): status %d", query, status)
	}
	if !reflect.DeepEqual(fast, raw) {
		f, _ := json.Marshal(fast)
		r, _ := json.Marshal(raw)
		t.Errorf("%s (key %s): the rollups answer\n%s\nthe raw table\n%s", query, key, f, r)
	}
}

func TestSpendPlan(t *testing.T) {
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC).UnixMilli()
	const (
		minute = int64(60_000)
		hour   = 60 * minute
		dayMs  = 24 * hour
	)
	seg := func(src spendSource, from, to int64) spendSegment { return spendSegment{src, from, to} }
	sel := func(from, to int64, equal ...columnValue) spendSelection {
		return spendSelection{from: from, to: to, equal: equal, key: &keys.Key{Admin: true}}
	}
	for _, tc := range []struct {
		name   string
		sel    spendSelection
		groups []string
		bucket int64
		want   []spendSegment
	}{
		{"whole days", sel(day, day+3*dayMs), []string{"model"}, 0,
			[]spendSegment{seg(sourceDay, day, day+3*dayMs)}},
		{"days, minutes and raw ends", sel(day-90*minute-1500, day+2*dayMs+5*minute+30_000), nil, 86400,
			[]spendSegment{
				seg(sourceRaw, day-90*minute-1500, day-90*minute),
				seg(sourceMinute, day-90*minute, day-60*minute),
				seg(sourceHour, day-60*minute, day),
				seg(sourceDay, day, day+2*dayMs),
				seg(sourceMinute, day+2*dayMs, day+2*dayMs+5*minute),
				seg(sourceRaw, day+2*dayMs+5*minute, day+2*dayMs+5*minute+30_000),
			}},
		{"hourly series: no days", sel(day, day+2*dayMs+30_000), []string{"provider", "day"}, 3600,
			[]spendSegment{seg(sourceHour, day, day+2*dayMs), seg(sourceRaw, day+2*dayMs, day+2*dayMs+30_000)}},
		{"minute series", sel(day+30_000, day+3*hour+5*minute), []string{"team"}, 60,
			[]spendSegment{seg(sourceRaw, day+30_000, day+minute), seg(sourceMinute, day+minute, day+3*hour+5*minute)}},
		{"inside a minute", sel(day+1000, day+2000), nil, 0,
			[]spendSegment{seg(sourceRaw, day+1000, day+2000)}},
		{"user: days and raw ends", sel(day-hour, day+dayMs+hour), []string{"user"}, 0,
			[]spendSegment{seg(sourceRaw, day-hour, day), seg(sourceUserDay, day, day+dayMs), seg(sourceRaw, day+dayMs, day+dayMs+hour)}},
		{"user filter, daily series", sel(day, day+dayMs, columnValue{"user", "u"}), nil, 86400,
			[]spendSegment{seg(sourceUserDay, day, day+dayMs)}},
		{"user with a minute series: raw", sel(day, day+dayMs), []string{"user"}, 60,
			[]spendSegment{seg(sourceRaw, day, day+dayMs)}},
		{"endpoint: raw", sel(day, day+dayMs), []string{"endpoint"}, 0,
			[]spendSegment{seg(sourceRaw, day, day+dayMs)}},
		{"session filter: raw", sel(day, day+dayMs, columnValue{"session_id", "s"}), nil, 0,
			[]spendSegment{seg(sourceRaw, day, day+dayMs)}},
		{"tags: raw", spendSelection{from: day, to: day + dayMs, tags: []string{"x"}}, nil, 0,
			[]spendSegment{seg(sourceRaw, day, day+dayMs)}},
		{"outcome and key: rollups", sel(day, day+dayMs, columnValue{"outcome", "ok"}, columnValue{"key_id", "k"}), []string{"team", "outcome"}, 0,
			[]spendSegment{seg(sourceDay, day, day+dayMs)}},
		{"past 2100: raw tail", sel(day, maxRollupMs+dayMs), nil, 0,
			[]spendSegment{seg(sourceDay, day, maxRollupMs), seg(sourceRaw, maxRollupMs, maxRollupMs+dayMs)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := planSpend(tc.sel, tc.groups, tc.bucket, false); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("plan\n got %v\nwant %v", got, tc.want)
			}
			if got := planSpend(tc.sel, tc.groups, tc.bucket, true); !reflect.DeepEqual(got, []spendSegment{{sourceRaw, tc.sel.from, tc.sel.to}}) {
				t.Errorf("forced raw: %v", got)
			}
		})
	}
}

// TestSpendReadsRollups shows the rollups answer: with the raw rows gone,
// ranges of whole minutes and days still add up, and only the raw path
// comes back empty.
func TestSpendReadsRollups(t *testing.T) {
	conn := testenv.Conn(t, testenv.ClickHouse(t))
	a := startTwinAPI(t, conn)
	day := time.Now().UTC().Truncate(24 * time.Hour)
	recs := variedRecords(day, 120)
	a.insert(t, recs...)
	var wantCost int64
	for _, r := range recs {
		wantCost += r.CostNUSD
	}
	if err := conn.Exec(context.Background(), "TRUNCATE TABLE requests"); err != nil {
		t.Fatal(err)
	}
	from, to := day.Add(-72*time.Hour).UnixMilli(), day.Add(time.Hour).UnixMilli()
	for _, q := range []string{"&group_by=user,provider&interval=day", "&group_by=model,day&interval=hour", "&interval=minute"} {
		query := fmt.Sprintf("/v1/spend?from=%d&to=%d%s", from, to, q)
		var fast, raw spendResponse
		if status := a.get(t, adminKey, query, &fast); status != 200 {
			t.Fatalf("status %d", status)
		}
		if fast.Total.Requests != uint64(len(recs)) || fast.Total.CostNUSD != wantCost {
			t.Errorf("%s: total %+v, want %d requests costing %d", q, fast.Total, len(recs), wantCost)
		}
		if status := a.raw.get(t, adminKey, query, &raw); status != 200 || raw.Total.Requests != 0 {
			t.Errorf("%s: the raw table still has %d requests", q, raw.Total.Requests)
		}
	}
}

// TestRollupBackfill migrates a database that already holds requests to
// the rollups (0003, 0004): the requests stored before count once, so do
// those stored after, and running 0003's backfill again adds nothing.
func TestRollupBackfill(t *testing.T) {
	conn := testenv.Conn(t, testenv.EmptyClickHouse(t))
	ctx := context.Background()
	all, err := migrations.New().Migrations()
	if err != nil {
		t.Fatal(err)
	}
	embedded := migrations.New().FS
	upTo := func(last uint32) *migrations.Runner {
		files := fstest.MapFS{}
		for _, m := range all {
			if m.Version <= last {
				text, err := fs.ReadFile(embedded, m.ID()+".sql")
				if err != nil {
					t.Fatal(err)
				}
				files[m.ID()+".sql"] = &fstest.MapFile{Data: text}
			}
		}
		return &migrations.Runner{FS: files}
	}
	if _, err := upTo(2).Up(ctx, conn); err != nil {
		t.Fatal(err)
	}
	// Today's store writes columns added after 0003 (routing_candidates,
	// 0009); add them ahead so that it can write the old-schema rows.
	if err := conn.Exec(ctx, "ALTER TABLE requests ADD COLUMN routing_candidates String DEFAULT '[]'"); err != nil {
		t.Fatal(err)
	}
	a := startTwinAPI(t, conn)
	day := time.Now().UTC().Truncate(24 * time.Hour)
	recs := variedRecords(day, 200)
	a.insert(t, recs[:150]...) // before the rollups exist

	if _, err := upTo(3).Up(ctx, conn); err != nil {
		t.Fatal(err)
	}
	var backfill []string
	for _, m := range all {
		if m.Version == 3 {
			backfill = m.Statements[len(m.Statements)-2:] // the wait and the INSERT
		}
	}
	if len(backfill) != 2 || !strings.HasPrefix(backfill[1], "INSERT INTO rollup_backfill") {
		t.Fatalf("0003 no longer ends with its backfill: %q", backfill)
	}
	for _, stmt := range backfill { // a retried migration runs it again
		if err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	a.insert(t, recs[150:]...) // after: through the views
	if _, err := migrations.Up(ctx, conn); err != nil {
		t.Fatal(err)
	}
	var leftovers uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE 'rollup_backfill%'").Scan(&leftovers); err != nil {
		t.Fatal(err)
	}
	if leftovers != 0 {
		t.Errorf("0004 left %d backfill tables", leftovers)
	}

	var wantCost int64
	for _, r := range recs {
		wantCost += r.CostNUSD
	}
	from, to := day.Add(-72*time.Hour).UnixMilli(), day.Add(24*time.Hour).UnixMilli()
	for _, q := range []string{"&group_by=user,team&interval=day", "&group_by=provider,outcome&interval=hour"} {
		query := fmt.Sprintf("/v1/spend?from=%d&to=%d%s", from, to, q)
		compareSpend(t, a, adminKey, query)
		var s spendResponse
		a.get(t, adminKey, query, &s)
		if s.Total.Requests != uint64(len(recs)) || s.Total.CostNUSD != wantCost {
			t.Errorf("%s: total %+v, want %d requests costing %d", q, s.Total, len(recs), wantCost)
		}
	}
	var perfRequests uint64
	if err := conn.QueryRow(ctx, "SELECT countMerge(requests) FROM perf_minute").Scan(&perfRequests); err != nil {
		t.Fatal(err)
	}
	if perfRequests != uint64(len(recs)) {
		t.Errorf("perf_minute counts %d requests, want %d", perfRequests, len(recs))
	}
}
