package storetest

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/service/store"
)

// newPolicyKey is a key with every policy attribute set.
func newPolicyKey(userID string, propertyIDs ...string) store.APIKey {
	k := newKey(userID, propertyIDs...)
	k.ExpiresAt = at(48 * time.Hour)
	k.ReadOnly = true
	k.AllowedIPs = []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("198.51.100.7/32"),
	}
	return k
}

// testKeyPolicy covers the policy attributes of keys, UpdateAPIKey,
// RollAPIKey and the address RecordKeyUse keeps.
func testKeyPolicy(t *testing.T, newStore factory) {
	t.Run("RoundTrip", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, u.ID, "Policy")
		want := mustCreateKey(t, s, newPolicyKey(u.ID, p.ID))
		got, err := s.GetAPIKey(ctx, u.ID, want.ID)
		mustOK(t, err, "GetAPIKey")
		checkKey(t, "GetAPIKey", got, want)
		got, _, err = s.AuthenticateAPIKey(ctx, want.Digest)
		mustOK(t, err, "AuthenticateAPIKey")
		checkKey(t, "AuthenticateAPIKey", got, want)
		keys, _, err := s.ListAPIKeys(ctx, u.ID, 0, 0)
		mustOK(t, err, "ListAPIKeys")
		if len(keys) != 1 {
			t.Fatalf("ListAPIKeys: %d keys", len(keys))
		}
		checkKey(t, "ListAPIKeys", keys[0], want)

		// A plain key has no policy, and non-nil empty networks.
		plain := mustCreateKey(t, s, newKey(u.ID))
		got, err = s.GetAPIKey(ctx, u.ID, plain.ID)
		mustOK(t, err, "GetAPIKey of a plain key")
		checkKey(t, "plain key", got, plain)
	})

	t.Run("Update", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		p1 := mustCreateProperty(t, s, u.ID, "One")
		p2 := mustCreateProperty(t, s, u.ID, "Two")
		k := mustCreateKey(t, s, newKey(u.ID))

		want := k
		want.Name, want.AllProperties, want.PropertyIDs = "renamed", false, sortedIDs(p1.ID, p2.ID)
		want.ReadOnly, want.ExpiresAt = true, at(time.Hour)
		want.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		got, err := s.UpdateAPIKey(ctx, want, at(0))
		mustOK(t, err, "UpdateAPIKey")
		checkKey(t, "UpdateAPIKey", got, want)
		got, _, err = s.AuthenticateAPIKey(ctx, k.Digest)
		mustOK(t, err, "AuthenticateAPIKey after UpdateAPIKey")
		checkKey(t, "AuthenticateAPIKey after UpdateAPIKey", got, want)

		// Back to all properties, read-write, anywhere, never expiring.
		back := k
		got, err = s.UpdateAPIKey(ctx, back, at(0))
		mustOK(t, err, "UpdateAPIKey back")
		checkKey(t, "UpdateAPIKey back", got, back)

		// A missing property changes nothing.
		bad := want
		bad.PropertyIDs = []string{p1.ID, uuid.NewString()}
		_, err = s.UpdateAPIKey(ctx, bad, at(0))
		wantErr(t, err, store.ErrNotFound, "UpdateAPIKey with a missing property")
		got, err = s.GetAPIKey(ctx, u.ID, k.ID)
		mustOK(t, err, "GetAPIKey")
		checkKey(t, "key after a failed update", got, back)

		// Another user's key, a missing key, a malformed id.
		other := mustCreateUser(t, s)
		theirs := back
		theirs.UserID = other.ID
		_, err = s.UpdateAPIKey(ctx, theirs, at(0))
		wantErr(t, err, store.ErrNotFound, "UpdateAPIKey of another user's key")
		missing := back
		missing.ID = uuid.NewString()
		_, err = s.UpdateAPIKey(ctx, missing, at(0))
		wantErr(t, err, store.ErrNotFound, "UpdateAPIKey of a missing key")
		missing.ID = "not-a-uuid"
		_, err = s.UpdateAPIKey(ctx, missing, at(0))
		wantErr(t, err, store.ErrNotFound, "UpdateAPIKey of a malformed id")

		// Expired at now, or withdrawn: unchangeable.
		expiring := newKey(u.ID)
		expiring.ExpiresAt = at(time.Minute)
		expiring = mustCreateKey(t, s, expiring)
		_, err = s.UpdateAPIKey(ctx, expiring, at(time.Minute))
		wantErr(t, err, store.ErrKeyInactive, "UpdateAPIKey of an expired key")
		_, err = s.UpdateAPIKey(ctx, expiring, at(time.Minute-time.Microsecond))
		mustOK(t, err, "UpdateAPIKey just before expiry")
		_, err = s.RevokeAPIKey(ctx, u.ID, k.ID, at(time.Hour))
		mustOK(t, err, "RevokeAPIKey")
		_, err = s.UpdateAPIKey(ctx, back, at(0))
		wantErr(t, err, store.ErrKeyInactive, "UpdateAPIKey of a withdrawn key")
	})

	t.Run("Roll", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, u.ID, "Rolled")
		old := mustCreateKey(t, s, newPolicyKey(u.ID, p.ID))
		mustOK(t, s.RecordKeyUse(ctx, map[string]store.KeyUse{old.ID: {At: at(time.Minute), IP: netip.MustParseAddr("192.0.2.1")}}), "RecordKeyUse")

		next := store.APIKey{ID: uuid.NewString(), Digest: newDigest(), CreatedAt: at(time.Hour)}
		got, err := s.RollAPIKey(ctx, u.ID, old.ID, next, at(2*time.Hour), at(time.Hour))
		mustOK(t, err, "RollAPIKey")
		want := old
		want.ID, want.Digest, want.CreatedAt, want.RolledFrom = next.ID, next.Digest, next.CreatedAt, old.ID
		checkKey(t, "RollAPIKey", got, want)
		if got.LastUsedIP.IsValid() || !got.LastUsedAt.IsZero() {
			t.Errorf("new key has a use: %v %v", got.LastUsedAt, got.LastUsedIP)
		}
		got, _, err = s.AuthenticateAPIKey(ctx, next.Digest)
		mustOK(t, err, "AuthenticateAPIKey of the new key")
		checkKey(t, "AuthenticateAPIKey of the new key", got, want)

		// The old key now ends at the grace, earlier than its own expiry.
		wantOld := old
		wantOld.RolledTo, wantOld.ExpiresAt = next.ID, at(2*time.Hour)
		gotOld, err := s.GetAPIKey(ctx, u.ID, old.ID)
		mustOK(t, err, "GetAPIKey of the old key")
		checkKey(t, "old key after RollAPIKey", gotOld, wantOld)

		// Rolled once: not again.
		_, err = s.RollAPIKey(ctx, u.ID, old.ID, store.APIKey{ID: uuid.NewString(), Digest: newDigest(), CreatedAt: at(time.Hour)}, at(2*time.Hour), at(time.Hour))
		wantErr(t, err, store.ErrKeyInactive, "RollAPIKey of a rolled key")

		// A grace beyond the key's own expiry keeps its expiry.
		short := newKey(u.ID)
		short.ExpiresAt = at(3 * time.Hour)
		short = mustCreateKey(t, s, short)
		_, err = s.RollAPIKey(ctx, u.ID, short.ID, store.APIKey{ID: uuid.NewString(), Digest: newDigest(), CreatedAt: at(time.Hour)}, at(5*time.Hour), at(time.Hour))
		mustOK(t, err, "RollAPIKey with a long grace")
		gotShort, err := s.GetAPIKey(ctx, u.ID, short.ID)
		mustOK(t, err, "GetAPIKey")
		if !gotShort.ExpiresAt.Equal(at(3 * time.Hour)) {
			t.Errorf("expiry moved later: %v", gotShort.ExpiresAt)
		}

		// Withdrawn, expired, another user's, missing: nothing happens.
		revoked := mustCreateKey(t, s, newKey(u.ID))
		_, err = s.RevokeAPIKey(ctx, u.ID, revoked.ID, at(0))
		mustOK(t, err, "RevokeAPIKey")
		unused := store.APIKey{ID: uuid.NewString(), Digest: newDigest(), CreatedAt: at(time.Hour)}
		_, err = s.RollAPIKey(ctx, u.ID, revoked.ID, unused, at(2*time.Hour), at(time.Hour))
		wantErr(t, err, store.ErrKeyInactive, "RollAPIKey of a withdrawn key")
		_, err = s.RollAPIKey(ctx, u.ID, short.ID, unused, at(2*time.Hour), at(4*time.Hour))
		wantErr(t, err, store.ErrKeyInactive, "RollAPIKey of an expired key")
		other := mustCreateUser(t, s)
		plain := mustCreateKey(t, s, newKey(u.ID))
		_, err = s.RollAPIKey(ctx, other.ID, plain.ID, unused, at(2*time.Hour), at(time.Hour))
		wantErr(t, err, store.ErrNotFound, "RollAPIKey of another user's key")
		_, err = s.RollAPIKey(ctx, u.ID, uuid.NewString(), unused, at(2*time.Hour), at(time.Hour))
		wantErr(t, err, store.ErrNotFound, "RollAPIKey of a missing key")
		_, _, err = s.AuthenticateAPIKey(ctx, unused.Digest)
		wantErr(t, err, store.ErrNotFound, "AuthenticateAPIKey of a successor never made")
	})

	t.Run("LastUsedIP", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		k := mustCreateKey(t, s, newKey(u.ID))
		v6 := netip.MustParseAddr("2001:db8::1")
		mustOK(t, s.RecordKeyUse(ctx, map[string]store.KeyUse{k.ID: {At: at(time.Hour), IP: v6}}), "RecordKeyUse")
		// An older use changes neither the time nor the address.
		mustOK(t, s.RecordKeyUse(ctx, map[string]store.KeyUse{k.ID: {At: at(time.Minute), IP: netip.MustParseAddr("192.0.2.9")}}), "RecordKeyUse of an older use")
		got, err := s.GetAPIKey(ctx, u.ID, k.ID)
		mustOK(t, err, "GetAPIKey")
		if got.LastUsedIP != v6 || !got.LastUsedAt.Equal(at(time.Hour)) {
			t.Errorf("last use = %v from %v, want %v from %v", got.LastUsedAt, got.LastUsedIP, at(time.Hour), v6)
		}
		v4 := netip.MustParseAddr("192.0.2.10")
		mustOK(t, s.RecordKeyUse(ctx, map[string]store.KeyUse{k.ID: {At: at(2 * time.Hour), IP: v4}}), "RecordKeyUse of a newer use")
		got, _, err = s.AuthenticateAPIKey(ctx, k.Digest)
		mustOK(t, err, "AuthenticateAPIKey")
		if got.LastUsedIP != v4 {
			t.Errorf("LastUsedIP = %v, want %v", got.LastUsedIP, v4)
		}
	})
}

func sortedIDs(ids ...string) []string {
	out := append([]string(nil), ids...)
	slices.Sort(out)
	return out
}
