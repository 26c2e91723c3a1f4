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

func TestSealedValuesKeepToTheirPurpose(t *testing.T) {
	t.Parallel()
	ss := sealerFromSecret(bytes.Repeat([]byte{3}, 32))
	now := time.Now()
	later := now.Add(time.Hour).Unix()

	// A session opened through the identity provider carries a user and no key.
	keyless := webSession{ID: "session-id", User: "user-id", Method: methodOIDC, CSRF: "token", Expires: later}
	value, err := ss.seal(keyless)
	require.NoError(t, err)
	got, ok := ss.open(value, now)
	require.True(t, ok)
	require.Equal(t, keyless, got)

	// Neither key nor user is nobody's session.
	value, err = ss.seal(webSession{ID: "session-id", CSRF: "token", Expires: later})
	require.NoError(t, err)
	_, ok = ss.open(value, now)
	require.False(t, ok)

	// A sign-in flow cookie is not a session, and a session is not a flow.
	flow, err := ss.sealJSON(oidcFlow{State: "s", Nonce: "n", Verifier: "v", Expires: later}, oidcFlowAAD)
	require.NoError(t, err)
	_, ok = ss.open(flow, now)
	require.False(t, ok)
	session, err := ss.seal(keyless)
	require.NoError(t, err)
	var f oidcFlow
	require.False(t, ss.openJSON(session, oidcFlowAAD, &f))
	require.True(t, ss.openJSON(flow, oidcFlowAAD, &f))
	require.Equal(t, "n", f.Nonce)
}
