package checks

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats-server/v2/conf"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/natsperm"
)

var update = flag.Bool("update", false, "rewrite deploy/nats/auth.conf from package natsperm")

// TestNATSAuthorizationIsNatspermsRendering keeps the NATS users of both
// deployments (deploy/nats/auth.conf, included by the compose servers and, through
// a generated ConfigMap, by the Kubernetes ones) equal to what package natsperm
// states, so the permissions the programs are tested with are the ones deployed.
// After changing natsperm: make nats-auth
func TestNATSAuthorizationIsNatspermsRendering(t *testing.T) {
	path := filepath.Join(repoRoot(t), "deploy", "nats", "auth.conf")
	want := natsperm.AuthorizationFromEnv()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, want, string(got), "deploy/nats/auth.conf is stale: make nats-auth")
}

// TestNATSServerConfigurations parses the compose server's configuration and the
// Kubernetes one with nats-server's own reader, as the servers will, with the
// passwords and the pod name in the environment: both include the users of
// auth.conf and require TLS of clients and routes.
func TestNATSServerConfigurations(t *testing.T) {
	for _, program := range natsperm.Programs {
		t.Setenv(natsperm.PasswordEnv(program), "password-of-"+program)
	}
	t.Setenv("NATS_SERVER_NAME", "nats-1")
	t.Setenv("POD_NAME", "yw-nats-0")

	// Kubernetes mounts auth.conf beside nats.conf, under auth/.
	k8sDir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(k8sDir, "auth"), 0o755))
	auth, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "nats", "auth.conf"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(k8sDir, "auth", "auth.conf"), auth, 0o644))
	var k8s struct {
		Data map[string]string `yaml:"data"`
	}
	readYAMLDocument(t, filepath.Join(repoRoot(t), "deploy", "k8s", "nats.yaml"), "ConfigMap", &k8s)
	require.NotEmpty(t, k8s.Data["nats.conf"])
	require.NoError(t, os.WriteFile(filepath.Join(k8sDir, "nats.conf"), []byte(k8s.Data["nats.conf"]), 0o644))

	for _, path := range []string{filepath.Join(repoRoot(t), "deploy", "nats", "nats.compose.conf"), filepath.Join(k8sDir, "nats.conf")} {
		m, err := conf.ParseFile(path)
		require.NoError(t, err, path)
		authz, _ := m["authorization"].(map[string]any)
		users, _ := authz["users"].([]any)
		require.Len(t, users, len(natsperm.Programs), "%s: the users of auth.conf", path)
		for _, u := range users {
			user := u.(map[string]any)
			require.Equal(t, "password-of-"+user["user"].(string), user["password"], "%s: passwords come from the environment", path)
		}
		tls, _ := m["tls"].(map[string]any)
		require.NotEmpty(t, tls["cert_file"], "%s: clients must speak TLS", path)
		cluster, _ := m["cluster"].(map[string]any)
		clusterTLS, _ := cluster["tls"].(map[string]any)
		require.NotEmpty(t, clusterTLS["ca_file"], "%s: routes must speak TLS with certificates of the deployment's CA", path)
	}
}

// readYAMLDocument decodes the first document of kind in a multi-document YAML file.
func readYAMLDocument(t *testing.T, path, kind string, into any) {
	t.Helper()
	for _, doc := range readYAMLDocuments(t, path) {
		if doc.Kind == kind {
			require.NoError(t, doc.node.Decode(into), path)
			return
		}
	}
	t.Fatalf("%s has no %s", path, kind)
}
