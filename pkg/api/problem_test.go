package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/config"
	"github.com/youworker/youworker/pkg/service"
)

// TestRetryAfterSaysWhenALimitFrees: a limit that knows when it frees says so
// in whole seconds, rounded up; one that does not says one second.
func TestRetryAfterSaysWhenALimitFrees(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, config.Config{RateLimitRPS: 1000, RateLimitBurst: 1000, AuthFailureRPS: 1, AuthFailureBurst: 1})
	for _, tc := range []struct {
		after time.Duration
		want  string
	}{{42*time.Second + 300*time.Millisecond, "43"}, {0, "1"}} {
		e := service.Errorf(service.CodeRateLimited, "too many turns this minute")
		e.RetryAfter = tc.after
		rec := httptest.NewRecorder()
		c := echo.New().NewContext(httptest.NewRequest(http.MethodPost, "/v1/chat/send", nil), rec)
		ts.srv.errorHandler(fmt.Errorf("submit: %w", errors.Join(e)), c)
		require.Equal(t, http.StatusTooManyRequests, rec.Code)
		require.Equal(t, tc.want, rec.Header().Get("Retry-After"))
		require.Equal(t, string(service.CodeRateLimited), problemCode(t, rec))
	}
}
