package store

import (
	"context"
	"net/netip"
	"time"
)

// Audit actions (CONTRACT §8). Group actions are recorded the same way
// once groups exist: "group.created", "group_user.created" and so on.
const (
	ActionSignInSucceeded     = "sign_in.succeeded"
	ActionSignInFailed        = "sign_in.failed"
	ActionSessionEnded        = "session.ended"
	ActionAPIKeyCreated       = "api_key.created"
	ActionAPIKeyUpdated       = "api_key.updated"
	ActionAPIKeyRolled        = "api_key.rolled"
	ActionAPIKeyRevoked       = "api_key.revoked"
	ActionPropertyCreated     = "property.created"
	ActionPropertyUpdated     = "property.updated"
	ActionPropertyDeleted     = "property.deleted"
	ActionPropertyUserCreated = "property_user.created"
	ActionPropertyUserUpdated = "property_user.updated"
	ActionPropertyUserDeleted = "property_user.deleted"
	ActionSubscriptionChanged = "subscription.changed"
)

// Credential kinds of an event's actor.
const (
	CredentialSession = "session"
	CredentialAPIKey  = "api_key"
	CredentialAdmin   = "admin"
)

// Event is one audit event: who did what to which record, from where.
// It never holds a secret: no password, token or key, not even a digest.
type Event struct {
	ID         string
	Action     string
	OccurredAt time.Time
	// The actor: the user (empty for the admin token and for a failed
	// sign-in), the credential kind ("" for a failed sign-in) and the API
	// key used, if any.
	ActorUserID string
	Credential  string
	APIKeyID    string
	IP          netip.Addr // zero if unknown
	UserAgent   string
	RequestID   string
	TargetType  string // "user", "session", "api_key", "property", "property_user", …
	TargetID    string
	// Changes maps each changed attribute to its old and new value (JSON
	// values: strings, numbers, booleans, nil, lists, objects).
	Changes map[string][2]any
	// Count is how many attempts the event stands for: 1, but for
	// sign_in.failed, which folds the failures of one account in a window.
	Count int

	// Who may read it. UserIDs are the users the event is about (its
	// actor and, for account, key and session events, their owner).
	// When PropertyID is set, the store adds the owners of that property
	// as they are inside the transaction of the change (before it, for a
	// change that removes them), so access that ends later never opens
	// later events, and earlier events stay with those who owned it then.
	//
	// Groups hook in the same way: their writes record the attached event
	// in their transaction, and a GroupID field beside PropertyID lets the
	// store add the group's owners as readers.
	UserIDs    []string
	PropertyID string
}

// AuditQuery selects events for ListAuditEvents: those UserID may read,
// narrowed by the filters that are set, newest first (ties by id,
// descending).
type AuditQuery struct {
	UserID   string
	Action   string
	TargetID string
	APIKeyID string
	// OccurredFrom (inclusive) and OccurredBefore (exclusive); zero: open.
	OccurredFrom, OccurredBefore time.Time
	Offset, Limit                int // Limit 0: no limit
}

type eventKey struct{}

// WithEvent returns ctx carrying the event of the change a store method
// is about to make. The write methods of every store record it (with
// whatever the method itself adds: the owners of PropertyID) inside the
// transaction of the change: a change that commits has exactly its event,
// one that fails has none. A method that turns out to change nothing (a
// repeated revocation) records nothing. Reads ignore it.
//
// The event rides on the context rather than on every write method's
// signature so that the store API stays the same for callers that record
// nothing (tests, seeding, the background jobs). It is data about the
// request, never a dependency. The callback of UpdateProperty may still
// fill in ev.Changes: the store records the event after the callback runs.
func WithEvent(ctx context.Context, ev *Event) context.Context {
	return context.WithValue(ctx, eventKey{}, ev)
}

// EventFrom returns the event WithEvent attached to ctx, or nil. Stores
// call it; nobody else needs to.
func EventFrom(ctx context.Context) *Event {
	ev, _ := ctx.Value(eventKey{}).(*Event)
	return ev
}

// Audit is the audit trail of a store.
type Audit interface {
	// ListAuditEvents returns a page of the events q selects and their
	// number across all pages.
	ListAuditEvents(ctx context.Context, q AuditQuery) ([]Event, int, error)
	// RecordFailedSignIn records a failed sign-in of ev.TargetID (a user):
	// when that user already has a sign_in.failed event that occurred at or
	// after since, its Count grows by one (its other facts stay those of
	// the first failure); otherwise ev is stored with Count 1. So each
	// account gets at most one such event per window, however many
	// attempts an attacker makes.
	RecordFailedSignIn(ctx context.Context, ev Event, since time.Time) error
	// PurgeAuditEvents deletes up to limit events that occurred before
	// before, oldest first, and returns how many it deleted.
	PurgeAuditEvents(ctx context.Context, before time.Time, limit int) (int, error)
}
