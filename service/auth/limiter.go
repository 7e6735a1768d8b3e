package auth

import (
	"context"
	"net"
	"strings"
	"sync"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// failureLimiter bounds how many failed credential lookups each source may
// cause: a flood of made-up keys or tokens, each a store query, turns into
// RESOURCE_EXHAUSTED once its source's budget is spent. Only lookups that
// reach the store are limited; cached keys and malformed ones cost nothing.
type failureLimiter struct {
	limit      rate.Limit
	burst      int
	maxSources int

	mu      sync.Mutex
	sources map[string]*rate.Limiter
}

func newFailureLimiter(perSecond float64, burst int) *failureLimiter {
	return &failureLimiter{limit: rate.Limit(perSecond), burst: burst, maxSources: 10_000, sources: map[string]*rate.Limiter{}}
}

// blocked reports whether src has used up its failures.
func (l *failureLimiter) blocked(src string) bool {
	l.mu.Lock()
	lim := l.sources[src]
	l.mu.Unlock()
	return lim != nil && lim.Tokens() < 1
}

// fail records a failed lookup by src.
func (l *failureLimiter) fail(src string) {
	l.mu.Lock()
	lim := l.sources[src]
	if lim == nil {
		// Forget an arbitrary source when full; a forgotten one merely
		// starts again with a full budget.
		for k := range l.sources {
			if len(l.sources) < l.maxSources {
				break
			}
			delete(l.sources, k)
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.sources[src] = lim
	}
	l.mu.Unlock()
	lim.Allow()
}

// source names where a request comes from: the peer's IP address, or, for
// requests relayed by the REST gateway on this host, the client address
// the gateway appended to x-forwarded-for (the last entry: earlier ones
// are whatever the client sent).
func source(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return "unknown"
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		host = p.Addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		if fwd := metadata.ValueFromIncomingContext(ctx, "x-forwarded-for"); len(fwd) > 0 {
			last := fwd[len(fwd)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if f := strings.TrimSpace(last); f != "" {
				return f
			}
		}
	}
	return host
}
