package apikey

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGenerateIsUniqueLongAndMatchesItsHash(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		k := Generate()
		require.True(t, strings.HasPrefix(k, "yw_"))
		require.Len(t, k, 3+48) // 30 bytes in base32
		require.False(t, seen[k])
		seen[k] = true
		p, err := Prefix(k)
		require.NoError(t, err)
		require.Equal(t, k[:PrefixLen], p)
		require.True(t, Matches(k, Hash(k)))
		require.False(t, Matches(k+"x", Hash(k)))
	}
}

func TestPrefixRejectsMalformedKeys(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"", "short", strings.Repeat("a", 300), "yw_abcdefghijklmnopqrstuvwxyz\n", "yw_abcdefghijklmnopqrstuvwxyzé"} {
		_, err := Prefix(k)
		require.ErrorIs(t, err, ErrMalformed, k)
	}
}
