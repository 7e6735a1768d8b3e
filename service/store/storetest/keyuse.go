package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/service/store"
)

// testKeyUse covers RecordKeyUse.
func testKeyUse(t *testing.T, newStore factory) {
	t.Run("SetsLastUsedAt", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, u.ID, "Harbour")
		all := mustCreateKey(t, s, newKey(u.ID))
		scoped := mustCreateKey(t, s, newKey(u.ID, p.ID))
		unused := mustCreateKey(t, s, newKey(u.ID))

		// Times in another zone and finer than store.Precision come back
		// truncated, in UTC.
		zone := time.FixedZone("UTC+5:30", 5*3600+1800)
		allAt := at(time.Hour).Add(789 * time.Nanosecond).In(zone)
		scopedAt := at(2 * time.Hour).In(zone)
		mustOK(t, s.RecordKeyUse(ctx, useAt(map[string]time.Time{all.ID: allAt, scoped.ID: scopedAt})), "RecordKeyUse")
		want := map[string]time.Time{
			all.ID:    at(time.Hour),
			scoped.ID: at(2 * time.Hour),
			unused.ID: {},
		}

		for _, k := range []store.APIKey{all, scoped, unused} {
			got, err := s.GetAPIKey(ctx, u.ID, k.ID)
			mustOK(t, err, "GetAPIKey")
			checkKey(t, "GetAPIKey after RecordKeyUse", got, k)
			checkLastUsed(t, "GetAPIKey after RecordKeyUse", got, want[k.ID])

			got, _, err = s.AuthenticateAPIKey(ctx, k.Digest)
			mustOK(t, err, "AuthenticateAPIKey")
			checkKey(t, "AuthenticateAPIKey after RecordKeyUse", got, k)
			checkLastUsed(t, "AuthenticateAPIKey after RecordKeyUse", got, want[k.ID])
		}
		keys, total, err := s.ListAPIKeys(ctx, u.ID, 0, 10)
		mustOK(t, err, "ListAPIKeys")
		checkTotal(t, "ListAPIKeys after RecordKeyUse", total, 3)
		for _, got := range keys {
			checkLastUsed(t, "ListAPIKeys after RecordKeyUse", got, want[got.ID])
		}
	})

	t.Run("NeverMovesBack", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		k := mustCreateKey(t, s, newKey(u.ID))
		other := mustCreateKey(t, s, newKey(u.ID))

		record := func(uses map[string]time.Time) {
			t.Helper()
			mustOK(t, s.RecordKeyUse(ctx, useAt(uses)), "RecordKeyUse")
		}
		check := func(what string, key store.APIKey, want time.Time) {
			t.Helper()
			got, err := s.GetAPIKey(ctx, u.ID, key.ID)
			mustOK(t, err, "GetAPIKey")
			checkLastUsed(t, what, got, want)
		}

		record(map[string]time.Time{k.ID: at(2 * time.Hour), other.ID: at(time.Hour)})
		// An earlier use recorded late leaves the later one; in the same
		// call, another key still moves forward.
		record(map[string]time.Time{k.ID: at(time.Hour), other.ID: at(3 * time.Hour)})
		check("key after an earlier use", k, at(2*time.Hour))
		check("other key moved forward in the same call", other, at(3*time.Hour))
		// The same time again changes nothing.
		record(map[string]time.Time{k.ID: at(2 * time.Hour)})
		check("key after the same use again", k, at(2*time.Hour))
		// A time that only differs below store.Precision is the same time.
		record(map[string]time.Time{k.ID: at(2 * time.Hour).Add(999 * time.Nanosecond)})
		check("key after a use within store.Precision", k, at(2*time.Hour))
		record(map[string]time.Time{k.ID: at(4 * time.Hour)})
		check("key after a later use", k, at(4*time.Hour))
	})

	t.Run("UnknownIDsIgnored", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		k := mustCreateKey(t, s, newKey(u.ID))
		spelled := mustCreateKey(t, s, newKey(u.ID))

		err := s.RecordKeyUse(ctx, useAt(map[string]time.Time{
			uuid.NewString():                  at(time.Hour),
			"not-a-uuid":                      at(time.Hour),
			"":                                at(time.Hour),
			"'; DROP TABLE api_keys; --":      at(time.Hour),
			strings.ToUpper(spelled.ID):       at(time.Hour), // not the canonical spelling
			"{" + spelled.ID + "}":            at(time.Hour),
			strings.ReplaceAll(k.ID, "-", ""): at(time.Hour),
			k.ID:                              at(2 * time.Hour),
		}))
		mustOK(t, err, "RecordKeyUse with unknown and malformed ids")

		got, err := s.GetAPIKey(ctx, u.ID, k.ID)
		mustOK(t, err, "GetAPIKey")
		checkLastUsed(t, "known key beside unknown ids", got, at(2*time.Hour))
		got, err = s.GetAPIKey(ctx, u.ID, spelled.ID)
		mustOK(t, err, "GetAPIKey")
		checkLastUsed(t, "key named only by other spellings of its id", got, time.Time{})

		// Only unknown ids.
		mustOK(t, s.RecordKeyUse(ctx, useAt(map[string]time.Time{uuid.NewString(): at(time.Hour), "x": at(time.Hour)})),
			"RecordKeyUse with unknown ids only")
	})

	t.Run("Empty", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		mustOK(t, s.RecordKeyUse(ctx, nil), "RecordKeyUse(nil)")
		mustOK(t, s.RecordKeyUse(ctx, useAt(map[string]time.Time{})), "RecordKeyUse of an empty map")
	})

	t.Run("ManyKeys", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		uses := map[string]time.Time{}
		var keys []store.APIKey
		for i := range 40 {
			owner := u
			if i%2 == 1 {
				owner = other
			}
			k := mustCreateKey(t, s, newKey(owner.ID))
			keys = append(keys, k)
			uses[k.ID] = at(time.Duration(i+1) * time.Minute)
		}
		mustOK(t, s.RecordKeyUse(ctx, useAt(uses)), "RecordKeyUse of 40 keys of two users")
		for _, k := range keys {
			got, err := s.GetAPIKey(ctx, k.UserID, k.ID)
			mustOK(t, err, "GetAPIKey")
			checkKey(t, "key after RecordKeyUse of many", got, k)
			checkLastUsed(t, "key after RecordKeyUse of many", got, uses[k.ID])
		}
	})

	t.Run("RevokedKey", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		k := mustCreateKey(t, s, newKey(u.ID))
		_, err := s.RevokeAPIKey(ctx, u.ID, k.ID, at(time.Hour))
		mustOK(t, err, "RevokeAPIKey")
		mustOK(t, s.RecordKeyUse(ctx, useAt(map[string]time.Time{k.ID: at(2 * time.Hour)})), "RecordKeyUse")

		// Recording a use never touches the revocation.
		got, err := s.GetAPIKey(ctx, u.ID, k.ID)
		mustOK(t, err, "GetAPIKey")
		want := k
		want.RevokedAt = at(time.Hour)
		checkKey(t, "revoked key after RecordKeyUse", got, want)
	})

	t.Run("Cancelled", func(t *testing.T) {
		s := newStore(t)
		u := mustCreateUser(t, s)
		k := mustCreateKey(t, s, newKey(u.ID))
		cancelled, cancel := context.WithCancel(t.Context())
		cancel()

		wantErr(t, s.RecordKeyUse(cancelled, useAt(map[string]time.Time{k.ID: at(time.Hour)})), context.Canceled,
			"RecordKeyUse with a cancelled context")
		wantErr(t, s.RecordKeyUse(cancelled, nil), context.Canceled,
			"RecordKeyUse of nothing with a cancelled context")
		got, err := s.GetAPIKey(t.Context(), u.ID, k.ID)
		mustOK(t, err, "GetAPIKey")
		checkLastUsed(t, "key after RecordKeyUse with a cancelled context", got, time.Time{})
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		var keys []store.APIKey
		for range 5 {
			keys = append(keys, mustCreateKey(t, s, newKey(u.ID)))
		}
		// Every worker records every key, with times that interleave
		// between workers; the latest time of each key must win.
		const workers, rounds = 8, 10
		errs := make(chan error, workers*rounds)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for r := range rounds {
					uses := map[string]time.Time{}
					for i, k := range keys {
						// Each key's latest time comes from the last
						// round of a different worker.
						step := r*workers + (w+i)%workers
						uses[k.ID] = at(time.Duration(step) * time.Second)
					}
					if err := s.RecordKeyUse(ctx, useAt(uses)); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent RecordKeyUse: %v", err)
		}
		latest := at(time.Duration(rounds*workers-1) * time.Second)
		for _, k := range keys {
			got, err := s.GetAPIKey(ctx, u.ID, k.ID)
			mustOK(t, err, "GetAPIKey")
			checkLastUsed(t, "key after concurrent RecordKeyUse", got, latest)
		}
	})
}

// checkLastUsed compares LastUsedAt exactly: the same instant, in UTC (or
// zero).
func checkLastUsed(t *testing.T, what string, got store.APIKey, want time.Time) {
	t.Helper()
	switch {
	case want.IsZero() && !got.LastUsedAt.IsZero():
		t.Errorf("%s: key %s LastUsedAt = %v, want zero", what, got.ID, got.LastUsedAt)
	case !want.IsZero() && (!got.LastUsedAt.Equal(want) || got.LastUsedAt.Location() != time.UTC):
		t.Errorf("%s: key %s LastUsedAt = %v, want %v (UTC)", what, got.ID, got.LastUsedAt, want)
	}
}

// useAt turns times of use into uses from an unknown address.
func useAt(times map[string]time.Time) map[string]store.KeyUse {
	if times == nil {
		return nil
	}
	uses := make(map[string]store.KeyUse, len(times))
	for id, t := range times {
		uses[id] = store.KeyUse{At: t}
	}
	return uses
}
