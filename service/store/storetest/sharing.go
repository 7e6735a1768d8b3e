package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/service/store"
)

// newPropertyUser returns a property user record that is not stored yet,
// created a minute after the suite's properties, so that it lists after
// their owners.
func newPropertyUser(propertyID, userID string, role store.Role) store.PropertyUser {
	return store.PropertyUser{
		ID:         uuid.NewString(),
		PropertyID: propertyID,
		UserID:     userID,
		Role:       role,
		CreatedAt:  at(time.Minute),
	}
}

// mustAddPropertyUser gives a user access to a property and returns the
// record as the store is expected to give it back: with the user's email.
func mustAddPropertyUser(t *testing.T, s store.Store, propertyID, userID string, role store.Role) store.PropertyUser {
	t.Helper()
	return mustAdd(t, s, newPropertyUser(propertyID, userID, role))
}

// mustAdd stores pu and returns it with the user's email and name filled
// in, checking that AddPropertyUser returned exactly that.
func mustAdd(t *testing.T, s store.Store, pu store.PropertyUser) store.PropertyUser {
	t.Helper()
	got, err := s.AddPropertyUser(t.Context(), pu)
	if err != nil {
		t.Fatalf("AddPropertyUser(%s as %s): %v", pu.UserID, pu.Role, err)
	}
	u, err := s.GetUser(t.Context(), pu.UserID)
	mustOK(t, err, "GetUser")
	pu.UserEmail, pu.UserName = u.Email, u.Name
	checkPropertyUser(t, "AddPropertyUser", got, pu)
	return pu
}

// addPropertyUser is AddPropertyUser for tests that want only its error.
func addPropertyUser(ctx context.Context, s store.Store, pu store.PropertyUser) error {
	_, err := s.AddPropertyUser(ctx, pu)
	return err
}

// ownerRecord returns the owner record CreateProperty made for p.
func ownerRecord(t *testing.T, s store.Store, p store.Property, owner store.User) store.PropertyUser {
	t.Helper()
	list, _, err := s.ListPropertyUsers(t.Context(), p.ID, 0, 0)
	mustOK(t, err, "ListPropertyUsers")
	for _, pu := range list {
		if pu.UserID == owner.ID {
			return pu
		}
	}
	t.Fatalf("ListPropertyUsers(%q) = %+v: no record of the owner", p.Title, list)
	return store.PropertyUser{}
}

// checkPropertyUsers lists a property's users and compares them in order.
func checkPropertyUsers(t *testing.T, s store.Store, what, propertyID string, want ...store.PropertyUser) {
	t.Helper()
	got, _, err := s.ListPropertyUsers(t.Context(), propertyID, 0, 0)
	mustOK(t, err, what+": ListPropertyUsers")
	if got == nil {
		t.Errorf("%s: ListPropertyUsers = nil, want a non-nil slice", what)
	}
	if len(got) != len(want) {
		t.Errorf("%s: ListPropertyUsers = %+v, want %+v", what, got, want)
		return
	}
	for i := range got {
		checkPropertyUser(t, what+": ListPropertyUsers item", got[i], want[i])
	}
}

// checkRole compares a user's role on a property.
func checkRole(t *testing.T, s store.Store, what, userID, propertyID string, want store.Role) {
	t.Helper()
	got, err := s.PropertyRole(t.Context(), userID, propertyID)
	mustOK(t, err, what+": PropertyRole")
	if got != want {
		t.Errorf("%s: PropertyRole = %q, want %q", what, got, want)
	}
}

// badIDs returns ids that name no record although they look close to id:
// another id, id in upper case, and malformed ones.
func badIDs(id string) map[string]string {
	return map[string]string{
		"missing id":  uuid.NewString(),
		"upper case":  strings.ToUpper(id),
		"braces":      "{" + id + "}",
		"malformed":   "not-a-uuid",
		"empty":       "",
		"other shape": strings.ReplaceAll(id, "-", ""),
	}
}

