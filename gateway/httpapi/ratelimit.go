package httpapi

import (
	"sync"
	"time"
)

// bucket is a token bucket: it holds up to burst tokens and gains rate
// tokens per second; each request takes one.
type bucket struct {
	tokens float64
	last   time.Time
}

// take refills b to now and takes a token if there is one; otherwise it
// reports how long until there is.
func (b *bucket) take(now time.Time, rate, burst float64) (bool, time.Duration) {
	if b.last.IsZero() {
		b.tokens = burst
	} else if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(burst, b.tokens+dt*rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// limiter limits requests per client address and overall. A zero rate turns
// that limit off.
type limiter struct {
	perClient, clientBurst float64
	global, globalBurst    float64

	mu      sync.Mutex
	clients map[string]*bucket
	all     bucket
	sweepAt time.Time
}

// sweepEvery is how often idle client buckets are dropped.
const sweepEvery = time.Minute

func newLimiter(perClient float64, clientBurst int, global float64, globalBurst int) *limiter {
	return &limiter{
		perClient: perClient, clientBurst: float64(max(clientBurst, 1)),
		global: global, globalBurst: float64(max(globalBurst, 1)),
		clients: make(map[string]*bucket),
	}
}

// on reports whether any limit is set.
func (l *limiter) on() bool { return l.perClient > 0 || l.global > 0 }

// allow takes a token for client (and from the global bucket) or reports
// how long to wait. A refused request takes no token from either bucket.
func (l *limiter) allow(client string, now time.Time) (bool, time.Duration) {
	if !l.on() {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perClient > 0 {
		l.sweep(now)
		b := l.clients[client]
		if b == nil {
			b = &bucket{}
			l.clients[client] = b
		}
		if ok, wait := b.take(now, l.perClient, l.clientBurst); !ok {
			return false, wait
		}
		if l.global > 0 {
			if ok, wait := l.all.take(now, l.global, l.globalBurst); !ok {
				b.tokens++ // give the client its token back
				return false, wait
			}
		}
		return true, 0
	}
	return l.all.take(now, l.global, l.globalBurst)
}

// sweep drops buckets that have refilled completely: forgetting them changes
// nothing, and it keeps the map as small as the set of recent clients.
func (l *limiter) sweep(now time.Time) {
	if now.Before(l.sweepAt) {
		return
	}
	l.sweepAt = now.Add(sweepEvery)
	full := time.Duration(l.clientBurst / l.perClient * float64(time.Second))
	for k, b := range l.clients {
		if now.Sub(b.last) > full {
			delete(l.clients, k)
		}
	}
}
