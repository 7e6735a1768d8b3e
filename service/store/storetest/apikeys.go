package storetest

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/service/store"
)

// testAPIKeys covers CreateAPIKey, GetAPIKey, ListAPIKeys, RevokeAPIKey and
// AuthenticateAPIKey.
func testAPIKeys(t *testing.T, newStore factory) {
	t.Run("CreateGetAllProperties", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		mustCreateProperty(t, s, u.ID, "Harbour")
		want := mustCreateKey(t, s, newKey(u.ID))

		got, err := s.GetAPIKey(ctx, u.ID, want.ID)
		mustOK(t, err, "GetAPIKey")
		checkKey(t, "GetAPIKey", got, want)
		if len(got.PropertyIDs) != 0 {
			t.Errorf("all-properties key: PropertyIDs = %q, want none", got.PropertyIDs)
		}
		if got.Revoked() || !got.LastUsedAt.IsZero() {
			t.Errorf("new key: RevokedAt = %v, LastUsedAt = %v, want both zero", got.RevokedAt, got.LastUsedAt)
		}
	})

	t.Run("CreateGetScoped", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		var ids []string
		for _, title := range []string{"Harbour", "Meadow", "Summit", "Unscoped"} {
			ids = append(ids, mustCreateProperty(t, s, u.ID, title).ID)
		}
		// The scope is given in descending order and must come back sorted.
		scope := []string{ids[2], ids[0], ids[1]}
		slices.SortFunc(scope, func(a, b string) int { return cmp.Compare(b, a) })
		want := mustCreateKey(t, s, newKey(u.ID, scope...))

		got, err := s.GetAPIKey(ctx, u.ID, want.ID)
		mustOK(t, err, "GetAPIKey")
		checkKey(t, "GetAPIKey of a scoped key", got, want)
		if got.AllProperties {
			t.Errorf("scoped key: AllProperties = true")
		}
		if !got.LastUsedAt.IsZero() {
			t.Errorf("new key: LastUsedAt = %v, want zero", got.LastUsedAt)
		}
	})

	t.Run("GetOtherUsersKey", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		owner := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		k := mustCreateKey(t, s, newKey(owner.ID))

		_, err := s.GetAPIKey(ctx, other.ID, k.ID)
		wantErr(t, err, store.ErrNotFound, "GetAPIKey of another user's key")
		_, err = s.GetAPIKey(ctx, owner.ID, uuid.NewString())
		wantErr(t, err, store.ErrNotFound, "GetAPIKey of a missing key")
		_, err = s.GetAPIKey(ctx, uuid.NewString(), k.ID)
		wantErr(t, err, store.ErrNotFound, "GetAPIKey for an unknown user")
	})

	t.Run("ListNewestFirstPaged", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		var all []store.APIKey
		for _, d := range []time.Duration{3, 1, 4, 0, 5} {
			k := newKey(u.ID)
			k.CreatedAt = at(d * time.Minute)
			all = append(all, mustCreateKey(t, s, k))
		}
		// Two keys created at the same time: ties are ordered by id.
		for range 2 {
			k := newKey(u.ID)
			k.CreatedAt = at(2 * time.Minute)
			all = append(all, mustCreateKey(t, s, k))
		}
		mustCreateKey(t, s, newKey(other.ID)) // must not be listed
		// A revoked key is still listed.
		_, err := s.RevokeAPIKey(ctx, u.ID, all[0].ID, at(time.Hour))
		mustOK(t, err, "RevokeAPIKey")
		all[0].RevokedAt = at(time.Hour)

		slices.SortFunc(all, func(a, b store.APIKey) int {
			if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})

		got, total, err := s.ListAPIKeys(ctx, u.ID, 0, 100)
		mustOK(t, err, "ListAPIKeys")
		checkTotal(t, "ListAPIKeys", total, len(all))
		checkIDs(t, "ListAPIKeys newest first", keyIDs(got), keyIDs(all))
		for i := range min(len(got), len(all)) {
			checkKey(t, "ListAPIKeys item", got[i], all[i])
		}

		for offset := 0; offset < len(all); offset += 3 {
			got, total, err := s.ListAPIKeys(ctx, u.ID, offset, 3)
			mustOK(t, err, "ListAPIKeys page")
			checkTotal(t, "ListAPIKeys page", total, len(all))
			checkIDs(t, "ListAPIKeys page", keyIDs(got), keyIDs(all[offset:min(offset+3, len(all))]))
		}

		got, total, err = s.ListAPIKeys(ctx, u.ID, len(all), 3)
		mustOK(t, err, "ListAPIKeys past the end")
		checkTotal(t, "ListAPIKeys past the end", total, len(all))
		checkIDs(t, "ListAPIKeys past the end", keyIDs(got), nil)
	})

	t.Run("ListEmpty", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		mustCreateKey(t, s, newKey(other.ID))

		got, total, err := s.ListAPIKeys(ctx, u.ID, 0, 10)
		mustOK(t, err, "ListAPIKeys")
		checkTotal(t, "ListAPIKeys of a user without keys", total, 0)
		checkIDs(t, "ListAPIKeys of a user without keys", keyIDs(got), nil)
	})

	t.Run("CreateDuplicateDigest", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		want := mustCreateKey(t, s, newKey(u.ID))

		dup := newKey(other.ID)
		dup.Digest = want.Digest
		wantErr(t, s.CreateAPIKey(ctx, dup), store.ErrAlreadyExists, "CreateAPIKey with a taken digest")
		_, err := s.GetAPIKey(ctx, other.ID, dup.ID)
		wantErr(t, err, store.ErrNotFound, "GetAPIKey of the refused key")

		got, user, err := s.AuthenticateAPIKey(ctx, want.Digest)
		mustOK(t, err, "AuthenticateAPIKey")
		checkKey(t, "AuthenticateAPIKey after a refused duplicate", got, want)
		checkUser(t, "AuthenticateAPIKey user after a refused duplicate", user, u)
	})

	t.Run("CreateScopeMissingProperty", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, u.ID, "Harbour")
		k := newKey(u.ID, p.ID, uuid.NewString())

		wantErr(t, s.CreateAPIKey(ctx, k), store.ErrNotFound, "CreateAPIKey scoped to a missing property")
		_, err := s.GetAPIKey(ctx, u.ID, k.ID)
		wantErr(t, err, store.ErrNotFound, "GetAPIKey of the refused key")
		_, _, err = s.AuthenticateAPIKey(ctx, k.Digest)
		wantErr(t, err, store.ErrNotFound, "AuthenticateAPIKey of the refused key")
		got, total, err := s.ListAPIKeys(ctx, u.ID, 0, 10)
		mustOK(t, err, "ListAPIKeys")
		checkTotal(t, "ListAPIKeys after a refused key", total, 0)
		checkIDs(t, "ListAPIKeys after a refused key", keyIDs(got), nil)

		// The failed attempt must not block a correct one with the same digest.
		k.ID = uuid.NewString()
		k.PropertyIDs = []string{p.ID}
		mustCreateKey(t, s, k)
	})

	t.Run("CreateUnknownUser", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		mustCreateUser(t, s)
		k := newKey(uuid.NewString())
		wantErr(t, s.CreateAPIKey(ctx, k), store.ErrNotFound, "CreateAPIKey for an unknown user")
		_, _, err := s.AuthenticateAPIKey(ctx, k.Digest)
		wantErr(t, err, store.ErrNotFound, "AuthenticateAPIKey of the refused key")
	})

	t.Run("SlicesNotShared", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		p1 := mustCreateProperty(t, s, u.ID, "Harbour")
		p2 := mustCreateProperty(t, s, u.ID, "Meadow")
		in := newKey(u.ID, p1.ID, p2.ID)
		want := mustCreateKey(t, s, in)
		want.Digest = slices.Clone(in.Digest)
		want.PropertyIDs = slices.Clone(want.PropertyIDs)

		// Changing what the caller passed in must not change the stored key.
		in.Digest[0] ^= 0xff
		in.PropertyIDs[0] = "changed"
		got, err := s.GetAPIKey(ctx, u.ID, want.ID)
		mustOK(t, err, "GetAPIKey")
		checkKey(t, "key after the caller changed its input", got, want)

		// Nor must changing what the store returned.
		got.Digest[0] ^= 0xff
		got.PropertyIDs[0] = "changed"
		got, _, err = s.AuthenticateAPIKey(ctx, want.Digest)
		mustOK(t, err, "AuthenticateAPIKey")
		checkKey(t, "key after the caller changed a result", got, want)
	})

	t.Run("Revoke", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		k := mustCreateKey(t, s, newKey(u.ID))
		kept := mustCreateKey(t, s, newKey(u.ID))

		want := k
		want.RevokedAt = at(time.Hour)
		got, err := s.RevokeAPIKey(ctx, u.ID, k.ID, want.RevokedAt)
		mustOK(t, err, "RevokeAPIKey")
		checkKey(t, "RevokeAPIKey result", got, want)
		if !got.Revoked() {
			t.Errorf("RevokeAPIKey result: Revoked() = false")
		}

		got, err = s.GetAPIKey(ctx, u.ID, k.ID)
		mustOK(t, err, "GetAPIKey")
		checkKey(t, "GetAPIKey after RevokeAPIKey", got, want)

		// A second revocation keeps the first time.
		got, err = s.RevokeAPIKey(ctx, u.ID, k.ID, at(2*time.Hour))
		mustOK(t, err, "second RevokeAPIKey")
		checkKey(t, "second RevokeAPIKey result", got, want)
		got, err = s.GetAPIKey(ctx, u.ID, k.ID)
		mustOK(t, err, "GetAPIKey")
		checkKey(t, "GetAPIKey after the second RevokeAPIKey", got, want)

		got, err = s.GetAPIKey(ctx, u.ID, kept.ID)
		mustOK(t, err, "GetAPIKey of the other key")
		checkKey(t, "other key after RevokeAPIKey", got, kept)
	})

	t.Run("RevokeOtherUsersKey", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		owner := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		k := mustCreateKey(t, s, newKey(owner.ID))

		_, err := s.RevokeAPIKey(ctx, other.ID, k.ID, at(time.Hour))
		wantErr(t, err, store.ErrNotFound, "RevokeAPIKey of another user's key")
		_, err = s.RevokeAPIKey(ctx, owner.ID, uuid.NewString(), at(time.Hour))
		wantErr(t, err, store.ErrNotFound, "RevokeAPIKey of a missing key")

		got, err := s.GetAPIKey(ctx, owner.ID, k.ID)
		mustOK(t, err, "GetAPIKey")
		checkKey(t, "key after refused revocations", got, k)
		if got.Revoked() {
			t.Errorf("key after refused revocations: Revoked() = true")
		}
	})

	t.Run("Authenticate", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, u.ID, "Harbour")
		k := mustCreateKey(t, s, newKey(u.ID, p.ID))
		mustCreateKey(t, s, newKey(other.ID))

		gotKey, gotUser, err := s.AuthenticateAPIKey(ctx, k.Digest)
		mustOK(t, err, "AuthenticateAPIKey")
		checkKey(t, "AuthenticateAPIKey key", gotKey, k)
		checkUser(t, "AuthenticateAPIKey user", gotUser, u)
		if gotKey.Revoked() {
			t.Errorf("AuthenticateAPIKey of an active key: Revoked() = true")
		}

		// The user comes with its current subscription state.
		for _, active := range []bool{true, false} {
			want, err := s.SetSubscription(ctx, u.ID, active)
			mustOK(t, err, "SetSubscription")
			_, gotUser, err := s.AuthenticateAPIKey(ctx, k.Digest)
			mustOK(t, err, "AuthenticateAPIKey")
			if gotUser.SubscriptionActive != active {
				t.Errorf("AuthenticateAPIKey after SetSubscription(%t): SubscriptionActive = %t", active, gotUser.SubscriptionActive)
			}
			checkUser(t, "AuthenticateAPIKey user after SetSubscription", gotUser, want)
		}
	})

	t.Run("AuthenticateRevoked", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		k := mustCreateKey(t, s, newKey(u.ID))
		_, err := s.RevokeAPIKey(ctx, u.ID, k.ID, at(time.Hour))
		mustOK(t, err, "RevokeAPIKey")

		want := k
		want.RevokedAt = at(time.Hour)
		got, user, err := s.AuthenticateAPIKey(ctx, k.Digest)
		mustOK(t, err, "AuthenticateAPIKey of a revoked key")
		checkKey(t, "AuthenticateAPIKey of a revoked key", got, want)
		checkUser(t, "AuthenticateAPIKey user of a revoked key", user, u)
		if !got.Revoked() {
			t.Errorf("AuthenticateAPIKey of a revoked key: Revoked() = false")
		}
	})

	t.Run("AuthenticateUnknownDigest", func(t *testing.T) {
		s := newStore(t)
		u := mustCreateUser(t, s)
		mustCreateKey(t, s, newKey(u.ID))
		_, _, err := s.AuthenticateAPIKey(t.Context(), newDigest())
		wantErr(t, err, store.ErrNotFound, "AuthenticateAPIKey of an unknown digest")
	})
}