// testSharing covers AddPropertyUser, GetPropertyUser, ListPropertyUsers,
// SetPropertyUserRole and RemovePropertyUser.
func testSharing(t *testing.T, newStore factory) {
	t.Run("AddGetList", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		o := mustCreateUser(t, s)
		v := mustCreateUser(t, s)
		w := mustCreateUser(t, s)
		x := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		q := mustCreateProperty(t, s, o.ID, "Meadow")
		owner := ownerRecord(t, s, p, o)

		// Added out of order; w and x at the same time, ordered by id.
		pv := newPropertyUser(p.ID, v.ID, store.RoleUser)
		pv.CreatedAt = at(2 * time.Hour)
		pv.UserEmail = "ignored@example.com" // read-only
		pw := newPropertyUser(p.ID, w.ID, store.RoleOwner)
		pw.CreatedAt = at(time.Hour)
		px := newPropertyUser(p.ID, x.ID, store.RoleUser)
		px.CreatedAt = at(time.Hour)
		pv, pw, px = mustAdd(t, s, pv), mustAdd(t, s, pw), mustAdd(t, s, px)

		for _, want := range []store.PropertyUser{owner, pv, pw, px} {
			got, err := s.GetPropertyUser(ctx, want.ID)
			mustOK(t, err, "GetPropertyUser")
			checkPropertyUser(t, "GetPropertyUser", got, want)
		}
		middle := []store.PropertyUser{pw, px}
		if px.ID < pw.ID {
			middle = []store.PropertyUser{px, pw}
		}
		checkPropertyUsers(t, s, "oldest first, ties by id", p.ID, owner, middle[0], middle[1], pv)
		checkPropertyUsers(t, s, "another property", q.ID, ownerRecord(t, s, q, o))

		checkRole(t, s, "added user", v.ID, p.ID, store.RoleUser)
		checkRole(t, s, "added owner", w.ID, p.ID, store.RoleOwner)
		checkRole(t, s, "added user, another property", v.ID, q.ID, "")
		// Access brings the property into the user's list.
		listProperties(t, s, store.PropertyQuery{UserID: v.ID}, []store.Property{p}, 1)
		listProperties(t, s, store.PropertyQuery{UserID: w.ID}, []store.Property{p}, 1)
	})

	t.Run("AddErrors", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		o := mustCreateUser(t, s)
		v := mustCreateUser(t, s)
		w := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		owner := ownerRecord(t, s, p, o)
		pv := mustAddPropertyUser(t, s, p.ID, v.ID, store.RoleUser)

		wantErr(t, addPropertyUser(ctx, s, newPropertyUser(p.ID, v.ID, store.RoleOwner)), store.ErrAlreadyExists,
			"AddPropertyUser of a user with access")
		wantErr(t, addPropertyUser(ctx, s, newPropertyUser(p.ID, o.ID, store.RoleUser)), store.ErrAlreadyExists,
			"AddPropertyUser of the owner")
		taken := newPropertyUser(p.ID, w.ID, store.RoleUser)
		taken.ID = pv.ID
		wantErr(t, addPropertyUser(ctx, s, taken), store.ErrAlreadyExists, "AddPropertyUser with a taken id")

		for name, id := range badIDs(p.ID) {
			wantErr(t, addPropertyUser(ctx, s, newPropertyUser(id, w.ID, store.RoleUser)), store.ErrNotFound,
				"AddPropertyUser to a property by "+name)
		}
		for name, id := range badIDs(w.ID) {
			wantErr(t, addPropertyUser(ctx, s, newPropertyUser(p.ID, id, store.RoleUser)), store.ErrNotFound,
				"AddPropertyUser of a user by "+name)
		}

		// Nothing changed.
		checkPropertyUsers(t, s, "after refused additions", p.ID, owner, pv)
		checkRole(t, s, "refused user", w.ID, p.ID, "")
		checkRole(t, s, "user added again as owner", v.ID, p.ID, store.RoleUser)
		checkRole(t, s, "owner added again as user", o.ID, p.ID, store.RoleOwner)
	})

	t.Run("GetMissing", func(t *testing.T) {
		s := newStore(t)
		o := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		owner := ownerRecord(t, s, p, o)
		for name, id := range badIDs(owner.ID) {
			_, err := s.GetPropertyUser(t.Context(), id)
			wantErr(t, err, store.ErrNotFound, "GetPropertyUser by "+name)
		}
		// A property id is not a property user id.
		_, err := s.GetPropertyUser(t.Context(), p.ID)
		wantErr(t, err, store.ErrNotFound, "GetPropertyUser by a property id")
	})

	t.Run("ListMissingProperty", func(t *testing.T) {
		s := newStore(t)
		o := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		for name, id := range badIDs(p.ID) {
			_, _, err := s.ListPropertyUsers(t.Context(), id, 0, 0)
			wantErr(t, err, store.ErrNotFound, "ListPropertyUsers of a property by "+name)
		}
	})

	t.Run("SetRole", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		o := mustCreateUser(t, s)
		v := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		owner := ownerRecord(t, s, p, o)
		pv := newPropertyUser(p.ID, v.ID, store.RoleUser)
		pv.CreatedAt = at(time.Hour)
		pv = mustAdd(t, s, pv)

		set := func(what string, pu store.PropertyUser, role store.Role) store.PropertyUser {
			t.Helper()
			got, err := s.UpdatePropertyUser(ctx, pu.ID, role, nil)
			mustOK(t, err, what)
			pu.Role = role
			checkPropertyUser(t, what+" result", got, pu)
			got, err = s.GetPropertyUser(ctx, pu.ID)
			mustOK(t, err, "GetPropertyUser")
			checkPropertyUser(t, "GetPropertyUser after "+what, got, pu)
			want := role
			if pu.UserID == o.ID {
				want = store.RoleOwner // o also owns the property's base group
			}
			checkRole(t, s, what, pu.UserID, p.ID, want)
			return pu
		}
		pv = set("promoting a user", pv, store.RoleOwner)
		owner = set("demoting one of two owners", owner, store.RoleUser)
		checkPropertyUsers(t, s, "after the role changes", p.ID, owner, pv)

		// The same role again changes nothing, even for the last owner.
		pv = set("setting the last owner's role again", pv, store.RoleOwner)
		owner = set("setting a user's role again", owner, store.RoleUser)
		checkPropertyUsers(t, s, "after setting the same roles", p.ID, owner, pv)

		owner = set("promoting back", owner, store.RoleOwner)
		checkPropertyUsers(t, s, "after promoting back", p.ID, owner, pv)
	})

	t.Run("SetRoleMissing", func(t *testing.T) {
		s := newStore(t)
		o := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		owner := ownerRecord(t, s, p, o)
		for name, id := range badIDs(owner.ID) {
			_, err := s.UpdatePropertyUser(t.Context(), id, store.RoleUser, nil)
			wantErr(t, err, store.ErrNotFound, "UpdatePropertyUser by "+name)
		}
		checkPropertyUsers(t, s, "after SetPropertyUserRole of missing records", p.ID, owner)
	})

	t.Run("LastOwner", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		o := mustCreateUser(t, s)
		v := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		owner := ownerRecord(t, s, p, o)
		pv := mustAddPropertyUser(t, s, p.ID, v.ID, store.RoleUser)
		// v owns another property, and o is an owner there too: owners
		// count per property.
		q := mustCreateProperty(t, s, v.ID, "Meadow")
		mustAddPropertyUser(t, s, q.ID, o.ID, store.RoleOwner)

		_, err := s.UpdatePropertyUser(ctx, owner.ID, store.RoleUser, nil)
		wantErr(t, err, store.ErrLastOwner, "UpdatePropertyUser demoting the last owner")
		wantErr(t, s.RemovePropertyUser(ctx, owner.ID), store.ErrLastOwner, "RemovePropertyUser of the last owner")
		checkPropertyUsers(t, s, "after refusing to lose the last owner", p.ID, owner, pv)
		checkRole(t, s, "last owner after the refusals", o.ID, p.ID, store.RoleOwner)

		// Hand the property over: promote v, then demote o.
		got, err := s.UpdatePropertyUser(ctx, pv.ID, store.RoleOwner, nil)
		mustOK(t, err, "UpdatePropertyUser promoting a user")
		pv.Role = store.RoleOwner
		checkPropertyUser(t, "promoted user", got, pv)
		_, err = s.UpdatePropertyUser(ctx, owner.ID, store.RoleUser, nil)
		mustOK(t, err, "UpdatePropertyUser demoting one of two owners")
		owner.Role = store.RoleUser

		// v is now the last owner.
		_, err = s.UpdatePropertyUser(ctx, pv.ID, store.RoleUser, nil)
		wantErr(t, err, store.ErrLastOwner, "UpdatePropertyUser demoting the new last owner")
		wantErr(t, s.RemovePropertyUser(ctx, pv.ID), store.ErrLastOwner, "RemovePropertyUser of the new last owner")
		checkPropertyUsers(t, s, "after the hand-over", p.ID, owner, pv)

		// Removing a user never needs an owner to stay.
		mustOK(t, s.RemovePropertyUser(ctx, owner.ID), "RemovePropertyUser of a user")
		checkPropertyUsers(t, s, "after removing the former owner", p.ID, pv)
		wantErr(t, s.RemovePropertyUser(ctx, pv.ID), store.ErrLastOwner, "RemovePropertyUser of the only record")
		checkPropertyUsers(t, s, "at the end", p.ID, pv)
	})

	t.Run("Remove", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		o := mustCreateUser(t, s)
		v := mustCreateUser(t, s)
		w := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		q := mustCreateProperty(t, s, o.ID, "Meadow")
		owner := ownerRecord(t, s, p, o)
		pv := mustAddPropertyUser(t, s, p.ID, v.ID, store.RoleUser)
		pw := mustAddPropertyUser(t, s, p.ID, w.ID, store.RoleOwner)
		qv := mustAddPropertyUser(t, s, q.ID, v.ID, store.RoleUser)

		mustOK(t, s.RemovePropertyUser(ctx, pv.ID), "RemovePropertyUser of a user")
		_, err := s.GetPropertyUser(ctx, pv.ID)
		wantErr(t, err, store.ErrNotFound, "GetPropertyUser of a removed record")
		wantErr(t, s.RemovePropertyUser(ctx, pv.ID), store.ErrNotFound, "RemovePropertyUser of a removed record")
		_, err = s.UpdatePropertyUser(ctx, pv.ID, store.RoleOwner, nil)
		wantErr(t, err, store.ErrNotFound, "UpdatePropertyUser of a removed record")
		checkRole(t, s, "removed user", v.ID, p.ID, "")
		checkRole(t, s, "removed user, another property", v.ID, q.ID, store.RoleUser)
		listProperties(t, s, store.PropertyQuery{UserID: v.ID}, []store.Property{q}, 1)

		mustOK(t, s.RemovePropertyUser(ctx, pw.ID), "RemovePropertyUser of one of two owners")
		checkRole(t, s, "removed owner", w.ID, p.ID, "")
		checkPropertyUsers(t, s, "after the removals", p.ID, owner)
		checkPropertyUsers(t, s, "another property after the removals", q.ID, ownerRecord(t, s, q, o), qv)

		// The user can be given access again, as a new record.
		again := mustAddPropertyUser(t, s, p.ID, v.ID, store.RoleOwner)
		checkPropertyUsers(t, s, "after adding a removed user again", p.ID, owner, again)
		checkRole(t, s, "user added again", v.ID, p.ID, store.RoleOwner)
	})

	t.Run("RemoveMissing", func(t *testing.T) {
		s := newStore(t)
		o := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		owner := ownerRecord(t, s, p, o)
		for name, id := range badIDs(owner.ID) {
			wantErr(t, s.RemovePropertyUser(t.Context(), id), store.ErrNotFound, "RemovePropertyUser by "+name)
		}
		checkPropertyUsers(t, s, "after RemovePropertyUser of missing records", p.ID, owner)
	})

	t.Run("DeleteProperty", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		o := mustCreateUser(t, s)
		v := mustCreateUser(t, s)
		w := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		q := mustCreateProperty(t, s, o.ID, "Meadow")
		gone := []store.PropertyUser{
			ownerRecord(t, s, p, o),
			mustAddPropertyUser(t, s, p.ID, v.ID, store.RoleUser),
			mustAddPropertyUser(t, s, p.ID, w.ID, store.RoleOwner),
		}
		qOwner := ownerRecord(t, s, q, o)
		qv := mustAddPropertyUser(t, s, q.ID, v.ID, store.RoleOwner)

		mustOK(t, s.DeleteProperty(ctx, p.ID), "DeleteProperty")

		_, _, err := s.ListPropertyUsers(ctx, p.ID, 0, 0)
		wantErr(t, err, store.ErrNotFound, "ListPropertyUsers of a deleted property")
		for _, pu := range gone {
			_, err := s.GetPropertyUser(ctx, pu.ID)
			wantErr(t, err, store.ErrNotFound, "GetPropertyUser of a deleted property's record")
			_, err = s.UpdatePropertyUser(ctx, pu.ID, store.RoleUser, nil)
			wantErr(t, err, store.ErrNotFound, "UpdatePropertyUser of a deleted property's record")
			wantErr(t, s.RemovePropertyUser(ctx, pu.ID), store.ErrNotFound, "RemovePropertyUser of a deleted property's record")
			checkRole(t, s, "user of a deleted property", pu.UserID, p.ID, "")
		}
		wantErr(t, addPropertyUser(ctx, s, newPropertyUser(p.ID, w.ID, store.RoleUser)), store.ErrNotFound,
			"AddPropertyUser to a deleted property")
		checkPropertyUsers(t, s, "the other property", q.ID, qOwner, qv)
		listProperties(t, s, store.PropertyQuery{UserID: w.ID}, nil, 0)
	})
}
