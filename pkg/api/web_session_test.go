package api

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSessionSealer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret, err := loadSessionSecret(dir)
	require.NoError(t, err)
	again, err := loadSessionSecret(dir)
	require.NoError(t, err)
	require.True(t, bytes.Equal(secret, again), "the secret is created once and then kept")
	info, err := os.Stat(filepath.Join(dir, sessionSecretFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	ss := sealerFromSecret(secret)
	now := time.Now()
	sess := webSession{ID: "session-id", Key: "yw_secret_key", CSRF: "token", Expires: now.Add(time.Hour).Unix()}
	value, err := ss.seal(sess)
	require.NoError(t, err)
	require.NotContains(t, value, "yw_secret_key")

	got, ok := ss.open(value, now)
	require.True(t, ok)
	require.Equal(t, sess, got)

	other, err := ss.seal(sess)
	require.NoError(t, err)
	require.NotEqual(t, value, other, "every seal uses a fresh nonce")

	cases := map[string]struct {
		value string
		at    time.Time
		by    *sessionSealer
	}{
		"expired":        {value, now.Add(2 * time.Hour), ss},
		"tampered":       {value[:len(value)-2] + "AA", now, ss},
		"truncated":      {value[:10], now, ss},
		"not base64":     {"!!!", now, ss},
		"another secret": {value, now, sealerFromSecret(bytes.Repeat([]byte{7}, 32))},
		"empty":          {"", now, ss},
	}
	for name, tc := range cases {
		_, ok := tc.by.open(tc.value, tc.at)
		require.False(t, ok, name)
	}

	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, sessionSecretFile), []byte("short"), 0o600))
	_, err = loadSessionSecret(bad)
	require.Error(t, err, "a damaged secret file is reported, not silently replaced")
}
