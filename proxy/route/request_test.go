package route

import (
	"errors"
	"math"
	"testing"
)

func TestParsePreferences(t *testing.T) {
	var req Request
	err := ParsePreferences([]byte(`{
		"order": ["openai", "azure-eu"], "allow_fallbacks": false, "only": ["openai", "azure-eu", "groq"],
		"ignore": ["together"], "sort": "latency", "require_parameters": true,
		"data_collection": "deny", "zdr": true,
		"max_price": {"prompt": 1, "completion": "2.50", "request": 0.001, "image": 1e-2, "audio": 3},
		"quantizations": ["fp8"], "preferred_min_throughput": {"p50": 10}, "partition": null
	}`), &req)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(req.Order, []string{"openai", "azure-eu"}) || req.AllowFallbacks == nil || *req.AllowFallbacks ||
		!equal(req.Only, []string{"openai", "azure-eu", "groq"}) || !equal(req.Ignore, []string{"together"}) ||
		req.Sort != "latency" || !req.RequireParameters || req.DataCollection != "deny" || !req.ZDR {
		t.Fatalf("parsed %+v", req)
	}
	mp := req.MaxPrice
	if mp == nil || mp.Prompt.NanoUSD != 1e9 || mp.Completion.NanoUSD != 2.5e9 || mp.Request.NanoUSD != 1e6 ||
		mp.Image.NanoUSD != 1e7 || !mp.Prompt.Set {
		t.Fatalf("max_price %+v", mp)
	}

	for _, tc := range []struct{ in, sort string }{
		{`{"sort": {"by": "throughput", "partition": "none"}}`, "throughput"},
		{`{"sort": {"by": null}}`, ""},
		{`{"sort": null, "order": null, "allow_fallbacks": null, "max_price": null}`, ""},
		{`{"sort": "least_busy"}`, "least_busy"},
	} {
		var req Request
		if err := ParsePreferences([]byte(tc.in), &req); err != nil || req.Sort != tc.sort || req.AllowFallbacks != nil || req.MaxPrice != nil {
			t.Fatalf("%s: %+v, %v", tc.in, req, err)
		}
	}
	for _, in := range []string{``, `null`, ` null `, `{}`} {
		var req Request
		if err := ParsePreferences([]byte(in), &req); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
	}
}

func TestParsePreferencesErrors(t *testing.T) {
	for in, field := range map[string]string{
		`[]`:                                 "provider",
		`"price"`:                            "provider",
		`{"order": "openai"}`:                "provider.order",
		`{"order": ["openai", 3]}`:           "provider.order",
		`{"only": {}}`:                       "provider.only",
		`{"ignore": [null]}`:                 "provider.ignore",
		`{"allow_fallbacks": "no"}`:          "provider.allow_fallbacks",
		`{"require_parameters": 1}`:          "provider.require_parameters",
		`{"zdr": "true"}`:                    "provider.zdr",
		`{"data_collection": "maybe"}`:       "provider.data_collection",
		`{"data_collection": false}`:         "provider.data_collection",
		`{"sort": "exacto"}`:                 "provider.sort",
		`{"sort": 1}`:                        "provider.sort",
		`{"sort": {"by": "fastest"}}`:        "provider.sort.by",
		`{"sort": {"by": 2}}`:                "provider.sort.by",
		`{"max_price": 5}`:                   "provider.max_price",
		`{"max_price": {"prompt": -1}}`:      "provider.max_price.prompt",
		`{"max_price": {"completion": "x"}}`: "provider.max_price.completion",
		`{"max_price": {"request": true}}`:   "provider.max_price.request",
		`{"max_price": {"image": "1.2.3"}}`:  "provider.max_price.image",
		`{"order": ["a"]`:                    "provider",
		`{"order": ["a"]} trailing`:          "provider",
	} {
		var req Request
		err := ParsePreferences([]byte(in), &req)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: error %v, want one naming %s", in, err, field)
		}
	}
}

func TestParseNanoUSD(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1": 1e9, "2.5": 2.5e9, "0.000000001": 1, "0.0000000019": 1, "1e-9": 1, "1e-10": 0,
		"1.5E2": 150e9, "15e-1": 1.5e9, "007": 7e9, ".5": 5e8, "1e30": math.MaxInt64, "9223372036.854775807": math.MaxInt64,
		"9223372036.854775808": math.MaxInt64, "1e100000000000": math.MaxInt64, "0e5": 0, "0.000": 0,
	} {
		if got, ok := parseNanoUSD(in); !ok || got != want {
			t.Errorf("parseNanoUSD(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "+1", "1.", "e5", "1e", "1e+", "0x10", "1 ", "NaN", "Infinity", "."} {
		if _, ok := parseNanoUSD(in); ok {
			t.Errorf("parseNanoUSD(%q) accepted", in)
		}
	}
}

// FuzzParsePreferences checks that no input panics, that an error is
// always a *FieldError, and that what is accepted is valid: a known sort,
// a known data_collection and non-negative set prices.
func FuzzParsePreferences(f *testing.F) {
	for _, s := range []string{
		`{"order":["a","b"],"allow_fallbacks":false,"sort":{"by":"price"}}`,
		`{"max_price":{"prompt":"1.5","completion":2e-3,"request":0}}`,
		`{"only":["x"],"ignore":[],"data_collection":"deny","zdr":true,"require_parameters":true}`,
		`{"sort":"exacto"}`, `null`, `[]`, `{"max_price":{"prompt":1e999999}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var req Request
		err := ParsePreferences(raw, &req)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if req.Sort != "" && !knownStrategy(req.Sort) {
			t.Fatalf("sort %q accepted", req.Sort)
		}
		if req.DataCollection != "" && req.DataCollection != "allow" && req.DataCollection != "deny" {
			t.Fatalf("data_collection %q accepted", req.DataCollection)
		}
		if mp := req.MaxPrice; mp != nil {
			for _, p := range [...]int64{mp.Prompt.NanoUSD, mp.Completion.NanoUSD, mp.Request.NanoUSD, mp.Image.NanoUSD} {
				if p < 0 {
					t.Fatalf("negative price %+v", mp)
				}
			}
		}
	})
}
