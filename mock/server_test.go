package mock

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
)

// SetProvider runs while requests are in flight (go test -race checks the
// copy-on-write publication); afterwards every request sees the last
// behaviour set, and the counters add up.
func TestSetProviderUnderLoad(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	srv := httptest.NewServer(s)
	defer srv.Close()

	var (
		wg       sync.WaitGroup
		stop     atomic.Bool
		sent     atomic.Int64
		statuses sync.Map // status -> *atomic.Int64
	)
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				body := basicBody
				if sent.Load()%2 == 0 {
					body = streamUsageBody
				}
				resp, err := http.Post(srv.URL+"/alpha/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := readAllErr(resp); err != nil {
					t.Error(err)
					return
				}
				sent.Add(1)
				n, _ := statuses.LoadOrStore(resp.StatusCode, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		})
	}
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			p := testProvider("alpha")
			switch i % 3 {
			case 1:
				p.ErrorRate = 1
			case 2:
				p.RateLimitRate = 1
			}
			s.SetProvider(p)
			s.SetProvider(testProvider("other")) // adds and replaces a second provider
			time.Sleep(time.Millisecond)
		}
	})
	for deadline := time.Now().Add(time.Minute); sent.Load() < 400 && time.Now().Before(deadline) && !t.Failed(); {
		time.Sleep(5 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()

	count := func(status int) int64 {
		n, ok := statuses.Load(status)
		if !ok {
			return 0
		}
		return n.(*atomic.Int64).Load()
	}
	st := s.Stats("alpha")
	if st.Requests != sent.Load() {
		t.Errorf("Stats.Requests = %d, sent %d: counters were lost across SetProvider", st.Requests, sent.Load())
	}
	if st.Errors != count(500) || st.RateLimited != count(429) {
		t.Errorf("Stats = %+v; saw %d 500s and %d 429s", st, count(500), count(429))
	}
	if count(200)+count(500)+count(429) != sent.Load() {
		t.Errorf("unexpected statuses")
	}

	p := testProvider("alpha")
	p.ErrorRate = 1
	s.SetProvider(p)
	for range 20 {
		if rec := serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", basicBody); rec.Code != 500 {
			t.Fatalf("after SetProvider(ErrorRate 1): status %d", rec.Code)
		}
	}
	s.SetProvider(testProvider("alpha"))
	for range 20 {
		if rec := serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", basicBody); rec.Code != 200 {
			t.Fatalf("after SetProvider(ErrorRate 0): status %d", rec.Code)
		}
	}
}

func TestSetProviderSlowsARunningProvider(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	slow := testProvider("alpha")
	slow.Latency = 100 * time.Millisecond
	s.SetProvider(slow)
	start := time.Now()
	serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", basicBody)
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
		t.Errorf("answered after %v, want at least 100ms", elapsed)
	}
}

func TestStats(t *testing.T) {
	s := New([]config.MockProvider{testProvider("alpha")})
	if got := s.Stats("nobody"); got != (Stats{}) {
		t.Errorf("Stats of an unknown provider = %+v", got)
	}
	serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", basicBody)
	serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", streamBody)
	serve(t, s, http.MethodGet, "/alpha/v1/models", "") // not a chat completion: not counted
	s.SetProvider(testProvider("alpha"))
	serve(t, s, http.MethodPost, "/alpha/v1/chat/completions", basicBody, HeaderStatus, "502")
	want := Stats{Requests: 3, Streams: 1, Errors: 1}
	if got := s.Stats("alpha"); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func TestDefaultCompletionTokens(t *testing.T) {
	s := New([]config.MockProvider{{Name: "bare"}})
	m := decodeObject(t, serve(t, s, http.MethodPost, "/bare/v1/chat/completions", basicBody).Body.Bytes())
	checkUsage(t, "usage", m["usage"], basicPromptTokens, defaultCompletionTokens, 0)
}

func TestZeroServer(t *testing.T) {
	var s Server
	if rec := serve(t, &s, http.MethodPost, "/alpha/v1/chat/completions", basicBody); rec.Code != 404 {
		t.Errorf("status %d, want 404", rec.Code)
	}
	s.SetProvider(testProvider("alpha"))
	if rec := serve(t, &s, http.MethodPost, "/alpha/v1/chat/completions", basicBody); rec.Code != 200 {
		t.Errorf("status %d, want 200", rec.Code)
	}
}
