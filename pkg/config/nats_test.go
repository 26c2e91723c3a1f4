package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNATSCredentialsAreRedactedAndGivenOneWay(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"YW_NATS_URL": "nats://nats:4222", "YW_NATS_USER": "api", "YW_NATS_PASSWORD": "s3cret-password"}))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Contains(t, c.String(), "nats_user=api")
	require.NotContains(t, c.String(), "s3cret-password")

	withURL, err := Load(env(map[string]string{"YW_NATS_URL": "nats://api:s3cret-password@nats:4222"}))
	require.NoError(t, err)
	require.NoError(t, withURL.Validate(), "credentials in the URL keep working")
	require.NotContains(t, withURL.String(), "s3cret-password")

	for _, bad := range []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{"YW_NATS_URL": "nats://nats:4222", "YW_NATS_USER": "api"}, "YW_NATS_PASSWORD"},
		{map[string]string{"YW_NATS_URL": "nats://u:p@nats:4222", "YW_NATS_USER": "api", "YW_NATS_PASSWORD": "x"}, "one way only"},
		{map[string]string{"YW_NATS_URL": "nats://nats:4222", "YW_NATS_CREDS": "/nonexistent/api.creds"}, "YW_NATS_CREDS"},
		{map[string]string{"YW_NATS_URL": "nats://nats:4222", "YW_NATS_CA": "/nonexistent/ca.pem"}, "YW_NATS_CA"},
		{map[string]string{"YW_NATS_URL": "nats://nats:4222", "YW_NATS_CERT": "/nonexistent/cert.pem"}, "YW_NATS_KEY"},
		{map[string]string{"YW_NATS_USER": "api", "YW_NATS_PASSWORD": "x"}, "YW_NATS_URL"},
	} {
		c, err := Load(env(bad.env))
		require.NoError(t, err)
		require.ErrorContains(t, c.Validate(), bad.name, bad.env)
	}
}

func TestNATSCAMustHoldACertificate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(path, []byte("not a certificate"), 0o600))
	c, err := Load(env(map[string]string{"YW_NATS_URL": "nats://nats:4222", "YW_NATS_CA": path}))
	require.NoError(t, err)
	require.ErrorContains(t, c.Validate(), "YW_NATS_CA: "+path+" holds no PEM certificate")
}
