package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/service/store"
)

// testUsers covers CreateUser, GetUser, GetUserByEmail and SetSubscription.
func testUsers(t *testing.T, newStore factory) {
	t.Run("CreateGetRoundTrip", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		want := newUser("Ana.Lopez@Example.com")
		want.Name = "Ana López"
		mustOK(t, s.CreateUser(ctx, want), "CreateUser")

		got, err := s.GetUser(ctx, want.ID)
		mustOK(t, err, "GetUser")
		checkUser(t, "GetUser", got, want)

		got, err = s.GetUserByEmail(ctx, want.Email)
		mustOK(t, err, "GetUserByEmail")
		checkUser(t, "GetUserByEmail", got, want)
	})

	t.Run("CreateWithSubscription", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		want := newUser(newEmail())
		want.SubscriptionActive = true
		want.CreatedAt = at(-90 * 24 * time.Hour)
		mustOK(t, s.CreateUser(ctx, want), "CreateUser")

		got, err := s.GetUser(ctx, want.ID)
		mustOK(t, err, "GetUser")
		checkUser(t, "GetUser", got, want)
	})

	t.Run("EmailUniqueIgnoringCase", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		first := mustCreateUserWith(t, s, "Ana.Lopez@Example.com")

		for _, email := range []string{"Ana.Lopez@Example.com", "ana.lopez@example.com", "ANA.LOPEZ@EXAMPLE.COM"} {
			dup := newUser(email)
			wantErr(t, s.CreateUser(ctx, dup), store.ErrAlreadyExists, "CreateUser("+email+") with a taken email")
			_, err := s.GetUser(ctx, dup.ID)
			wantErr(t, err, store.ErrNotFound, "GetUser of the refused user")
		}

		got, err := s.GetUserByEmail(ctx, "ana.lopez@example.com")
		mustOK(t, err, "GetUserByEmail")
		checkUser(t, "GetUserByEmail after refused duplicates", got, first)
	})

	t.Run("GetUserByEmailIgnoresCase", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		want := mustCreateUserWith(t, s, "Mixed.Case@Example.org")
		mustCreateUser(t, s) // another user that must not be found

		for _, email := range []string{"mixed.case@example.org", "MIXED.CASE@EXAMPLE.ORG", "mIxEd.CaSe@eXaMpLe.OrG"} {
			got, err := s.GetUserByEmail(ctx, email)
			mustOK(t, err, "GetUserByEmail("+email+")")
			checkUser(t, "GetUserByEmail("+email+")", got, want)
		}
	})

	t.Run("GetMissing", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		mustCreateUser(t, s)

		_, err := s.GetUser(ctx, uuid.NewString())
		wantErr(t, err, store.ErrNotFound, "GetUser of a missing id")
		_, err = s.GetUserByEmail(ctx, "nobody@example.com")
		wantErr(t, err, store.ErrNotFound, "GetUserByEmail of a missing email")
	})

	t.Run("SetSubscription", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		other := mustCreateUser(t, s)

		for _, active := range []bool{true, false, true} {
			want := u
			want.SubscriptionActive = active
			got, err := s.SetSubscription(ctx, u.ID, active)
			mustOK(t, err, "SetSubscription")
			checkUser(t, "SetSubscription result", got, want)

			got, err = s.GetUser(ctx, u.ID)
			mustOK(t, err, "GetUser")
			checkUser(t, "GetUser after SetSubscription", got, want)

			got, err = s.GetUserByEmail(ctx, u.Email)
			mustOK(t, err, "GetUserByEmail")
			checkUser(t, "GetUserByEmail after SetSubscription", got, want)
		}

		got, err := s.GetUser(ctx, other.ID)
		mustOK(t, err, "GetUser of the other user")
		checkUser(t, "other user after SetSubscription", got, other)
	})

	t.Run("SetSubscriptionSameValue", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		got, err := s.SetSubscription(ctx, u.ID, false)
		mustOK(t, err, "SetSubscription")
		checkUser(t, "SetSubscription to the current value", got, u)
	})

	t.Run("SetSubscriptionMissingUser", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		id := uuid.NewString()
		_, err := s.SetSubscription(ctx, id, true)
		wantErr(t, err, store.ErrNotFound, "SetSubscription of a missing user")
		_, err = s.GetUser(ctx, id)
		wantErr(t, err, store.ErrNotFound, "GetUser after SetSubscription of a missing user")
	})
}

// testSessions covers CreateSession, GetSession and DeleteSession.
func testSessions(t *testing.T, newStore factory) {
	t.Run("CreateGetRoundTrip", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		want := mustCreateSession(t, s, u.ID)

		got, err := s.GetSession(ctx, want.Digest)
		mustOK(t, err, "GetSession")
		checkSession(t, "GetSession", got, want)
	})

	t.Run("GetExpired", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		want := store.Session{
			Digest:    newDigest(),
			UserID:    u.ID,
			CreatedAt: at(-48 * time.Hour),
			ExpiresAt: at(-24 * time.Hour),
		}
		mustOK(t, s.CreateSession(ctx, want), "CreateSession")

		got, err := s.GetSession(ctx, want.Digest)
		mustOK(t, err, "GetSession of an expired session")
		checkSession(t, "GetSession of an expired session", got, want)
	})

	t.Run("GetMissing", func(t *testing.T) {
		s := newStore(t)
		u := mustCreateUser(t, s)
		mustCreateSession(t, s, u.ID)
		_, err := s.GetSession(t.Context(), newDigest())
		wantErr(t, err, store.ErrNotFound, "GetSession of a missing digest")
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		gone := mustCreateSession(t, s, u.ID)
		kept := mustCreateSession(t, s, u.ID)

		mustOK(t, s.DeleteSession(ctx, gone.Digest), "DeleteSession")
		_, err := s.GetSession(ctx, gone.Digest)
		wantErr(t, err, store.ErrNotFound, "GetSession after DeleteSession")

		got, err := s.GetSession(ctx, kept.Digest)
		mustOK(t, err, "GetSession of the other session")
		checkSession(t, "other session after DeleteSession", got, kept)
	})

	t.Run("DeleteMissing", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		sess := mustCreateSession(t, s, u.ID)

		mustOK(t, s.DeleteSession(ctx, newDigest()), "DeleteSession of a missing digest")
		mustOK(t, s.DeleteSession(ctx, sess.Digest), "DeleteSession")
		mustOK(t, s.DeleteSession(ctx, sess.Digest), "DeleteSession of an already deleted session")
	})

	t.Run("CreateUnknownUser", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		mustCreateUser(t, s)
		sess := store.Session{
			Digest:    newDigest(),
			UserID:    uuid.NewString(),
			CreatedAt: base,
			ExpiresAt: at(time.Hour),
		}
		wantErr(t, s.CreateSession(ctx, sess), store.ErrNotFound, "CreateSession for an unknown user")
		_, err := s.GetSession(ctx, sess.Digest)
		wantErr(t, err, store.ErrNotFound, "GetSession of the refused session")
	})

	t.Run("DuplicateDigest", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		first := mustCreateUser(t, s)
		second := mustCreateUser(t, s)
		want := mustCreateSession(t, s, first.ID)

		dup := store.Session{
			Digest:    want.Digest,
			UserID:    second.ID,
			CreatedAt: at(time.Minute),
			ExpiresAt: at(48 * time.Hour),
		}
		wantErr(t, s.CreateSession(ctx, dup), store.ErrAlreadyExists, "CreateSession with a taken digest")

		got, err := s.GetSession(ctx, want.Digest)
		mustOK(t, err, "GetSession")
		checkSession(t, "session after a refused duplicate", got, want)
	})
}
