package auth

import (
	"net/netip"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/store"
)

func TestCheckKey(t *testing.T) {
	rules, err := loadRules()
	if err != nil {
		t.Fatal(err)
	}
	getProperty := rules["/keygate.v1.PropertyService/GetProperty"]       // a read naming a property
	updateProperty := rules["/keygate.v1.PropertyService/UpdateProperty"] // a write naming a property
	createProperty := rules["/keygate.v1.PropertyService/CreateProperty"] // needs all properties
	whoAmI := rules["/keygate.v1.AuthService/WhoAmI"]                     // a read naming none
	createKey := rules["/keygate.v1.ApiKeyService/CreateApiKey"]          // sessions only

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mine, other := store.NewID(), store.NewID()
	v4, v6 := netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("2001:db8:1::5")
	active := store.User{ID: store.NewID(), SubscriptionActive: true}
	inactive := store.User{ID: active.ID}
	all := store.APIKey{ID: store.NewID(), AllProperties: true}
	scoped := store.APIKey{ID: store.NewID(), PropertyIDs: []string{mine}}
	with := func(k store.APIKey, change func(*store.APIKey)) store.APIKey {
		change(&k)
		return k
	}
	expiring := with(all, func(k *store.APIKey) { k.ExpiresAt = now.Add(time.Second) })
	expired := with(all, func(k *store.APIKey) { k.ExpiresAt = now })
	revoked := with(all, func(k *store.APIKey) { k.RevokedAt = now.Add(-time.Hour) })
	revokedAndExpired := with(expired, func(k *store.APIKey) { k.RevokedAt = now.Add(-time.Hour) })
	readOnly := with(all, func(k *store.APIKey) { k.ReadOnly = true })
	fenced := with(all, func(k *store.APIKey) {
		k.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	})
	everything := with(scoped, func(k *store.APIKey) {
		k.ExpiresAt, k.ReadOnly = now.Add(time.Hour), true
		k.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	})

	for _, tc := range []struct {
		name     string
		key      store.APIKey
		user     store.User
		rule     *rule
		addr     netip.Addr
		property string
		role     store.Role
		code     codes.Code
		msg      string
	}{
		{"plain key, read", all, active, whoAmI, v4, "", "", codes.OK, ""},
		{"plain key, write", all, active, updateProperty, v4, mine, store.RoleOwner, codes.OK, ""},
		{"revoked", revoked, active, whoAmI, v4, "", "", codes.Unauthenticated, "this API key has been revoked"},
		{"revoked beats expired", revokedAndExpired, active, whoAmI, v4, "", "", codes.Unauthenticated, "this API key has been revoked"},
		{"a moment before expiry", expiring, active, whoAmI, v4, "", "", codes.OK, ""},
		{"at the expiry instant", expired, active, whoAmI, v4, "", "", codes.Unauthenticated, "this API key expired at 2026-03-01T12:00:00Z"},
		{"expired beats a wrong address", with(expired, func(k *store.APIKey) { k.AllowedIPs = fenced.AllowedIPs }), active, whoAmI, v4, "", "", codes.Unauthenticated, "this API key expired at 2026-03-01T12:00:00Z"},
		{"expired beats an inactive subscription", expired, inactive, whoAmI, v4, "", "", codes.Unauthenticated, "this API key expired at 2026-03-01T12:00:00Z"},
		{"sessions-only method", all, active, createKey, v4, "", "", codes.PermissionDenied, "API keys cannot call this method: sign in to manage API keys"},
		{"inactive subscription", all, inactive, whoAmI, v4, "", "", codes.PermissionDenied, "the subscription of this key's user is not active"},
		{"read-only key, read", readOnly, active, getProperty, v4, mine, store.RoleUser, codes.OK, ""},
		{"read-only key, write", readOnly, active, updateProperty, v4, mine, store.RoleOwner, codes.PermissionDenied, "this API key is read-only"},
		{"read-only key, create", readOnly, active, createProperty, v4, "", "", codes.PermissionDenied, "this API key is read-only"},
		{"read-only key, sessions-only method", readOnly, active, createKey, v4, "", "", codes.PermissionDenied, "API keys cannot call this method: sign in to manage API keys"},
		{"inside an IPv4 network", fenced, active, whoAmI, netip.MustParseAddr("198.51.100.200"), "", "", codes.OK, ""},
		{"inside an IPv6 network", fenced, active, whoAmI, v6, "", "", codes.OK, ""},
		{"outside every network, IPv4", fenced, active, whoAmI, v4, "", "", codes.PermissionDenied, "this API key is not allowed from this address"},
		{"outside every network, IPv6", fenced, active, whoAmI, netip.MustParseAddr("2001:db9::1"), "", "", codes.PermissionDenied, "this API key is not allowed from this address"},
		{"unknown address, fenced key", fenced, active, whoAmI, netip.Addr{}, "", "", codes.PermissionDenied, "this API key is not allowed from this address"},
		{"unknown address, open key", all, active, whoAmI, netip.Addr{}, "", "", codes.OK, ""},
		{"wrong address beats read-only", with(fenced, func(k *store.APIKey) { k.ReadOnly = true }), active, updateProperty, v4, mine, store.RoleOwner, codes.PermissionDenied, "this API key is not allowed from this address"},
		{"scoped key, its property", scoped, active, updateProperty, v4, mine, store.RoleUser, codes.OK, ""},
		{"scoped key, another accessible property", scoped, active, getProperty, v4, other, store.RoleOwner, codes.PermissionDenied, "this API key is not scoped to this property"},
		{"scoped key, an inaccessible property", scoped, active, getProperty, v4, other, "", codes.NotFound, "property not found"},
		{"scoped key, its property after access is lost", scoped, active, getProperty, v4, mine, "", codes.NotFound, "property not found"},
		{"scoped key, needs all properties", scoped, active, createProperty, v4, "", "", codes.PermissionDenied, "this API key is limited to chosen properties and cannot do this"},
		{"all-properties key, inaccessible property", all, active, getProperty, v4, other, "", codes.NotFound, "property not found"},
		{"every policy at once, allowed", everything, active, getProperty, v4, mine, store.RoleUser, codes.OK, ""},
		{"every policy at once, write", everything, active, updateProperty, v4, mine, store.RoleUser, codes.PermissionDenied, "this API key is read-only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := facts{now: now, addr: tc.addr, rule: tc.rule, propertyID: tc.property, role: tc.role}
			err := checkKey(&tc.key, &tc.user, &f)
			st := status.Convert(err)
			if st.Code() != tc.code || st.Message() != tc.msg {
				t.Fatalf("got %v %q, want %v %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
	if createKey.allow[keygatev1.Credential_CREDENTIAL_API_KEY] || !getProperty.read || updateProperty.read {
		t.Fatal("the rules this test relies on changed")
	}
}
