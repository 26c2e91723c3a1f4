package queue_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/queue"
	"github.com/youworker/youworker/pkg/queuetest"
)

// certFiles writes a certificate signed by ca (self-signed when ca is nil) and
// its key to dir, and returns their paths with the certificate and key.
func certFiles(t *testing.T, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, isCA bool) (certPath, keyPath string, cert *x509.Certificate, key *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca, caKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	require.NoError(t, err)
	cert, err = x509.ParseCertificate(der)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certPath, keyPath = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	require.NoError(t, os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certPath, keyPath, cert, key
}

// TestConnectSpeaksTLSWithTheConfiguredCA runs a server that requires TLS and
// client certificates signed by its CA: a program configured with YW_NATS_CA,
// YW_NATS_CERT and YW_NATS_KEY connects; one that trusts only the system's CAs,
// or shows no certificate, does not.
func TestConnectSpeaksTLSWithTheConfiguredCA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caPath, _, ca, caKey := certFiles(t, dir, "ca", nil, nil, true)
	serverCert, serverKey, _, _ := certFiles(t, dir, "server", ca, caKey, false)
	clientCert, clientKey, _, _ := certFiles(t, dir, "client", ca, caKey, false)
	url := queuetest.StartWithConfig(t, fmt.Sprintf("tls { cert_file: %q\n key_file: %q\n ca_file: %q\n verify: true\n timeout: 2 }",
		serverCert, serverKey, caPath))

	connect := func(n config.NATS) error {
		tlsConfig, err := n.TLSConfig()
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		nc, _, err := queue.Connect(ctx, url, "tls-test", nil, queue.ConnectOptions{TLS: tlsConfig})
		if err == nil {
			require.True(t, nc.TLSRequired())
			nc.Close()
		}
		return err
	}
	require.NoError(t, connect(config.NATS{CAFile: caPath, CertFile: clientCert, KeyFile: clientKey}))
	require.ErrorIs(t, connect(config.NATS{}), queue.ErrUntrustedServer, "the server's CA is not among the system's")
	otherCA, _, _, _ := certFiles(t, t.TempDir(), "other-ca", nil, nil, true)
	require.ErrorIs(t, connect(config.NATS{CAFile: otherCA, CertFile: clientCert, KeyFile: clientKey}), queue.ErrUntrustedServer)
	require.Error(t, connect(config.NATS{CAFile: caPath}), "the server verifies client certificates")
}
