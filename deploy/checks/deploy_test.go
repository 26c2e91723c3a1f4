package checks

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// repoRoot is the module root; tests run in deploy/checks.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	return root
}

func observability(t *testing.T, parts ...string) string {
	return filepath.Join(append([]string{repoRoot(t), "deploy", "observability"}, parts...)...)
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, into), path)
}

type rule struct {
	Record string `yaml:"record"`
	Alert  string `yaml:"alert"`
	Expr   string `yaml:"expr"`
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	var file struct {
		Groups []struct {
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, observability(t, "prometheus", "rules.yml"), &file)
	var rules []rule
	for _, g := range file.Groups {
		rules = append(rules, g.Rules...)
	}
	require.NotEmpty(t, rules)
	return rules
}

// promtool finds promtool. Without it the rule checks are skipped on a developer's
// machine and fail under CI=true, where .ci/run installs it (Debian's prometheus).
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not installed; .ci/run installs it (apt-get install prometheus)")
		}
		t.Skip("promtool is not installed (apt-get install prometheus); CI=true makes this a failure")
	}
	return path
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = observability(t, "prometheus")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
}

// TestAlertRules checks the rules' syntax and runs their unit tests (rules.test.yml),
// which assert when each alert fires and when it stays silent.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	runPromtool(t, "check", "rules", "rules.yml")
	runPromtool(t, "test", "rules", "rules.test.yml")
}

