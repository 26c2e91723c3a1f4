package checks

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// metricKind tells which series a metric family exposes: a histogram also has
// _bucket, _sum and _count, a summary _sum and _count.
type metricKind int

const (
	plain metricKind = iota
	histogram
	summary
)

// external are series that other software exports: Prometheus itself (up), the Go
// client's process collector, node-exporter (compose), the kubelet (Kubernetes) and
// VictoriaLogs. Only the ones the rules and dashboards use are listed.
var external = []string{
	"up",
	"process_resident_memory_bytes",
	"process_cpu_seconds_total",
	"node_filesystem_avail_bytes",
	"node_filesystem_size_bytes",
	"kubelet_volume_stats_available_bytes",
	"kubelet_volume_stats_capacity_bytes",
	"vl_free_disk_space_bytes",
	"vl_storage_is_read_only",
	"vl_rows_ingested_total",
}

// exportedMetrics reads the metric names the programs declare: every
// prometheus.{Counter,Gauge,Histogram,Summary}Opts literal in the non-test Go files of
// cmd/ and pkg/, its Namespace, Subsystem and Name joined as the client library does.
func exportedMetrics(t *testing.T) map[string]metricKind {
	t.Helper()
	kinds := map[string]metricKind{
		"CounterOpts": plain, "GaugeOpts": plain, "Opts": plain,
		"HistogramOpts": histogram, "SummaryOpts": summary,
	}
	found := map[string]metricKind{}
	fset := token.NewFileSet()
	for _, dir := range []string{"cmd", "pkg"} {
		err := filepath.WalkDir(filepath.Join(repoRoot(t), dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(file, func(n ast.Node) bool {
				if name, ok := descName(n); ok {
					// Collectors that read their figures at scrape time describe
					// each series with prometheus.NewDesc; they export gauges and
					// counters.
					found[name] = plain
					return true
				}
				lit, ok := n.(*ast.CompositeLit)
				if !ok {
					return true
				}
				sel, ok := lit.Type.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				pkg, ok := sel.X.(*ast.Ident)
				kind, known := kinds[sel.Sel.Name]
				if !ok || pkg.Name != "prometheus" || !known {
					return true
				}
				parts := map[string]string{}
				for _, elt := range lit.Elts {
					kv, ok := elt.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					key, ok := kv.Key.(*ast.Ident)
					val, isLit := kv.Value.(*ast.BasicLit)
					if !ok || !isLit || val.Kind != token.STRING {
						continue
					}
					s, err := strconv.Unquote(val.Value)
					if err == nil {
						parts[key.Name] = s
					}
				}
				if parts["Name"] == "" {
					// A name built at run time cannot be checked; no code does that today.
					t.Errorf("%s: metric options without a literal Name", fset.Position(lit.Pos()))
					return true
				}
				var name []string
				for _, p := range []string{parts["Namespace"], parts["Subsystem"], parts["Name"]} {
					if p != "" {
						name = append(name, p)
					}
				}
				found[strings.Join(name, "_")] = kind
				return true
			})
			return nil
		})
		require.NoError(t, err)
	}
	return found
}

