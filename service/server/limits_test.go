package server_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/dbtest"
	"github.com/keygate/keygate/service/store/memory"
)

// TestFailureFlood: 10,000 random well-formed keys from one source cause a
// bounded number of store lookups, and 429s once the budget is spent, on
// either store. Claiming to be the REST gateway, or another client, does
// not help.
func TestFailureFlood(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testFailureFlood(t, memory.New()) })
	t.Run("postgres", func(t *testing.T) { testFailureFlood(t, dbtest.NewStore(t)) })
}

func testFailureFlood(t *testing.T, inner store.Store) {
	st, count := counting(inner)
	// A budget that does not refill within the test, so that its bounds do
	// not depend on the machine's speed.
	e := startWith(t, st, func(c *serverConfig) { c.FailuresPerSecond, c.FailureBurst = 0.001, 50 })
	var exhausted, unauthenticated atomic.Int64
	var wg sync.WaitGroup
	keys := make(chan string)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range keys {
				ctx := metadata.AppendToOutgoingContext(withKey(key),
					auth.GatewayTokenHeader, "guess", auth.GatewayClientHeader, key[3:10], "x-forwarded-for", key[3:10])
				_, err := e.props.ListProperties(ctx, &keygatev1.ListPropertiesRequest{})
				switch status.Code(err) {
				case codes.ResourceExhausted:
					exhausted.Add(1)
				case codes.Unauthenticated:
					unauthenticated.Add(1)
				default:
					t.Errorf("unexpected %v", err)
				}
			}
		}()
	}
	for i := 0; i < 10_000; i++ {
		keys <- auth.NewSecret(auth.APIKeyPrefix)
	}
	close(keys)
	wg.Wait()
	// Each lookup takes from the budget before it runs, so not one more
	// than the burst reaches the store, however many run at once.
	if n := count.authentications.Load(); n != 50 {
		t.Fatalf("%d store lookups for 10,000 fake keys, want the burst of 50", n)
	}
	if exhausted.Load() == 0 {
		t.Fatal("no RESOURCE_EXHAUSTED")
	}
	// Over REST the same address is refused with 429, whatever headers
	// the client adds.
	wantError(t, e.rest("GET", "/api/v1/properties", "", "user-api-key", auth.NewSecret(auth.APIKeyPrefix)), 429, "http_too_many_requests")
	wantError(t, e.rest("GET", "/api/v1/properties", "", "user-api-key", auth.NewSecret(auth.APIKeyPrefix),
		"Grpc-Metadata-X-Keygate-Client-Ip", "192.0.2.77", "X-Forwarded-For", "192.0.2.78"), 429, "http_too_many_requests")
	wantError(t, e.rest("GET", "/api/v1/properties", "", "Authorization", "Bearer "+auth.NewSecret(auth.SessionPrefix)), 429, "http_too_many_requests")
}

// TestLockout is the reproduction of a lockout: one address floods keygate
// with made-up keys and session tokens, over gRPC and REST, until its
// budget is spent. Throughout, a valid key and a valid session from the
// same address keep working (each use of them reaching the store: the
// key cache is kept short), signing in keeps working, and a key or session
// issued during the flood works at once.
func TestLockout(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testLockout(t, memory.New()) })
	t.Run("postgres", func(t *testing.T) { testLockout(t, dbtest.NewStore(t)) })
}

func testLockout(t *testing.T, st store.Store) {
	e := startWith(t, st, func(c *serverConfig) {
		c.FailuresPerSecond, c.FailureBurst = 0.001, 50
		c.Cache.TTL = time.Millisecond
	})
	u := e.newUser(true)
	p := e.newProperty(u, "Harbour View")
	key := e.newKey(u).GetApiKey()

	var valid, flooded atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// The flood: made-up keys and tokens, over both faces.
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				flooded.Add(1)
				switch n % 4 {
				case 0:
					_, err := e.props.ListProperties(withKey(auth.NewSecret(auth.APIKeyPrefix)), &keygatev1.ListPropertiesRequest{})
					if c := status.Code(err); c != codes.Unauthenticated && c != codes.ResourceExhausted {
						t.Errorf("fake key: %v", err)
					}
				case 1:
					_, err := e.props.ListProperties(withSession(auth.NewSecret(auth.SessionPrefix)), &keygatev1.ListPropertiesRequest{})
					if c := status.Code(err); c != codes.Unauthenticated && c != codes.ResourceExhausted {
						t.Errorf("fake session: %v", err)
					}
				case 2:
					r := e.rest("GET", "/api/v1/properties", "", "user-api-key", auth.NewSecret(auth.APIKeyPrefix))
					if r.code != 401 && r.code != 429 {
						t.Errorf("fake key over REST: %d %s", r.code, r.raw)
					}
				case 3:
					r := e.rest("GET", "/api/v1/me", "", "Authorization", "Bearer "+auth.NewSecret(auth.SessionPrefix))
					if r.code != 401 && r.code != 429 {
						t.Errorf("fake session over REST: %d %s", r.code, r.raw)
					}
				}
			}
		}()
	}
	// The victims, from the same address, until the budget is spent and
	// for as long again.
	use := func() {
		t.Helper()
		if _, err := e.props.GetProperty(withKey(key), &keygatev1.GetPropertyRequest{Id: p}); err != nil {
			t.Fatalf("valid key over gRPC during the flood: %v", err)
		}
		if _, err := e.auth.WhoAmI(withSession(u.token), &keygatev1.WhoAmIRequest{}); err != nil {
			t.Fatalf("valid session over gRPC during the flood: %v", err)
		}
		if r := e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", key); r.code != 200 {
			t.Fatalf("valid key over REST during the flood: %d %s", r.code, r.raw)
		}
		if r := e.rest("GET", "/api/v1/api_keys", "", "Authorization", "Bearer "+u.token); r.code != 200 {
			t.Fatalf("valid session over REST during the flood: %d %s", r.code, r.raw)
		}
		valid.Add(4)
	}
	spent := func() bool {
		_, err := e.auth.WhoAmI(withKey(auth.NewSecret(auth.APIKeyPrefix)), &keygatev1.WhoAmIRequest{})
		return status.Code(err) == codes.ResourceExhausted
	}
	for !spent() {
		use()
	}
	for i := 0; i < 20; i++ {
		use()
	}
	// Signing in, and what it issues, work during the flood too.
	r := e.rest("POST", "/api/v1/sign_in", fmt.Sprintf(`{"user":{"email":%q,"password":%q}}`, u.email, u.password))
	if r.code != 200 {
		t.Fatalf("sign-in during the flood: %d %s", r.code, r.raw)
	}
	fresh := str(r.body, "data", "attributes", "token")
	r = e.rest("POST", "/api/v1/api_keys", `{"api_key":{"name":"new","all_properties":true}}`, "Authorization", "Bearer "+fresh)
	if r.code != 201 {
		t.Fatalf("key creation during the flood: %d %s", r.code, r.raw)
	}
	if r := e.rest("GET", "/api/v1/properties", "", "user-api-key", str(r.body, "data", "attributes", "api_key")); r.code != 200 {
		t.Fatalf("a key created during the flood: %d %s", r.code, r.raw)
	}
	close(stop)
	wg.Wait()
	if !spent() {
		t.Fatal("the flood did not spend the budget")
	}
	t.Logf("%d valid calls succeeded during %d flood calls", valid.Load(), flooded.Load())
}

