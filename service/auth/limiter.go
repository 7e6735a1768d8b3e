package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/netip"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// failureLimiter bounds how many failed credential lookups each source may
// cause: a flood of made-up keys or tokens, each a store query, turns into
// RESOURCE_EXHAUSTED once its source's budget is spent. Only lookups that
// reach the store are limited; cached keys and malformed ones cost nothing.
//
// Each source has a token bucket. A lookup takes a token before it runs
// and gives it back if the credential was valid, so concurrent lookups
// can never overdraw the budget, and valid credentials cost nothing.
type failureLimiter struct {
	perSecond  float64
	burst      float64
	maxSources int
	now        func() time.Time

	mu      sync.Mutex
	sources map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newFailureLimiter(perSecond float64, burst int) *failureLimiter {
	return &failureLimiter{perSecond: perSecond, burst: float64(burst), maxSources: 10_000, now: time.Now, sources: map[string]*bucket{}}
}

// take takes a token of src for one lookup, reporting false when there is
// none left.
func (l *failureLimiter) take(src string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.sources[src]
	if b == nil {
		// Forget an arbitrary source when full; a forgotten one merely
		// starts again with a full budget.
		for k := range l.sources {
			if len(l.sources) < l.maxSources {
				break
			}
			delete(l.sources, k)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.sources[src] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.perSecond)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// refund gives back the token of a lookup that found a valid credential.
func (l *failureLimiter) refund(src string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.sources[src]; b != nil {
		b.tokens = min(l.burst, b.tokens+1)
	}
}

// Metadata the REST gateway adds to every call it relays.
const (
	GatewayTokenHeader  = "x-keygate-gateway"
	GatewayClientHeader = "x-keygate-client-ip"
)

// source names where a request comes from: the client address the REST
// gateway of this process reports, when the call carries the gateway's
// token, and the peer's IP address otherwise. Headers a client sets itself
// (x-forwarded-for and the like) are never trusted: behind a proxy, every
// client shares the proxy's budget.
func (i *Interceptor) source(ctx context.Context) string {
	if i.gateway != nil {
		if tok := metadata.ValueFromIncomingContext(ctx, GatewayTokenHeader); len(tok) == 1 {
			d := sha256.Sum256([]byte(tok[0]))
			client := metadata.ValueFromIncomingContext(ctx, GatewayClientHeader)
			if subtle.ConstantTimeCompare(d[:], i.gateway) == 1 && len(client) == 1 {
				return client[0]
			}
		}
	}
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return "unknown"
	}
	if tcp, ok := p.Addr.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	return p.Addr.String()
}

// clientAddr is the client address of a request, as source names it, for
// key policy and last_used_ip; the zero Addr when it is not an IP address
// (no allowed network contains that). A call that does not come through
// the gateway is the TCP peer's, read without a string round trip: this
// runs on every request with an API key.
func (i *Interceptor) clientAddr(ctx context.Context) netip.Addr {
	if len(metadata.ValueFromIncomingContext(ctx, GatewayTokenHeader)) == 0 {
		if p, ok := peer.FromContext(ctx); ok {
			if tcp, ok := p.Addr.(*net.TCPAddr); ok {
				a, _ := netip.AddrFromSlice(tcp.IP)
				return a.Unmap()
			}
		}
	}
	a, err := netip.ParseAddr(i.source(ctx))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}
