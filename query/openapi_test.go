package query

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/chdb"
	"github.com/switchyard/switchyard/internal/chserver"
	"github.com/switchyard/switchyard/internal/keys"
	"github.com/switchyard/switchyard/internal/oaischema"
	"github.com/switchyard/switchyard/record"
)

// The tests below hold openapi.json to the code: every route New registers
// is documented and nothing else is, every parameter the handlers read is
// documented, every JSON field of the response types is in its schema with a
// description, and real responses (from a real ClickHouse) validate against
// the schemas the document gives for their status, strictly: a member the
// document does not name is an error.

type oasDoc struct {
	OpenAPI    string                             `json:"openapi"`
	Security   []map[string][]string              `json:"security"`
	Paths      map[string]map[string]oasOperation `json:"paths"`
	Components struct {
		SecuritySchemes map[string]struct{ Type, Scheme string } `json:"securitySchemes"`
		Parameters      map[string]oasParameter                  `json:"parameters"`
		Responses       map[string]oasResponse                   `json:"responses"`
		Schemas         map[string]oasSchema                     `json:"schemas"`
	} `json:"components"`
}

type oasOperation struct {
	OperationID string                 `json:"operationId"`
	Security    *[]map[string][]string `json:"security"`
	Parameters  []oasParameter         `json:"parameters"`
	Responses   map[string]oasResponse `json:"responses"`
}

type oasParameter struct {
	Ref    string     `json:"$ref"`
	Name   string     `json:"name"`
	In     string     `json:"in"`
	Schema *oasSchema `json:"schema"`
}

type oasResponse struct {
	Ref     string `json:"$ref"`
	Content map[string]struct {
		Schema oasSchema `json:"schema"`
	} `json:"content"`
}

// oasSchema is as much of a schema as the tests inspect.
type oasSchema struct {
	Ref         string                `json:"$ref"`
	Type        any                   `json:"type"`
	Description string                `json:"description"`
	Properties  map[string]*oasSchema `json:"properties"`
	Required    []string              `json:"required"`
	Items       *oasSchema            `json:"items"`
	AllOf       []*oasSchema          `json:"allOf"`
	Enum        []string              `json:"enum"`
}

func loadDoc(t *testing.T) *oasDoc {
	t.Helper()
	var doc oasDoc
	if err := json.Unmarshal(openAPISpec, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi.json is OpenAPI %q, want 3.1.0", doc.OpenAPI)
	}
	return &doc
}

func loadSpec(t *testing.T) *oaischema.Spec {
	t.Helper()
	spec, err := oaischema.Parse(openAPISpec)
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return spec
}

func refName(ref, kind string) string {
	return strings.TrimPrefix(ref, "#/components/"+kind+"/")
}

func (d *oasDoc) schema(s *oasSchema) *oasSchema {
	for s != nil && s.Ref != "" {
		s = ptr(d.Components.Schemas[refName(s.Ref, "schemas")])
	}
	return s
}

func (d *oasDoc) parameter(p oasParameter) oasParameter {
	if p.Ref != "" {
		return d.Components.Parameters[refName(p.Ref, "parameters")]
	}
	return p
}

func (d *oasDoc) response(r oasResponse) oasResponse {
	if r.Ref != "" {
		return d.Components.Responses[refName(r.Ref, "responses")]
	}
	return r
}

func ptr[T any](v T) *T { return &v }

