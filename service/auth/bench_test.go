package auth

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/memory"
)

// benchSetup returns an interceptor on a memory store holding one user
// with one property and an all-properties key, and that key.
func benchSetup(b *testing.B, cached bool) (*Interceptor, string, string) {
	return benchSetupWith(b, cached, func(*store.APIKey) {})
}

// withPolicy gives a key the policy of the benchmarks: an expiry, read-only
// access and 10 networks, the client's (10.0.0.1, see incoming) last.
func withPolicy(k *store.APIKey) {
	k.ExpiresAt = time.Now().Add(time.Hour)
	k.ReadOnly = true
	for i := range 9 {
		k.AllowedIPs = append(k.AllowedIPs, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, byte(i), 0}), 24))
	}
	k.AllowedIPs = append(k.AllowedIPs, netip.MustParsePrefix("10.0.0.0/8"))
}

// benchSetupWith is benchSetup with a key changed by policy.
func benchSetupWith(b *testing.B, cached bool, policy func(*store.APIKey)) (*Interceptor, string, string) {
	b.Helper()
	ctx := context.Background()
	st := memory.New()
	u := store.User{ID: store.NewID(), Email: "bench@example.com", SubscriptionActive: true}
	if err := st.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	p := store.Property{ID: store.NewID(), Title: "Bench", Currency: "EUR", IsActive: true}
	if err := st.CreateProperty(ctx, p, u.ID); err != nil {
		b.Fatal(err)
	}
	secret := NewSecret(APIKeyPrefix)
	k := store.APIKey{ID: store.NewID(), UserID: u.ID, Name: "b", Digest: Digest(secret), AllProperties: true, CreatedAt: time.Now()}
	policy(&k)
	if err := st.CreateAPIKey(ctx, k); err != nil {
		b.Fatal(err)
	}
	i, err := NewInterceptor(st, Options{Keys: NewKeyCache(CacheConfig{}, cached), Usage: NewUsage(st, time.Hour, nil)})
	if err != nil {
		b.Fatal(err)
	}
	return i, secret, p.ID
}

// incoming builds the context a gRPC server hands the interceptor.
func incoming(key string) context.Context {
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 5000}})
	return metadata.NewIncomingContext(ctx, metadata.Pairs(APIKeyHeader, key))
}

// BenchmarkVerify measures verifying an API key: format check, digest,
// cache (or store) lookup, key policy, and the principal. CacheHitPolicy
// is CacheHit with a key that has an expiry, read-only access and 10
// networks, the client's last.
func BenchmarkVerify(b *testing.B) {
	r := rule{allow: map[keygatev1.Credential]bool{keygatev1.Credential_CREDENTIAL_API_KEY: true}, apiKeys: true, read: true}
	for _, tc := range []struct {
		name   string
		cached bool
		fake   bool
		policy func(*store.APIKey)
	}{
		{"CacheHit", true, false, func(*store.APIKey) {}},
		{"CacheHitPolicy", true, false, withPolicy},
		{"CacheMiss", false, false, func(*store.APIKey) {}},
		{"FakeKey", true, true, func(*store.APIKey) {}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			i, key, _ := benchSetupWith(b, tc.cached, tc.policy)
			i.failures = newFailureLimiter[netip.Prefix](Limit{PerSecond: 1e12, Burst: 1 << 30}) // measure the lookup, not the limit
			ctx := incoming(key)
			if tc.fake {
				key = NewSecret(APIKeyPrefix)
			}
			b.ReportAllocs()
			for b.Loop() {
				p, err := i.apiKeyPrincipal(ctx, &r, nil, key)
				if (err == nil) == tc.fake || (p == nil) != tc.fake {
					b.Fatalf("%v %v", p, err)
				}
			}
		})
	}
}

// BenchmarkInterceptor measures the whole unary interceptor on a cached
// key, for GetProperty (with its property access check) and WhoAmI.
func BenchmarkInterceptor(b *testing.B) {
	i, key, propertyID := benchSetup(b, true)
	ctx := incoming(key)
	handler := func(context.Context, any) (any, error) { return nil, nil }
	for _, tc := range []struct {
		name   string
		method string
		req    any
	}{
		{"WhoAmI", "/keygate.v1.AuthService/WhoAmI", &keygatev1.WhoAmIRequest{}},
		{"GetProperty", "/keygate.v1.PropertyService/GetProperty", &keygatev1.GetPropertyRequest{Id: propertyID}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			info := &grpc.UnaryServerInfo{FullMethod: tc.method}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := i.Unary(ctx, tc.req, info, handler); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
