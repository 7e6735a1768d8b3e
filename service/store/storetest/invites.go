package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/service/store"
)

// testInvites covers invitations by email (pending until an account has
// the email), overrides, and paging of property users.
func testInvites(t *testing.T, newStore factory) {
	t.Run("ExistingAccountByEmail", func(t *testing.T) {
		s := newStore(t)
		o := mustCreateUser(t, s)
		v := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		in := newPropertyUser(p.ID, "", store.RoleUser)
		in.UserEmail = strings.ToUpper(v.Email) // any letter case
		got, err := s.AddPropertyUser(t.Context(), in)
		mustOK(t, err, "AddPropertyUser by email")
		want := in
		want.UserID, want.UserEmail, want.UserName = v.ID, v.Email, v.Name
		checkPropertyUser(t, "AddPropertyUser of an existing account's email", got, want)
		checkRole(t, s, "invited by email", v.ID, p.ID, store.RoleUser)
		wantErr(t, addPropertyUser(t.Context(), s, newInvite(p.ID, v.Email, store.RoleOwner)), store.ErrAlreadyExists,
			"AddPropertyUser of an email whose account has access")
	})

	t.Run("PendingUntilAccountExists", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		o := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		q := mustCreateProperty(t, s, o.ID, "Meadow")
		email := "Later-" + newEmail()
		in := newInvite(p.ID, email, store.RoleOwner)
		in.Overrides = []byte(`{"notify":true}`)
		pending, err := s.AddPropertyUser(ctx, in)
		mustOK(t, err, "AddPropertyUser of an unknown email")
		checkPropertyUser(t, "pending invitation", pending, in)
		if !pending.Pending() {
			t.Errorf("invitation of an unknown email: %+v, want pending", pending)
		}
		got, err := s.GetPropertyUser(ctx, in.ID)
		mustOK(t, err, "GetPropertyUser of a pending invitation")
		checkPropertyUser(t, "GetPropertyUser of a pending invitation", got, in)
		checkPropertyUsers(t, s, "with a pending invitation", p.ID, ownerRecord(t, s, p, o), in)
		wantErr(t, addPropertyUser(ctx, s, newInvite(p.ID, strings.ToLower(email), store.RoleUser)), store.ErrAlreadyExists,
			"a second invitation of the email in another letter case")
		other := newInvite(q.ID, email, store.RoleUser)
		mustOK(t, addPropertyUser(ctx, s, other), "an invitation of the same email to another property")

		// A pending owner is not an owner yet: the last real one stays.
		owner := ownerRecord(t, s, p, o)
		_, err = s.UpdatePropertyUser(ctx, owner.ID, store.RoleUser, nil)
		wantErr(t, err, store.ErrLastOwner, "demoting the last owner while an owner is only invited")

		// The account is created: both invitations take effect with it.
		u := mustCreateUserWith(t, s, strings.ToLower(email))
		active := in
		active.UserID, active.UserEmail, active.UserName = u.ID, u.Email, u.Name
		got, err = s.GetPropertyUser(ctx, in.ID)
		mustOK(t, err, "GetPropertyUser after the account exists")
		checkPropertyUser(t, "invitation after the account exists", got, active)
		checkRole(t, s, "invited owner", u.ID, p.ID, store.RoleOwner)
		checkRole(t, s, "invited user", u.ID, q.ID, store.RoleUser)
		listProperties(t, s, store.PropertyQuery{UserID: u.ID}, []store.Property{p, q}, 2)
		_, err = s.UpdatePropertyUser(ctx, owner.ID, store.RoleUser, nil)
		mustOK(t, err, "demoting one of two owners")
	})

	t.Run("PendingRemovedAndDeleted", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		o := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		email := newEmail()
		in := newInvite(p.ID, email, store.RoleUser)
		mustOK(t, addPropertyUser(ctx, s, in), "AddPropertyUser")
		mustOK(t, s.RemovePropertyUser(ctx, in.ID), "RemovePropertyUser of a pending invitation")
		_, err := s.GetPropertyUser(ctx, in.ID)
		wantErr(t, err, store.ErrNotFound, "GetPropertyUser of a withdrawn invitation")
		again := newInvite(p.ID, email, store.RoleUser)
		mustOK(t, addPropertyUser(ctx, s, again), "inviting again after a withdrawal")
		mustOK(t, s.DeleteProperty(ctx, p.ID), "DeleteProperty")
		_, err = s.GetPropertyUser(ctx, again.ID)
		wantErr(t, err, store.ErrNotFound, "GetPropertyUser of an invitation to a deleted property")
		u := mustCreateUserWith(t, s, email)
		listProperties(t, s, store.PropertyQuery{UserID: u.ID}, nil, 0)
	})

	t.Run("Overrides", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		o := mustCreateUser(t, s)
		v := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		pv := newPropertyUser(p.ID, v.ID, store.RoleUser)
		pv.Overrides = []byte(`{"rate_plans":["a","b"],"limit":3}`)
		pv = mustAdd(t, s, pv)

		got, err := s.UpdatePropertyUser(ctx, pv.ID, store.RoleOwner, nil)
		mustOK(t, err, "UpdatePropertyUser of the role only")
		pv.Role = store.RoleOwner
		checkPropertyUser(t, "role changed, overrides kept", got, pv)

		got, err = s.UpdatePropertyUser(ctx, pv.ID, "", []byte(`{"limit":4}`))
		mustOK(t, err, "UpdatePropertyUser of the overrides only")
		pv.Overrides = []byte(`{"limit":4}`)
		checkPropertyUser(t, "overrides changed, role kept", got, pv)
		got, err = s.GetPropertyUser(ctx, pv.ID)
		mustOK(t, err, "GetPropertyUser")
		checkPropertyUser(t, "GetPropertyUser after the changes", got, pv)
	})

	t.Run("Paging", func(t *testing.T) {
		s := newStore(t)
		o := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		all := []store.PropertyUser{ownerRecord(t, s, p, o)}
		for i := range 4 {
			in := newInvite(p.ID, newEmail(), store.RoleUser)
			in.CreatedAt = at(time.Duration(i+1) * time.Hour)
			mustOK(t, addPropertyUser(t.Context(), s, in), "AddPropertyUser")
			all = append(all, in)
		}
		for _, tc := range []struct{ offset, limit, from, to int }{
			{0, 2, 0, 2}, {2, 2, 2, 4}, {4, 2, 4, 5}, {5, 2, 5, 5}, {1, 0, 1, 5},
		} {
			got, total, err := s.ListPropertyUsers(t.Context(), p.ID, tc.offset, tc.limit)
			what := fmt.Sprintf("ListPropertyUsers(offset %d, limit %d)", tc.offset, tc.limit)
			mustOK(t, err, what)
			checkTotal(t, what, total, len(all))
			if len(got) != tc.to-tc.from {
				t.Errorf("%s = %d records, want %d", what, len(got), tc.to-tc.from)
				continue
			}
			for i := range got {
				checkPropertyUser(t, what, got[i], all[tc.from+i])
			}
		}
	})
}

