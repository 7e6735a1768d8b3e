package storetest

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/service/store"
)

// auditor is a reader the suite adds to every event it attaches, so that
// ListAuditEvents for it lists every event a test recorded.
var auditor = uuid.NewString()

// newEvent returns an event for a change by actor, read by auditor.
func newEvent(action, targetType, targetID, actor string) *store.Event {
	return &store.Event{
		ID:          uuid.NewString(),
		Action:      action,
		OccurredAt:  base,
		ActorUserID: actor,
		Credential:  store.CredentialSession,
		IP:          netip.MustParseAddr("2001:db8::7"),
		UserAgent:   "storetest/1.0",
		RequestID:   "req-" + uuid.NewString()[:8],
		TargetType:  targetType,
		TargetID:    targetID,
		Count:       1,
		UserIDs:     []string{auditor, actor},
	}
}

// allEvents lists every event auditor may read, newest first.
func allEvents(t *testing.T, s store.Store) []store.Event {
	t.Helper()
	list, total, err := s.ListAuditEvents(t.Context(), store.AuditQuery{UserID: auditor})
	mustOK(t, err, "ListAuditEvents")
	if total != len(list) {
		t.Fatalf("ListAuditEvents: total %d, %d events", total, len(list))
	}
	return list
}

// auditCase is one write method with an event attached.
type auditCase struct {
	name string
	// setup makes what the write needs and returns its target id, the
	// property whose owners read the event ("" for none) and a snapshot
	// function of the state the write changes.
	setup func(t *testing.T, s store.Store, u store.User) (target, property string, state func() any)
	write func(ctx context.Context, s store.Store, u store.User, target string) error
}

