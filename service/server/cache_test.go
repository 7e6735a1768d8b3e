package server_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/memory"
)

// countingStore counts the calls that reach a store.
type countingStore struct {
	store.Store
	authentications atomic.Int64
	roleLookups     atomic.Int64
	keyUseWrites    atomic.Int64
}

func (c *countingStore) PropertyRole(ctx context.Context, userID, propertyID string) (store.Role, error) {
	c.roleLookups.Add(1)
	return c.Store.PropertyRole(ctx, userID, propertyID)
}

func (c *countingStore) AuthenticateAPIKey(ctx context.Context, digest []byte) (store.APIKey, store.User, error) {
	c.authentications.Add(1)
	return c.Store.AuthenticateAPIKey(ctx, digest)
}

func (c *countingStore) RecordKeyUse(ctx context.Context, uses map[string]store.KeyUse) error {
	c.keyUseWrites.Add(1)
	return c.Store.RecordKeyUse(ctx, uses)
}

// watchedCountingStore keeps a watched store watched while counting.
type watchedCountingStore struct {
	*countingStore
	store.Watcher
}

func counting(st store.Store) (store.Store, *countingStore) {
	c := &countingStore{Store: st}
	if w, ok := st.(store.Watcher); ok {
		return watchedCountingStore{c, w}, c
	}
	return c, c
}

// TestKeyCacheAvoidsStore: once verified, a key is not looked up again,
// nor its user's access to a property, until something about them
// changes; a revocation or lost access is seen at once.
func TestKeyCacheAvoidsStore(t *testing.T) {
	st, count := counting(memory.New())
	e := start(t, st)
	u := e.newUser(true)
	p := e.newProperty(u, "Cached")
	k := e.newKey(u)
	for i := 0; i < 100; i++ {
		if _, err := e.props.GetProperty(withKey(k.GetApiKey()), &keygatev1.GetPropertyRequest{Id: p}); err != nil {
			t.Fatal(err)
		}
	}
	if n, r := count.authentications.Load(), count.roleLookups.Load(); n != 1 || r != 1 {
		t.Fatalf("100 calls with one key made %d key lookups and %d access checks in the store, want 1 and 1", n, r)
	}
	// Lost access: the next call is refused.
	colleague := e.newUser(true)
	r := e.rest("POST", "/api/v1/property_users", `{"invite":{"property_id":"`+p+`","user_email":"`+colleague.email+`","role":"owner"}}`, "Authorization", "Bearer "+u.token)
	if r.code != 201 {
		t.Fatalf("invite: %d %s", r.code, r.raw)
	}
	r = e.rest("GET", "/api/v1/property_users?filter[property_id]="+p, "", "Authorization", "Bearer "+colleague.token)
	if r.code != 200 || str(r.body, "data", 0, "attributes", "user_id") != u.id {
		t.Fatalf("list access: %d %s", r.code, r.raw)
	}
	if r := e.rest("DELETE", "/api/v1/property_users/"+str(r.body, "data", 0, "id"), "", "Authorization", "Bearer "+colleague.token); r.code != 200 {
		t.Fatalf("removing access: %d %s", r.code, r.raw)
	}
	// u still reaches p through their default group, which holds it: the
	// colleague moves p to their own default group.
	asColleague := []string{"Authorization", "Bearer " + colleague.token}
	uGroup := str(e.rest("GET", "/api/v1/properties/"+p, "", asColleague...).body, "data", "relationships", "groups", "data", 0, "id")
	colleagueGroup := str(e.rest("GET", "/api/v1/groups", "", asColleague...).body, "data", 0, "id")
	if r := e.rest("POST", "/api/v1/groups/"+colleagueGroup+"/properties/"+p, "", asColleague...); r.code != 200 {
		t.Fatalf("link: %d %s", r.code, r.raw)
	}
	if _, err := e.props.GetProperty(withKey(k.GetApiKey()), &keygatev1.GetPropertyRequest{Id: p}); err != nil {
		t.Fatalf("u's key while p is in u's default group: %v", err)
	}
	if r := e.rest("DELETE", "/api/v1/groups/"+uGroup+"/properties/"+p, "", asColleague...); r.code != 200 {
		t.Fatalf("unlink from u's group by an owner of the property: %d %s", r.code, r.raw)
	}
	_, err := e.props.GetProperty(withKey(k.GetApiKey()), &keygatev1.GetPropertyRequest{Id: p})
	wantCode(t, err, codes.NotFound)

	if _, err := e.keys.RevokeApiKey(withSession(u.token), &keygatev1.RevokeApiKeyRequest{Id: k.GetId()}); err != nil {
		t.Fatal(err)
	}
	_, err = e.props.GetProperty(withKey(k.GetApiKey()), &keygatev1.GetPropertyRequest{Id: p})
	wantCode(t, err, codes.Unauthenticated)
}

