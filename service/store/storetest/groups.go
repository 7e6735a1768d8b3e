package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/service/store"
)

// newGroup returns a group record that is not stored yet.
func newGroup(title string) store.Group {
	return store.Group{ID: uuid.NewString(), Title: title, CreatedAt: base}
}

// mustCreateGroup creates a group owned by ownerID.
func mustCreateGroup(t *testing.T, s store.Store, ownerID, title string) store.Group {
	t.Helper()
	g := newGroup(title)
	mustOK(t, s.CreateGroup(t.Context(), g, ownerID), "CreateGroup")
	return g
}

// defaultGroup returns the default group of a user.
func defaultGroup(t *testing.T, s store.Store, userID string) store.Group {
	t.Helper()
	groups, _, err := s.ListGroups(t.Context(), userID, 0, 0)
	mustOK(t, err, "ListGroups")
	for _, g := range groups {
		if g.DefaultOf == userID {
			return g
		}
	}
	t.Fatalf("ListGroups(%s) = %+v: no default group", userID, groups)
	return store.Group{}
}

// mustAddGroupUser adds a user to a group.
func mustAddGroupUser(t *testing.T, s store.Store, groupID, userID string, role store.Role) store.GroupUser {
	t.Helper()
	gu, err := s.AddGroupUser(t.Context(), store.GroupUser{ID: uuid.NewString(), GroupID: groupID, UserID: userID, Role: role, CreatedAt: at(time.Minute)})
	mustOK(t, err, "AddGroupUser")
	if gu.UserID != userID || gu.Role != role || gu.GroupID != groupID {
		t.Fatalf("AddGroupUser = %+v, want user %s as %s in %s", gu, userID, role, groupID)
	}
	return gu
}

// checkRefs compares related records in order.
func checkRefs(t *testing.T, what string, got, want []store.Ref) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = nil, want a non-nil slice", what)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

func checkPropertyGroups(t *testing.T, s store.Store, what string, p store.Property, want ...store.Group) {
	t.Helper()
	got, err := s.PropertyGroups(t.Context(), []string{p.ID})
	mustOK(t, err, what+": PropertyGroups")
	refs := []store.Ref{}
	for _, g := range want {
		refs = append(refs, store.Ref{ID: g.ID, Title: g.Title})
	}
	checkRefs(t, what+": PropertyGroups", got[p.ID], refs)
}

// canList reports whether ListProperties of userID holds the property.
func canList(t *testing.T, s store.Store, userID, propertyID string) bool {
	t.Helper()
	props, total, err := s.ListProperties(t.Context(), store.PropertyQuery{UserID: userID})
	mustOK(t, err, "ListProperties")
	if total != len(props) {
		t.Errorf("ListProperties: total %d, %d properties", total, len(props))
	}
	for _, p := range props {
		if p.ID == propertyID {
			return true
		}
	}
	return false
}

