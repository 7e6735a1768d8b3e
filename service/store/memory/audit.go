package memory

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/keygate/keygate/service/store"
)

// pendingEvent returns the event attached to ctx, refusing one the
// PostgreSQL store would refuse, so that a write fails before it changes
// anything, as a rolled-back transaction would leave it.
func pendingEvent(ctx context.Context) (*store.Event, error) {
	ev := store.EventFrom(ctx)
	if ev == nil {
		return nil, nil
	}
	if !store.ValidID(ev.ID) {
		return nil, fmt.Errorf("memory: event id %q is not a canonical UUID", ev.ID)
	}
	if ev.PropertyID != "" && !store.ValidID(ev.PropertyID) {
		return nil, fmt.Errorf("memory: event property id %q is not a canonical UUID", ev.PropertyID)
	}
	if _, err := json.Marshal(ev.Changes); err != nil {
		return nil, fmt.Errorf("memory: event changes: %w", err)
	}
	return ev, nil
}

// record stores an event checked by pendingEvent (nil: none), with the
// current owners of its property among its readers. The caller holds the
// write lock and calls it once nothing can fail any more.
func (s *Store) record(ev *store.Event) {
	if ev == nil {
		return
	}
	e := *ev
	readers := slices.Clone(e.UserIDs)
	if e.PropertyID != "" {
		for userID, puID := range s.access[e.PropertyID] {
			if s.propertyUsers[puID].Role == store.RoleOwner {
				readers = append(readers, userID)
			}
		}
	}
	e.UserIDs = readers
	s.events = append(s.events, normalizeEvent(e))
}

// normalizeEvent returns an event as every store returns it: times at
// Precision in UTC, readers sorted without duplicates or empty ids,
// changes as they come back from JSON, Count at least 1.
func normalizeEvent(e store.Event) store.Event {
	e.OccurredAt = ts(e.OccurredAt)
	e.UserIDs = slices.DeleteFunc(slices.Clone(e.UserIDs), func(id string) bool { return !store.ValidID(id) })
	slices.Sort(e.UserIDs)
	e.UserIDs = slices.Compact(e.UserIDs)
	if e.UserIDs == nil {
		e.UserIDs = []string{}
	}
	e.Changes = roundTrip(e.Changes)
	if e.Count < 1 {
		e.Count = 1
	}
	return e
}

// roundTrip returns changes as they read back from JSON; nil for none.
func roundTrip(c map[string][2]any) map[string][2]any {
	if len(c) == 0 {
		return nil
	}
	b, _ := json.Marshal(c) // pendingEvent checked it marshals
	var out map[string][2]any
	_ = json.Unmarshal(b, &out)
	return out
}

func cloneEvent(e store.Event) store.Event {
	e.UserIDs = slices.Clone(e.UserIDs)
	e.Changes = roundTrip(e.Changes)
	return e
}

func (s *Store) ListAuditEvents(ctx context.Context, q store.AuditQuery) ([]store.Event, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var all []store.Event
	for _, e := range s.events {
		switch {
		case !slices.Contains(e.UserIDs, q.UserID),
			q.Action != "" && e.Action != q.Action,
			q.TargetID != "" && e.TargetID != q.TargetID,
			q.APIKeyID != "" && e.APIKeyID != q.APIKeyID,
			!q.OccurredFrom.IsZero() && e.OccurredAt.Before(ts(q.OccurredFrom)),
			!q.OccurredBefore.IsZero() && !e.OccurredAt.Before(ts(q.OccurredBefore)):
			continue
		}
		all = append(all, e)
	}
	slices.SortFunc(all, newestFirst)
	list := page(all, q.Offset, q.Limit)
	for i, e := range list {
		list[i] = cloneEvent(e)
	}
	return list, len(all), nil
}

func newestFirst(a, b store.Event) int {
	if c := b.OccurredAt.Compare(a.OccurredAt); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

func (s *Store) RecordFailedSignIn(ctx context.Context, ev store.Event, since time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := pendingEvent(store.WithEvent(ctx, &ev)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	since = ts(since)
	for i := len(s.events) - 1; i >= 0; i-- {
		e := &s.events[i]
		if e.Action == store.ActionSignInFailed && e.TargetID == ev.TargetID && !e.OccurredAt.Before(since) {
			e.Count++
			return nil
		}
	}
	ev.Action, ev.Count = store.ActionSignInFailed, 1
	s.record(&ev)
	return nil
}

func (s *Store) PurgeAuditEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before = ts(before)
	var old []int
	for i, e := range s.events {
		if e.OccurredAt.Before(before) {
			old = append(old, i)
		}
	}
	// Oldest first, as PostgreSQL deletes them.
	slices.SortFunc(old, func(a, b int) int { return -newestFirst(s.events[a], s.events[b]) })
	if limit > 0 && len(old) > limit {
		old = old[:limit]
	}
	gone := map[int]bool{}
	for _, i := range old {
		gone[i] = true
	}
	kept := s.events[:0]
	for i, e := range s.events {
		if !gone[i] {
			kept = append(kept, e)
		}
	}
	clear(s.events[len(kept):])
	s.events = kept
	return len(old), nil
}
