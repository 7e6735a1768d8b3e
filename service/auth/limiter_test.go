package auth

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

func TestFailureLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := newFailureLimiter[string](Limit{PerSecond: 10, Burst: 5})
	for i := 0; i < 5; i++ {
		if _, ok := l.reserve("a", now); !ok {
			t.Fatalf("reserve %d refused within the burst", i)
		}
	}
	if _, ok := l.reserve("a", now); ok {
		t.Fatal("a sixth attempt passed a burst of 5")
	}
	r, ok := l.reserve("b", now)
	if !ok {
		t.Fatal("another source shares the budget")
	}
	refund(r, now)
	now = now.Add(100 * time.Millisecond) // 10 a second: one more
	r, ok = l.reserve("a", now)
	if !ok {
		t.Fatal("the budget did not refill at its rate")
	}
	if _, ok := l.reserve("a", now); ok {
		t.Fatal("the budget refilled too much")
	}
	refund(r, now)
	if _, ok := l.reserve("a", now); !ok {
		t.Fatal("a refund did not give the unit back")
	}
	now = now.Add(time.Hour)
	for i := 0; i < 5; i++ {
		l.charge("a", now)
	}
	if _, ok := l.reserve("a", now); ok {
		t.Fatal("the budget refilled beyond its burst")
	}
}

// TestFailureLimiterBounded: memory stays bounded under a flood of
// sources; refilled (idle) buckets go first.
func TestFailureLimiterBounded(t *testing.T) {
	now := time.Unix(0, 0)
	l := newFailureLimiter[int](Limit{PerSecond: 1, Burst: 2})
	l.maxBuckets = 100
	l.charge(-1, now)
	l.charge(-1, now)
	for i := 0; i < 10_000; i++ {
		l.charge(i, now)
	}
	if n := len(l.buckets); n > 100 {
		t.Fatalf("%d buckets, bound 100", n)
	}
	// Idle ones are forgotten before busy ones.
	busy := newFailureLimiter[int](Limit{PerSecond: 1, Burst: 2})
	busy.maxBuckets = 10
	for i := 0; i < 9; i++ {
		busy.bucket(i, now) // full: idle
	}
	busy.charge(100, now)
	busy.charge(100, now)
	busy.charge(101, now) // the tenth: everything idle goes
	if _, ok := busy.buckets[100]; !ok || len(busy.buckets) != 2 {
		t.Fatalf("after eviction: %d buckets, busy one kept: %v", len(busy.buckets), busy.buckets[100] != nil)
	}
}

func TestKnownCredentials(t *testing.T) {
	now := time.Unix(0, 0)
	c := newKnownCredentials()
	c.maxEntries = 10
	d := knownSecret(digest("a"))
	c.add(d, now)
	if !c.has(d, now) || c.has(knownSecret(digest("b")), now) {
		t.Fatal("has")
	}
	if c.has(d, now.Add(knownTTL)) {
		t.Fatal("known beyond its TTL")
	}
	for i := 0; i < 100; i++ {
		c.add(knownSecret(digest(string(rune(i)))), now)
	}
	if len(c.entries) > 10 {
		t.Fatalf("%d entries, bound 10", len(c.entries))
	}
}

func TestAddrGroup(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2:ffff::1"},
		{"10.0.0.1", "10.0.0.1"},
	} {
		if addrGroup(netip.MustParseAddr(tc.a)) != addrGroup(netip.MustParseAddr(tc.b)) {
			t.Errorf("%s and %s are in different groups", tc.a, tc.b)
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"10.0.0.1", "10.0.0.2"},
	} {
		if addrGroup(netip.MustParseAddr(tc.a)) == addrGroup(netip.MustParseAddr(tc.b)) {
			t.Errorf("%s and %s share a group", tc.a, tc.b)
		}
	}
}

