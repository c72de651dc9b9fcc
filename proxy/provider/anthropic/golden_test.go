package anthropic

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/sse"
	"github.com/switchyard/switchyard/proxy/provider"
)

// Golden files: testdata/<translation>/<case>.in.<ext> is translated and
// compared with <case>.out.<ext>. `go test -run Golden -update` rewrites the
// .out files; review the diff before committing it.
var update = flag.Bool("update", false, "rewrite the golden .out files in testdata")

// testCreated is the "created" time of translated completions in tests.
const testCreated = 1700000000

type golden struct {
	dir       string
	in, out   string // file extensions
	translate func(t *testing.T, casePath string, in []byte) []byte
}

var goldens = []golden{
	{"request_openai_to_anthropic", ".json", ".json", func(t *testing.T, _ string, in []byte) []byte {
		var probe struct {
			Stream bool `json:"stream"`
		}
		_ = json.Unmarshal(in, &probe)
		tr, err := chatToMessages(in, probe.Stream)
		if err != nil {
			return errorResult(err)
		}
		return tr.body
	}},
	{"request_anthropic_to_openai", ".json", ".json", func(t *testing.T, _ string, in []byte) []byte {
		out, err := MessagesRequestToOpenAI(in)
		if err != nil {
			return errorResult(err)
		}
		return out
	}},
	{"response_anthropic_to_openai", ".json", ".json", func(t *testing.T, casePath string, in []byte) []byte {
		tr := requestFor(t, casePath, false)
		out, err := messageToCompletion(in, tr.jsonTool, testCreated)
		if err != nil {
			return errorResult(err)
		}
		return out
	}},
	{"response_openai_to_anthropic", ".json", ".json", func(t *testing.T, _ string, in []byte) []byte {
		out, err := OpenAIResponseToMessages(in)
		if err != nil {
			return errorResult(err)
		}
		return out
	}},
	{"stream_anthropic_to_openai", ".sse", ".sse", func(t *testing.T, casePath string, in []byte) []byte {
		tr := requestFor(t, casePath, true)
		return readStream(newChunkStream(io.NopCloser(bytes.NewReader(in)), tr, testCreated))
	}},
	{"stream_openai_to_anthropic", ".sse", ".sse", func(t *testing.T, _ string, in []byte) []byte {
		return readStream(OpenAIStreamToMessages(io.NopCloser(bytes.NewReader(in))))
	}},
	{"error_anthropic_to_openai", ".json", ".json", func(t *testing.T, casePath string, in []byte) []byte {
		return errorToOpenAI(statusOf(t, casePath), in)
	}},
	{"error_openai_to_anthropic", ".json", ".json", func(t *testing.T, casePath string, in []byte) []byte {
		return OpenAIErrorToMessages(statusOf(t, casePath), in)
	}},
}

func TestGolden(t *testing.T) {
	for _, g := range goldens {
		inputs, err := filepath.Glob(filepath.Join("testdata", g.dir, "*.in"+g.in))
		if err != nil || len(inputs) == 0 {
			t.Fatalf("%s: no golden inputs (%v)", g.dir, err)
		}
		for _, inPath := range inputs {
			casePath := strings.TrimSuffix(inPath, ".in"+g.in)
			t.Run(g.dir+"/"+filepath.Base(casePath), func(t *testing.T) {
				in, err := os.ReadFile(inPath)
				if err != nil {
					t.Fatal(err)
				}
				got := g.translate(t, casePath, in)
				if g.out == ".json" {
					var buf bytes.Buffer
					if err := json.Indent(&buf, got, "", "  "); err != nil {
						t.Fatalf("output is not valid JSON: %v\n%s", err, got)
					}
					buf.WriteByte('\n')
					got = buf.Bytes()
				} else {
					checkSSE(t, got)
				}
				outPath := casePath + ".out" + g.out
				if *update {
					if err := os.WriteFile(outPath, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(outPath)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("translation differs from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", outPath, got, want)
				}
			})
		}
	}
}

// errorResult is the golden form of a translation that fails.
func errorResult(err error) []byte {
	kind := "error"
	var reqErr *requestError
	switch {
	case errors.As(err, &reqErr):
		kind = "bad_request"
	case errors.Is(err, provider.ErrUnsupported):
		kind = "unsupported"
	case errors.Is(err, ErrInvalidRequest):
		kind = "invalid_request"
	}
	b, _ := json.Marshal(map[string]string{"translation_error": kind, "message": err.Error()})
	return b
}

// requestFor translates the case's OpenAI request (<case>.request.json) for
// what the response translation needs; without one, a plain request.
func requestFor(t *testing.T, casePath string, stream bool) translatedRequest {
	body, err := os.ReadFile(casePath + ".request.json")
	if errors.Is(err, os.ErrNotExist) {
		body = []byte(`{"model":"claude","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`)
	} else if err != nil {
		t.Fatal(err)
	}
	tr, err := chatToMessages(body, stream)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	return tr
}

// statusOf reads the HTTP status from a case name ending in _<status>.
func statusOf(t *testing.T, casePath string) int {
	name := filepath.Base(casePath)
	status, err := strconv.Atoi(name[strings.LastIndexByte(name, '_')+1:])
	if err != nil {
		t.Fatalf("case %s: name must end in _<status>", name)
	}
	return status
}

// readStream reads a translated stream in small reads, as a slow consumer
// would; a read error is appended as a comment line.
func readStream(r io.ReadCloser) []byte {
	defer r.Close()
	var out bytes.Buffer
	buf := make([]byte, 7)
	for {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes()
		}
		if err != nil {
			fmt.Fprintf(&out, ": read error: %v\n", err)
			return out.Bytes()
		}
	}
}

// checkSSE checks that every event of an SSE stream carries JSON (or
// [DONE], last).
func checkSSE(t testing.TB, stream []byte) {
	t.Helper()
	if err := validSSE(stream); err != nil {
		t.Fatalf("%v\n%s", err, stream)
	}
}

func validSSE(stream []byte) error {
	rd := sse.NewReader(bufio.NewReader(bytes.NewReader(stream)), len(stream)+1)
	done := false
	for {
		_, data, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("not valid SSE: %v", err)
		}
		if done {
			return errors.New("event after [DONE]")
		}
		if string(data) == "[DONE]" {
			done = true
			continue
		}
		if !json.Valid(data) {
			return fmt.Errorf("event data is not JSON: %q", data)
		}
	}
}
