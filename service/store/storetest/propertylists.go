package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/service/store"
)

// pick returns the properties of all with the given titles, in all's order.
func pick(all []store.Property, titles ...string) []store.Property {
	var out []store.Property
	for _, p := range all {
		if slices.Contains(titles, p.Title) {
			out = append(out, p)
		}
	}
	return out
}

// testPropertyLists covers the filters and orders of ListProperties.
func testPropertyLists(t *testing.T, newStore factory) {
	t.Run("FilterIDs", func(t *testing.T) {
		s := newStore(t)
		a := mustCreateUser(t, s)
		b := mustCreateUser(t, s)
		var all []store.Property
		for _, title := range []string{"Delta", "Alpine", "Castle", "Beach"} {
			all = append(all, mustCreateProperty(t, s, a.ID, title))
		}
		sortProperties(all) // Alpine, Beach, Castle, Delta
		ofB := mustCreateProperty(t, s, b.ID, "Anchor")

		// nil: no filter.
		listProperties(t, s, store.PropertyQuery{UserID: a.ID}, all, len(all))
		// Empty: nothing.
		listProperties(t, s, store.PropertyQuery{UserID: a.ID, FilterIDs: []string{}}, nil, 0)
		// Any of the ids; unknown, malformed, repeated and inaccessible ids
		// add nothing.
		filter := []string{all[3].ID, all[0].ID, uuid.NewString(), "not-a-uuid", all[0].ID, ofB.ID}
		listProperties(t, s, store.PropertyQuery{UserID: a.ID, FilterIDs: filter}, []store.Property{all[0], all[3]}, 2)
		listProperties(t, s, store.PropertyQuery{UserID: a.ID, FilterIDs: filter, Limit: 1}, all[:1], 2)
		listProperties(t, s, store.PropertyQuery{UserID: a.ID, FilterIDs: filter, Offset: 1}, all[3:], 2)
		// Ids in another spelling name nothing.
		listProperties(t, s, store.PropertyQuery{UserID: a.ID, FilterIDs: []string{strings.ToUpper(all[1].ID)}}, nil, 0)
		listProperties(t, s, store.PropertyQuery{UserID: b.ID, FilterIDs: filter}, []store.Property{ofB}, 1)
	})

	t.Run("TitleContains", func(t *testing.T) {
		s := newStore(t)
		u := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		var all []store.Property
		for _, title := range []string{
			"Harbour View", "harbour lodge", "HARBOURSIDE", "Meadow",
			"100% Harbour_Club", "Plain 100 Percent", "A_B", "AxB",
			`Back\Slash`, "Backslash", "Hotel 東京", "Ünïcødé Inn",
		} {
			all = append(all, mustCreateProperty(t, s, u.ID, title))
		}
		mustCreateProperty(t, s, other.ID, "Harbour Elsewhere") // never counted
		sortProperties(all)

		for _, c := range []struct {
			contains string
			want     []string
		}{
			{"harbour", []string{"Harbour View", "harbour lodge", "HARBOURSIDE", "100% Harbour_Club"}},
			{"HARBOUR", []string{"Harbour View", "harbour lodge", "HARBOURSIDE", "100% Harbour_Club"}},
			{"hArBoUr v", []string{"Harbour View"}},
			{"side", []string{"HARBOURSIDE"}},
			{"Harbour View", []string{"Harbour View"}},
			{"Harbour View ", nil},
			// Pattern characters of LIKE and regular expressions match only
			// themselves.
			{"%", []string{"100% Harbour_Club"}},
			{"100%", []string{"100% Harbour_Club"}},
			{"_", []string{"100% Harbour_Club", "A_B"}},
			{"a_b", []string{"A_B"}},
			{"%_", nil},
			{`k\s`, []string{`Back\Slash`}},
			{`\`, []string{`Back\Slash`}},
			{".*", nil},
			{"[a]", nil},
			// Text beyond ASCII, in the case it was stored in.
			{"東京", []string{"Hotel 東京"}},
			{"Ünïcødé", []string{"Ünïcødé Inn"}},
			{"nowhere", nil},
		} {
			want := pick(all, c.want...)
			if len(want) != len(c.want) {
				t.Fatalf("test data: %q picks %d properties, want %d", c.contains, len(want), len(c.want))
			}
			listProperties(t, s, store.PropertyQuery{UserID: u.ID, TitleContains: c.contains}, want, len(want))
		}
		// Empty: no filter.
		listProperties(t, s, store.PropertyQuery{UserID: u.ID, TitleContains: ""}, all, len(all))
		// With a page.
		harbour := pick(all, "Harbour View", "harbour lodge", "HARBOURSIDE", "100% Harbour_Club")
		listProperties(t, s, store.PropertyQuery{UserID: u.ID, TitleContains: "harbour", Offset: 1, Limit: 2}, harbour[1:3], len(harbour))
	})

	t.Run("IsActive", func(t *testing.T) {
		s := newStore(t)
		u := mustCreateUser(t, s)
		var all, active, inactive []store.Property
		for i, title := range []string{"Echo", "Alpine", "Delta", "Beach", "Castle"} {
			p := newProperty(title)
			p.IsActive = i%2 == 0
			mustOK(t, s.CreateProperty(t.Context(), p, u.ID), "CreateProperty")
			all = append(all, p)
			if p.IsActive {
				active = append(active, p)
			} else {
				inactive = append(inactive, p)
			}
		}
		sortProperties(all)
		sortProperties(active)
		sortProperties(inactive)

		listProperties(t, s, store.PropertyQuery{UserID: u.ID}, all, len(all))
		got := listProperties(t, s, store.PropertyQuery{UserID: u.ID, IsActive: ptr(true)}, active, len(active))
		for i := range min(len(got), len(active)) {
			checkProperty(t, "active property", got[i], active[i])
		}
		got = listProperties(t, s, store.PropertyQuery{UserID: u.ID, IsActive: ptr(false)}, inactive, len(inactive))
		for i := range min(len(got), len(inactive)) {
			checkProperty(t, "inactive property", got[i], inactive[i])
		}
		listProperties(t, s, store.PropertyQuery{UserID: u.ID, IsActive: ptr(true), Offset: 1, Limit: 1}, active[1:2], len(active))
	})

	t.Run("Order", func(t *testing.T) {
		s := newStore(t)
		u := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		// Ties in both keys; lower case after upper case and text beyond
		// ASCII after both, byte-wise.
		var all []store.Property
		for _, c := range []struct {
			title   string
			created time.Duration
		}{
			{"Beach", 3 * time.Hour},
			{"alpine", time.Hour},
			{"Castle", time.Hour},
			{"Beach", 2 * time.Hour},
			{"Édifice", time.Hour},
			{"Beach", 3 * time.Hour},
			{"Zenith", 4 * time.Hour},
			{"beach", 0},
			{"Beach", time.Microsecond},
		} {
			p := newProperty(c.title)
			p.CreatedAt = at(c.created)
			mustOK(t, s.CreateProperty(t.Context(), p, u.ID), "CreateProperty")
			all = append(all, p)
		}
		mustCreateProperty(t, s, other.ID, "Aardvark") // never listed

		for _, c := range []struct {
			by   store.PropertyOrder
			desc bool
		}{
			{"", false},
			{"", true},
			{store.OrderByTitle, false},
			{store.OrderByTitle, true},
			{store.OrderByCreatedAt, false},
			{store.OrderByCreatedAt, true},
		} {
			want := slices.Clone(all)
			sortPropertiesBy(want, c.by, c.desc)
			q := store.PropertyQuery{UserID: u.ID, OrderBy: c.by, Desc: c.desc}
			got := listProperties(t, s, q, want, len(want))
			for i := range min(len(got), len(want)) {
				checkProperty(t, describeQuery(q)+" item", got[i], want[i])
			}
			// Pages follow the same order.
			for offset := 0; offset < len(want); offset += 4 {
				q.Offset, q.Limit = offset, 4
				listProperties(t, s, q, want[offset:min(offset+4, len(want))], len(want))
			}
		}

		// A spot check of the reference order itself.
		want := slices.Clone(all)
		sortPropertiesBy(want, store.OrderByTitle, false)
		titles := make([]string, len(want))
		for i, p := range want {
			titles[i] = p.Title
		}
		wantTitles := []string{"Beach", "Beach", "Beach", "Beach", "Castle", "Zenith", "alpine", "beach", "Édifice"}
		if !slices.Equal(titles, wantTitles) {
			t.Fatalf("reference title order = %q, want %q", titles, wantTitles)
		}
	})

	t.Run("Narrowing", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		other := mustCreateUser(t, s)
		// u owns some properties, is a user of one, and cannot see the rest.
		mk := func(owner string, title string, active bool) store.Property {
			p := newProperty(title)
			p.IsActive = active
			mustOK(t, s.CreateProperty(ctx, p, owner), "CreateProperty")
			return p
		}
		a1 := mk(u.ID, "Sea Alpha", true)
		a2 := mk(u.ID, "Sea Bravo", false)
		a3 := mk(u.ID, "Sea Charlie", true)
		a4 := mk(u.ID, "Land Delta", true)
		a5 := mk(other.ID, "Sea Echo", true) // shared with u below
		a6 := mk(u.ID, "Sea Foxtrot", true)  // outside the key scope
		b1 := mk(other.ID, "Sea Golf", true) // never accessible to u
		mustAddPropertyUser(t, s, a5.ID, u.ID, store.RoleUser)

		scope := []string{a1.ID, a2.ID, a3.ID, a4.ID, a5.ID, b1.ID}
		const sea = "sea"
		for _, c := range []struct {
			name string
			q    store.PropertyQuery
			want []store.Property
		}{
			{"access", store.PropertyQuery{}, []store.Property{a4, a1, a2, a3, a5, a6}},
			{"scope", store.PropertyQuery{OnlyIDs: true, IDs: scope}, []store.Property{a4, a1, a2, a3, a5}},
			{"scope and title", store.PropertyQuery{OnlyIDs: true, IDs: scope, TitleContains: sea}, []store.Property{a1, a2, a3, a5}},
			{"scope, title and active", store.PropertyQuery{OnlyIDs: true, IDs: scope, TitleContains: sea, IsActive: ptr(true)}, []store.Property{a1, a3, a5}},
			{"scope, title, active and ids", store.PropertyQuery{
				OnlyIDs: true, IDs: scope, TitleContains: sea, IsActive: ptr(true),
				FilterIDs: []string{a3.ID, a5.ID, a6.ID, b1.ID, a4.ID},
			}, []store.Property{a3, a5}},
			// A filter never widens the scope or the access.
			{"ids outside the scope", store.PropertyQuery{OnlyIDs: true, IDs: []string{a1.ID}, FilterIDs: []string{a6.ID, b1.ID}}, nil},
			{"ids outside the access", store.PropertyQuery{FilterIDs: []string{b1.ID}}, nil},
			{"title outside the scope", store.PropertyQuery{OnlyIDs: true, IDs: []string{a4.ID}, TitleContains: sea}, nil},
			{"empty scope", store.PropertyQuery{OnlyIDs: true, FilterIDs: []string{a1.ID}, TitleContains: sea}, nil},
			{"inactive in scope", store.PropertyQuery{OnlyIDs: true, IDs: scope, IsActive: ptr(false)}, []store.Property{a2}},
		} {
			q := c.q
			q.UserID = u.ID
			listProperties(t, s, q, c.want, len(c.want))
			// The total counts what is left, whatever the page.
			for offset := range len(c.want) + 1 {
				q.Offset, q.Limit = offset, 1
				listProperties(t, s, q, c.want[offset:min(offset+1, len(c.want))], len(c.want))
			}
			// Newest first, then by id, over the same selection.
			q.Offset, q.Limit, q.OrderBy, q.Desc = 0, 0, store.OrderByCreatedAt, true
			want := slices.Clone(c.want)
			sortPropertiesBy(want, store.OrderByCreatedAt, true)
			listProperties(t, s, q, want, len(want))
		}
	})
}