// registeredRoutes returns the patterns that the package's non-test code
// registers on s.mux, read from its source, so that a route added to New
// without documentation fails the test.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("*.go")
	var routes []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc" {
				return true
			}
			if mux, ok := sel.X.(*ast.SelectorExpr); !ok || mux.Sel.Name != "mux" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok {
				t.Errorf("%s: a route registered with a pattern that is not a literal", fset.Position(call.Pos()))
				return true
			}
			pattern, _ := strconv.Unquote(lit.Value)
			routes = append(routes, pattern)
			return true
		})
	}
	if len(routes) == 0 {
		t.Fatal("found no routes in the package's source")
	}
	return routes
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadDoc(t)
	ks, err := keys.New([]config.Key{{ID: "admin", Key: adminKey, Admin: true}})
	if err != nil {
		t.Fatal(err)
	}
	// No handler below touches the database: they fail authentication first.
	srv := New(nil, ks, config.Query{MaxLimit: 10}, slog.New(slog.NewTextHandler(io.Discard, nil)))

	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method, op := range item {
			route := strings.ToUpper(method) + " " + path
			documented[route] = true
			// The mux must route the documented path to that very pattern,
			// not to the catch-all 404.
			concrete := strings.NewReplacer("{id}", "x").Replace(path)
			if _, pattern := srv.Mux().Handler(httptest.NewRequest(strings.ToUpper(method), concrete, nil)); pattern != route {
				t.Errorf("%s is documented, but the mux routes it to %q", route, pattern)
			}
			for _, status := range slices.Sorted(maps.Keys(op.Responses)) {
				if !slices.Contains([]string{"200", "400", "401", "404", "503"}, status) {
					t.Errorf("%s documents status %s, which the API never sends", route, status)
				}
			}
			security := doc.Security
			if op.Security != nil {
				security = *op.Security
			}
			if len(security) == 0 {
				continue
			}
			if _, ok := op.Responses["401"]; !ok {
				t.Errorf("%s requires a key but documents no 401", route)
			}
			w := httptest.NewRecorder()
			srv.Handler().ServeHTTP(w, httptest.NewRequest(strings.ToUpper(method), concrete, nil))
			if w.Code != http.StatusUnauthorized {
				t.Errorf("%s is documented as requiring a key; without one it answers %d", route, w.Code)
			}
		}
	}
	for _, route := range registeredRoutes(t) {
		if route == "/" {
			continue // the 404 for everything else, described in info
		}
		if !documented[route] {
			t.Errorf("%s is registered in New but not documented", route)
		}
		delete(documented, route)
	}
	for route := range documented {
		t.Errorf("%s is documented but not registered", route)
	}
	if doc.Paths["/healthz"]["get"].Security == nil || len(*doc.Paths["/healthz"]["get"].Security) != 0 {
		t.Error("/healthz needs no key, so its security must be []")
	}
	if s := doc.Components.SecuritySchemes["bearerAuth"]; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("bearerAuth = %+v, want http bearer", s)
	}
}

// TestOpenAPIDocumentsEveryParameter compares each operation's parameters
// with those its handler reads.
func TestOpenAPIDocumentsEveryParameter(t *testing.T) {
	doc := loadDoc(t)
	filters := []string{"from", "to", "tag", "metadata"}
	for _, f := range filterColumns {
		filters = append(filters, f.param)
	}
	want := map[string][]string{
		"/healthz":            nil,
		"/openapi.json":       nil,
		"/v1/requests/{id}":   {"path id"},
		"/v1/traces/{id}":     {"path id"},
		"/v1/requests":        prefixed("query ", append(slices.Clone(filters), "limit", "cursor")),
		"/v1/spend":           prefixed("query ", append(slices.Clone(filters), "group_by", "interval")),
		"/v1/stats/providers": {"query window"},
	}
	for path, item := range doc.Paths {
		var got []string
		for _, p := range item["get"].Parameters {
			p = doc.parameter(p)
			got = append(got, p.In+" "+p.Name)
			if p.Schema == nil {
				t.Errorf("%s: parameter %s has no schema", path, p.Name)
			}
		}
		slices.Sort(got)
		w := slices.Sorted(slices.Values(want[path]))
		if !slices.Equal(got, w) {
			t.Errorf("%s documents parameters %v, the handler reads %v", path, got, w)
		}
	}
	groupBy := doc.Components.Parameters["GroupBy"]
	if got := groupBy.Schema.Items.Enum; !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(maps.Keys(groupExprs))) {
		t.Errorf("group_by documents %v, the handler takes %v", got, slices.Sorted(maps.Keys(groupExprs)))
	}
	interval := doc.Components.Parameters["Interval"]
	if got := interval.Schema.Enum; !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(maps.Keys(intervals))) {
		t.Errorf("interval documents %v, the handler takes %v", got, slices.Sorted(maps.Keys(intervals)))
	}
}

func prefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

// TestOpenAPIDocumentsEveryField checks, by reflection on the json tags,
// that every field of each response type is in its schema, described and of
// the right type, and that the schema documents no field the type lacks.
func TestOpenAPIDocumentsEveryField(t *testing.T) {
	doc := loadDoc(t)
	for name, typ := range map[string]reflect.Type{
		"Record":        reflect.TypeFor[record.Record](),
		"RequestPage":   reflect.TypeFor[listPage](),
		"Trace":         reflect.TypeFor[traceResponse](),
		"TraceNode":     reflect.TypeFor[traceNode](),
		"SpendTotals":   reflect.TypeFor[spendTotals](),
		"Spend":         reflect.TypeFor[spendResponse](),
		"ProviderStats": reflect.TypeFor[statsResponse](),
		"ProviderStat":  reflect.TypeFor[providerStats](),
	} {
		checkFields(t, doc, name, doc.schema(&oasSchema{Ref: "#/components/schemas/" + name}), typ)
	}
	// The spend rows are maps; their members are the totals, the group_by
	// names and t.
	point := doc.schema(&oasSchema{Ref: "#/components/schemas/SpendPoint"})
	names := map[string]bool{}
	var collect func(s *oasSchema)
	collect = func(s *oasSchema) {
		s = doc.schema(s)
		for n := range s.Properties {
			names[n] = true
		}
		for _, part := range s.AllOf {
			collect(part)
		}
	}
	collect(point)
	wantNames := append(slices.Collect(maps.Keys(groupExprs)), "t")
	for _, f := range jsonFields(reflect.TypeFor[spendTotals]()) {
		wantNames = append(wantNames, f.name)
	}
	if got := slices.Sorted(maps.Keys(names)); !slices.Equal(got, slices.Sorted(slices.Values(wantNames))) {
		t.Errorf("SpendPoint documents %v, the rows carry %v", got, slices.Sorted(slices.Values(wantNames)))
	}
}

type jsonField struct {
	name      string
	typ       reflect.Type
	omitEmpty bool
}

func jsonFields(typ reflect.Type) []jsonField {
	var out []jsonField
	for f := range typ.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, typ: f.Type, omitEmpty: strings.Contains(opts, "omitempty")})
	}
	return out
}

func checkFields(t *testing.T, doc *oasDoc, where string, s *oasSchema, typ reflect.Type) {
	t.Helper()
	if s == nil {
		t.Errorf("%s: no schema", where)
		return
	}
	seen := map[string]bool{}
	for _, f := range jsonFields(typ) {
		at := where + "." + f.name
		seen[f.name] = true
		prop, ok := s.Properties[f.name]
		if !ok {
			t.Errorf("%s is not documented", at)
			continue
		}
		target := doc.schema(prop)
		if prop.Description == "" && (target == nil || target.Description == "") {
			t.Errorf("%s has no description", at)
		}
		if !f.omitEmpty && !slices.Contains(s.Required, f.name) {
			t.Errorf("%s is always sent but not required", at)
		}
		ft := f.typ
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if want := jsonType(ft); !typeIs(target.Type, want) {
			t.Errorf("%s is documented as %v, the code sends %s", at, target.Type, want)
		}
		switch {
		case ft.Kind() == reflect.Struct:
			checkFields(t, doc, at, target, ft)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			checkFields(t, doc, at+"[]", doc.schema(target.Items), ft.Elem())
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Pointer && ft.Elem().Elem().Kind() == reflect.Struct:
			// A recursive type (a trace node's children) is checked
			// where it is named.
			if items := doc.schema(target.Items); items == nil || items.Type != "object" {
				t.Errorf("%s: items are not objects", at)
			}
		}
	}
	for name := range s.Properties {
		if !seen[name] {
			t.Errorf("%s.%s is documented but the code has no such field", where, name)
		}
	}
}

func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return t.Kind().String()
}