func testGroups(t *testing.T, newStore factory) {
	roles := []store.Role{"", store.RoleUser, store.RoleOwner}

	t.Run("DefaultGroupWithTheAccount", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		groups, total, err := s.ListGroups(ctx, u.ID, 0, 0)
		mustOK(t, err, "ListGroups")
		if total != 1 || len(groups) != 1 || groups[0].DefaultOf != u.ID || groups[0].Title != store.DefaultGroupTitle {
			t.Fatalf("ListGroups of a new user = %+v (%d), want one default group", groups, total)
		}
		g := groups[0]
		if role, err := s.GroupRole(ctx, u.ID, g.ID); err != nil || role != store.RoleOwner {
			t.Errorf("GroupRole in the default group = %q, %v; want owner", role, err)
		}
		p := mustCreateProperty(t, s, u.ID, "Harbour")
		checkPropertyGroups(t, s, "a property created without a group", p, g)
		checkRefs(t, "GroupProperties", mustGroupProperties(t, s, g.ID), []store.Ref{{ID: p.ID, Title: p.Title}})
		wantErr(t, s.DeleteGroup(ctx, g.ID), store.ErrDefaultGroup, "DeleteGroup of a default group")
		// Empty, it still cannot be deleted.
		other := mustCreateGroup(t, s, u.ID, "Other")
		mustOK(t, s.LinkProperty(ctx, other.ID, p.ID), "LinkProperty")
		mustOK(t, s.UnlinkProperty(ctx, g.ID, p.ID), "UnlinkProperty")
		wantErr(t, s.DeleteGroup(ctx, g.ID), store.ErrDefaultGroup, "DeleteGroup of an empty default group")
	})

	t.Run("CRUD", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		stranger := mustCreateUser(t, s)
		b := mustCreateGroup(t, s, u.ID, "Beta")
		a := mustCreateGroup(t, s, u.ID, "Alpha")
		got, err := s.GetGroup(ctx, a.ID)
		mustOK(t, err, "GetGroup")
		if got.ID != a.ID || got.Title != "Alpha" || got.DefaultOf != "" || !got.CreatedAt.Equal(base) {
			t.Errorf("GetGroup = %+v, want %+v", got, a)
		}
		def := defaultGroup(t, s, u.ID)
		list, total, err := s.ListGroups(ctx, u.ID, 0, 2)
		mustOK(t, err, "ListGroups")
		if total != 3 || len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
			t.Errorf("ListGroups page 1 = %+v (%d), want Alpha, Beta of 3", list, total)
		}
		list, _, err = s.ListGroups(ctx, u.ID, 2, 2)
		mustOK(t, err, "ListGroups")
		if len(list) != 1 || list[0].ID != def.ID {
			t.Errorf("ListGroups page 2 = %+v, want the default group", list)
		}
		if list, total, _ := s.ListGroups(ctx, stranger.ID, 0, 0); total != 1 || len(list) != 1 || list[0].DefaultOf != stranger.ID {
			t.Errorf("ListGroups of another user = %+v, want only their default group", list)
		}
		if role, _ := s.GroupRole(ctx, stranger.ID, a.ID); role != "" {
			t.Errorf("GroupRole of a stranger = %q, want none", role)
		}
		renamed, err := s.UpdateGroup(ctx, a.ID, "Aleph")
		mustOK(t, err, "UpdateGroup")
		if renamed.Title != "Aleph" || renamed.ID != a.ID {
			t.Errorf("UpdateGroup = %+v", renamed)
		}
		mustOK(t, s.DeleteGroup(ctx, a.ID), "DeleteGroup of an empty group")
		_, err = s.GetGroup(ctx, a.ID)
		wantErr(t, err, store.ErrNotFound, "GetGroup of a deleted group")
		wantErr(t, s.DeleteGroup(ctx, a.ID), store.ErrNotFound, "DeleteGroup again")
		for what, id := range badIDs(b.ID) {
			_, err := s.GetGroup(ctx, id)
			wantErr(t, err, store.ErrNotFound, "GetGroup of a "+what)
			_, err = s.UpdateGroup(ctx, id, "x")
			wantErr(t, err, store.ErrNotFound, "UpdateGroup of a "+what)
			wantErr(t, s.DeleteGroup(ctx, id), store.ErrNotFound, "DeleteGroup of a "+what)
			_, err = s.GroupProperties(ctx, id)
			wantErr(t, err, store.ErrNotFound, "GroupProperties of a "+what)
			_, _, err = s.ListGroupUsers(ctx, id, 0, 0)
			wantErr(t, err, store.ErrNotFound, "ListGroupUsers of a "+what)
			if role, err := s.GroupRole(ctx, u.ID, id); err != nil || role != "" {
				t.Errorf("GroupRole in a %s = %q, %v", what, role, err)
			}
		}
		wantErr(t, s.CreateGroup(ctx, newGroup("x"), uuid.NewString()), store.ErrNotFound, "CreateGroup by a missing user")
	})

	t.Run("BaseGroup", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		mine := mustCreateGroup(t, s, u.ID, "Mine")
		p := newProperty("Harbour")
		p.GroupID = mine.ID
		mustOK(t, s.CreateProperty(ctx, p, u.ID), "CreateProperty in a group of the owner")
		checkPropertyGroups(t, s, "a property created in a group", p, mine)

		theirs := mustCreateGroup(t, s, other.ID, "Theirs")
		shared := mustCreateGroup(t, s, other.ID, "Shared")
		mustAddGroupUser(t, s, shared.ID, u.ID, store.RoleUser)
		for what, groupID := range map[string]string{
			"another user's group":         theirs.ID,
			"a group the user only uses":   shared.ID,
			"a missing group":              uuid.NewString(),
			"an id that is not a group id": "nope",
		} {
			q := newProperty("Refused")
			q.GroupID = groupID
			wantErr(t, s.CreateProperty(ctx, q, u.ID), store.ErrNotFound, "CreateProperty in "+what)
			_, err := s.GetProperty(ctx, q.ID)
			wantErr(t, err, store.ErrNotFound, "GetProperty after CreateProperty in "+what)
		}
		got, err := s.GetProperty(ctx, p.ID)
		mustOK(t, err, "GetProperty")
		if got.GroupID != "" {
			t.Errorf("GetProperty: GroupID = %q, want it empty on reads", got.GroupID)
		}
	})

	t.Run("Links", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		def := defaultGroup(t, s, u.ID)
		g := mustCreateGroup(t, s, u.ID, "Coast")
		p := mustCreateProperty(t, s, u.ID, "Harbour")
		q := mustCreateProperty(t, s, u.ID, "Anchor")
		wantErr(t, s.LinkProperty(ctx, def.ID, p.ID), store.ErrAlreadyExists, "LinkProperty twice")
		mustOK(t, s.LinkProperty(ctx, g.ID, p.ID), "LinkProperty")
		mustOK(t, s.LinkProperty(ctx, g.ID, q.ID), "LinkProperty")
		checkPropertyGroups(t, s, "after linking", p, g, def)
		checkRefs(t, "GroupProperties", mustGroupProperties(t, s, g.ID), []store.Ref{{ID: q.ID, Title: q.Title}, {ID: p.ID, Title: p.Title}})
		wantErr(t, s.LinkProperty(ctx, uuid.NewString(), p.ID), store.ErrNotFound, "LinkProperty to a missing group")
		wantErr(t, s.LinkProperty(ctx, g.ID, uuid.NewString()), store.ErrNotFound, "LinkProperty of a missing property")
		wantErr(t, s.DeleteGroup(ctx, g.ID), store.ErrGroupNotEmpty, "DeleteGroup of a group with properties")

		mustOK(t, s.UnlinkProperty(ctx, def.ID, p.ID), "UnlinkProperty")
		wantErr(t, s.UnlinkProperty(ctx, def.ID, p.ID), store.ErrNotFound, "UnlinkProperty again")
		wantErr(t, s.UnlinkProperty(ctx, g.ID, p.ID), store.ErrLastGroup, "UnlinkProperty of the last group")
		checkPropertyGroups(t, s, "after refusing to unlink the last group", p, g)

		// A deleted property leaves its groups.
		mustOK(t, s.DeleteProperty(ctx, q.ID), "DeleteProperty")
		checkRefs(t, "GroupProperties after DeleteProperty", mustGroupProperties(t, s, g.ID), []store.Ref{{ID: p.ID, Title: p.Title}})
		got, err := s.PropertyGroups(ctx, []string{q.ID, "nope"})
		mustOK(t, err, "PropertyGroups")
		if len(got) != 0 {
			t.Errorf("PropertyGroups of a deleted property = %+v, want no entry", got)
		}
		mustOK(t, s.LinkProperty(ctx, def.ID, p.ID), "LinkProperty back")
		mustOK(t, s.UnlinkProperty(ctx, g.ID, p.ID), "UnlinkProperty")
		mustOK(t, s.DeleteGroup(ctx, g.ID), "DeleteGroup once empty")
	})

	// The access function: the stronger of the direct role and the group
	// role, for every combination, through PropertyRole and ListProperties
	// alike.
	t.Run("AccessFunction", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		o := mustCreateUser(t, s)
		for _, direct := range roles {
			for _, viaGroup := range roles {
				for _, viaSecond := range roles {
					name := fmt.Sprintf("direct %q, group %q, second group %q", direct, viaGroup, viaSecond)
					x := mustCreateUser(t, s)
					p := mustCreateProperty(t, s, o.ID, "P "+name)
					if direct != "" {
						mustAddPropertyUser(t, s, p.ID, x.ID, direct)
					}
					for _, r := range []store.Role{viaGroup, viaSecond} {
						g := mustCreateGroup(t, s, o.ID, "G "+name)
						mustOK(t, s.LinkProperty(ctx, g.ID, p.ID), "LinkProperty")
						if r != "" {
							mustAddGroupUser(t, s, g.ID, x.ID, r)
						}
					}
					want := store.Stronger(direct, store.Stronger(viaGroup, viaSecond))
					checkRole(t, s, name, x.ID, p.ID, want)
					if got := canList(t, s, x.ID, p.ID); got != (want != "") {
						t.Errorf("%s: ListProperties holds the property: %t, want %t", name, got, want != "")
					}
				}
			}
		}
		// A member of a group that does not hold the property gets nothing;
		// a pending invitation gives nothing.
		x := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, o.ID, "Lonely")
		g := mustCreateGroup(t, s, o.ID, "Empty")
		mustAddGroupUser(t, s, g.ID, x.ID, store.RoleOwner)
		_, err := s.AddGroupUser(ctx, store.GroupUser{ID: uuid.NewString(), GroupID: defaultGroup(t, s, o.ID).ID, UserEmail: newEmail(), Role: store.RoleOwner, CreatedAt: base})
		mustOK(t, err, "AddGroupUser of a pending email")
		checkRole(t, s, "a member of another group", x.ID, p.ID, "")
	})

	t.Run("AccessFollowsChanges", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		o := mustCreateUser(t, s)
		x := mustCreateUser(t, s)
		g := mustCreateGroup(t, s, o.ID, "Coast")
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		checkRole(t, s, "before linking", x.ID, p.ID, "")
		gu := mustAddGroupUser(t, s, g.ID, x.ID, store.RoleOwner)
		checkRole(t, s, "a member of a group without the property", x.ID, p.ID, "")
		mustOK(t, s.LinkProperty(ctx, g.ID, p.ID), "LinkProperty")
		checkRole(t, s, "after linking", x.ID, p.ID, store.RoleOwner)
		_, err := s.UpdateGroupUser(ctx, gu.ID, store.RoleUser, nil)
		mustOK(t, err, "UpdateGroupUser")
		checkRole(t, s, "after lowering the role", x.ID, p.ID, store.RoleUser)
		mustOK(t, s.UnlinkProperty(ctx, g.ID, p.ID), "UnlinkProperty")
		checkRole(t, s, "after unlinking", x.ID, p.ID, "")
		mustOK(t, s.LinkProperty(ctx, g.ID, p.ID), "LinkProperty")
		mustOK(t, s.RemoveGroupUser(ctx, gu.ID), "RemoveGroupUser")
		checkRole(t, s, "after removing the member", x.ID, p.ID, "")
		if canList(t, s, x.ID, p.ID) {
			t.Errorf("ListProperties of a removed member holds the property")
		}
	})

	t.Run("GroupUsers", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		o := mustCreateUser(t, s)
		x := mustCreateUser(t, s)
		g := mustCreateGroup(t, s, o.ID, "Coast")
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		mustOK(t, s.LinkProperty(ctx, g.ID, p.ID), "LinkProperty")
		users, total, err := s.ListGroupUsers(ctx, g.ID, 0, 0)
		mustOK(t, err, "ListGroupUsers")
		if total != 1 || len(users) != 1 || users[0].UserID != o.ID || users[0].Role != store.RoleOwner || users[0].UserEmail != o.Email {
			t.Fatalf("ListGroupUsers of a new group = %+v, want its creator as owner", users)
		}
		ownerRec := users[0]
		xRec := mustAddGroupUser(t, s, g.ID, x.ID, store.RoleUser)
		_, err = s.AddGroupUser(ctx, store.GroupUser{ID: uuid.NewString(), GroupID: g.ID, UserID: x.ID, Role: store.RoleOwner, CreatedAt: base})
		wantErr(t, err, store.ErrAlreadyExists, "AddGroupUser twice")
		_, err = s.AddGroupUser(ctx, store.GroupUser{ID: uuid.NewString(), GroupID: g.ID, UserEmail: strings.ToUpper(x.Email), Role: store.RoleOwner, CreatedAt: base})
		wantErr(t, err, store.ErrAlreadyExists, "AddGroupUser of a member's email in upper case")
		_, err = s.AddGroupUser(ctx, store.GroupUser{ID: uuid.NewString(), GroupID: uuid.NewString(), UserID: x.ID, Role: store.RoleOwner, CreatedAt: base})
		wantErr(t, err, store.ErrNotFound, "AddGroupUser to a missing group")
		got, err := s.GetGroupUser(ctx, xRec.ID)
		mustOK(t, err, "GetGroupUser")
		if got.UserEmail != x.Email || got.UserName != x.Name || got.Role != store.RoleUser {
			t.Errorf("GetGroupUser = %+v", got)
		}
		got, err = s.UpdateGroupUser(ctx, xRec.ID, "", []byte(`{"a": 1}`))
		mustOK(t, err, "UpdateGroupUser of overrides")
		if got.Role != store.RoleUser || !sameJSON(got.Overrides, []byte(`{"a":1}`)) {
			t.Errorf("UpdateGroupUser of overrides = %+v", got)
		}
		list, total, err := s.ListGroupUsers(ctx, g.ID, 1, 1)
		mustOK(t, err, "ListGroupUsers page 2")
		if total != 2 || len(list) != 1 || list[0].ID != xRec.ID {
			t.Errorf("ListGroupUsers page 2 = %+v (%d)", list, total)
		}

		// The last owner stays.
		_, err = s.UpdateGroupUser(ctx, ownerRec.ID, store.RoleUser, nil)
		wantErr(t, err, store.ErrLastOwner, "demoting the last owner")
		wantErr(t, s.RemoveGroupUser(ctx, ownerRec.ID), store.ErrLastOwner, "removing the last owner")
		_, err = s.UpdateGroupUser(ctx, xRec.ID, store.RoleOwner, nil)
		mustOK(t, err, "promoting a member")
		mustOK(t, s.RemoveGroupUser(ctx, ownerRec.ID), "removing one of two owners")
		wantErr(t, s.RemoveGroupUser(ctx, xRec.ID), store.ErrLastOwner, "removing the new last owner")
		wantErr(t, s.RemoveGroupUser(ctx, ownerRec.ID), store.ErrNotFound, "removing a removed record")
		checkRole(t, s, "the former group owner, still the property's owner", o.ID, p.ID, store.RoleOwner)
		checkRole(t, s, "the new group owner", x.ID, p.ID, store.RoleOwner)
	})

	t.Run("PendingInvitations", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		o := mustCreateUser(t, s)
		g := mustCreateGroup(t, s, o.ID, "Coast")
		p := mustCreateProperty(t, s, o.ID, "Harbour")
		mustOK(t, s.LinkProperty(ctx, g.ID, p.ID), "LinkProperty")
		email := newEmail()
		inv, err := s.AddGroupUser(ctx, store.GroupUser{ID: uuid.NewString(), GroupID: g.ID, UserEmail: email, Role: store.RoleUser, CreatedAt: at(time.Minute)})
		mustOK(t, err, "AddGroupUser of an unknown email")
		if !inv.Pending() || inv.UserEmail != email {
			t.Fatalf("AddGroupUser of an unknown email = %+v, want a pending invitation", inv)
		}
		_, err = s.AddGroupUser(ctx, store.GroupUser{ID: uuid.NewString(), GroupID: g.ID, UserEmail: strings.ToUpper(email), Role: store.RoleOwner, CreatedAt: base})
		wantErr(t, err, store.ErrAlreadyExists, "inviting the same email again")

		u := mustCreateUserWith(t, s, strings.ToUpper(email))
		got, err := s.GetGroupUser(ctx, inv.ID)
		mustOK(t, err, "GetGroupUser")
		if got.Pending() || got.UserID != u.ID || got.Role != store.RoleUser {
			t.Errorf("the invitation after the account exists = %+v, want active for %s", got, u.ID)
		}
		checkRole(t, s, "the invited user", u.ID, p.ID, store.RoleUser)
		if !canList(t, s, u.ID, p.ID) {
			t.Errorf("ListProperties of the invited user misses the group's property")
		}
		groups, total, err := s.ListGroups(ctx, u.ID, 0, 0)
		mustOK(t, err, "ListGroups")
		if total != 2 || len(groups) != 2 {
			t.Errorf("ListGroups of the invited user = %+v, want the group and their default group", groups)
		}

		// A pending invitation can be removed; it is never the last owner.
		pending, err := s.AddGroupUser(ctx, store.GroupUser{ID: uuid.NewString(), GroupID: g.ID, UserEmail: newEmail(), Role: store.RoleOwner, CreatedAt: base})
		mustOK(t, err, "AddGroupUser")
		mustOK(t, s.RemoveGroupUser(ctx, pending.ID), "RemoveGroupUser of a pending invitation")
	})
}

func mustGroupProperties(t *testing.T, s store.Store, groupID string) []store.Ref {
	t.Helper()
	refs, err := s.GroupProperties(t.Context(), groupID)
	mustOK(t, err, "GroupProperties")
	return refs
}
