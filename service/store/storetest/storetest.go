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
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
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
	t.Run("KeyUse", func(t *testing.T) { testKeyUse(t, newStore) })
	t.Run("KeyPolicy", func(t *testing.T) { testKeyPolicy(t, newStore) })
	t.Run("Properties", func(t *testing.T) { testProperties(t, newStore) })
	t.Run("PropertyLists", func(t *testing.T) { testPropertyLists(t, newStore) })
	t.Run("Sharing", func(t *testing.T) { testSharing(t, newStore) })
	t.Run("Invites", func(t *testing.T) { testInvites(t, newStore) })
	t.Run("Groups", func(t *testing.T) { testGroups(t, newStore) })
	t.Run("PropertyUpdates", func(t *testing.T) { testPropertyUpdates(t, newStore) })
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, newStore) })
	t.Run("Context", func(t *testing.T) { testContext(t, newStore) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, newStore) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, newStore) })
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

// newProperty returns an active property record that is not stored yet,
// with only a title and a currency.
func newProperty(title string) store.Property {
	return store.Property{
		ID:        uuid.NewString(),
		Title:     title,
		Currency:  "EUR",
		IsActive:  true,
		CreatedAt: base,
		UpdatedAt: base,
	}
}

// replaceWith is an UpdateProperty change that sets every attribute of p.
func replaceWith(p store.Property) func(*store.Property) error {
	return func(q *store.Property) error {
		*q = p
		return nil
	}
}

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }

