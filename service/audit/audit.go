// Package audit builds the events of the audit trail (CONTRACT §8),
// serves AuditService, and purges events past their retention.
//
// Services record a change by attaching its event to the context of the
// store call that makes it (store.WithEvent); the store writes the event in
// the transaction of the change. New fills in the actor and the request
// facts the interceptor established; the service adds the target's
// readers and, for updates, the changed attributes.
package audit

import (
	"context"
	"reflect"
	"time"

	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/store"
)

// New returns the event of an action on a target by the caller of ctx: the
// principal's user, credential and key, and the client address, user
// agent and request id of the call. The actor's user is among its readers.
// A call without a principal (SignIn, AdminService) has no actor user.
func New(ctx context.Context, action, targetType, targetID string) *store.Event {
	r := auth.RequestFrom(ctx)
	ev := &store.Event{
		ID:         store.NewID(),
		Action:     action,
		OccurredAt: time.Now().Truncate(store.Precision).UTC(),
		IP:         r.IP,
		UserAgent:  r.UserAgent,
		RequestID:  r.ID,
		TargetType: targetType,
		TargetID:   targetID,
		Count:      1,
	}
	if p := auth.FromContext(ctx); p != nil {
		ev.ActorUserID, ev.Credential = p.User.ID, store.CredentialSession
		ev.UserIDs = []string{p.User.ID}
		if p.Key != nil {
			ev.Credential, ev.APIKeyID = store.CredentialAPIKey, p.Key.ID
		}
	}
	return ev
}

// Record returns ctx carrying ev, for the store call that makes the change.
func Record(ctx context.Context, ev *store.Event) context.Context {
	return store.WithEvent(ctx, ev)
}

// Changes collects the changed attributes of an update.
type Changes map[string][2]any

// Add notes attribute name when old and new differ. Values must be plain
// JSON values (strings, numbers, booleans, nil, slices and maps of them);
// never pass a secret.
func (c Changes) Add(name string, old, new any) {
	if !reflect.DeepEqual(old, new) {
		c[name] = [2]any{old, new}
	}
}

// Nullable is s, or nil for an unset (empty) attribute, so that changes
// show null as the REST API does.
func Nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Time is t in RFC 3339, or nil for the zero time.
func Time(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}