func auditCases() []auditCase {
	return []auditCase{
		{"CreateUser", func(t *testing.T, s store.Store, u store.User) (string, string, func() any) {
			id := uuid.NewString()
			return id, "", func() any { _, err := s.GetUser(t.Context(), id); return err == nil }
		}, func(ctx context.Context, s store.Store, u store.User, target string) error {
			nu := newUser(newEmail())
			nu.ID = target
			return s.CreateUser(ctx, nu)
		}},
		{"SetSubscription", func(t *testing.T, s store.Store, u store.User) (string, string, func() any) {
			return u.ID, "", func() any { got, _ := s.GetUser(t.Context(), u.ID); return got.SubscriptionActive }
		}, func(ctx context.Context, s store.Store, u store.User, target string) error {
			_, err := s.SetSubscription(ctx, u.ID, true)
			return err
		}},
		{"CreateSession", func(t *testing.T, s store.Store, u store.User) (string, string, func() any) {
			return uuid.NewString(), "", func() any { return nil } // checked through the event only
		}, func(ctx context.Context, s store.Store, u store.User, target string) error {
			return s.CreateSession(ctx, store.Session{ID: target, Digest: newDigest(), UserID: u.ID, CreatedAt: base, ExpiresAt: at(time.Hour)})
		}},
		{"DeleteSession", func(t *testing.T, s store.Store, u store.User) (string, string, func() any) {
			sess := mustCreateSession(t, s, u.ID)
			return string(sess.Digest), "", func() any { _, err := s.GetSession(t.Context(), sess.Digest); return err == nil }
		}, func(ctx context.Context, s store.Store, u store.User, target string) error {
			return s.DeleteSession(ctx, []byte(target))
		}},
		{"CreateAPIKey", func(t *testing.T, s store.Store, u store.User) (string, string, func() any) {
			id := uuid.NewString()
			return id, "", func() any { _, err := s.GetAPIKey(t.Context(), u.ID, id); return err == nil }
		}, func(ctx context.Context, s store.Store, u store.User, target string) error {
			k := newKey(u.ID)
			k.ID = target
			return s.CreateAPIKey(ctx, k)
		}},
		{"UpdateAPIKey", func(t *testing.T, s store.Store, u store.User) (string, string, func() any) {
			k := mustCreateKey(t, s, newKey(u.ID))
			return k.ID, "", func() any { got, _ := s.GetAPIKey(t.Context(), u.ID, k.ID); return got.Name }
		}, func(ctx context.Context, s store.Store, u store.User, target string) error {
			k, err := s.GetAPIKey(ctx, u.ID, target)
			if err != nil {
				return err
			}
			k.Name = "renamed"
			_, err = s.UpdateAPIKey(ctx, k, base)
			return err
		}},
		{"RollAPIKey", func(t *testing.T, s store.Store, u store.User) (string, string, func() any) {
			k := mustCreateKey(t, s, newKey(u.ID))
			return k.ID, "", func() any { _, n, _ := s.ListAPIKeys(t.Context(), u.ID, 0, 0); return n }
		}, func(ctx context.Context, s store.Store, u store.User, target string) error {
			_, err := s.RollAPIKey(ctx, u.ID, target, store.APIKey{ID: uuid.NewString(), Digest: newDigest(), CreatedAt: base}, at(time.Hour), base)
			return err
		}},
		{"RevokeAPIKey", func(t *testing.T, s store.Store, u store.User) (string, string, func() any) {
			k := mustCreateKey(t, s, newKey(u.ID))
			return k.ID, "", func() any { got, _ := s.GetAPIKey(t.Context(), u.ID, k.ID); return got.Revoked() }
		}, func(ctx context.Context, s store.Store, u store.User, target string) error {
			_, err := s.RevokeAPIKey(ctx, u.ID, target, base)
			return err
		}},
		{"CreateProperty", func(t *testing.T, s store.Store, u store.User) (string, string, func() any) {
			id := uuid.NewString()
			return id, id, func() any { _, err := s.GetProperty(t.Context(), id); return err == nil }
		}, func(ctx context.Context, s store.Store, u store.User, target string) error {
			p := newProperty("Harbour")
			p.ID = target
			return s.CreateProperty(ctx, p, u.ID)
		}},
		{"UpdateProperty", func(t *testing.T, s store.Store, u store.User) (string, string, func() any) {
			p := mustCreateProperty(t, s, u.ID, "Harbour")
			return p.ID, p.ID, func() any { got, _ := s.GetProperty(t.Context(), p.ID); return got.Title }
		}, func(ctx context.Context, s store.Store, u store.User, target string) error {
			_, err := s.UpdateProperty(ctx, target, func(p *store.Property) error {
				// The callback fills in the changes, as the service does.
				store.EventFrom(ctx).Changes = map[string][2]any{"title": {p.Title, "Meadow"}}
				p.Title = "Meadow"
				return nil
			})
			return err
		}},
		{"DeleteProperty", func(t *testing.T, s store.Store, u store.User) (string, string, func() any) {
			p := mustCreateProperty(t, s, u.ID, "Harbour")
			return p.ID, p.ID, func() any { _, err := s.GetProperty(t.Context(), p.ID); return err == nil }
		}, func(ctx context.Context, s store.Store, u store.User, target string) error {
			return s.DeleteProperty(ctx, target)
		}},
		{"AddPropertyUser", func(t *testing.T, s store.Store, u store.User) (string, string, func() any) {
			p := mustCreateProperty(t, s, u.ID, "Harbour")
			return p.ID, p.ID, func() any { _, n, _ := s.ListPropertyUsers(t.Context(), p.ID, 0, 0); return n }
		}, func(ctx context.Context, s store.Store, u store.User, target string) error {
			_, err := s.AddPropertyUser(ctx, newInvite(target, newEmail(), store.RoleUser))
			return err
		}},
		{"UpdatePropertyUser", func(t *testing.T, s store.Store, u store.User) (string, string, func() any) {
			p := mustCreateProperty(t, s, u.ID, "Harbour")
			pu := mustAddPropertyUser(t, s, p.ID, mustCreateUser(t, s).ID, store.RoleUser)
			return pu.ID, p.ID, func() any { got, _ := s.GetPropertyUser(t.Context(), pu.ID); return got.Role }
		}, func(ctx context.Context, s store.Store, u store.User, target string) error {
			_, err := s.UpdatePropertyUser(ctx, target, store.RoleOwner, nil)
			return err
		}},
		{"RemovePropertyUser", func(t *testing.T, s store.Store, u store.User) (string, string, func() any) {
			p := mustCreateProperty(t, s, u.ID, "Harbour")
			pu := mustAddPropertyUser(t, s, p.ID, mustCreateUser(t, s).ID, store.RoleUser)
			return pu.ID, p.ID, func() any { _, err := s.GetPropertyUser(t.Context(), pu.ID); return err == nil }
		}, func(ctx context.Context, s store.Store, u store.User, target string) error {
			return s.RemovePropertyUser(ctx, target)
		}},
	}
}