// newInvite returns an invitation of an email, not stored yet.
func newInvite(propertyID, email string, role store.Role) store.PropertyUser {
	pu := newPropertyUser(propertyID, "", role)
	pu.UserEmail = email
	return pu
}

// testPropertyUpdates covers UpdateProperty as a read, apply, write.
func testPropertyUpdates(t *testing.T, newStore factory) {
	t.Run("ApplySeesStoredAndErrorWritesNothing", func(t *testing.T) {
		s := newStore(t)
		u := mustCreateUser(t, s)
		stored := newFullProperty("Harbour")
		mustOK(t, s.CreateProperty(t.Context(), stored, u.ID), "CreateProperty")
		refused := errors.New("refused by the caller")
		_, err := s.UpdateProperty(t.Context(), stored.ID, func(p *store.Property) error {
			checkProperty(t, "what apply is given", *p, stored)
			p.Title = "Changed"
			return refused
		})
		if !errors.Is(err, refused) || err.Error() != refused.Error() {
			t.Errorf("UpdateProperty whose apply fails = %v, want the apply error as it is", err)
		}
		got, err := s.GetProperty(t.Context(), stored.ID)
		mustOK(t, err, "GetProperty")
		checkProperty(t, "after a refused update", got, stored)
		_, err = s.UpdateProperty(t.Context(), newProperty("x").ID, func(*store.Property) error { return nil })
		wantErr(t, err, store.ErrNotFound, "UpdateProperty of a missing property")
	})

	t.Run("ConcurrentUpdatesOfDifferentAttributesAllSurvive", func(t *testing.T) {
		s := newStore(t)
		u := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, u.ID, "Harbour")
		setters := []func(p *store.Property, v string){
			func(p *store.Property, v string) { p.City = v },
			func(p *store.Property, v string) { p.State = v },
			func(p *store.Property, v string) { p.Phone = v },
			func(p *store.Property, v string) { p.Address = v },
			func(p *store.Property, v string) { p.ZipCode = v },
			func(p *store.Property, v string) { p.Content.Description = v },
			func(p *store.Property, v string) { p.Settings.CutOffTime = v },
			func(p *store.Property, v string) { p.Facilities = append(p.Facilities, v) },
		}
		var wg sync.WaitGroup
		errs := make([]error, len(setters))
		for i, set := range setters {
			wg.Go(func() {
				_, errs[i] = s.UpdateProperty(t.Context(), p.ID, func(q *store.Property) error {
					set(q, newProperty("x").ID)
					return nil
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil && !errors.Is(err, store.ErrAborted) {
				t.Errorf("concurrent UpdateProperty %d: %v", i, err)
			}
		}
		got, err := s.GetProperty(t.Context(), p.ID)
		mustOK(t, err, "GetProperty")
		for i, set := range setters {
			if errs[i] != nil {
				continue
			}
			probe := got
			probe.Facilities = nil
			if i == len(setters)-1 {
				if len(got.Facilities) != 1 {
					t.Errorf("facilities after concurrent updates = %q, want the one added", got.Facilities)
				}
				continue
			}
			// Setting the attribute again to its empty value must change
			// something: the concurrent update of it survived.
			before := fmt.Sprintf("%+v", probe)
			set(&probe, "")
			if fmt.Sprintf("%+v", probe) == before {
				t.Errorf("update %d was lost: %+v", i, got)
			}
		}
	})
}
