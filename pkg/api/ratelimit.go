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
	r := l.bucket(key, now).ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(delay.Seconds()))))
		return false
	}
	return true
}

// empty reports, without taking a token, whether key's bucket has none left; then
// it sets Retry-After on the response. A key never seen has a full bucket, and
// asking creates none, so checking every request costs no memory.
func (l *rateLimiter) empty(key string, c echo.Context) bool {
	now := time.Now()
	l.mu.Lock()
	b := l.buckets[key]
	l.mu.Unlock()
	if b == nil {
		return false
	}
	tokens := b.limiter.TokensAt(now)
	if tokens >= 1 {
		return false
	}
	wait := time.Duration((1 - tokens) / float64(l.rps) * float64(time.Second))
	c.Response().Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	return true
}

// take takes a token for key if one is left, without answering anything: for
// counting failures whose answer is already decided.
func (l *rateLimiter) take(key string) {
	now := time.Now()
	l.bucket(key, now).AllowN(now, 1)
}

// bucket returns key's token bucket, creating it full, and marks it used at now.
func (l *rateLimiter) bucket(key string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[key]
	if b == nil {
		b = &bucket{limiter: rate.NewLimiter(l.rps, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.limiter
}

// sweep forgets buckets idle for ten minutes, at most once a minute; l.mu is held.
func (l *rateLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSwep) <= time.Minute {
		return
	}
	for k, b := range l.buckets {
		if now.Sub(b.seen) > 10*time.Minute {
			delete(l.buckets, k)
		}
	}
	l.lastSwep = now
}
