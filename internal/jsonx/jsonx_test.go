package jsonx

import (
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestSet(t *testing.T) {
	tests := []struct {
		name, in, key, value, want string
	}{
		{"replace", `{"model":"a","x":1}`, "model", `"b"`, `{"model":"b","x":1}`},
		{"append", `{"x":1}`, "model", `"b"`, `{"x":1,"model":"b"}`},
		{"append to empty", `{ }`, "k", `true`, `{ "k":true}`},
		{"append with spaces", "{\"x\": 1 \n}", "k", `2`, "{\"x\": 1 \n,\"k\":2}"},
		{"replace duplicates", `{"model":"a","model":"c"}`, "model", `"b"`, `{"model":"b","model":"b"}`},
		{"escaped key is the same key", `{"mod\u0065l":"a"}`, "model", `"b"`, `{"mod\u0065l":"b"}`},
		{"nested not touched", `{"o":{"model":"a"},"s":"}"}`, "model", `"b"`, `{"o":{"model":"a"},"s":"}","model":"b"}`},
		{"object value", `{"stream_options":{"include_usage":false}}`, "stream_options", `{"include_usage":true}`, `{"stream_options":{"include_usage":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Set([]byte(tt.in), tt.key, []byte(tt.value))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("Set = %s, want %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Fatalf("result is not valid JSON: %s", got)
			}
		})
	}
}

func TestGetAndMembers(t *testing.T) {
	in := []byte(`{"a":[1,{"b":"]"}],"s":"q\"uote","n":-1.5e3,"t":true,"a":null}`)
	var keys []string
	if err := Members(in, func(m Member) bool { keys = append(keys, m.Key()); return true }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "s", "n", "t", "a"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	v, err := Get(in, "a")
	if err != nil || string(v) != "null" {
		t.Fatalf("Get(a) = %s, %v; want the last one, null", v, err)
	}
	v, _ = Get(in, "s")
	if string(v) != `"q\"uote"` {
		t.Fatalf("Get(s) = %s", v)
	}
	if v, _ := Get(in, "missing"); v != nil {
		t.Fatalf("Get(missing) = %s, want nil", v)
	}
}

func TestInsertMember(t *testing.T) {
	in := []byte(`{"usage":{"prompt_tokens":3},"x":{}}`)
	var span Member
	_ = Members(in, func(m Member) bool {
		if m.Is("usage") {
			span = m
		}
		return true
	})
	got, err := InsertMember(in, span.ValueStart, span.ValueEnd, "cost", []byte("0.5"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"usage":{"prompt_tokens":3,"cost":0.5},"x":{}}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if _, err := InsertMember(in, 0, 3, "k", []byte("1")); err == nil {
		t.Fatal("InsertMember on a non-object span succeeded")
	}
}

func TestErrors(t *testing.T) {
	for _, in := range []string{``, `[]`, `"x"`, `{`, `{"a"`, `{"a":`, `{"a":1`, `{"a":"x}`, `{"a":1 "b":2}`, `{a:1}`, `{"a":[1,2}`} {
		if _, err := Set([]byte(in), "k", []byte("1")); err == nil {
			t.Errorf("Set(%q) succeeded, want an error", in)
		}
	}
}

// FuzzSet checks that no input panics or hangs, and that on any input that
// encoding/json accepts as an object, Set yields valid JSON in which the key
// decodes to the new value.
func FuzzSet(f *testing.F) {
	for _, s := range []string{`{"model":"a"}`, `{}`, `{"a":{"b":[1,"}"]}}`, `{"mod\u0065l":1}`, `[`, `{"a":"\\"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Set(in, "model", []byte(`"z"`))
		var obj map[string]json.RawMessage
		if json.Unmarshal(in, &obj) != nil {
			return
		}
		if err != nil {
			t.Fatalf("Set rejected a valid object %q: %v", in, err)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("Set produced invalid JSON from %q: %s", in, out)
		}
		if string(got["model"]) != `"z"` {
			t.Fatalf("model = %s after Set on %q", got["model"], in)
		}
	})
}

func BenchmarkSetModel(b *testing.B) {
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"Say hello to the world in three languages, please."}],"temperature":0.2,"stream":true}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Set(body, "model", []byte(`"upstream-model"`)); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzAppendString checks that any string round-trips through
// encoding/json exactly as encoding/json itself would encode it.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x1f\n\t", "\xff\xfe", "\u2028é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("AppendString(%q) = %s: not valid JSON: %v", s, out, err)
		}
		want, _ := json.Marshal(s)
		var wantS string
		_ = json.Unmarshal(want, &wantS)
		if got != wantS {
			t.Fatalf("AppendString(%q) decodes to %q, encoding/json gives %q", s, got, wantS)
		}
	})
}

func TestDelete(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"model":"a","models":["x"],"provider":{"sort":"price"}}`, `{"model":"a"}`},
		{`{"models":["x"], "model":"a"}`, `{"model":"a"}`},
		{`{"models":1}`, `{}`},
		{`{"a":1, "b":2}`, `{"a":1, "b":2}`},
	}
	for _, tt := range tests {
		got, err := Delete([]byte(tt.in), "models", "provider")
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("Delete(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzMembers checks that Members accepts exactly the documents that
// encoding/json accepts as a JSON object, and never panics or hangs.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,{"b":null}],"c":"\u00e9\n"}`, `{}`, ` {"a":true} `, `{"a":01}`, `{"a":1.}`, `{"a":"\x"}`, `{"a":tru}`, `{"a":1}x`, "{\"a\":\"\x01\"}", `{"a":-}`, `{"a":[}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		err := Members(in, func(Member) bool { return true })
		var obj map[string]json.RawMessage
		want := json.Unmarshal(in, &obj) == nil && obj != nil
		if (err == nil) != want {
			t.Fatalf("Members(%q) error %v, but encoding/json accepts it as an object: %v", in, err, want)
		}
	})
}

func TestElementsAndScalars(t *testing.T) {
	var got []string
	in := []byte(` [ {"a":1}, "x" ,null] `)
	if err := Elements(in, func(s, e int) bool { got = append(got, string(in[s:e])); return true }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != `{"a":1}|"x"|null` {
		t.Fatalf("elements %q", got)
	}
	for _, bad := range []string{`[1,]`, `[1 2]`, `[`, `{}`, `[1]x`} {
		if err := Elements([]byte(bad), func(int, int) bool { return true }); err == nil {
			t.Errorf("Elements(%s) succeeded", bad)
		}
	}
	if s, err := Unquote([]byte(`"a\"b\u00e9"`)); err != nil || s != `a"bé` {
		t.Errorf("Unquote = %q, %v", s, err)
	}
	for raw, want := range map[string]int64{"12": 12, "0": 0, "null": 0, "7.0": 7} {
		if n, err := Int([]byte(raw)); err != nil || n != want {
			t.Errorf("Int(%s) = %d, %v", raw, n, err)
		}
	}
	for _, bad := range []string{"1.5", `"3"`, "true"} {
		if _, err := Int([]byte(bad)); err == nil {
			t.Errorf("Int(%s) succeeded", bad)
		}
	}
}

// FuzzUnquote checks that Unquote reads every string literal exactly as
// encoding/json does.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, `"\udc00\ud800x"`, "\"\xff\xfe\"", `"\u0000"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want string
		if json.Unmarshal(raw, &want) != nil {
			return
		}
		if end, err := SkipValue(raw, 0); err != nil || end != len(raw) || raw[0] != '"' {
			return // not exactly one string literal
		}
		got, err := Unquote(raw)
		if err != nil || got != want {
			t.Fatalf("Unquote(%q) = %q, %v; encoding/json reads %q", raw, got, err, want)
		}
	})
}

// TestMayStop checks the word-at-a-time scan: a word holding a byte that
// ends a string run is always flagged, whatever its place and neighbours,
// and a word of plain printable ASCII never is.
func TestMayStop(t *testing.T) {
	stop := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }
	word := func(fill, b byte, pos int) uint64 {
		var w [8]byte
		for i := range w {
			w[i] = fill
		}
		w[pos] = b
		return binary.LittleEndian.Uint64(w[:])
	}
	for _, fill := range []byte{'a', ' ', 0x7f, 0x80, 0xff} {
		for pos := 0; pos < 8; pos++ {
			for b := 0; b < 256; b++ {
				got := mayStop(word(fill, byte(b), pos))
				if stop(byte(b)) && !got {
					t.Fatalf("byte %#x at %d among %#x: not flagged", b, pos, fill)
				}
				if fill == 'a' && b >= 0x20 && b < 0x7f && !stop(byte(b)) && got {
					t.Fatalf("plain text byte %q at %d flagged", rune(b), pos)
				}
			}
		}
	}
}
