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

// sortProperties orders properties the way ListProperties must: by title,
// then by id. The suite's titles are single capitalised words, whose order
// is the same byte-wise and under common database collations.
func sortProperties(props []store.Property) {
	slices.SortFunc(props, func(a, b store.Property) int {
		if c := strings.Compare(a.Title, b.Title); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// listProperties calls ListProperties and checks the ids and the total.
func listProperties(t *testing.T, s store.Store, q store.PropertyQuery, want []store.Property, wantTotal int) []store.Property {
	t.Helper()
	what := fmt.Sprintf("ListProperties(OnlyIDs=%t, %d IDs, Offset=%d, Limit=%d)", q.OnlyIDs, len(q.IDs), q.Offset, q.Limit)
	got, total, err := s.ListProperties(t.Context(), q)
	mustOK(t, err, what)
	checkTotal(t, what, total, wantTotal)
	checkIDs(t, what, propertyIDs(got), propertyIDs(want))
	return got
}

// testProperties covers CreateProperty, GetProperty, ListProperties,
// UpdateProperty, DeleteProperty and HasPropertyAccess.
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

		change := store.Property{
			ID:        p.ID,
			Title:     "Lighthouse",
			Currency:  "USD",
			CreatedAt: at(5 * time.Hour), // must be ignored
			UpdatedAt: at(time.Hour),
		}
		want := p
		want.Title, want.Currency, want.UpdatedAt = change.Title, change.Currency, change.UpdatedAt

		got, err := s.UpdateProperty(ctx, change)
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

	t.Run("UpdateMissing", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		mustCreateProperty(t, s, u.ID, "Harbour")
		p := newProperty("Ghost")
		_, err := s.UpdateProperty(ctx, p)
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
		ok, err := s.HasPropertyAccess(ctx, u.ID, gone.ID)
		mustOK(t, err, "HasPropertyAccess")
		if ok {
			t.Errorf("HasPropertyAccess of the owner after DeleteProperty = true, want false")
		}
		ok, err = s.HasPropertyAccess(ctx, u.ID, kept.ID)
		mustOK(t, err, "HasPropertyAccess")
		if !ok {
			t.Errorf("HasPropertyAccess of the owner to the other property = false, want true")
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

	t.Run("HasPropertyAccess", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		owner := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, owner.ID, "Harbour")
		q := mustCreateProperty(t, s, other.ID, "Meadow")

		for _, c := range []struct {
			name               string
			userID, propertyID string
			want               bool
		}{
			{"owner", owner.ID, p.ID, true},
			{"other user", other.ID, p.ID, false},
			{"owner of another property", owner.ID, q.ID, false},
			{"other user's own property", other.ID, q.ID, true},
			{"missing property", owner.ID, uuid.NewString(), false},
			{"unknown user", uuid.NewString(), p.ID, false},
		} {
			got, err := s.HasPropertyAccess(ctx, c.userID, c.propertyID)
			mustOK(t, err, "HasPropertyAccess "+c.name)
			if got != c.want {
				t.Errorf("HasPropertyAccess %s = %t, want %t", c.name, got, c.want)
			}
		}
	})
}
