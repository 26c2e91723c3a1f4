package ollamahttp

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidateURL(t *testing.T) {
	t.Parallel()
	require.NoError(t, ValidateURL("http://127.0.0.1:11434"))
	for _, bad := range []string{"", "127.0.0.1:11434", "/api", "http://"} {
		require.Error(t, ValidateURL(bad), bad)
	}
}

func TestOnlyOllamaComNeedsSigningByDefault(t *testing.T) {
	t.Setenv("OLLAMA_AUTH", "")
	local, _ := url.Parse("http://ollama.internal:11434")
	hosted, _ := url.Parse("https://ollama.com")
	require.False(t, SignedRequests(local))
	require.True(t, SignedRequests(hosted))
}