// newFullProperty returns a property record that is not stored yet with
// every attribute set: text beyond ASCII and characters that JSON and SQL
// escape, decimals with trailing zeros, and photos out of position order.
func newFullProperty(title string) store.Property {
	p := newProperty(title)
	p.Currency = "GBP"
	p.Email = "Front.Desk+booking@hôtel-exemple.fr"
	p.Phone = "+44 20 7946 0958"
	p.ZipCode = "SW1A 1AA"
	p.Country = "GB"
	p.State = "Greater London"
	p.City = "London"
	p.Address = "1 O'Neil Street, \"The Yard\"\nFlat 2\\B"
	p.Longitude = "-0.1277583000"
	p.Latitude = "51.50735090"
	p.Timezone = "Europe/London"
	p.PropertyType = "hotel"
	p.Settings = store.PropertySettings{
		AllowAvailabilityAutoupdateOnModification: false,
		AllowAvailabilityAutoupdateOnCancellation: true,
		MinStayType:   "arrival",
		MinPrice:      "10.50",
		MaxPrice:      "9999.00",
		StateLength:   500,
		CutOffTime:    "23:59:59",
		CutOffDays:    2,
		MaxDayAdvance: ptr(365),
	}
	p.Content = store.PropertyContent{
		Description:          "Zimmer mit Aussicht — 東京 🏨 <b>&amp;</b> 100% _exact_",
		ImportantInformation: "Check-in after 15:00.\nNo pets; \\u0041 is literal.",
		Photos: []store.Photo{
			{URL: "https://img.example.com/3.jpg", Position: 2, Description: "Lobby", Author: "Zoë", Kind: "photo"},
			{URL: "https://img.example.com/1.jpg", Position: 0, Description: "Façade", Author: "", Kind: "photo"},
			{URL: "https://img.example.com/2.jpg?w=800&h=600", Position: 1, Description: "", Author: "Ana", Kind: "ad"},
		},
	}
	p.LogoURL = "https://img.example.com/logo.svg"
	p.Website = "https://hôtel-exemple.fr/?a=1&b=2"
	p.Facilities = []string{"f2a1c6e4-6d0b-4d8e-9a51-0c6b9c1a7e01", "0b7e3f5c-1a2d-4c3b-8e9f-a1b2c3d4e5f6"}
	return p
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

func (c *checker) int(field string, got, want int) {
	if got != want {
		c.diffs = append(c.diffs, fmt.Sprintf("%s = %d, want %d", field, got, want))
	}
}

// intPtr compares optional numbers: both nil, or both set to the same value.
func (c *checker) intPtr(field string, got, want *int) {
	switch {
	case got == nil && want == nil:
	case got == nil:
		c.diffs = append(c.diffs, fmt.Sprintf("%s = nil, want %d", field, *want))
	case want == nil:
		c.diffs = append(c.diffs, fmt.Sprintf("%s = %d, want nil", field, *got))
	case *got != *want:
		c.diffs = append(c.diffs, fmt.Sprintf("%s = %d, want %d", field, *got, *want))
	}
}

// photos compares photo lists in order, treating nil and empty alike.
func (c *checker) photos(field string, got, want []store.Photo) {
	if len(got) != len(want) || (len(got) > 0 && !slices.Equal(got, want)) {
		c.diffs = append(c.diffs, fmt.Sprintf("%s = %+v, want %+v", field, got, want))
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
	c.time("ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	c.bool("ReadOnly", got.ReadOnly, want.ReadOnly)
	c.strs("AllowedIPs", prefixes(got.AllowedIPs), prefixes(want.AllowedIPs))
	c.str("RolledFrom", got.RolledFrom, want.RolledFrom)
	c.str("RolledTo", got.RolledTo, want.RolledTo)
	if got.AllowedIPs == nil {
		c.diffs = append(c.diffs, "AllowedIPs is nil, want non-nil")
	}
	c.report(t, what)
}

func prefixes(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// checkProperty compares every field of a property, and checks that a
// property read from a store has a non-nil Photos.
func checkProperty(t *testing.T, what string, got, want store.Property) {
	t.Helper()
	var c checker
	c.str("ID", got.ID, want.ID)
	c.str("Title", got.Title, want.Title)
	c.str("Currency", got.Currency, want.Currency)
	c.str("Email", got.Email, want.Email)
	c.str("Phone", got.Phone, want.Phone)
	c.str("ZipCode", got.ZipCode, want.ZipCode)
	c.str("Country", got.Country, want.Country)
	c.str("State", got.State, want.State)
	c.str("City", got.City, want.City)
	c.str("Address", got.Address, want.Address)
	c.str("Longitude", got.Longitude, want.Longitude)
	c.str("Latitude", got.Latitude, want.Latitude)
	c.str("Timezone", got.Timezone, want.Timezone)
	c.str("PropertyType", got.PropertyType, want.PropertyType)

	gs, ws := got.Settings, want.Settings
	c.bool("Settings.AllowAvailabilityAutoupdateOnModification",
		gs.AllowAvailabilityAutoupdateOnModification, ws.AllowAvailabilityAutoupdateOnModification)
	c.bool("Settings.AllowAvailabilityAutoupdateOnCancellation",
		gs.AllowAvailabilityAutoupdateOnCancellation, ws.AllowAvailabilityAutoupdateOnCancellation)
	c.str("Settings.MinStayType", gs.MinStayType, ws.MinStayType)
	c.str("Settings.MinPrice", gs.MinPrice, ws.MinPrice)
	c.str("Settings.MaxPrice", gs.MaxPrice, ws.MaxPrice)
	c.int("Settings.StateLength", gs.StateLength, ws.StateLength)
	c.str("Settings.CutOffTime", gs.CutOffTime, ws.CutOffTime)
	c.int("Settings.CutOffDays", gs.CutOffDays, ws.CutOffDays)
	c.intPtr("Settings.MaxDayAdvance", gs.MaxDayAdvance, ws.MaxDayAdvance)

	gc, wc := got.Content, want.Content
	c.str("Content.Description", gc.Description, wc.Description)
	c.str("Content.ImportantInformation", gc.ImportantInformation, wc.ImportantInformation)
	c.photos("Content.Photos", gc.Photos, wc.Photos)
	if gc.Photos == nil {
		c.diffs = append(c.diffs, "Content.Photos = nil, want a non-nil slice")
	}
	c.str("LogoURL", got.LogoURL, want.LogoURL)
	c.str("Website", got.Website, want.Website)
	if got.Facilities == nil {
		c.diffs = append(c.diffs, "Facilities = nil, want a non-nil slice")
	}
	if !slices.Equal(got.Facilities, want.Facilities) && len(got.Facilities)+len(want.Facilities) > 0 {
		c.diffs = append(c.diffs, fmt.Sprintf("Facilities = %q, want %q", got.Facilities, want.Facilities))
	}

	c.bool("IsActive", got.IsActive, want.IsActive)
	c.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	c.time("UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	c.report(t, what)
}

// checkPropertyUser compares every field of a property user.
func checkPropertyUser(t *testing.T, what string, got, want store.PropertyUser) {
	t.Helper()
	var c checker
	c.str("ID", got.ID, want.ID)
	c.str("PropertyID", got.PropertyID, want.PropertyID)
	c.str("UserID", got.UserID, want.UserID)
	c.str("UserEmail", got.UserEmail, want.UserEmail)
	c.str("UserName", got.UserName, want.UserName)
	c.str("Role", string(got.Role), string(want.Role))
	if !sameJSON(got.Overrides, want.Overrides) {
		c.diffs = append(c.diffs, fmt.Sprintf("Overrides = %s, want %s", got.Overrides, want.Overrides))
	}
	c.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	c.report(t, what)
}

// sameJSON reports whether two JSON texts hold the same value (stores may
// re-format them), or are both absent.
func sameJSON(a, b []byte) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
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