// TestPrometheusConfig checks the scrape configurations. Debian's promtool is built
// without Kubernetes service discovery, so the Kubernetes file is checked for what this
// deployment relies on instead.
func TestPrometheusConfig(t *testing.T) {
	t.Parallel()
	runPromtool(t, "check", "config", "prometheus.compose.yml")

	programs := []string{"api", "ingest-worker", "agent-worker", "reindexer"}
	var compose, k8s struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName        string           `yaml:"job_name"`
			RelabelConfigs []map[string]any `yaml:"relabel_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, observability(t, "prometheus", "prometheus.compose.yml"), &compose)
	readYAML(t, observability(t, "prometheus", "prometheus.k8s.yml"), &k8s)
	// Both mount rules.yml next to the configuration (compose.yaml, the ConfigMap).
	require.Equal(t, []string{"rules.yml"}, compose.RuleFiles)
	require.Equal(t, []string{"rules.yml"}, k8s.RuleFiles)
	// The rules select programs by job label, which must be the program's name.
	var jobs []string
	for _, sc := range compose.ScrapeConfigs {
		jobs = append(jobs, sc.JobName)
	}
	for _, p := range programs {
		require.Contains(t, jobs, p, "compose scrape configuration has no job %s", p)
	}
	jobFromName := false
	for _, sc := range k8s.ScrapeConfigs {
		for _, rc := range sc.RelabelConfigs {
			if rc["target_label"] == "job" && slices.Contains(rc["source_labels"].([]any), any("__meta_kubernetes_pod_label_app_kubernetes_io_name")) {
				jobFromName = true
			}
		}
	}
	require.True(t, jobFromName, "the Kubernetes scrape configuration must set job from app.kubernetes.io/name")
}

type dashboard struct {
	file   string
	UID    string           `json:"uid"`
	Title  string           `json:"title"`
	Panels []map[string]any `json:"panels"`
	Templ  struct {
		List []map[string]any `json:"list"`
	} `json:"templating"`
}

type query struct{ where, expr string }

// datasourceUID is the uid of a panel's or target's datasource, "" when unset.
func datasourceUID(node map[string]any) string {
	ds, _ := node["datasource"].(map[string]any)
	uid, _ := ds["uid"].(string)
	return uid
}

// promQueries are the PromQL expressions of the dashboard: Prometheus targets and
// query variables.
func (d dashboard) promQueries() []query {
	var qs []query
	for _, p := range d.Panels {
		targets, _ := p["targets"].([]any)
		for _, tg := range targets {
			target := tg.(map[string]any)
			if datasourceUID(target) == "prometheus" {
				qs = append(qs, query{where: p["title"].(string), expr: target["expr"].(string)})
			}
		}
	}
	for _, v := range d.Templ.List {
		if v["type"] == "query" && datasourceUID(v) == "prometheus" {
			q, _ := v["query"].(map[string]any)
			qs = append(qs, query{where: "variable " + v["name"].(string), expr: q["query"].(string)})
		}
	}
	return qs
}

func loadDashboards(t *testing.T) []dashboard {
	t.Helper()
	files, err := filepath.Glob(observability(t, "grafana", "dashboards", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var out []dashboard
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		d := dashboard{file: filepath.Base(f)}
		require.NoError(t, json.Unmarshal(b, &d), "%s is not valid JSON", f)
		out = append(out, d)
	}
	return out
}

// TestDashboards checks what Grafana needs to load the dashboards and what the
// Kubernetes ConfigMap must carry: valid JSON, unique uids, panels on the provisioned
// datasources, and every file listed in the kustomization.
func TestDashboards(t *testing.T) {
	t.Parallel()
	var provisioned struct {
		Datasources []struct {
			UID string `yaml:"uid"`
		} `yaml:"datasources"`
	}
	readYAML(t, observability(t, "grafana", "datasources.yaml"), &provisioned)
	uids := map[string]bool{}
	for _, ds := range provisioned.Datasources {
		uids[ds.UID] = true
	}

	var kust struct {
		ConfigMapGenerator []struct {
			Name  string   `yaml:"name"`
			Files []string `yaml:"files"`
		} `yaml:"configMapGenerator"`
	}
	readYAML(t, observability(t, "kustomization.yaml"), &kust)
	var inConfigMap []string
	for _, g := range kust.ConfigMapGenerator {
		if g.Name == "yw-grafana-dashboards" {
			inConfigMap = g.Files
		}
	}

	seen := map[string]string{}
	for _, d := range loadDashboards(t) {
		require.NotEmpty(t, d.UID, d.file)
		require.NotEmpty(t, d.Title, d.file)
		require.NotEmpty(t, d.Panels, d.file)
		require.NotContains(t, seen, d.UID, "%s and %s share uid %s", d.file, seen[d.UID], d.UID)
		seen[d.UID] = d.file
		require.Contains(t, inConfigMap, "grafana/dashboards/"+d.file, "deploy/observability/kustomization.yaml must list %s", d.file)
		ids := map[float64]bool{}
		for _, p := range d.Panels {
			id, _ := p["id"].(float64)
			require.False(t, ids[id], "%s: panel id %v is used twice", d.file, id)
			ids[id] = true
			if p["type"] == "row" {
				continue
			}
			require.True(t, uids[datasourceUID(p)], "%s: panel %q uses datasource %q, which is not provisioned", d.file, p["title"], datasourceUID(p))
			targets, _ := p["targets"].([]any)
			require.NotEmpty(t, targets, "%s: panel %q has no query", d.file, p["title"])
			for _, tg := range targets {
				expr, _ := tg.(map[string]any)["expr"].(string)
				require.NotEmpty(t, strings.TrimSpace(expr), "%s: panel %q has an empty query", d.file, p["title"])
			}
		}
	}
}

// TestComposeObservability checks what `docker-compose config` does not: that the files
// compose.yaml mounts exist, and that every service's container logs are capped.
func TestComposeObservability(t *testing.T) {
	t.Parallel()
	var compose struct {
		Services map[string]struct {
			Volumes []string `yaml:"volumes"`
			Logging struct {
				Driver  string            `yaml:"driver"`
				Options map[string]string `yaml:"options"`
			} `yaml:"logging"`
		} `yaml:"services"`
	}
	readYAML(t, filepath.Join(repoRoot(t), "deploy", "compose.yaml"), &compose)
	require.NotEmpty(t, compose.Services)
	for name, svc := range compose.Services {
		require.Equal(t, "json-file", svc.Logging.Driver, "service %s: logs must use the capped json-file driver", name)
		require.NotEmpty(t, svc.Logging.Options["max-size"], "service %s: no max-size on its logs", name)
		require.NotEmpty(t, svc.Logging.Options["max-file"], "service %s: no max-file on its logs", name)
		for _, v := range svc.Volumes {
			if src, _, _ := strings.Cut(v, ":"); strings.HasPrefix(src, "./") {
				_, err := os.Stat(filepath.Join(repoRoot(t), "deploy", src))
				require.NoError(t, err, "service %s mounts %s, which does not exist", name, src)
			}
		}
	}
}

// TestLogPipelineRedacts applies the field filter of youworker.vrl (the same regular
// expression; VRL's and Go's syntax agree on it) to the fields a program may log: the
// ones operators query must stay, secrets and user content must go.
func TestLogPipelineRedacts(t *testing.T) {
	t.Parallel()
	vrl, err := os.ReadFile(observability(t, "vector", "youworker.vrl"))
	require.NoError(t, err)
	m := regexp.MustCompile(`!match\(key, r'([^']+)'\)`).FindSubmatch(vrl)
	require.NotNil(t, m, "youworker.vrl: the field filter was not found")
	drop := regexp.MustCompile(string(m[1]))

	for _, keep := range []string{"time", "level", "msg", "program", "component", "correlation_id", "trace_id",
		"route", "method", "status", "duration_ms", "user_id", "error", "document_id", "turn_id", "consumer",
		"subject", "tool", "server", "model", "content_type", "key_id", "tokens.prompt_count"} {
		require.False(t, drop.MatchString(keep), "the log pipeline drops %q, which operators need", keep)
	}
	for _, secret := range []string{"authorization", "Authorization", "api_key", "apikey", "key", "token", "password",
		"secret", "cookie", "content", "prompt", "body", "text", "query", "arguments", "request.headers.authorization",
		"user.api_key", "message.content", "chat.prompt"} {
		require.True(t, drop.MatchString(secret), "the log pipeline keeps %q, which may hold a secret or user content", secret)
	}

	// Both deployments send the same fields the same way to both tiers.
	for _, file := range []string{"vector.compose.yaml", "vector.k8s.yaml"} {
		var cfg struct {
			Transforms map[string]struct {
				File string `yaml:"file"`
			} `yaml:"transforms"`
			Sinks map[string]struct {
				URI string `yaml:"uri"`
			} `yaml:"sinks"`
		}
		readYAML(t, observability(t, "vector", file), &cfg)
		require.Equal(t, "/etc/vector/youworker.vrl", cfg.Transforms["shape"].File, file)
		require.Len(t, cfg.Sinks, 2, "%s: one sink per tier (hot, warm)", file)
		for name, sink := range cfg.Sinks {
			require.Contains(t, sink.URI, "/insert/jsonline?_msg_field=msg&_time_field=time&_stream_fields=service,instance,program",
				"%s: sink %s", file, name)
		}
	}
}