// testAudit covers the audit trail: every write records the event attached
// to its context, in the same transaction; reads, filters, order and
// paging of ListAuditEvents; folding failed sign-ins; purging.
func testAudit(t *testing.T, newStore factory) {
	for _, c := range auditCases() {
		t.Run(c.name+"/RecordsOneEvent", func(t *testing.T) {
			s := newStore(t)
			u := mustCreateUser(t, s)
			target, property, state := c.setup(t, s, u)
			before := state()
			ev := newEvent("test."+c.name, "thing", fmt.Sprint(len(target)), u.ID)
			ev.APIKeyID = uuid.NewString()
			ev.PropertyID = property
			ctx := store.WithEvent(t.Context(), ev)
			mustOK(t, c.write(ctx, s, u, target), c.name)
			if c.name != "CreateSession" && reflect.DeepEqual(state(), before) {
				t.Fatalf("%s changed nothing", c.name)
			}
			events := allEvents(t, s)
			if len(events) != 1 {
				t.Fatalf("%s recorded %d events, want 1: %+v", c.name, len(events), events)
			}
			checkEvent(t, events[0], *ev)
			if property != "" && !slices.Contains(events[0].UserIDs, u.ID) {
				t.Errorf("readers %q lack the property's owner %s", events[0].UserIDs, u.ID)
			}
		})
		t.Run(c.name+"/FailedWriteLeavesNoEvent", func(t *testing.T) {
			s := newStore(t)
			u := mustCreateUser(t, s)
			target, property, state := c.setup(t, s, u)
			before := state()
			// An event the store cannot write (its id is no UUID) fails the
			// transaction after the change was written.
			ev := newEvent("test."+c.name, "thing", "x", u.ID)
			ev.ID, ev.PropertyID = "not-a-uuid", property
			if err := c.write(store.WithEvent(t.Context(), ev), s, u, target); err == nil {
				t.Fatalf("%s with an event that cannot be written: no error", c.name)
			}
			if after := state(); !reflect.DeepEqual(after, before) {
				t.Errorf("%s failed but changed the state from %v to %v", c.name, before, after)
			}
			if events := allEvents(t, s); len(events) != 0 {
				t.Errorf("%s failed but recorded %d events", c.name, len(events))
			}
		})
	}

	t.Run("NoEventWithoutAChange", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		k := mustCreateKey(t, s, newKey(u.ID))
		_, err := s.RevokeAPIKey(store.WithEvent(ctx, newEvent("api_key.revoked", "api_key", k.ID, u.ID)), u.ID, k.ID, base)
		mustOK(t, err, "RevokeAPIKey")
		_, err = s.RevokeAPIKey(store.WithEvent(ctx, newEvent("api_key.revoked", "api_key", k.ID, u.ID)), u.ID, k.ID, at(time.Minute))
		mustOK(t, err, "RevokeAPIKey again")
		mustOK(t, s.DeleteSession(store.WithEvent(ctx, newEvent("session.ended", "session", "s", u.ID)), newDigest()), "DeleteSession of no session")
		_, err = s.RevokeAPIKey(store.WithEvent(ctx, newEvent("api_key.revoked", "api_key", "x", u.ID)), u.ID, uuid.NewString(), base)
		if err == nil {
			t.Fatal("RevokeAPIKey of a missing key: no error")
		}
		if events := allEvents(t, s); len(events) != 1 {
			t.Errorf("a revocation, a repeated one, a missing session and a missing key recorded %d events, want 1", len(events))
		}
	})

	t.Run("ConcurrentChangesOneEventEach", func(t *testing.T) {
		s := newStore(t)
		u := mustCreateUser(t, s)
		p := mustCreateProperty(t, s, u.ID, "Harbour")
		k := mustCreateKey(t, s, newKey(u.ID))
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				ctx := store.WithEvent(t.Context(), newEvent("property.updated", "property", p.ID, u.ID))
				_, err := s.UpdateProperty(ctx, p.ID, func(q *store.Property) error {
					q.Title = fmt.Sprint("Title ", i)
					return nil
				})
				errs <- err
			}()
			go func() {
				defer wg.Done()
				// Every revocation but the first changes nothing.
				ctx := store.WithEvent(t.Context(), newEvent("api_key.revoked", "api_key", k.ID, u.ID))
				_, err := s.RevokeAPIKey(ctx, u.ID, k.ID, at(time.Duration(i)*time.Second))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent change: %v", err)
			}
		}
		counts := map[string]int{}
		for _, e := range allEvents(t, s) {
			counts[e.Action]++
		}
		if counts["property.updated"] != n || counts["api_key.revoked"] != 1 {
			t.Errorf("events by action = %v, want %d property.updated and 1 api_key.revoked", counts, n)
		}
	})

	t.Run("ReadersAreTheOwnersAtTheTime", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		a, b, c := mustCreateUser(t, s), mustCreateUser(t, s), mustCreateUser(t, s)
		p := mustCreateProperty(t, s, a.ID, "Harbour")
		coOwner := mustAddPropertyUser(t, s, p.ID, b.ID, store.RoleOwner)
		mustAddPropertyUser(t, s, p.ID, c.ID, store.RoleUser)
		update := func(actor string) {
			ev := newEvent("property.updated", "property", p.ID, actor)
			ev.PropertyID = p.ID
			_, err := s.UpdateProperty(store.WithEvent(ctx, ev), p.ID, func(*store.Property) error { return nil })
			mustOK(t, err, "UpdateProperty")
		}
		update(a.ID)
		ev := newEvent("property_user.deleted", "property_user", coOwner.ID, a.ID)
		ev.PropertyID = p.ID
		mustOK(t, s.RemovePropertyUser(store.WithEvent(ctx, ev), coOwner.ID), "RemovePropertyUser")
		update(a.ID)
		count := func(u store.User) int {
			_, n, err := s.ListAuditEvents(ctx, store.AuditQuery{UserID: u.ID})
			mustOK(t, err, "ListAuditEvents")
			return n
		}
		// a owns it throughout; b owned it for the first update and the
		// removal, not after; c never owned it.
		if got := [3]int{count(a), count(b), count(c)}; got != [3]int{3, 2, 0} {
			t.Errorf("events readable by owner, former co-owner, user = %v, want [3 2 0]", got)
		}
	})

	t.Run("ListFiltersOrderPages", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		key := uuid.NewString()
		var want []string // newest first
		for i := range 7 {
			action := "api_key.updated"
			if i%2 == 0 {
				action = "property.updated"
			}
			ev := newEvent(action, "thing", fmt.Sprint("target-", i%3), u.ID)
			ev.OccurredAt = at(time.Duration(i) * time.Minute)
			if i >= 5 {
				ev.APIKeyID = key
			}
			mustOK(t, s.CreateSession(store.WithEvent(ctx, ev), store.Session{Digest: newDigest(), UserID: u.ID, CreatedAt: base, ExpiresAt: at(time.Hour)}), "CreateSession")
			want = append([]string{ev.ID}, want...)
		}
		ids := func(q store.AuditQuery) ([]string, int) {
			q.UserID = u.ID
			list, total, err := s.ListAuditEvents(ctx, q)
			mustOK(t, err, "ListAuditEvents")
			out := []string{}
			for _, e := range list {
				out = append(out, e.ID)
			}
			return out, total
		}
		if got, total := ids(store.AuditQuery{}); !slices.Equal(got, want) || total != 7 {
			t.Errorf("all: %v (total %d), want %v newest first", got, total, want)
		}
		if got, total := ids(store.AuditQuery{Offset: 2, Limit: 3}); !slices.Equal(got, want[2:5]) || total != 7 {
			t.Errorf("page: %v (total %d), want %v", got, total, want[2:5])
		}
		if got, _ := ids(store.AuditQuery{Action: "api_key.updated"}); !slices.Equal(got, []string{want[1], want[3], want[5]}) {
			t.Errorf("by action: %v", got)
		}
		if got, _ := ids(store.AuditQuery{TargetID: "target-0"}); !slices.Equal(got, []string{want[0], want[3], want[6]}) {
			t.Errorf("by target: %v", got)
		}
		if got, _ := ids(store.AuditQuery{APIKeyID: key}); !slices.Equal(got, want[:2]) {
			t.Errorf("by key: %v", got)
		}
		if got, _ := ids(store.AuditQuery{OccurredFrom: at(2 * time.Minute), OccurredBefore: at(4 * time.Minute)}); !slices.Equal(got, []string{want[3], want[4]}) {
			t.Errorf("by time: %v, want minutes 3 and 2", got)
		}
		if list, _, _ := s.ListAuditEvents(ctx, store.AuditQuery{UserID: uuid.NewString()}); len(list) != 0 {
			t.Errorf("a stranger sees %d events", len(list))
		}
	})

	t.Run("FailedSignInsFold", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		fail := func(when time.Time) {
			ev := newEvent(store.ActionSignInFailed, "user", u.ID, "")
			ev.OccurredAt, ev.Credential = when, ""
			ev.UserIDs = []string{auditor, u.ID}
			mustOK(t, s.RecordFailedSignIn(ctx, *ev, when.Add(-time.Minute)), "RecordFailedSignIn")
		}
		for i := range 5 {
			fail(at(time.Duration(i) * time.Second))
		}
		fail(at(2 * time.Minute)) // the window has passed
		events := allEvents(t, s)
		if len(events) != 2 || events[0].Count != 1 || events[1].Count != 5 {
			t.Fatalf("failed sign-ins: %d events %+v, want counts 1 and 5", len(events), events)
		}
		if events[1].Action != store.ActionSignInFailed || events[1].TargetID != u.ID || events[1].ActorUserID != "" {
			t.Errorf("failed sign-in event %+v", events[1])
		}
	})

	t.Run("Purge", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreateUser(t, s)
		var kept []string
		for i := range 5 {
			ev := newEvent("session.ended", "session", "s", u.ID)
			ev.OccurredAt = at(time.Duration(i) * time.Hour)
			mustOK(t, s.DeleteSession(store.WithEvent(ctx, ev), mustCreateSession(t, s, u.ID).Digest), "DeleteSession")
			if i >= 3 {
				kept = append([]string{ev.ID}, kept...)
			}
		}
		cut := at(3 * time.Hour) // events before it go: hours 0, 1 and 2
		n, err := s.PurgeAuditEvents(ctx, cut, 2)
		mustOK(t, err, "PurgeAuditEvents")
		if n != 2 {
			t.Errorf("first batch of 2 purged %d", n)
		}
		n, err = s.PurgeAuditEvents(ctx, cut, 2)
		mustOK(t, err, "PurgeAuditEvents")
		if n != 1 {
			t.Errorf("second batch purged %d, want the 1 left", n)
		}
		var got []string
		for _, e := range allEvents(t, s) {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, kept) {
			t.Errorf("after the purge: %v, want %v", got, kept)
		}
	})
}

// checkEvent compares an event as read back with the one attached.
func checkEvent(t *testing.T, got, want store.Event) {
	t.Helper()
	if got.ID != want.ID || got.Action != want.Action || !got.OccurredAt.Equal(want.OccurredAt) ||
		got.ActorUserID != want.ActorUserID || got.Credential != want.Credential || got.APIKeyID != want.APIKeyID ||
		got.IP != want.IP || got.UserAgent != want.UserAgent || got.RequestID != want.RequestID ||
		got.TargetType != want.TargetType || got.TargetID != want.TargetID || got.Count != 1 || got.PropertyID != want.PropertyID {
		t.Errorf("event read back:\n got %+v\nwant %+v", got, want)
	}
	if len(want.Changes) > 0 && !reflect.DeepEqual(got.Changes, want.Changes) {
		t.Errorf("changes %v, want %v", got.Changes, want.Changes)
	}
	for _, id := range want.UserIDs {
		if !slices.Contains(got.UserIDs, id) {
			t.Errorf("readers %q lack %s", got.UserIDs, id)
		}
	}
}
