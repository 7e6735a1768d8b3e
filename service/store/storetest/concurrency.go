package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/service/store"
)

// testContext checks that every method gives up on a cancelled context with
// an error matching context.Canceled, and that writes then change nothing.
func testContext(t *testing.T, newStore factory) {
	t.Run("Cancelled", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		sess := mustCreateSession(t, s, u.ID)
		p := mustCreateProperty(t, s, u.ID, "Harbour")
		k := mustCreateKey(t, s, newKey(u.ID, p.ID))
		v := mustCreateUser(t, s)
		w := mustCreateUser(t, s)
		owner := ownerRecord(t, s, p, u)
		pv := mustAddPropertyUser(t, s, p.ID, v.ID, store.RoleOwner)
		newPU := newPropertyUser(p.ID, w.ID, store.RoleUser)

		newU := newUser(newEmail())
		newSess := store.Session{Digest: newDigest(), UserID: u.ID, CreatedAt: base, ExpiresAt: at(time.Hour)}
		newK := newKey(u.ID)
		newP := newProperty("Meadow")
		changed := newFullProperty("Lighthouse")
		changed.ID = p.ID
		changed.UpdatedAt = at(time.Hour)

		cancelled, cancel := context.WithCancel(ctx)
		cancel()

		calls := []struct {
			name string
			call func(ctx context.Context) error
		}{
			// Reads.
			{"GetUser", func(ctx context.Context) error { _, err := s.GetUser(ctx, u.ID); return err }},
			{"GetUserByEmail", func(ctx context.Context) error { _, err := s.GetUserByEmail(ctx, u.Email); return err }},
			{"GetSession", func(ctx context.Context) error { _, err := s.GetSession(ctx, sess.Digest); return err }},
			{"GetAPIKey", func(ctx context.Context) error { _, err := s.GetAPIKey(ctx, u.ID, k.ID); return err }},
			{"ListAPIKeys", func(ctx context.Context) error { _, _, err := s.ListAPIKeys(ctx, u.ID, 0, 10); return err }},
			{"AuthenticateAPIKey", func(ctx context.Context) error { _, _, err := s.AuthenticateAPIKey(ctx, k.Digest); return err }},
			{"GetProperty", func(ctx context.Context) error { _, err := s.GetProperty(ctx, p.ID); return err }},
			{"ListProperties", func(ctx context.Context) error {
				_, _, err := s.ListProperties(ctx, store.PropertyQuery{UserID: u.ID})
				return err
			}},
			{"PropertyRole", func(ctx context.Context) error { _, err := s.PropertyRole(ctx, u.ID, p.ID); return err }},
			{"GetPropertyUser", func(ctx context.Context) error { _, err := s.GetPropertyUser(ctx, owner.ID); return err }},
			{"ListPropertyUsers", func(ctx context.Context) error { _, _, err := s.ListPropertyUsers(ctx, p.ID, 0, 0); return err }},
			{"Ping", func(ctx context.Context) error { return s.Ping(ctx) }},
			// Writes.
			{"CreateUser", func(ctx context.Context) error { return s.CreateUser(ctx, newU) }},
			{"SetSubscription", func(ctx context.Context) error { _, err := s.SetSubscription(ctx, u.ID, true); return err }},
			{"CreateSession", func(ctx context.Context) error { return s.CreateSession(ctx, newSess) }},
			{"DeleteSession", func(ctx context.Context) error { return s.DeleteSession(ctx, sess.Digest) }},
			{"CreateAPIKey", func(ctx context.Context) error { return s.CreateAPIKey(ctx, newK) }},
			{"RevokeAPIKey", func(ctx context.Context) error { _, err := s.RevokeAPIKey(ctx, u.ID, k.ID, at(time.Hour)); return err }},
			{"RecordKeyUse", func(ctx context.Context) error {
				return s.RecordKeyUse(ctx, useAt(map[string]time.Time{k.ID: at(time.Hour)}))
			}},
			{"CreateProperty", func(ctx context.Context) error { return s.CreateProperty(ctx, newP, u.ID) }},
			{"UpdateProperty", func(ctx context.Context) error {
				_, err := s.UpdateProperty(ctx, changed.ID, replaceWith(changed))
				return err
			}},
			{"DeleteProperty", func(ctx context.Context) error { return s.DeleteProperty(ctx, p.ID) }},
			{"AddPropertyUser", func(ctx context.Context) error { _, err := s.AddPropertyUser(ctx, newPU); return err }},
			{"UpdatePropertyUser", func(ctx context.Context) error {
				_, err := s.UpdatePropertyUser(ctx, pv.ID, store.RoleUser, nil)
				return err
			}},
			{"RemovePropertyUser", func(ctx context.Context) error { return s.RemovePropertyUser(ctx, owner.ID) }},
		}
		for _, c := range calls {
			err := c.call(cancelled)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context: error = %v, want one matching context.Canceled", c.name, err)
			}
		}

		// Nothing was written.
		_, err := s.GetUser(ctx, newU.ID)
		wantErr(t, err, store.ErrNotFound, "GetUser of the user created with a cancelled context")
		gotU, err := s.GetUser(ctx, u.ID)
		mustOK(t, err, "GetUser")
		checkUser(t, "user after SetSubscription with a cancelled context", gotU, u)
		gotSess, err := s.GetSession(ctx, sess.Digest)
		mustOK(t, err, "GetSession of the session deleted with a cancelled context")
		checkSession(t, "session after DeleteSession with a cancelled context", gotSess, sess)
		_, err = s.GetSession(ctx, newSess.Digest)
		wantErr(t, err, store.ErrNotFound, "GetSession of the session created with a cancelled context")
		_, _, err = s.AuthenticateAPIKey(ctx, newK.Digest)
		wantErr(t, err, store.ErrNotFound, "AuthenticateAPIKey of the key created with a cancelled context")
		gotK, err := s.GetAPIKey(ctx, u.ID, k.ID)
		mustOK(t, err, "GetAPIKey")
		checkKey(t, "key after RevokeAPIKey with a cancelled context", gotK, k)
		if !gotK.LastUsedAt.IsZero() {
			t.Errorf("key after RecordKeyUse with a cancelled context: LastUsedAt = %v, want zero", gotK.LastUsedAt)
		}
		_, err = s.GetProperty(ctx, newP.ID)
		wantErr(t, err, store.ErrNotFound, "GetProperty of the property created with a cancelled context")
		gotP, err := s.GetProperty(ctx, p.ID)
		mustOK(t, err, "GetProperty of the property updated and deleted with a cancelled context")
		checkProperty(t, "property after UpdateProperty with a cancelled context", gotP, p)
		_, err = s.GetPropertyUser(ctx, newPU.ID)
		wantErr(t, err, store.ErrNotFound, "GetPropertyUser of the record added with a cancelled context")
		checkPropertyUsers(t, s, "after sharing changes with a cancelled context", p.ID, owner, pv)
	})
}