func typeIs(documented any, want string) bool {
	switch d := documented.(type) {
	case string:
		return d == want
	case []any:
		return slices.Contains(d, any(want))
	}
	return false
}

// response is what one call answered.
type response struct {
	status      int
	contentType string
	body        []byte
}

func call(t *testing.T, base, key, path string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: body}
}

// conforms checks a response against what the document says the operation
// answers with that status: the content type and, strictly, the schema.
func conforms(t *testing.T, doc *oasDoc, spec *oaischema.Spec, template string, r response) {
	t.Helper()
	op, ok := doc.Paths[template]["get"]
	if !ok {
		t.Fatalf("GET %s is not documented", template)
	}
	documented, ok := op.Responses[strconv.Itoa(r.status)]
	if !ok {
		t.Errorf("GET %s answered %d, which is not documented: %s", template, r.status, clip(r.body))
		return
	}
	media, _, _ := strings.Cut(r.contentType, ";")
	content, ok := doc.response(documented).Content[media]
	if !ok {
		t.Errorf("GET %s answered %d with %s, which is not documented", template, r.status, media)
		return
	}
	if content.Schema.Ref == "" {
		t.Fatalf("GET %s %d: the test validates only named schemas", template, r.status)
	}
	name := refName(content.Schema.Ref, "schemas")
	if err := spec.Validate(name, r.body, oaischema.Strict()); err != nil {
		t.Errorf("GET %s %d: %v\n%s", template, r.status, err, clip(r.body))
	}
}

// clip keeps a failure message readable.
func clip(body []byte) string {
	if len(body) > 600 {
		return string(body[:600]) + "..."
	}
	return string(body)
}

