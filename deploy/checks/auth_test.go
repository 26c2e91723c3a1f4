package checks

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
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

// TestNATSServerConfigurations loads the compose server's configuration and the
// Kubernetes one into nats-server itself, as the servers will, with the
// passwords and the pod name in the environment and certificates made as
// README.md says: both are accepted, include the users of auth.conf, and require
// TLS of clients and verified certificates of routes.
func TestNATSServerConfigurations(t *testing.T) {
	for _, program := range natsperm.Programs {
		t.Setenv(natsperm.PasswordEnv(program), "password-of-"+program)
	}
	t.Setenv("NATS_SERVER_NAME", "nats-1")
	t.Setenv("POD_NAME", "yw-nats-0")

	// Kubernetes mounts nats.conf under /etc/nats/config and auth.conf under /etc/nats/auth.
	k8sDir := t.TempDir()
	for _, dir := range []string{"config", "auth"} {
		require.NoError(t, os.Mkdir(filepath.Join(k8sDir, dir), 0o755))
	}
	auth, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "nats", "auth.conf"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(k8sDir, "auth", "auth.conf"), auth, 0o644))
	var k8s struct {
		Data map[string]string `yaml:"data"`
	}
	readYAMLDocument(t, filepath.Join(repoRoot(t), "deploy", "k8s", "nats.yaml"), "ConfigMap", &k8s)
	require.NotEmpty(t, k8s.Data["nats.conf"])
	require.NoError(t, os.WriteFile(filepath.Join(k8sDir, "config", "nats.conf"), []byte(k8s.Data["nats.conf"]), 0o644))

	// The compose configuration, beside its auth.conf as compose mounts them.
	composeDir := t.TempDir()
	for _, name := range []string{"nats.compose.conf", "auth.conf"} {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "nats", name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(composeDir, name), b, 0o644))
	}

	tlsDir := writeCertificates(t)
	for _, path := range []string{filepath.Join(composeDir, "nats.compose.conf"), filepath.Join(k8sDir, "config", "nats.conf")} {
		// The server itself accepts the configuration, certificates read from a
		// directory of this test instead of /etc/nats/tls.
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, bytes.ReplaceAll(b, []byte("/etc/nats/tls/"), []byte(tlsDir+"/")), 0o644))
		opts, err := server.ProcessConfigFile(path)
		require.NoError(t, err, path)
		opts.StoreDir = t.TempDir()
		_, err = server.NewServer(opts)
		require.NoError(t, err, path)
		require.NotNil(t, opts.TLSConfig, "%s: clients must speak TLS", path)
		require.NotNil(t, opts.Cluster.TLSConfig, "%s: routes must speak TLS", path)
		require.Equal(t, tls.RequireAndVerifyClientCert, opts.Cluster.TLSConfig.ClientAuth,
			"%s: routes must show certificates of the deployment's CA", path)
		require.Len(t, opts.Users, len(natsperm.Programs), "%s: the users of auth.conf", path)
		for _, u := range opts.Users {
			require.Equal(t, "password-of-"+u.Username, u.Password, "%s: passwords come from the environment", path)
		}
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

// writeCertificates makes a CA and a certificate it signs, as README.md tells
// operators to, and writes ca.crt, tls.crt and tls.key to a directory.
func writeCertificates(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "youworker-nats-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "nats"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames:    []string{"nats-1", "nats-2", "nats-3", "*.yw-nats-headless", "*.yw-nats-headless.youworker.svc"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	for name, block := range map[string]*pem.Block{
		"ca.crt": {Type: "CERTIFICATE", Bytes: caDER}, "tls.crt": {Type: "CERTIFICATE", Bytes: leafDER},
		"tls.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600))
	}
	return dir
}
