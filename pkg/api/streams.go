package api

import (
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/youworker/youworker/pkg/service"
)

// streamLimiter counts the long-lived streams each user has open on this process
// (turn event streams, waits for a turn to finish). Each one holds a connection, a
// goroutine and an event-log reader, so one client must not open them without end.
//
// The count is per API process, not cluster-wide: a user can have the limit open on
// every replica. That still bounds what one client costs each process, which is the
// point, and needs no shared state on the hot path.
type streamLimiter struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func newStreamLimiter(max int) *streamLimiter {
	return &streamLimiter{max: max, open: map[string]int{}}
}

// acquire takes one of user's stream slots; release gives it back and may be
// called more than once.
func (l *streamLimiter) acquire(userID string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[userID] >= l.max {
		return nil, false
	}
	l.open[userID]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[userID]--; l.open[userID] <= 0 {
				delete(l.open, userID) // users with nothing open cost no memory
			}
		})
	}, true
}

// count is how many streams user has open.
func (l *streamLimiter) count(userID string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[userID]
}

// OpenStream takes one of the caller's stream slots for a long-lived response, or
// answers 429 too_many_streams. The caller must call release when the stream ends.
// Feature modules that add streaming routes use it too.
func (s *Server) OpenStream(c echo.Context) (release func(), err error) {
	free, ok := s.streams.acquire(principal(c).UserID)
	if !ok {
		return nil, service.Errorf(service.CodeTooManyStreams,
			"you have %d event streams open, the most allowed; close one (or wait for a turn to end) and retry", s.streams.max)
	}
	s.metrics.streams.Inc()
	var once sync.Once
	return func() {
		once.Do(func() {
			free()
			s.metrics.streams.Dec()
		})
	}, nil
}