// TestLastUsedFlushedOnShutdown: the uses since the last write are written
// when the server stops.
func TestLastUsedFlushedOnShutdown(t *testing.T) {
	st := memory.New()
	e := startWith(t, st, func(c *serverConfig) { c.UsageFlushInterval = time.Hour })
	u := e.newUser(true)
	k := e.newKey(u)
	if _, err := e.auth.WhoAmI(withKey(k.GetApiKey()), &keygatev1.WhoAmIRequest{}); err != nil {
		t.Fatal(err)
	}
	e.stop()
	got, err := st.GetAPIKey(context.Background(), u.id, k.GetId())
	if err != nil || got.LastUsedAt.IsZero() || got.LastUsedIP.String() != "127.0.0.1" {
		t.Fatalf("last use after shutdown: %v from %v, %v", got.LastUsedAt, got.LastUsedIP, err)
	}
}

// TestLastUsed: last_used_at advances with use, written in batches.
func TestLastUsed(t *testing.T) {
	st, count := counting(memory.New())
	e := startWith(t, st, func(c *serverConfig) { c.UsageFlushInterval = 100 * time.Millisecond })
	u := e.newUser(true)
	k := e.newKey(u)
	if k.GetLastUsedAt() != nil {
		t.Fatal("a new key has been used")
	}
	before := time.Now().Add(-time.Second)
	begin := time.Now()
	for i := 0; i < 1000; i++ {
		if _, err := e.auth.WhoAmI(withKey(k.GetApiKey()), &keygatev1.WhoAmIRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(begin)
	var got *keygatev1.ApiKey
	deadline := time.Now().Add(2 * time.Second)
	for got.GetLastUsedAt() == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		resp, err := e.keys.GetApiKey(withSession(u.token), &keygatev1.GetApiKeyRequest{Id: k.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		got = resp.GetApiKey()
	}
	if got.GetLastUsedAt() == nil || got.GetLastUsedAt().AsTime().Before(before) {
		t.Fatalf("last_used_at after use: %v", got.GetLastUsedAt())
	}
	// The address is written with the time, in the same batches.
	if ip := got.GetLastUsedIp().GetValue(); ip != "127.0.0.1" {
		t.Fatalf("last_used_ip after use: %q", ip)
	}
	// One write per flush interval at most, however many requests.
	if n, bound := count.keyUseWrites.Load(), int64(elapsed/(100*time.Millisecond))+3; n > bound {
		t.Fatalf("1000 uses in %v made %d writes, bound %d", elapsed, n, bound)
	}
	t.Logf("1000 uses in %v: %d writes", elapsed, count.keyUseWrites.Load())
}

// TestCacheInvalidationPostgres: every change that narrows or ends a key's
// power, made through one server, is enforced by another server that has
// the key cached, also after its listener connection was killed.
func TestCacheInvalidationPostgres(t *testing.T) {
	url := migratedDatabase(t)
	bStore, bCount := counting(openStore(t, url))
	a, b := start(t, openStore(t, url)), start(t, bStore)
	owner, colleague := a.newUser(true), a.newUser(true)
	p1, p2 := a.newProperty(owner, "One"), a.newProperty(owner, "Two")
	r := a.rest("POST", "/api/v1/property_users", `{"invite":{"property_id":"`+p1+`","user_email":"`+colleague.email+`","role":"user"}}`, "Authorization", "Bearer "+owner.token)
	if r.code != 201 {
		t.Fatalf("invite: %d %s", r.code, r.raw)
	}
	access := str(r.body, "data", "id")
	revoked, scoped, colleagueKey, inactive, removed := a.newKey(owner), a.newKey(owner, p1, p2), a.newKey(colleague, p1), a.newKey(owner), a.newUser(true)
	removedKey := a.newKey(removed)

	onB := func(key, id string) int {
		path := "/api/v1/properties"
		if id != "" {
			path += "/" + id
		}
		return b.rest("GET", path, "", "user-api-key", key).code
	}
	// Warm B's cache, and check it is warm: no more lookups.
	for _, c := range []struct{ key, id string }{{revoked.GetApiKey(), p1}, {scoped.GetApiKey(), p2}, {colleagueKey.GetApiKey(), p1}, {inactive.GetApiKey(), p1}, {removedKey.GetApiKey(), ""}} {
		if code := onB(c.key, c.id); code != 200 {
			t.Fatalf("warming: %d", code)
		}
	}
	waitFor(t, "B's cache to be trusted", func() bool {
		n := bCount.authentications.Load()
		onB(revoked.GetApiKey(), p1)
		return bCount.authentications.Load() == n
	})

	within := func(what string, cond func() bool) {
		t.Helper()
		waitFor(t, what, cond)
	}
	if _, err := a.keys.RevokeApiKey(withSession(owner.token), &keygatev1.RevokeApiKeyRequest{Id: revoked.GetId()}); err != nil {
		t.Fatal(err)
	}
	within("revocation", func() bool { return onB(revoked.GetApiKey(), p1) == 401 })
	if _, err := a.props.DeleteProperty(withSession(owner.token), &keygatev1.DeletePropertyRequest{Id: p2}); err != nil {
		t.Fatal(err)
	}
	within("property deletion", func() bool { return onB(scoped.GetApiKey(), p2) == 404 })
	if r := a.rest("DELETE", "/api/v1/property_users/"+access, "", "Authorization", "Bearer "+owner.token); r.code != 200 {
		t.Fatalf("removing access: %d %s", r.code, r.raw)
	}
	within("lost access", func() bool { return onB(colleagueKey.GetApiKey(), p1) == 404 })
	if _, err := a.admin.SetSubscription(withAdmin(), &keygatev1.SetSubscriptionRequest{UserId: owner.id, SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_INACTIVE}); err != nil {
		t.Fatal(err)
	}
	within("subscription change", func() bool { return onB(inactive.GetApiKey(), p1) == 403 })
	sqlExec(t, url, "DELETE FROM users WHERE id = $1", removed.id)
	within("user removal", func() bool { return onB(removedKey.GetApiKey(), "") == 401 })

	// Kill every listener, then revoke: still enforced within the bound.
	if _, err := a.admin.SetSubscription(withAdmin(), &keygatev1.SetSubscriptionRequest{UserId: owner.id, SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE}); err != nil {
		t.Fatal(err)
	}
	late := a.newKey(owner)
	within("warming after reactivation", func() bool { return onB(late.GetApiKey(), p1) == 200 && onB(inactive.GetApiKey(), p1) == 200 })
	sqlExec(t, url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'keygate-listener' AND datname = current_database()")
	if _, err := a.keys.RevokeApiKey(withSession(owner.token), &keygatev1.RevokeApiKeyRequest{Id: late.GetId()}); err != nil {
		t.Fatal(err)
	}
	within("revocation after the listener was killed", func() bool { return onB(late.GetApiKey(), p1) == 401 })
}

// waitFor polls cond for up to a second.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 1s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sqlExec(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
