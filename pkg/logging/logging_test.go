package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJSONLoggerCarriesCorrelationID(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo, "json").With("component", "test")
	ctx := WithCorrelationID(context.Background(), "abc-123")
	log.InfoContext(ctx, "hello", "k", 1)
	log.DebugContext(ctx, "hidden")
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
	require.Equal(t, "abc-123", rec["correlation_id"])
	require.Equal(t, "test", rec["component"])
	require.Equal(t, "hello", rec["msg"])
	require.Equal(t, 1, bytes.Count(buf.Bytes(), []byte("\n")), "debug must be filtered at info level")
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]slog.Level{"": slog.LevelInfo, "debug": slog.LevelDebug, "WARN": slog.LevelWarn, "error": slog.LevelError} {
		got, err := ParseLevel(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := ParseLevel("loud")
	require.ErrorContains(t, err, "loud")
}