// TestSignInGuessing: 180 wrong passwords for one account from 3
// addresses (through a trusted proxy) are stopped after the account's
// burst, and then the right password waits too; other accounts are not
// affected. Per address (a burst of 5 here), failed sign-ins are limited
// across accounts, and an address that signed in to an account before is
// exempt.
func TestSignInGuessing(t *testing.T) {
	e := startWith(t, memory.New(), func(c *serverConfig) {
		c.FailuresPerSecond, c.FailureBurst = 0.001, 5
		c.AccountFailures.PerSecond, c.AccountFailures.Burst = 0.001, 10
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	victim, other := e.newUser(true), e.newUser(true)
	signIn := func(u user, password, from string) int {
		r := e.rest("POST", "/api/v1/sign_in", fmt.Sprintf(`{"user":{"email":%q,"password":%q}}`, u.email, password), "X-Forwarded-For", from)
		return r.code
	}
	codes := map[int]int{}
	for i := 0; i < 180; i++ {
		codes[signIn(victim, fmt.Sprintf("guess %d", i), fmt.Sprintf("203.0.113.%d", i%3))]++
	}
	if codes[401] != 10 || codes[429] != 170 {
		t.Fatalf("180 guesses from 3 addresses: %v, want 10 checked (401) and 170 refused (429)", codes)
	}
	if c := signIn(victim, victim.password, "198.51.100.1"); c != 429 {
		t.Fatalf("right password while the account is over its budget: %d, want 429", c)
	}
	if c := signIn(other, other.password, "203.0.113.1"); c != 200 {
		t.Fatalf("another account from a guessing address: %d", c)
	}
	// Across accounts (and unknown emails), per address.
	known := e.newUser(true)
	if c := signIn(known, known.password, "203.0.113.50"); c != 200 {
		t.Fatal(c)
	}
	for i := 0; i < 5; i++ {
		if c := signIn(user{email: fmt.Sprintf("nobody%d@example.com", i)}, "guess", "203.0.113.50"); c != 401 {
			t.Fatalf("guess %d: %d", i, c)
		}
	}
	if c := signIn(user{email: "nobody-else@example.com"}, "guess", "203.0.113.50"); c != 429 {
		t.Fatalf("6th failure from one address: %d, want 429", c)
	}
	if c := signIn(other, other.password, "203.0.113.50"); c != 429 {
		t.Fatalf("a first sign-in from an address over its budget: %d, want 429", c)
	}
	if c := signIn(known, known.password, "203.0.113.50"); c != 200 {
		t.Fatalf("an account that signed in from this address before: %d, want 200", c)
	}
	if c := signIn(other, other.password, "203.0.113.51"); c != 200 {
		t.Fatalf("another address: %d", c)
	}
}

// TestAdminGuessing: wrong admin tokens from one address are compared at
// most a burst's worth of times; then every attempt from that address,
// the right token too, is refused until the budget refills. Other
// addresses are not affected.
func TestAdminGuessing(t *testing.T) {
	e := startWith(t, memory.New(), func(c *serverConfig) {
		c.FailuresPerSecond, c.FailureBurst = 0.001, 50
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	from := func(addr string, token string) context.Context {
		return metadata.AppendToOutgoingContext(withSession(token), "x-forwarded-for", addr)
	}
	create := func(ctx context.Context) error {
		_, err := e.admin.SetSubscription(ctx, &keygatev1.SetSubscriptionRequest{UserId: store.NewID(), SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE})
		return err
	}
	got := map[codes.Code]int{}
	for i := 0; i < 1000; i++ {
		got[status.Code(create(from("203.0.113.9", fmt.Sprintf("guess-%032d", i))))]++
	}
	if got[codes.Unauthenticated] != 50 || got[codes.ResourceExhausted] != 950 {
		t.Fatalf("1,000 guesses: %v, want 50 compared and 950 refused", got)
	}
	wantCode(t, create(from("203.0.113.9", adminToken)), codes.ResourceExhausted)
	wantCode(t, create(from("203.0.113.10", adminToken)), codes.NotFound) // checked, and the user does not exist
}
