package checks

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/natsperm"
)

// The four programs, by their app.kubernetes.io/name and compose service name.
var programs = natsperm.Programs

// secretName matches the environment variables that hold secrets. A path to a
// secret file (YW_NATS_CA, YW_NATS_CREDS) is not one.
var secretName = regexp.MustCompile(`PASSWORD|SECRET|API_KEY|ADMIN_KEY|PARTITION_KEY|TOKEN`)

type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef *struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

type podSpec struct {
	Containers []struct {
		Name string   `yaml:"name"`
		Env  []envVar `yaml:"env"`
	} `yaml:"containers"`
}

// workload is a Deployment, StatefulSet, DaemonSet or Job of deploy/k8s.
type workload struct {
	file     string
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Replicas int `yaml:"replicas"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func (w workload) app() string { return w.Spec.Template.Metadata.Labels["app.kubernetes.io/name"] }

// env returns the container's variables by name, across its containers.
func (w workload) env() map[string]envVar {
	out := map[string]envVar{}
	for _, c := range w.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			out[e.Name] = e
		}
	}
	return out
}

type labelSelector struct {
	MatchLabels      map[string]string `yaml:"matchLabels"`
	MatchExpressions []struct {
		Key      string   `yaml:"key"`
		Operator string   `yaml:"operator"`
		Values   []string `yaml:"values"`
	} `yaml:"matchExpressions"`
}

// apps returns the app.kubernetes.io/name values the selector picks out of
// known, or every one of them for an empty selector.
func (s labelSelector) apps(known []string) []string {
	var out []string
	for _, app := range known {
		ok := true
		if v, set := s.MatchLabels["app.kubernetes.io/name"]; set && v != app {
			ok = false
		}
		for k := range s.MatchLabels {
			if k != "app.kubernetes.io/name" {
				ok = false
			}
		}
		for _, e := range s.MatchExpressions {
			if e.Key != "app.kubernetes.io/name" || e.Operator != "In" || !slices.Contains(e.Values, app) {
				ok = false
			}
		}
		if ok {
			out = append(out, app)
		}
	}
	return out
}

type peer struct {
	PodSelector       *labelSelector `yaml:"podSelector"`
	NamespaceSelector *labelSelector `yaml:"namespaceSelector"`
	IPBlock           *struct {
		CIDR string `yaml:"cidr"`
	} `yaml:"ipBlock"`
}

type networkPolicy struct {
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		PodSelector labelSelector `yaml:"podSelector"`
		PolicyTypes []string      `yaml:"policyTypes"`
		Ingress     []struct {
			From []peer `yaml:"from"`
		} `yaml:"ingress"`
		Egress []struct {
			To []peer `yaml:"to"`
		} `yaml:"egress"`
	} `yaml:"spec"`
}

// k8sManifests reads every workload and NetworkPolicy under deploy/k8s.
func k8sManifests(t *testing.T) ([]workload, []networkPolicy) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "deploy", "k8s", "*.yaml"))
	require.NoError(t, err)
	var workloads []workload
	var policies []networkPolicy
	for _, f := range files {
		for _, doc := range readYAMLDocuments(t, f) {
			switch doc.Kind {
			case "Deployment", "StatefulSet", "DaemonSet", "Job":
				w := workload{file: filepath.Base(f)}
				require.NoError(t, doc.node.Decode(&w), f)
				workloads = append(workloads, w)
			case "NetworkPolicy":
				var p networkPolicy
				require.NoError(t, doc.node.Decode(&p), f)
				policies = append(policies, p)
			}
		}
	}
	require.NotEmpty(t, workloads)
	return workloads, policies
}

// secretKeys are the keys of the Secret template, which operators fill in.
func secretKeys(t *testing.T) map[string]bool {
	t.Helper()
	var secret struct {
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		StringData map[string]string `yaml:"stringData"`
	}
	readYAMLDocument(t, filepath.Join(repoRoot(t), "deploy", "k8s", "secret.example.yaml"), "Secret", &secret)
	require.Equal(t, "yw-secrets", secret.Metadata.Name)
	keys := map[string]bool{}
	for k := range secret.StringData {
		keys[k] = true
	}
	return keys
}

// TestK8sSecretsComeFromTheSecret: no manifest carries a secret in plain text,
// every program connects to NATS as its own user with its password from the
// Secret and TLS, Qdrant and the programs share its API key from the Secret, and
// every api replica reads the same session secret.
func TestK8sSecretsComeFromTheSecret(t *testing.T) {
	t.Parallel()
	workloads, _ := k8sManifests(t)
	keys := secretKeys(t)
	byApp := map[string]workload{}
	for _, w := range workloads {
		byApp[w.app()] = w
		for name, e := range w.env() {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				require.True(t, keys[e.ValueFrom.SecretKeyRef.Key], "%s %s: %s reads key %s, which secret.example.yaml does not have",
					w.file, w.Metadata.Name, name, e.ValueFrom.SecretKeyRef.Key)
				continue
			}
			require.False(t, secretName.MatchString(name) && e.Value != "", "%s %s: %s is a secret in plain text; read it from yw-secrets",
				w.file, w.Metadata.Name, name)
		}
	}
	var configMap struct {
		Data map[string]string `yaml:"data"`
	}
	readYAMLDocument(t, filepath.Join(repoRoot(t), "deploy", "k8s", "configmap.yaml"), "ConfigMap", &configMap)
	for name := range configMap.Data {
		require.False(t, secretName.MatchString(name), "configmap.yaml holds %s, a secret: it belongs in yw-secrets", name)
	}

	for _, program := range programs {
		w, ok := byApp[program]
		require.True(t, ok, "no workload for %s", program)
		env := w.env()
		require.Equal(t, program, env["YW_NATS_USER"].Value, "%s connects to NATS as its own user", program)
		pw := env["YW_NATS_PASSWORD"]
		require.NotNil(t, pw.ValueFrom, "%s: YW_NATS_PASSWORD must come from yw-secrets", program)
		require.NotNil(t, pw.ValueFrom.SecretKeyRef, "%s: YW_NATS_PASSWORD must come from yw-secrets", program)
		require.Equal(t, natsperm.PasswordEnv(program), pw.ValueFrom.SecretKeyRef.Key, "%s reads its own NATS password", program)
		require.NotEmpty(t, env["YW_NATS_CA"].Value, "%s must verify the NATS servers' certificate", program)
		require.NotNil(t, env["YW_QDRANT_API_KEY"].ValueFrom, "%s must send Qdrant's API key", program)
	}
	natsEnv := byApp["nats"].env()
	for _, program := range programs {
		e := natsEnv[natsperm.PasswordEnv(program)]
		require.NotNil(t, e.ValueFrom, "NATS must read the password of %s from yw-secrets", program)
		require.Equal(t, natsperm.PasswordEnv(program), e.ValueFrom.SecretKeyRef.Key)
	}
	qdrantKey := byApp["qdrant"].env()["QDRANT__SERVICE__API_KEY"]
	require.NotNil(t, qdrantKey.ValueFrom, "Qdrant must require the API key")
	require.Equal(t, "YW_QDRANT_API_KEY", qdrantKey.ValueFrom.SecretKeyRef.Key)

	api := byApp["api"]
	require.Greater(t, api.Spec.Replicas, 1, "the api runs several replicas")
	session := api.env()["YW_SESSION_SECRET"]
	require.NotNil(t, session.ValueFrom, "api replicas must share YW_SESSION_SECRET from yw-secrets, or a cookie from one fails on another")
	require.Equal(t, "yw-secrets", session.ValueFrom.SecretKeyRef.Name)
}

// TestNetworkPoliciesCoverEveryComponent: the namespace denies everything by
// default, every component has a policy of its own that opens what it needs,
// and only the programs (and the migration, for PostgreSQL; the other servers,
// for NATS routes) reach NATS, Qdrant, PostgreSQL and Ollama.
func TestNetworkPoliciesCoverEveryComponent(t *testing.T) {
	t.Parallel()
	workloads, policies := k8sManifests(t)
	var apps []string
	for _, w := range workloads {
		require.NotEmpty(t, w.app(), "%s %s has no app.kubernetes.io/name label", w.file, w.Metadata.Name)
		apps = append(apps, w.app())
	}

	defaultDeny := false
	covered := map[string]bool{}
	for _, p := range policies {
		selected := p.Spec.PodSelector.apps(apps)
		if len(selected) == len(apps) {
			if len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0 &&
				slices.Contains(p.Spec.PolicyTypes, "Ingress") && slices.Contains(p.Spec.PolicyTypes, "Egress") {
				defaultDeny = true
			}
			continue // namespace-wide: DNS, the default deny
		}
		for _, app := range selected {
			covered[app] = true
		}
	}
	require.True(t, defaultDeny, "no default-deny NetworkPolicy (podSelector {}, Ingress and Egress, no rules)")
	for _, app := range apps {
		require.True(t, covered[app], "no NetworkPolicy opens what %s needs", app)
	}

	allowed := map[string][]string{
		"nats":     append(slices.Clone(programs), "nats"),
		"qdrant":   programs,
		"postgres": append(slices.Clone(programs), "migrate"),
		"ollama":   programs,
	}
	for service, may := range allowed {
		found := false
		for _, p := range policies {
			if !slices.Contains(p.Spec.PodSelector.apps(apps), service) || len(p.Spec.PodSelector.apps(apps)) == len(apps) {
				continue
			}
			for _, rule := range p.Spec.Ingress {
				found = true
				require.NotEmpty(t, rule.From, "policy %s opens %s to every pod", p.Metadata.Name, service)
				for _, from := range rule.From {
					require.Nil(t, from.IPBlock, "policy %s opens %s to addresses", p.Metadata.Name, service)
					require.Nil(t, from.NamespaceSelector, "policy %s opens %s to other namespaces", p.Metadata.Name, service)
					require.NotNil(t, from.PodSelector, "policy %s", p.Metadata.Name)
					for _, app := range from.PodSelector.apps(apps) {
						require.Contains(t, may, app, "policy %s lets %s reach %s", p.Metadata.Name, app, service)
					}
				}
			}
		}
		require.True(t, found, "no NetworkPolicy admits the programs to %s", service)
	}
}

// TestComposeSecretsAndNATSUsers: in compose.yaml every secret is a reference to
// deploy/.env, every program connects to NATS as its own user with TLS, Qdrant
// requires the API key the programs send, and the api replicas share the session
// secret.
func TestComposeSecretsAndNATSUsers(t *testing.T) {
	t.Parallel()
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Deploy      struct {
				Replicas int `yaml:"replicas"`
			} `yaml:"deploy"`
		} `yaml:"services"`
	}
	readYAML(t, filepath.Join(repoRoot(t), "deploy", "compose.yaml"), &compose)
	reference := regexp.MustCompile(`^\$\{[A-Z0-9_]+(:?[?-][^}]*)?\}$`)
	for name, svc := range compose.Services {
		for key, value := range svc.Environment {
			if secretName.MatchString(key) {
				require.Regexp(t, reference, value, "service %s: %s must come from deploy/.env, not the compose file", name, key)
			}
		}
	}
	for _, program := range programs {
		env := compose.Services[program].Environment
		require.Equal(t, program, env["YW_NATS_USER"], "%s connects to NATS as its own user", program)
		require.True(t, strings.HasPrefix(env["YW_NATS_PASSWORD"], "${"+natsperm.PasswordEnv(program)+":"), "%s reads its own NATS password", program)
		require.NotEmpty(t, env["YW_NATS_CA"], "%s must verify the NATS servers' certificate", program)
		require.True(t, strings.HasPrefix(env["YW_QDRANT_API_KEY"], "${YW_QDRANT_API_KEY:"), "%s must send Qdrant's API key", program)
	}
	require.True(t, strings.HasPrefix(compose.Services["qdrant"].Environment["QDRANT__SERVICE__API_KEY"], "${YW_QDRANT_API_KEY:"))
	for _, node := range []string{"nats-1", "nats-2", "nats-3"} {
		for _, program := range programs {
			require.NotEmpty(t, compose.Services[node].Environment[natsperm.PasswordEnv(program)], "%s needs the password of %s", node, program)
		}
	}
	require.Greater(t, compose.Services["api"].Deploy.Replicas, 1)
	require.True(t, strings.HasPrefix(compose.Services["api"].Environment["YW_SESSION_SECRET"], "${YW_SESSION_SECRET:"),
		"api replicas must share YW_SESSION_SECRET, or a cookie from one fails on another")
}