func TestResponsesMatchOpenAPI(t *testing.T) {
	doc, spec := loadDoc(t), loadSpec(t)
	a := startAPI(t)
	base := time.Now().Add(-30 * time.Minute).UnixMilli()
	root := sample(base, 1)
	child := sample(base+100, 2)
	child.ParentSpanID = root.SpanID
	failed := sample(base+200, 3)
	failed.ParentSpanID = child.SpanID
	failed.Outcome, failed.StatusCode, failed.ErrorType, failed.ErrorMessage = record.OutcomeError, 502, "upstream_error", "boom"
	failed.Attempts = append(failed.Attempts, record.Attempt{Provider: "azure", Model: "gpt-4o", StatusCode: 500, LatencyMs: 9, ErrorType: "upstream_error"})
	failed.Tags, failed.Metadata = []string{}, map[string]string{}
	a.insert(t, root, child, failed)

	for _, tt := range []struct {
		template, path, key string
		status              int
	}{
		{"/v1/requests/{id}", "/v1/requests/" + root.RequestID, adminKey, 200},
		{"/v1/requests/{id}", "/v1/requests/" + failed.RequestID, adminKey, 200},
		{"/v1/requests", "/v1/requests?limit=2", adminKey, 200},
		{"/v1/requests", "/v1/requests?tag=prod&metadata=feature:chat&provider=azure", adminKey, 200},
		{"/v1/requests", "/v1/requests?model=nothing", adminKey, 200},
		{"/v1/traces/{id}", "/v1/traces/" + root.TraceID, adminKey, 200},
		{"/v1/traces/{id}", "/v1/traces/" + root.SessionID, adminKey, 200},
		{"/v1/spend", "/v1/spend?group_by=model&interval=hour", adminKey, 200},
		{"/v1/spend", "/v1/spend?group_by=model,provider,key,user,team,endpoint,outcome,day&interval=minute", adminKey, 200},
		{"/v1/spend", "/v1/spend", teamKey, 200},
		{"/v1/spend", "/v1/spend?group_by=user,endpoint&tag=prod", adminKey, 200},
		{"/v1/stats/providers", "/v1/stats/providers?window=1h", adminKey, 200},
		{"/v1/stats/providers", "/v1/stats/providers", teamKey, 200},
		{"/v1/stats/providers", "/v1/stats/providers?window=2s", adminKey, 400},
		{"/v1/stats/providers", "/v1/stats/providers", "", 401},
		{"/v1/requests", "/v1/requests?limit=0", adminKey, 400},
		{"/v1/requests/{id}", "/v1/requests/not-a-uuid", adminKey, 400},
		{"/v1/traces/{id}", "/v1/traces/" + strings.Repeat("x", 257), adminKey, 400},
		{"/v1/spend", "/v1/spend?interval=fortnight", adminKey, 400},
		{"/v1/spend", "/v1/spend", "", 401},
		{"/v1/requests/{id}", "/v1/requests/" + root.RequestID, "sk-wrong", 401},
		{"/openapi.json", "/openapi.json", "", 401},
		{"/v1/requests/{id}", "/v1/requests/" + newID(base, 99), adminKey, 404},
		{"/v1/traces/{id}", "/v1/traces/" + strings.Repeat("a", 32), adminKey, 404},
	} {
		r := call(t, a.url, tt.key, tt.path)
		if r.status != tt.status {
			t.Errorf("GET %s: status %d, want %d: %s", tt.path, r.status, tt.status, r.body)
			continue
		}
		conforms(t, doc, spec, tt.template, r)
	}

	// The spend rows must actually have been there to be validated.
	var s spendResponse
	if err := json.Unmarshal(call(t, a.url, adminKey, "/v1/spend?group_by=model&interval=hour").body, &s); err != nil || len(s.Groups) == 0 || len(s.Series) == 0 {
		t.Errorf("spend has %d groups and %d series points (%v); the test needs some", len(s.Groups), len(s.Series), err)
	}

	// So must the provider stats, with and without a TTFT.
	var stats statsResponse
	if err := json.Unmarshal(call(t, a.url, adminKey, "/v1/stats/providers?window=1h").body, &stats); err != nil || len(stats.Data) != 2 ||
		stats.Data[0].TTFTMs != nil || stats.Data[1].TTFTMs == nil {
		t.Errorf("provider stats: %+v (%v); the test needs a provider with TTFTs and one without", stats, err)
	}

	// The two documents that are not JSON objects of a named schema.
	if r := call(t, a.url, "", "/healthz"); r.status != 200 || string(r.body) != "ok\n" || !strings.HasPrefix(r.contentType, "text/plain") {
		t.Errorf("/healthz: %d %s %q", r.status, r.contentType, r.body)
	}
	if r := call(t, a.url, adminKey, "/openapi.json"); r.status != 200 || string(r.body) != string(openAPISpec) || r.contentType != "application/json" {
		t.Errorf("/openapi.json: %d %s, not the embedded document", r.status, r.contentType)
	}
	// Any other route is the documented 404 in the error shape.
	if r := call(t, a.url, adminKey, "/v2/nothing"); r.status != 404 || spec.Validate("ErrorResponse", r.body, oaischema.Strict()) != nil {
		t.Errorf("unknown route: %d %s", r.status, r.body)
	}
}

// TestUnavailableMatchesOpenAPI validates the 503 of every route that reads
// the database, with a database that is down.
func TestUnavailableMatchesOpenAPI(t *testing.T) {
	doc, spec := loadDoc(t), loadSpec(t)
	port, err := chserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(chdb.Options(config.ClickHouse{Addr: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Database: "down", DialTimeout: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ks, _ := keys.New([]config.Key{{ID: "admin", Key: adminKey, Admin: true}})
	ts := httptest.NewServer(New(conn, ks, config.Query{MaxLimit: 10}, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler())
	defer ts.Close()
	for template, path := range map[string]string{
		"/healthz":            "/healthz",
		"/v1/requests":        "/v1/requests",
		"/v1/requests/{id}":   "/v1/requests/" + newID(time.Now().UnixMilli(), 1),
		"/v1/traces/{id}":     "/v1/traces/sess",
		"/v1/spend":           "/v1/spend",
		"/v1/stats/providers": "/v1/stats/providers",
	} {
		r := call(t, ts.URL, adminKey, path)
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("%s: status %d, want 503", path, r.status)
			continue
		}
		conforms(t, doc, spec, template, r)
	}
}
