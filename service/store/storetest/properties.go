package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/service/store"
)

// sortProperties orders properties the way ListProperties does by
// default: by title, byte-wise, then by id.
func sortProperties(props []store.Property) {
	sortPropertiesBy(props, store.OrderByTitle, false)
}

// sortPropertiesBy orders properties the way ListProperties must for the
// given order: by the key, reversed when desc, then by id ascending.
func sortPropertiesBy(props []store.Property, by store.PropertyOrder, desc bool) {
	slices.SortFunc(props, func(a, b store.Property) int {
		var c int
		switch by {
		case "", store.OrderByTitle:
			c = strings.Compare(a.Title, b.Title)
		case store.OrderByCreatedAt:
			c = a.CreatedAt.Compare(b.CreatedAt)
		default:
			panic("storetest: unknown order " + string(by))
		}
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// describeQuery names a query in failure messages.
func describeQuery(q store.PropertyQuery) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ListProperties(OnlyIDs=%t, %d IDs", q.OnlyIDs, len(q.IDs))
	if q.FilterIDs != nil {
		fmt.Fprintf(&b, ", %d FilterIDs", len(q.FilterIDs))
	}
	if q.TitleContains != "" {
		fmt.Fprintf(&b, ", TitleContains=%q", q.TitleContains)
	}
	if q.IsActive != nil {
		fmt.Fprintf(&b, ", IsActive=%t", *q.IsActive)
	}
	if q.OrderBy != "" || q.Desc {
		fmt.Fprintf(&b, ", OrderBy=%q, Desc=%t", q.OrderBy, q.Desc)
	}
	fmt.Fprintf(&b, ", Offset=%d, Limit=%d)", q.Offset, q.Limit)
	return b.String()
}

// listProperties calls ListProperties and checks the ids and the total.
func listProperties(t *testing.T, s store.Store, q store.PropertyQuery, want []store.Property, wantTotal int) []store.Property {
	t.Helper()
	what := describeQuery(q)
	got, total, err := s.ListProperties(t.Context(), q)
	mustOK(t, err, what)
	checkTotal(t, what, total, wantTotal)
	checkIDs(t, what, propertyIDs(got), propertyIDs(want))
	return got
}

// testProperties covers CreateProperty, GetProperty, ListProperties,
// UpdateProperty, DeleteProperty and PropertyRole.
func testProperties(t *testing.T, newStore factory) {
	t.Run("CreateGetRoundTrip", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		want := newProperty("Harbour")
		want.Currency = "CHF"
		want.UpdatedAt = at(time.Minute)
		mustOK(t, s.CreateProperty(ctx, want, u.ID), "CreateProperty")

		got, err := s.GetProperty(ctx, want.ID)
		mustOK(t, err, "GetProperty")
		checkProperty(t, "GetProperty", got, want)
	})

	t.Run("AttributesRoundTrip", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		full := newFullProperty("Hôtel Ünïcødé 東京")
		full.UpdatedAt = at(time.Minute)
		noLimit := newFullProperty("Meadow")
		noLimit.Settings.MaxDayAdvance = nil
		noLimit.IsActive = false
		zeroLimit := newFullProperty("Summit")
		zeroLimit.Settings.MaxDayAdvance = ptr(0) // zero days, not no limit
		zeroLimit.Content.Photos = []store.Photo{{URL: "https://img.example.com/only.jpg"}}
		bare := store.Property{ID: uuid.NewString(), CreatedAt: base, UpdatedAt: base} // every attribute unset
		want := []store.Property{full, noLimit, zeroLimit, bare}
		for _, p := range want {
			mustOK(t, s.CreateProperty(ctx, p, u.ID), "CreateProperty")
		}

		for _, p := range want {
			got, err := s.GetProperty(ctx, p.ID)
			mustOK(t, err, "GetProperty")
			checkProperty(t, fmt.Sprintf("GetProperty(%q)", p.Title), got, p)
		}
		sortProperties(want)
		got := listProperties(t, s, store.PropertyQuery{UserID: u.ID}, want, len(want))
		for i := range min(len(got), len(want)) {
			checkProperty(t, fmt.Sprintf("ListProperties item %q", want[i].Title), got[i], want[i])
		}
	})

	t.Run("PropertySlicesNotShared", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		in := newFullProperty("Harbour")
		mustOK(t, s.CreateProperty(ctx, in, u.ID), "CreateProperty")
		want := newFullProperty("Harbour")
		want.ID = in.ID

		// Changing what the caller passed in must not change the stored
		// property.
		in.Content.Photos[0].URL = "changed"
		*in.Settings.MaxDayAdvance = 1
		got, err := s.GetProperty(ctx, want.ID)
		mustOK(t, err, "GetProperty")
		checkProperty(t, "property after the caller changed its input", got, want)

		// Nor must changing what the store returned.
		got.Content.Photos[0].URL = "changed"
		*got.Settings.MaxDayAdvance = 1
		props, _, err := s.ListProperties(ctx, store.PropertyQuery{UserID: u.ID})
		mustOK(t, err, "ListProperties")
		if len(props) != 1 {
			t.Fatalf("ListProperties = %d properties, want 1", len(props))
		}
		checkProperty(t, "property after the caller changed a GetProperty result", props[0], want)
		props[0].Content.Photos[1].Kind = "changed"
		*props[0].Settings.MaxDayAdvance = 2
		updated, err := s.UpdateProperty(ctx, want.ID, replaceWith(want))
		mustOK(t, err, "UpdateProperty")
		checkProperty(t, "property after the caller changed a ListProperties result", updated, want)
		updated.Content.Photos[2].Author = "changed"
		*updated.Settings.MaxDayAdvance = 3
		got, err = s.GetProperty(ctx, want.ID)
		mustOK(t, err, "GetProperty")
		checkProperty(t, "property after the caller changed an UpdateProperty result", got, want)
	})

	t.Run("CreateAddsOwner", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		p := newProperty("Harbour")
		p.CreatedAt = at(time.Hour)
		p.UpdatedAt = at(2 * time.Hour)
		mustOK(t, s.CreateProperty(ctx, p, u.ID), "CreateProperty")
		other := mustCreateProperty(t, s, u.ID, "Meadow")

		list, _, err := s.ListPropertyUsers(ctx, p.ID, 0, 0)
		mustOK(t, err, "ListPropertyUsers")
		if len(list) != 1 {
			t.Fatalf("ListPropertyUsers of a new property = %+v, want only its owner", list)
		}
		owner := list[0]
		if !store.ValidID(owner.ID) {
			t.Errorf("owner's PropertyUser.ID = %q, want a fresh canonical id", owner.ID)
		}
		want := store.PropertyUser{ID: owner.ID, PropertyID: p.ID, UserID: u.ID, UserEmail: u.Email, UserName: u.Name, Role: store.RoleOwner, CreatedAt: p.CreatedAt}
		checkPropertyUser(t, "owner created with the property", owner, want)
		got, err := s.GetPropertyUser(ctx, owner.ID)
		mustOK(t, err, "GetPropertyUser")
		checkPropertyUser(t, "GetPropertyUser of the owner", got, want)

		// Each property has an owner record of its own.
		list, _, err = s.ListPropertyUsers(ctx, other.ID, 0, 0)
		mustOK(t, err, "ListPropertyUsers")
		if len(list) != 1 || list[0].ID == owner.ID || list[0].Role != store.RoleOwner || list[0].UserID != u.ID {
			t.Errorf("ListPropertyUsers of a second property = %+v, want one owner record of its own", list)
		}
	})

	t.Run("CreateDuplicateID", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, u.ID, "Harbour")
		dup := newFullProperty("Meadow")
		dup.ID = p.ID
		wantErr(t, s.CreateProperty(ctx, dup, other.ID), store.ErrAlreadyExists, "CreateProperty with a taken id")

		got, err := s.GetProperty(ctx, p.ID)
		mustOK(t, err, "GetProperty")
		checkProperty(t, "property after a refused duplicate", got, p)
		role, err := s.PropertyRole(ctx, other.ID, p.ID)
		mustOK(t, err, "PropertyRole")
		if role != "" {
			t.Errorf("PropertyRole of the refused duplicate's owner = %q, want none", role)
		}
		list, _, err := s.ListPropertyUsers(ctx, p.ID, 0, 0)
		mustOK(t, err, "ListPropertyUsers")
		if len(list) != 1 || list[0].UserID != u.ID {
			t.Errorf("ListPropertyUsers after a refused duplicate = %+v, want only the first owner", list)
		}
	})

	t.Run("CreateUnknownOwner", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		mustCreateUser(t, s)
		p := newProperty("Harbour")
		wantErr(t, s.CreateProperty(ctx, p, uuid.NewString()), store.ErrNotFound, "CreateProperty with an unknown owner")
		_, err := s.GetProperty(ctx, p.ID)
		wantErr(t, err, store.ErrNotFound, "GetProperty of the refused property")
	})

	t.Run("GetMissing", func(t *testing.T) {
		s := newStore(t)
		u := mustCreateUser(t, s)
		mustCreateProperty(t, s, u.ID, "Harbour")
		_, err := s.GetProperty(t.Context(), uuid.NewString())
		wantErr(t, err, store.ErrNotFound, "GetProperty of a missing id")
	})

	t.Run("ListOnlyAccessible", func(t *testing.T) {
		s := newStore(t)
		a := mustCreateUser(t, s)
		b := mustCreateUser(t, s)
		nobody := mustCreateUser(t, s)
		var ofA, ofB []store.Property
		for _, title := range []string{"Meadow", "Harbour", "Summit"} {
			ofA = append(ofA, mustCreateProperty(t, s, a.ID, title))
		}
		for _, title := range []string{"Lagoon", "Canyon"} {
			ofB = append(ofB, mustCreateProperty(t, s, b.ID, title))
		}
		sortProperties(ofA)
		sortProperties(ofB)

		got := listProperties(t, s, store.PropertyQuery{UserID: a.ID}, ofA, len(ofA))
		for i := range min(len(got), len(ofA)) {
			checkProperty(t, "ListProperties item", got[i], ofA[i])
		}
		listProperties(t, s, store.PropertyQuery{UserID: b.ID}, ofB, len(ofB))
		listProperties(t, s, store.PropertyQuery{UserID: nobody.ID}, nil, 0)
		listProperties(t, s, store.PropertyQuery{UserID: uuid.NewString()}, nil, 0)
	})

	t.Run("ListOrderTitleThenID", func(t *testing.T) {
		s := newStore(t)
		u := mustCreateUser(t, s)
		var all []store.Property
		for _, title := range []string{"Dune", "Beach", "Alpine", "Beach", "Castle", "Beach"} {
			all = append(all, mustCreateProperty(t, s, u.ID, title))
		}
		sortProperties(all)
		listProperties(t, s, store.PropertyQuery{UserID: u.ID}, all, len(all))
	})

	t.Run("ListPages", func(t *testing.T) {
		s := newStore(t)
		u := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		var all []store.Property
		for _, title := range []string{"Echo", "Alpine", "Delta", "Beach", "Castle"} {
			all = append(all, mustCreateProperty(t, s, u.ID, title))
		}
		mustCreateProperty(t, s, other.ID, "Bay") // never counted
		sortProperties(all)

		for offset := 0; offset < len(all); offset += 2 {
			q := store.PropertyQuery{UserID: u.ID, Offset: offset, Limit: 2}
			listProperties(t, s, q, all[offset:min(offset+2, len(all))], len(all))
		}
		listProperties(t, s, store.PropertyQuery{UserID: u.ID, Offset: len(all), Limit: 2}, nil, len(all))
		listProperties(t, s, store.PropertyQuery{UserID: u.ID, Offset: 10, Limit: 2}, nil, len(all))
		// Limit 0 means no limit.
		listProperties(t, s, store.PropertyQuery{UserID: u.ID}, all, len(all))
		listProperties(t, s, store.PropertyQuery{UserID: u.ID, Offset: 3}, all[3:], len(all))
		listProperties(t, s, store.PropertyQuery{UserID: u.ID, Limit: 100}, all, len(all))
	})

	t.Run("ListOnlyIDs", func(t *testing.T) {
		s := newStore(t)
		a := mustCreateUser(t, s)
		b := mustCreateUser(t, s)
		var ofA []store.Property
		for _, title := range []string{"Delta", "Alpine", "Castle", "Beach"} {
			ofA = append(ofA, mustCreateProperty(t, s, a.ID, title))
		}
		sortProperties(ofA) // Alpine, Beach, Castle, Delta
		ofB := mustCreateProperty(t, s, b.ID, "Anchor")

		// The intersection of the ids with what the user can access.
		ids := []string{ofA[3].ID, ofB.ID, ofA[0].ID, uuid.NewString(), ofA[2].ID}
		want := []store.Property{ofA[0], ofA[2], ofA[3]}
		listProperties(t, s, store.PropertyQuery{UserID: a.ID, OnlyIDs: true, IDs: ids}, want, len(want))
		listProperties(t, s, store.PropertyQuery{UserID: a.ID, OnlyIDs: true, IDs: ids, Offset: 1, Limit: 1}, want[1:2], len(want))
		listProperties(t, s, store.PropertyQuery{UserID: a.ID, OnlyIDs: true, IDs: ids, Offset: 2, Limit: 5}, want[2:], len(want))

		// Another user's property is not returned even when named.
		listProperties(t, s, store.PropertyQuery{UserID: a.ID, OnlyIDs: true, IDs: []string{ofB.ID}}, nil, 0)
		listProperties(t, s, store.PropertyQuery{UserID: b.ID, OnlyIDs: true, IDs: ids}, []store.Property{ofB}, 1)

		// An empty scope matches nothing.
		listProperties(t, s, store.PropertyQuery{UserID: a.ID, OnlyIDs: true}, nil, 0)
		listProperties(t, s, store.PropertyQuery{UserID: a.ID, OnlyIDs: true, IDs: []string{}}, nil, 0)

		// Without OnlyIDs the ids are ignored.
		listProperties(t, s, store.PropertyQuery{UserID: a.ID, IDs: []string{ofA[1].ID}}, ofA, len(ofA))
	})

	t.Run("Update", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, u.ID, "Harbour")
		kept := mustCreateProperty(t, s, u.ID, "Meadow")

		change := newFullProperty("Lighthouse")
		change.ID = p.ID
		change.IsActive = false              // must be ignored
		change.CreatedAt = at(5 * time.Hour) // must be ignored
		change.UpdatedAt = at(time.Hour)
		want := change
		want.IsActive, want.CreatedAt = p.IsActive, p.CreatedAt

		got, err := s.UpdateProperty(ctx, change.ID, replaceWith(change))
		mustOK(t, err, "UpdateProperty")
		checkProperty(t, "UpdateProperty result", got, want)
		got, err = s.GetProperty(ctx, p.ID)
		mustOK(t, err, "GetProperty")
		checkProperty(t, "GetProperty after UpdateProperty", got, want)

		got, err = s.GetProperty(ctx, kept.ID)
		mustOK(t, err, "GetProperty of the other property")
		checkProperty(t, "other property after UpdateProperty", got, kept)

		// The new title decides the order.
		listProperties(t, s, store.PropertyQuery{UserID: u.ID}, []store.Property{want, kept}, 2)
	})

	t.Run("UpdateReplacesEverything", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		p := newFullProperty("Harbour")
		p.IsActive = false
		mustOK(t, s.CreateProperty(ctx, p, u.ID), "CreateProperty")

		// Every attribute left unset in the change is cleared, photos and
		// the day limit included; IsActive and CreatedAt stay.
		change := store.Property{ID: p.ID, Title: "Harbour", IsActive: true, UpdatedAt: at(time.Hour)}
		want := change
		want.IsActive, want.CreatedAt = false, p.CreatedAt
		got, err := s.UpdateProperty(ctx, change.ID, replaceWith(change))
		mustOK(t, err, "UpdateProperty")
		checkProperty(t, "UpdateProperty result with attributes cleared", got, want)
		got, err = s.GetProperty(ctx, p.ID)
		mustOK(t, err, "GetProperty")
		checkProperty(t, "GetProperty after clearing attributes", got, want)

		// And set again.
		change = newFullProperty("Harbour")
		change.ID = p.ID
		change.Settings.MaxDayAdvance = ptr(0)
		change.Content.Photos = change.Content.Photos[1:]
		change.UpdatedAt = at(2 * time.Hour)
		want = change
		want.IsActive, want.CreatedAt = false, p.CreatedAt
		got, err = s.UpdateProperty(ctx, change.ID, replaceWith(change))
		mustOK(t, err, "UpdateProperty")
		checkProperty(t, "UpdateProperty result with attributes set", got, want)
		got, err = s.GetProperty(ctx, p.ID)
		mustOK(t, err, "GetProperty")
		checkProperty(t, "GetProperty after setting attributes", got, want)
	})

	t.Run("UpdateMissing", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		mustCreateProperty(t, s, u.ID, "Harbour")
		p := newProperty("Ghost")
		_, err := s.UpdateProperty(ctx, p.ID, replaceWith(p))
		wantErr(t, err, store.ErrNotFound, "UpdateProperty of a missing property")
		_, err = s.GetProperty(ctx, p.ID)
		wantErr(t, err, store.ErrNotFound, "GetProperty after UpdateProperty of a missing property")
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		gone := mustCreateProperty(t, s, u.ID, "Harbour")
		kept := mustCreateProperty(t, s, u.ID, "Meadow")
		both := mustCreateKey(t, s, newKey(u.ID, gone.ID, kept.ID))
		only := mustCreateKey(t, s, newKey(u.ID, gone.ID))
		all := mustCreateKey(t, s, newKey(u.ID))
		unrelated := mustCreateKey(t, s, newKey(u.ID, kept.ID))

		mustOK(t, s.DeleteProperty(ctx, gone.ID), "DeleteProperty")

		_, err := s.GetProperty(ctx, gone.ID)
		wantErr(t, err, store.ErrNotFound, "GetProperty after DeleteProperty")
		listProperties(t, s, store.PropertyQuery{UserID: u.ID}, []store.Property{kept}, 1)
		listProperties(t, s, store.PropertyQuery{UserID: u.ID, OnlyIDs: true, IDs: []string{gone.ID}}, nil, 0)
		role, err := s.PropertyRole(ctx, u.ID, gone.ID)
		mustOK(t, err, "PropertyRole")
		if role != "" {
			t.Errorf("PropertyRole of the owner after DeleteProperty = %q, want none", role)
		}
		role, err = s.PropertyRole(ctx, u.ID, kept.ID)
		mustOK(t, err, "PropertyRole")
		if role != store.RoleOwner {
			t.Errorf("PropertyRole of the owner of the other property = %q, want %q", role, store.RoleOwner)
		}

		// The property leaves every scope; a key scoped to it alone keeps an
		// empty scope and does not turn into an all-properties key.
		both.PropertyIDs = []string{kept.ID}
		only.PropertyIDs = nil
		for _, want := range []store.APIKey{both, only, all, unrelated} {
			got, err := s.GetAPIKey(ctx, u.ID, want.ID)
			mustOK(t, err, "GetAPIKey")
			checkKey(t, "GetAPIKey after DeleteProperty", got, want)
			got, _, err = s.AuthenticateAPIKey(ctx, want.Digest)
			mustOK(t, err, "AuthenticateAPIKey")
			checkKey(t, "AuthenticateAPIKey after DeleteProperty", got, want)
		}

		wantErr(t, s.DeleteProperty(ctx, gone.ID), store.ErrNotFound, "DeleteProperty of a deleted property")
	})

	t.Run("DeleteMissing", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, u.ID, "Harbour")
		wantErr(t, s.DeleteProperty(ctx, uuid.NewString()), store.ErrNotFound, "DeleteProperty of a missing property")
		listProperties(t, s, store.PropertyQuery{UserID: u.ID}, []store.Property{p}, 1)
	})

	t.Run("PropertyRole", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		owner := mustCreateUser(t, s)
		shared := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, owner.ID, "Harbour")
		q := mustCreateProperty(t, s, other.ID, "Meadow")
		mustAddPropertyUser(t, s, p.ID, shared.ID, store.RoleUser)

		for _, c := range []struct {
			name               string
			userID, propertyID string
			want               store.Role
		}{
			{"owner", owner.ID, p.ID, store.RoleOwner},
			{"user", shared.ID, p.ID, store.RoleUser},
			{"other user", other.ID, p.ID, ""},
			{"owner of another property", owner.ID, q.ID, ""},
			{"user of another property", shared.ID, q.ID, ""},
			{"other user's own property", other.ID, q.ID, store.RoleOwner},
			{"missing property", owner.ID, uuid.NewString(), ""},
			{"unknown user", uuid.NewString(), p.ID, ""},
			{"property id in upper case", owner.ID, strings.ToUpper(p.ID), ""},
			{"user id in upper case", strings.ToUpper(owner.ID), p.ID, ""},
			{"malformed property id", owner.ID, "not-a-uuid", ""},
			{"malformed user id", "not-a-uuid", p.ID, ""},
			{"empty ids", "", "", ""},
		} {
			got, err := s.PropertyRole(ctx, c.userID, c.propertyID)
			mustOK(t, err, "PropertyRole "+c.name)
			if got != c.want {
				t.Errorf("PropertyRole %s = %q, want %q", c.name, got, c.want)
			}
		}
	})
}