// descName is the metric name of a prometheus.NewDesc("name", ...) call.
func descName(n ast.Node) (string, bool) {
	call, ok := n.(*ast.CallExpr)
	if !ok || len(call.Args) == 0 {
		return "", false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "NewDesc" {
		return "", false
	}
	if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "prometheus" {
		return "", false
	}
	lit, ok := call.Args[0].(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	name, err := strconv.Unquote(lit.Value)
	return name, err == nil
}

// knownSeries is every series name a query may use: the programs' metrics with their
// histogram and summary suffixes, the external ones, and the
// recording rules.
func knownSeries(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	add := func(name string, kind metricKind) {
		known[name] = true
		switch kind {
		case histogram:
			known[name+"_bucket"], known[name+"_sum"], known[name+"_count"] = true, true, true
		case summary:
			known[name+"_sum"], known[name+"_count"] = true, true
		}
	}
	exported := exportedMetrics(t)
	// A parser that silently found nothing would make every check below pass.
	require.Contains(t, exported, "yw_http_requests_total", "the Go sources' metrics were not found")
	require.Contains(t, exported, "yw_queue_jobs_handled_total", "the Go sources' metrics were not found")
	for name, kind := range exported {
		add(name, kind)
	}
	for _, name := range external {
		add(name, plain)
	}
	for _, r := range loadRules(t) {
		if r.Record != "" {
			known[r.Record] = true
		}
	}
	return known
}

var (
	promStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promTokens    = regexp.MustCompile(`[A-Za-z0-9_:.$]+`)
	labelValuesOf = regexp.MustCompile(`^label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,`)
	promKeywords  = map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"group_left": true, "group_right": true, "inf": true, "nan": true,
	}
)

// metricNames returns the series names a PromQL expression selects. It is not a PromQL
// parser: it blanks out strings, label matchers, ranges and grouping clauses, then takes
// every remaining identifier that is not a function call, a keyword or a number.
func metricNames(expr string) []string {
	if m := labelValuesOf.FindStringSubmatch(expr); m != nil {
		return []string{m[1]}
	}
	s := promStrings.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRanges.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	var names []string
	for _, loc := range promTokens.FindAllStringIndex(s, -1) {
		tok := s[loc[0]:loc[1]]
		first := tok[0]
		if first >= '0' && first <= '9' || first == '.' || first == '$' || promKeywords[strings.ToLower(tok)] {
			continue
		}
		if rest := strings.TrimLeft(s[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") {
			continue // a function or an aggregation
		}
		names = append(names, tok)
	}
	return names
}

func TestMetricNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`sum by (route) (rate(yw_http_requests_total{status=~"5.."}[5m])) / sum(rate(yw_http_requests_total[5m]))`,
			[]string{"yw_http_requests_total", "yw_http_requests_total"}},
		{`histogram_quantile(0.95, sum by (le, route) (rate(yw_http_request_duration_seconds_bucket{route=~"$route"}[$__rate_interval])))`,
			[]string{"yw_http_request_duration_seconds_bucket"}},
		{`yw:http_error_ratio:rate1h > (14.4 * 0.005) and yw:http_error_ratio:rate5m > 1e-3`,
			[]string{"yw:http_error_ratio:rate1h", "yw:http_error_ratio:rate5m"}},
		{`absent(up{job="api"}) or absent(up{job="reindexer"})`, []string{"up", "up"}},
		{`sum by (class) (label_replace(rate(x_total[1m]), "class", "${1}xx", "status", "([1-5]).*"))`, []string{"x_total"}},
		{`a unless on (consumer) sum by (consumer) (rate(b[15m])) > 0`, []string{"a", "b"}},
		{`label_values(yw_http_requests_total, route)`, []string{"yw_http_requests_total"}},
		{`vl_free_disk_space_bytes < 5 * 1024 * 1024`, []string{"vl_free_disk_space_bytes"}},
	} {
		require.Equal(t, tc.want, metricNames(tc.expr), tc.expr)
	}
}

// TestQueriesUseExportedMetrics fails when a rule or a dashboard reads a series no
// program exports: a renamed metric would otherwise leave an empty graph or an alert
// that can never fire.
func TestQueriesUseExportedMetrics(t *testing.T) {
	t.Parallel()
	known := knownSeries(t)
	check := func(where, expr string) {
		for _, name := range metricNames(expr) {
			if !known[name] {
				t.Errorf("%s: uses %s, which no program exports (expression: %s)", where, name, expr)
			}
		}
	}
	for _, r := range loadRules(t) {
		check("rules.yml "+r.Record+r.Alert, r.Expr)
	}
	for _, d := range loadDashboards(t) {
		for _, q := range d.promQueries() {
			check(d.file+": "+q.where, q.expr)
		}
	}
}
