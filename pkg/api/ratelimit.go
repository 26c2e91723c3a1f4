package api

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// rateLimiter keeps one token bucket per key (a user, or a client address for
// unauthenticated attempts) and forgets buckets that have been idle for a while.
type rateLimiter struct {
	rps   rate.Limit
	burst int

	mu       sync.Mutex
	buckets  map[string]*bucket
	lastSwep time.Time
}

type bucket struct {
	limiter *rate.Limiter
	seen    time.Time
}

func newRateLimiter(rps float64, burst int) *rateLimiter {
	return &rateLimiter{rps: rate.Limit(rps), burst: burst, buckets: map[string]*bucket{}, lastSwep: time.Now()}
}

// allow takes a token for key; when none is left it sets Retry-After on the response.
func (l *rateLimiter) allow(key string, c echo.Context) bool {
	now := time.Now()
	l.mu.Lock()
	if now.Sub(l.lastSwep) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.lastSwep = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{limiter: rate.NewLimiter(l.rps, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	l.mu.Unlock()

	r := b.limiter.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(delay.Seconds()))))
		return false
	}
	return true
}
