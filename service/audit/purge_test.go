package audit_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/keygate/keygate/service/audit"
	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/memory"
)

// TestPurgeOnce: events older than the retention go, in as many batches as
// it takes; newer ones stay.
func TestPurgeOnce(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	reader := store.NewID()
	var kept []string
	for i := range 25 {
		ev := &store.Event{ID: store.NewID(), Action: store.ActionSessionEnded, TargetType: "session", TargetID: "s",
			OccurredAt: now.Add(-time.Duration(i) * 24 * time.Hour), UserIDs: []string{reader}}
		u := store.User{ID: store.NewID(), Email: ev.ID + "@example.com"}
		if err := st.CreateUser(store.WithEvent(ctx, ev), u); err != nil {
			t.Fatal(err)
		}
		if i < 10 {
			kept = append(kept, ev.ID)
		}
	}
	p := &audit.Purger{Store: st, Retention: 10*24*time.Hour - time.Minute, Batch: 4, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	n, err := p.PurgeOnce(ctx, now)
	if err != nil || n != 15 {
		t.Fatalf("PurgeOnce = %d, %v; want the 15 events older than 10 days", n, err)
	}
	left, total, err := st.ListAuditEvents(ctx, store.AuditQuery{UserID: reader})
	if err != nil || total != 10 {
		t.Fatalf("after the purge: %d events, %v", total, err)
	}
	for i, e := range left {
		if e.ID != kept[i] {
			t.Fatalf("event %d is %s, want %s", i, e.ID, kept[i])
		}
	}
	if n, _ := p.PurgeOnce(ctx, now); n != 0 {
		t.Errorf("a second purge deleted %d", n)
	}
}
