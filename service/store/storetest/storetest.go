// Package storetest is the conformance suite of store.Store. Every store
// implementation runs it unchanged from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newTestStore(t) })
//	}
//
// The suite only uses the Store interface, so whatever it asserts is the
// behaviour callers may rely on.
package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/service/store"
)

// Run runs the conformance suite. newStore returns a fresh, empty store for
// one subtest; it registers its own cleanup with t.Cleanup.
//
// Each subtest asks for its own store, so subtests never see each other's
// records. The Close subtest closes its store before the cleanup registered
// by newStore runs; that cleanup must tolerate a store already closed.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	t.Run("Users", func(t *testing.T) { testUsers(t, newStore) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, newStore) })
	t.Run("APIKeys", func(t *testing.T) { testAPIKeys(t, newStore) })
	t.Run("Properties", func(t *testing.T) { testProperties(t, newStore) })
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, newStore) })
	t.Run("Context", func(t *testing.T) { testContext(t, newStore) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, newStore) })
}

// factory is the type of Run's newStore.
type factory = func(t *testing.T) store.Store

// base is the reference time of the suite: in UTC and already truncated to
// store.Precision, so every store must give it back exactly.
var base = time.Date(2025, time.March, 14, 9, 26, 53, 589793000, time.UTC)

// at returns base moved by d.
func at(d time.Duration) time.Time { return base.Add(d) }

// newDigest returns a fresh 32-byte digest, as a store receives it for an
// API key secret or a session token.
func newDigest() []byte {
	sum := sha256.Sum256([]byte(uuid.NewString()))
	return sum[:]
}

// newEmail returns an email address no other user of the suite has.
func newEmail() string { return "user-" + uuid.NewString() + "@example.com" }

// testLifecycle covers Ping and Close.
func testLifecycle(t *testing.T, newStore factory) {
	t.Run("PingFreshStore", func(t *testing.T) {
		s := newStore(t)
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping on a fresh store: %v", err)
		}
	})

	t.Run("PingAfterWrites", func(t *testing.T) {
		s := newStore(t)
		u := mustCreateUser(t, s)
		mustCreateProperty(t, s, u.ID, "Harbour")
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping after writes: %v", err)
		}
	})

	t.Run("Close", func(t *testing.T) {
		s := newStore(t)
		mustCreateUser(t, s)
		s.Close() // must return without panicking
	})
}

// --- creating records ---

// mustCreateUser creates a user with a fresh id and email.
func mustCreateUser(t *testing.T, s store.Store) store.User {
	t.Helper()
	return mustCreateUserWith(t, s, newEmail())
}

// mustCreateUserWith creates a user with a fresh id and the given email.
func mustCreateUserWith(t *testing.T, s store.Store, email string) store.User {
	t.Helper()
	u := newUser(email)
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", email, err)
	}
	return u
}

// newUser returns a user record that is not stored yet.
func newUser(email string) store.User {
	return store.User{
		ID:           uuid.NewString(),
		Email:        email,
		Name:         "Test User",
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		CreatedAt:    base,
	}
}

// mustCreateSession creates a session of userID valid for a day from base.
func mustCreateSession(t *testing.T, s store.Store, userID string) store.Session {
	t.Helper()
	sess := store.Session{
		Digest:    newDigest(),
		UserID:    userID,
		CreatedAt: base,
		ExpiresAt: at(24 * time.Hour),
	}
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return sess
}

// mustCreateProperty creates a property owned by ownerID.
func mustCreateProperty(t *testing.T, s store.Store, ownerID, title string) store.Property {
	t.Helper()
	p := newProperty(title)
	if err := s.CreateProperty(t.Context(), p, ownerID); err != nil {
		t.Fatalf("CreateProperty(%q): %v", title, err)
	}
	return p
}

// newProperty returns a property record that is not stored yet.
func newProperty(title string) store.Property {
	return store.Property{
		ID:        uuid.NewString(),
		Title:     title,
		Currency:  "EUR",
		CreatedAt: base,
		UpdatedAt: base,
	}
}

// newKey returns an API key record of userID that is not stored yet. With
// no propertyIDs it covers all properties; otherwise it is scoped to them.
func newKey(userID string, propertyIDs ...string) store.APIKey {
	return store.APIKey{
		ID:            uuid.NewString(),
		UserID:        userID,
		Name:          "key " + uuid.NewString()[:8],
		Digest:        newDigest(),
		AllProperties: len(propertyIDs) == 0,
		PropertyIDs:   propertyIDs,
		CreatedAt:     base,
	}
}