// testConcurrency checks the guarantees that only show under concurrent use.
func testConcurrency(t *testing.T, newStore factory) {
	t.Run("RevokeWhileAuthenticating", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		k := mustCreateKey(t, s, newKey(u.ID))
		revokedAt := at(time.Hour)

		const (
			workers = 50
			// Each worker goes on until it has made this many calls that
			// started after RevokeAPIKey returned.
			callsAfter = 20
			// RevokeAPIKey is called once this many calls have been made.
			callsBefore = 200
		)
		var (
			revoked atomic.Bool  // set once RevokeAPIKey has returned
			abort   atomic.Bool  // set on an unexpected error
			calls   atomic.Int64 // AuthenticateAPIKey calls made
			stale   atomic.Int64 // calls started after revocation that saw the key active
			firstMu sync.Mutex
			first   error
		)
		fail := func(err error) {
			firstMu.Lock()
			if first == nil {
				first = err
			}
			firstMu.Unlock()
			abort.Store(true)
		}

		start := make(chan struct{})
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				<-start
				for after := 0; after < callsAfter && !abort.Load(); {
					startedAfter := revoked.Load()
					got, _, err := s.AuthenticateAPIKey(ctx, k.Digest)
					calls.Add(1)
					if err != nil {
						fail(fmt.Errorf("AuthenticateAPIKey: %w", err))
						return
					}
					if startedAfter {
						after++
						if !got.Revoked() {
							stale.Add(1)
						}
					}
				}
			})
		}
		wg.Go(func() {
			<-start
			for calls.Load() < callsBefore && !abort.Load() {
				runtime.Gosched()
			}
			if _, err := s.RevokeAPIKey(ctx, u.ID, k.ID, revokedAt); err != nil {
				fail(fmt.Errorf("RevokeAPIKey: %w", err))
			}
			revoked.Store(true)
		})
		close(start)
		wg.Wait()

		if first != nil {
			t.Fatalf("unexpected error: %v", first)
		}
		if n := stale.Load(); n > 0 {
			t.Errorf("%d of %d AuthenticateAPIKey calls that started after RevokeAPIKey returned saw the key active",
				n, workers*callsAfter)
		}
		got, _, err := s.AuthenticateAPIKey(ctx, k.Digest)
		mustOK(t, err, "AuthenticateAPIKey")
		want := k
		want.RevokedAt = revokedAt
		checkKey(t, "AuthenticateAPIKey after the race", got, want)
	})

	t.Run("CreateUserSameEmail", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		const workers = 20
		emails := []string{"Race@Example.com", "race@example.com", "RACE@EXAMPLE.COM"}
		users := make([]store.User, workers)
		errs := make([]error, workers)
		for i := range users {
			users[i] = newUser(emails[i%len(emails)])
		}

		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				<-start
				errs[i] = s.CreateUser(ctx, users[i])
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Errorf("CreateUser %d and %d of the same email both succeeded", winner, i)
			case !errors.Is(err, store.ErrAlreadyExists):
				t.Errorf("CreateUser %d: error = %v, want one matching %v", i, err, store.ErrAlreadyExists)
			}
		}
		if winner < 0 {
			t.Fatalf("no CreateUser succeeded")
		}

		got, err := s.GetUserByEmail(ctx, "race@example.com")
		mustOK(t, err, "GetUserByEmail")
		checkUser(t, "GetUserByEmail after the race", got, users[winner])
		for i, u := range users {
			if i == winner {
				continue
			}
			_, err := s.GetUser(ctx, u.ID)
			wantErr(t, err, store.ErrNotFound, fmt.Sprintf("GetUser of losing user %d", i))
		}
	})

	t.Run("LastOwnerRace", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		const rounds = 40
		creator := mustCreateUser(t, s)
		var others []store.User
		for range 3 {
			others = append(others, mustCreateUser(t, s))
		}

		// In each round every owner of a property is demoted or removed at
		// the same time as the others: two owners removing each other, or
		// four owners, by removals, demotions or both. Each change takes
		// one owner away, so all but one must succeed and the last one must
		// be refused, leaving exactly one owner.
		for round := range rounds {
			n := 2
			if round%2 == 1 {
				n = 4
			}
			p := mustCreateProperty(t, s, creator.ID, fmt.Sprintf("Race %02d", round))
			owners := []store.PropertyUser{ownerRecord(t, s, p, creator)}
			for _, u := range others[:n-1] {
				owners = append(owners, mustAddPropertyUser(t, s, p.ID, u.ID, store.RoleOwner))
			}

			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, pu := range owners {
				demote := false
				switch round % 3 {
				case 1:
					demote = true
				case 2:
					demote = i%2 == 1
				}
				wg.Go(func() {
					<-start
					if demote {
						_, errs[i] = s.UpdatePropertyUser(ctx, pu.ID, store.RoleUser, nil)
					} else {
						errs[i] = s.RemovePropertyUser(ctx, pu.ID)
					}
				})
			}
			close(start)
			wg.Wait()

			succeeded, refused := 0, 0
			for i, err := range errs {
				switch {
				case err == nil:
					succeeded++
				case errors.Is(err, store.ErrLastOwner):
					refused++
				default:
					t.Errorf("round %d: change %d: error = %v, want nil or %v", round, i, err, store.ErrLastOwner)
				}
			}
			list, _, err := s.ListPropertyUsers(ctx, p.ID, 0, 0)
			mustOK(t, err, "ListPropertyUsers")
			left := 0
			for _, pu := range list {
				if pu.Role == store.RoleOwner {
					left++
				}
			}
			if left != 1 || succeeded != n-1 || refused != 1 {
				t.Fatalf("round %d with %d owners: %d changes succeeded, %d refused, %d owners left (%+v); want %d, 1 and 1",
					round, n, succeeded, refused, left, list, n-1)
			}
		}
	})

	t.Run("CreateManyConcurrently", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		const workers, perWorker = 10, 10

		// Each worker creates properties and, for each, a key scoped to it;
		// half the workers do so for the other user.
		type created struct {
			p store.Property
			k store.APIKey
		}
		results := make([][]created, workers)
		errs := make([]error, workers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := range workers {
			owner := u.ID
			if w%2 == 1 {
				owner = other.ID
			}
			wg.Go(func() {
				<-start
				for i := range perWorker {
					p := newProperty(fmt.Sprintf("P%02d%02d", w, i))
					if err := s.CreateProperty(ctx, p, owner); err != nil {
						errs[w] = fmt.Errorf("CreateProperty: %w", err)
						return
					}
					k := newKey(owner, p.ID)
					k.CreatedAt = at(time.Duration(w*perWorker+i) * time.Second)
					if err := s.CreateAPIKey(ctx, k); err != nil {
						errs[w] = fmt.Errorf("CreateAPIKey: %w", err)
						return
					}
					results[w] = append(results[w], created{p, k})
				}
			})
		}
		close(start)
		wg.Wait()
		for w, err := range errs {
			if err != nil {
				t.Errorf("worker %d: %v", w, err)
			}
		}
		if t.Failed() {
			t.FailNow()
		}

		for _, owner := range []string{u.ID, other.ID} {
			var wantProps []store.Property
			var wantKeys []string
			for w, rs := range results {
				if (w%2 == 1) != (owner == other.ID) {
					continue
				}
				for _, r := range rs {
					wantProps = append(wantProps, r.p)
					wantKeys = append(wantKeys, r.k.ID)
				}
			}
			sortProperties(wantProps)
			listProperties(t, s, store.PropertyQuery{UserID: owner}, wantProps, workers/2*perWorker)

			keys, total, err := s.ListAPIKeys(ctx, owner, 0, 1000)
			mustOK(t, err, "ListAPIKeys")
			checkTotal(t, "ListAPIKeys after concurrent creation", total, workers/2*perWorker)
			slices.Sort(wantKeys)
			checkIDs(t, "ListAPIKeys after concurrent creation", slices.Sorted(slices.Values(keyIDs(keys))), wantKeys)
		}

		// Each key is scoped to the property created with it.
		for _, rs := range results {
			for _, r := range rs {
				got, _, err := s.AuthenticateAPIKey(ctx, r.k.Digest)
				mustOK(t, err, "AuthenticateAPIKey")
				want := r.k
				want.PropertyIDs = []string{r.p.ID}
				checkKey(t, "key created concurrently", got, want)
			}
		}
	})
}
