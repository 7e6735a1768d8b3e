package server_test

import (
	"net/netip"
	"testing"

	"github.com/keygate/keygate/service/store/memory"
)

// TestAllowedAddressesThroughProxy: behind a trusted proxy a key's allowed
// addresses are checked against the client the proxy reports (the
// rightmost untrusted X-Forwarded-For hop); from a peer that is not a
// trusted proxy the header is ignored and the peer's own address counts.
func TestAllowedAddressesThroughProxy(t *testing.T) {
	trusted := startWith(t, memory.New(), func(c *serverConfig) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	untrusted := startWith(t, memory.New(), func(*serverConfig) {})
	for _, tc := range []struct {
		name string
		e    *env
		xff  string
		want int
	}{
		{"trusted proxy, allowed client", trusted, "203.0.113.7", 200},
		{"trusted proxy, allowed client, forged hop on the left", trusted, "198.51.100.9, 203.0.113.7", 200},
		{"trusted proxy, client elsewhere", trusted, "198.51.100.9", 403},
		{"trusted proxy, allowed address forged on the left", trusted, "203.0.113.7, 198.51.100.9", 403},
		{"untrusted peer, header ignored", untrusted, "203.0.113.7", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.e.newUser(true)
			_, key := tc.e.createKeyREST(u, `{"name":"office","all_properties":true,"allowed_ips":["203.0.113.0/24"]}`)
			r := tc.e.rest("GET", "/api/v1/me", "", "user-api-key", key, "X-Forwarded-For", tc.xff)
			if r.code != tc.want {
				t.Fatalf("X-Forwarded-For %q: %d %s, want %d", tc.xff, r.code, r.raw, tc.want)
			}
		})
	}
}