// mustCreateKey stores k and returns it as the store is expected to give it
// back: with the scope sorted.
func mustCreateKey(t *testing.T, s store.Store, k store.APIKey) store.APIKey {
	t.Helper()
	if err := s.CreateAPIKey(t.Context(), k); err != nil {
		t.Fatalf("CreateAPIKey(%q): %v", k.Name, err)
	}
	k.PropertyIDs = slices.Sorted(slices.Values(k.PropertyIDs))
	return k
}

// --- assertions ---

// mustOK stops the test if err is not nil.
func mustOK(t *testing.T, err error, op string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", op, err)
	}
}

// wantErr reports an error unless errors.Is(err, want); it returns whether
// err matched.
func wantErr(t *testing.T, err, want error, op string) bool {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want %v", op, want)
		return false
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: error = %v, want one matching %v", op, err, want)
		return false
	}
	return true
}

// checker collects the differing fields of one record into a single
// failure message.
type checker struct {
	diffs []string
}

func (c *checker) str(field, got, want string) {
	if got != want {
		c.diffs = append(c.diffs, fmt.Sprintf("%s = %q, want %q", field, got, want))
	}
}

func (c *checker) bool(field string, got, want bool) {
	if got != want {
		c.diffs = append(c.diffs, fmt.Sprintf("%s = %t, want %t", field, got, want))
	}
}

func (c *checker) time(field string, got, want time.Time) {
	if !got.Equal(want) {
		c.diffs = append(c.diffs, fmt.Sprintf("%s = %v, want %v", field, got, want))
	}
}

func (c *checker) bytes(field string, got, want []byte) {
	if !bytes.Equal(got, want) {
		c.diffs = append(c.diffs, fmt.Sprintf("%s = %x, want %x", field, got, want))
	}
}

// strs compares string lists, treating nil and empty alike.
func (c *checker) strs(field string, got, want []string) {
	if len(got) != len(want) || (len(got) > 0 && !slices.Equal(got, want)) {
		c.diffs = append(c.diffs, fmt.Sprintf("%s = %q, want %q", field, got, want))
	}
}

func (c *checker) report(t *testing.T, what string) {
	t.Helper()
	for _, d := range c.diffs {
		t.Errorf("%s: %s", what, d)
	}
}

// checkUser compares every field of a user.
func checkUser(t *testing.T, what string, got, want store.User) {
	t.Helper()
	var c checker
	c.str("ID", got.ID, want.ID)
	c.str("Email", got.Email, want.Email)
	c.str("Name", got.Name, want.Name)
	c.str("PasswordHash", got.PasswordHash, want.PasswordHash)
	c.bool("SubscriptionActive", got.SubscriptionActive, want.SubscriptionActive)
	c.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	c.report(t, what)
}

// checkSession compares every field of a session.
func checkSession(t *testing.T, what string, got, want store.Session) {
	t.Helper()
	var c checker
	c.bytes("Digest", got.Digest, want.Digest)
	c.str("UserID", got.UserID, want.UserID)
	c.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	c.time("ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	c.report(t, what)
}

// checkKey compares the fields of an API key. LastUsedAt is left out: the
// interface leaves open whether authenticating records a use.
func checkKey(t *testing.T, what string, got, want store.APIKey) {
	t.Helper()
	var c checker
	c.str("ID", got.ID, want.ID)
	c.str("UserID", got.UserID, want.UserID)
	c.str("Name", got.Name, want.Name)
	c.bytes("Digest", got.Digest, want.Digest)
	c.bool("AllProperties", got.AllProperties, want.AllProperties)
	c.strs("PropertyIDs", got.PropertyIDs, want.PropertyIDs)
	c.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	c.time("RevokedAt", got.RevokedAt, want.RevokedAt)
	c.report(t, what)
}

// checkProperty compares every field of a property.
func checkProperty(t *testing.T, what string, got, want store.Property) {
	t.Helper()
	var c checker
	c.str("ID", got.ID, want.ID)
	c.str("Title", got.Title, want.Title)
	c.str("Currency", got.Currency, want.Currency)
	c.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	c.time("UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	c.report(t, what)
}

// keyIDs returns the ids of keys, in order.
func keyIDs(keys []store.APIKey) []string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return ids
}

// propertyIDs returns the ids of properties, in order.
func propertyIDs(props []store.Property) []string {
	ids := make([]string, len(props))
	for i, p := range props {
		ids[i] = p.ID
	}
	return ids
}

// checkIDs compares two id lists in order, treating nil and empty alike.
func checkIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) || (len(got) > 0 && !slices.Equal(got, want)) {
		t.Errorf("%s: ids = %q, want %q", what, got, want)
	}
}

// checkTotal compares a total count.
func checkTotal(t *testing.T, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s: total = %d, want %d", what, got, want)
	}
}