func TestParseCIDRs(t *testing.T) {
	got, err := ParseCIDRs(" 10.0.0.0/8, 192.168.1.7 ,2001:db8::/32,::ffff:1.2.3.4")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32", "1.2.3.4/32"}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("%d: %s, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.1/8/8"} {
		if _, err := ParseCIDRs(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if p, err := ParseCIDRs(""); err != nil || p != nil {
		t.Fatalf("empty: %v %v", p, err)
	}
}

func TestClientAddr(t *testing.T) {
	proxies, _ := ParseCIDRs("10.0.0.0/8,2001:db8:ffff::/48")
	a := NewClientAddrs(proxies, "gateway-secret")
	grpcCall := func(peerAddr string, md ...string) context.Context {
		ap := netip.MustParseAddrPort(peerAddr)
		ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: net.TCPAddrFromAddrPort(ap)})
		return metadata.NewIncomingContext(ctx, metadata.Pairs(md...))
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"peer", grpcCall("203.0.113.9:5000"), "203.0.113.9"},
		{"forwarded from an untrusted peer is ignored", grpcCall("203.0.113.9:5000", "x-forwarded-for", "1.1.1.1"), "203.0.113.9"},
		{"trusted proxy", grpcCall("10.1.2.3:5000", "x-forwarded-for", "1.1.1.1"), "1.1.1.1"},
		{"rightmost untrusted hop", grpcCall("10.1.2.3:5000", "x-forwarded-for", "6.6.6.6, 1.1.1.1, 10.9.9.9"), "1.1.1.1"},
		{"several headers", grpcCall("10.1.2.3:5000", "x-forwarded-for", "6.6.6.6", "x-forwarded-for", "1.1.1.1"), "1.1.1.1"},
		{"garbage stops at the proxy", grpcCall("10.1.2.3:5000", "x-forwarded-for", "1.1.1.1, garbage"), "10.1.2.3"},
		{"all trusted", grpcCall("10.1.2.3:5000", "x-forwarded-for", "10.0.0.1"), "10.0.0.1"},
		{"no header", grpcCall("10.1.2.3:5000"), "10.1.2.3"},
		{"IPv6 proxy", grpcCall("[2001:db8:ffff::1]:5000", "x-forwarded-for", "2001:db8:1::7"), "2001:db8:1::7"},
		{"mapped IPv4 peer", grpcCall("[::ffff:203.0.113.9]:5000"), "203.0.113.9"},
		{"gateway", grpcCall("127.0.0.1:5000", GatewayTokenHeader, "gateway-secret", GatewayClientHeader, "198.51.100.4"), "198.51.100.4"},
		{"wrong gateway token", grpcCall("127.0.0.1:5000", GatewayTokenHeader, "guess", GatewayClientHeader, "198.51.100.4"), "127.0.0.1"},
		{"two gateway tokens", grpcCall("127.0.0.1:5000", GatewayTokenHeader, "gateway-secret", GatewayTokenHeader, "x", GatewayClientHeader, "198.51.100.4"), "127.0.0.1"},
		{"gateway with two clients", grpcCall("127.0.0.1:5000", GatewayTokenHeader, "gateway-secret", GatewayClientHeader, "198.51.100.4", GatewayClientHeader, "1.1.1.1"), "invalid IP"},
		{"no peer", context.Background(), "invalid IP"},
	} {
		if got := a.ClientAddr(tc.ctx).String(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}

	httpReq := func(remote string, xff ...string) *http.Request {
		r, _ := http.NewRequest("GET", "http://x/", nil)
		r.RemoteAddr = remote
		for _, v := range xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		return r
	}
	for _, tc := range []struct {
		name string
		r    *http.Request
		want string
	}{
		{"peer", httpReq("203.0.113.9:5000"), "203.0.113.9"},
		{"forged", httpReq("203.0.113.9:5000", "1.1.1.1"), "203.0.113.9"},
		{"trusted proxy", httpReq("10.1.2.3:5000", "6.6.6.6, 1.1.1.1"), "1.1.1.1"},
		{"IPv6 peer", httpReq("[2001:db8::1]:5000"), "2001:db8::1"},
	} {
		if got := a.HTTPClientAddr(tc.r).String(); got != tc.want {
			t.Errorf("HTTP %s: %s, want %s", tc.name, got, tc.want)
		}
	}
	// Without configuration, only the peer counts.
	if got := (&ClientAddrs{}).ClientAddr(grpcCall("10.1.2.3:5000", "x-forwarded-for", "1.1.1.1")).String(); got != "10.1.2.3" {
		t.Errorf("zero ClientAddrs: %s", got)
	}
}
