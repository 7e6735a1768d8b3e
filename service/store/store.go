// Package store defines the persistence interface of keygate and the
// records it keeps. Two implementations exist: store/memory (the zero-setup
// default) and store/postgres; both must pass store/storetest unchanged.
//
// Secrets never reach a store in plaintext: API keys and session tokens are
// kept as SHA-256 digests, passwords as argon2id hashes.
//
// The audit trail (audit.go) is written with the changes it describes: the
// service builds an Event (actor, client address, user agent, request id,
// target, changed attributes) and attaches it to the context of the write
// with WithEvent; the store inserts it inside the same transaction as the
// change, so a change that commits has exactly one event and one that
// fails has none. Updates compute their changes where the old and the new
// record are both known (the callback of UpdateProperty sees the stored
// property). The store adds only what it alone knows inside the
// transaction: the owners of the property an event concerns.
package store

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/google/uuid"
)

// Errors every store returns, possibly wrapped, so that callers can tell
// outcomes apart with errors.Is. Anything else is an internal error.
// Context cancellation is returned as ctx.Err() (possibly wrapped).
var (
	// ErrNotFound: no such record.
	ErrNotFound = errors.New("store: not found")
	// ErrAlreadyExists: a unique attribute (a user's email, a digest) is
	// taken.
	ErrAlreadyExists = errors.New("store: already exists")
	// ErrUnavailable: the backing database cannot be reached. Nothing was
	// written.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrAborted: a transaction lost a race with another one and was rolled
	// back; the caller may retry.
	ErrAborted = errors.New("store: aborted")
	// ErrLastOwner: the change would leave a property or a group without
	// an owner. Nothing was changed.
	ErrLastOwner = errors.New("store: a property or group must keep at least one owner")
	// ErrLastGroup: the change would leave a property in no group.
	// Nothing was changed.
	ErrLastGroup = errors.New("store: a property must keep at least one group")
	// ErrGroupNotEmpty: a group that holds properties cannot be deleted.
	ErrGroupNotEmpty = errors.New("store: the group holds properties")
	// ErrDefaultGroup: a user's default group cannot be deleted.
	ErrDefaultGroup = errors.New("store: a default group cannot be deleted")
	// ErrKeyInactive: the API key is withdrawn, expired or already rolled,
	// so it cannot be changed. Nothing was changed.
	ErrKeyInactive = errors.New("store: the API key is withdrawn, expired or already rolled")
	// ErrInvalidText: a string the store cannot keep (a NUL byte, invalid
	// UTF-8). Requests are checked for these at the edge; this is the
	// second line of defence. Nothing was changed.
	ErrInvalidText = errors.New("store: text with a NUL byte or invalid UTF-8")
)

// Precision is the resolution of every time a store keeps (PostgreSQL's
// timestamptz). Callers truncate to it so that all stores return exactly
// what they were given.
const Precision = time.Microsecond

// User is an account. Email is unique regardless of case.
type User struct {
	ID                 string
	Email              string
	Name               string
	PasswordHash       string // argon2id, PHC string format
	SubscriptionActive bool
	CreatedAt          time.Time
}

// Session is a signed-in session, found by the digest of its token. ID
// names it in the audit trail (never the digest).
type Session struct {
	ID        string
	Digest    []byte
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// APIKey is an API key, found by the digest of its secret.
type APIKey struct {
	ID            string
	UserID        string
	Name          string
	Digest        []byte
	AllProperties bool
	// PropertyIDs is the chosen scope when AllProperties is false, sorted.
	// Deleted properties leave it.
	PropertyIDs []string
	CreatedAt   time.Time
	RevokedAt   time.Time // zero while the key is active
	LastUsedAt  time.Time // zero until first use
	// LastUsedIP is the client address of the last use; zero if unknown.
	LastUsedIP netip.Addr

	// Policy. ExpiresAt is when the key stops working (zero: never).
	// A read-only key may call reads only. AllowedIPs are the client
	// networks it works from, masked, in the order given (empty: anywhere).
	ExpiresAt  time.Time
	ReadOnly   bool
	AllowedIPs []netip.Prefix

	// RolledFrom and RolledTo link a rolled key and its successor.
	RolledFrom, RolledTo string
}

// Revoked reports whether the key has been withdrawn.
func (k APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// Expired reports whether the key has expired at now.
func (k APIKey) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// Active reports whether the key still works at now (policy aside).
func (k APIKey) Active(now time.Time) bool { return !k.Revoked() && !k.Expired(now) }

// KeyUse is one use of an API key: when, and from which client address
// (zero if unknown).
type KeyUse struct {
	At time.Time
	IP netip.Addr
}

// Property is a hotel or other lodging with the attributes of a Channex
// property. Empty strings are unset attributes.
type Property struct {
	ID           string
	Title        string
	Currency     string
	Email        string
	Phone        string
	ZipCode      string
	Country      string
	State        string
	City         string
	Address      string
	Longitude    string // decimal string, kept exactly as given
	Latitude     string
	Timezone     string
	PropertyType string
	LogoURL      string
	Website      string
	Facilities   []string // facility ids in the order given; never nil when read
	Settings     PropertySettings
	Content      PropertyContent
	IsActive     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// GroupID is read by CreateProperty only: the group the new property
	// joins ("" for the owner's default group). Reads leave it empty; a
	// property's groups come from PropertyGroups.
	GroupID string
}

// PropertySettings are a property's booking rules. (Channex's
// allow_availability_autoupdate_on_confirmation is always true, so it is
// not kept.)
type PropertySettings struct {
	AllowAvailabilityAutoupdateOnModification bool
	AllowAvailabilityAutoupdateOnCancellation bool
	MinStayType                               string
	MinPrice                                  string // decimal string with the currency's places; "" unset
	MaxPrice                                  string
	StateLength                               int
	CutOffTime                                string // HH:MM:SS
	CutOffDays                                int
	MaxDayAdvance                             *int // nil: no limit
}

// PropertyContent is a property's descriptive content.
type PropertyContent struct {
	Description          string
	ImportantInformation string
	Photos               []Photo // in the order given; never nil when read
}

// Photo is one photo of a property.
type Photo struct {
	URL         string
	Position    int
	Description string
	Author      string
	Kind        string
}

// Role is what a user may do with a property.
type Role string

const (
	// RoleOwner may do everything, including deleting the property and
	// changing who has access.
	RoleOwner Role = "owner"
	// RoleUser may read and update the property.
	RoleUser Role = "user"
)

// PropertyUser is one user's access to one property, or a pending
// invitation of an email that no account has yet.
type PropertyUser struct {
	ID         string
	PropertyID string
	UserID     string // "" while pending
	// UserEmail is the user's email; for a pending invitation, the email
	// invited.
	UserEmail string
	UserName  string // read-only: the user's name, filled in on reads
	Role      Role
	// Overrides is a JSON object the store keeps (its value; the text may
	// come back formatted differently), or nil.
	Overrides []byte
	CreatedAt time.Time
}

// Pending reports whether the record is an invitation that waits for an
// account with its email.
func (pu PropertyUser) Pending() bool { return pu.UserID == "" }

// PropertyOrder is the sort key of a property list. Ties are broken by id,
// ascending, whatever the direction.
type PropertyOrder string

const (
	OrderByTitle     PropertyOrder = "title" // the default; byte-wise, like Go's string comparison
	OrderByCreatedAt PropertyOrder = "created_at"
)

// PropertyQuery selects properties for ListProperties. The user's access
// narrows first, then the key scope, then the filters; the total counts
// what is left.
type PropertyQuery struct {
	// UserID: only properties this user can access.
	UserID string
	// OnlyIDs, when true, narrows the result further to IDs (an API key's
	// chosen scope). An empty IDs then matches nothing.
	OnlyIDs bool
	IDs     []string
	// FilterIDs, when not nil, keeps only properties with one of these ids.
	FilterIDs []string
	// TitleContains, when not empty, keeps titles that contain it,
	// ignoring letter case (beyond ASCII, PostgreSQL folds case by the
	// database's LC_CTYPE).
	TitleContains string
	// IsActive, when not nil, keeps properties whose IsActive equals it.
	IsActive *bool
	// OrderBy is the sort key (empty means OrderByTitle); Desc reverses it.
	OrderBy PropertyOrder
	Desc    bool
	// Offset and Limit select the page; Limit 0 means no limit.
	Offset, Limit int
}

// Store is keygate's persistence. Every method is safe for concurrent use
// and atomic: a method that writes several records writes all or none.
type Store interface {
	// CreateUser stores a new user. ErrAlreadyExists if the email is taken
	// in any letter case. Pending invitations of the email (in any letter
	// case) take effect in the same step.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByEmail finds a user by email, ignoring letter case.
	GetUserByEmail(ctx context.Context, email string) (User, error)
	// SetSubscription changes a user's subscription and returns the user.
	SetSubscription(ctx context.Context, userID string, active bool) (User, error)

	// CreateSession stores a session. ErrNotFound if the user does not exist.
	CreateSession(ctx context.Context, s Session) error
	// GetSession finds a session by token digest, expired or not.
	GetSession(ctx context.Context, digest []byte) (Session, error)
	// DeleteSession ends a session. Deleting a missing one is not an error.
	DeleteSession(ctx context.Context, digest []byte) error

	// CreateAPIKey stores a key with its scope. ErrNotFound if the user or
	// one of the scoped properties does not exist.
	CreateAPIKey(ctx context.Context, k APIKey) error
	// GetAPIKey returns one of a user's keys; ErrNotFound for another
	// user's key.
	GetAPIKey(ctx context.Context, userID, id string) (APIKey, error)
	// ListAPIKeys returns a page of a user's keys, newest first (ties by
	// id), and the number of keys across all pages.
	ListAPIKeys(ctx context.Context, userID string, offset, limit int) ([]APIKey, int, error)
	// RevokeAPIKey withdraws a key at the given time and returns it. A key
	// already withdrawn keeps its first RevokedAt. Once it returns, no
	// AuthenticateAPIKey call that starts later sees the key active.
	RevokeAPIKey(ctx context.Context, userID, id string, at time.Time) (APIKey, error)
	// UpdateAPIKey replaces the writable attributes of one of k.UserID's
	// keys (Name, AllProperties, PropertyIDs, ReadOnly, AllowedIPs,
	// ExpiresAt) with those of k, and returns the stored key. ErrNotFound
	// if the key (or a scoped property) does not exist; ErrKeyInactive if
	// the key is withdrawn or expired at now. The scope is written as for
	// CreateAPIKey.
	UpdateAPIKey(ctx context.Context, k APIKey, now time.Time) (APIKey, error)
	// RollAPIKey replaces the key id of userID by next, in one step: next
	// gets the old key's name, scope and policy and RolledFrom = id (only
	// its ID, Digest and CreatedAt are taken from the argument); the old
	// key gets RolledTo = next.ID and ExpiresAt = the earlier of its own
	// and expiresAt. It returns the new key. ErrNotFound if there is no
	// such key; ErrKeyInactive if it is withdrawn, expired at now, or
	// already rolled.
	RollAPIKey(ctx context.Context, userID, id string, next APIKey, expiresAt, now time.Time) (APIKey, error)
	// AuthenticateAPIKey finds a key by digest together with its user, in
	// one step. Revoked and expired keys are returned too; the caller
	// refuses them.
	AuthenticateAPIKey(ctx context.Context, digest []byte) (APIKey, User, error)
	// RecordKeyUse sets LastUsedAt and LastUsedIP of several keys at once
	// (key id → use, the time kept at Precision in UTC); a key's LastUsedAt
	// never moves back (an older use changes nothing), and unknown or
	// malformed ids and zero times are ignored. It is one write however
	// many keys it covers.
	RecordKeyUse(ctx context.Context, uses map[string]KeyUse) error

	// CreateProperty stores a property, makes ownerID its owner (a
	// PropertyUser with a fresh id) and puts it in its base group, together:
	// p.GroupID, which ownerID must own (else ErrNotFound), or else
	// ownerID's default group.
	CreateProperty(ctx context.Context, p Property, ownerID string) error
	GetProperty(ctx context.Context, id string) (Property, error)
	// ListProperties returns a page of the properties q selects, in the
	// order q asks for, and the number selected across all pages.
	ListProperties(ctx context.Context, q PropertyQuery) ([]Property, int, error)
	// UpdateProperty changes a property by read, apply, write in one
	// transaction: apply gets the stored property and changes it in place
	// (every attribute but ID, IsActive and CreatedAt is written back); an
	// error from apply is returned as it is and nothing is written.
	// Concurrent updates of one property are serialized, so none is lost.
	UpdateProperty(ctx context.Context, id string, apply func(*Property) error) (Property, error)
	// DeleteProperty deletes a property, every user's access to it, and
	// removes it from every key's scope.
	DeleteProperty(ctx context.Context, id string) error
	// PropertyRole returns a user's role on a property, or "" when the
	// user cannot access it (a missing property included). It is the one
	// access function: the stronger of the user's property-user role and
	// their group-user roles on every group that holds the property
	// (owner > user). ListProperties narrows by the same access.
	PropertyRole(ctx context.Context, userID, propertyID string) (Role, error)

	// AddPropertyUser gives a user access to a property and returns the
	// stored record. The user is pu.UserID when set; otherwise the account
	// whose email is pu.UserEmail (in any letter case), and when there is
	// none the record is a pending invitation of that email. ErrNotFound if
	// the property or a given UserID does not exist; ErrAlreadyExists if
	// the user (or the pending email) already has a record.
	AddPropertyUser(ctx context.Context, pu PropertyUser) (PropertyUser, error)
	GetPropertyUser(ctx context.Context, id string) (PropertyUser, error)
	// ListPropertyUsers returns a page of the records of a property, oldest
	// first (ties by id), and their number across all pages; ErrNotFound
	// if the property does not exist. Limit 0 means no limit.
	ListPropertyUsers(ctx context.Context, propertyID string, offset, limit int) ([]PropertyUser, int, error)
	// UpdatePropertyUser changes the role (unless role is "") and the
	// overrides (unless overrides is nil) of a record and returns it.
	// ErrLastOwner if it would demote the property's last owner.
	UpdatePropertyUser(ctx context.Context, id string, role Role, overrides []byte) (PropertyUser, error)
	// RemovePropertyUser withdraws access. ErrLastOwner if it is the
	// property's last owner. Concurrent changes never leave a property
	// without an owner.
	RemovePropertyUser(ctx context.Context, id string) error

	Groups

	// The audit trail. Every write method above records the event
	// attached with WithEvent in its own transaction.
	Audit

	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close()
}

// ValidID reports whether s is an id as keygate issues them: a UUID in
// canonical lower-case form. Other spellings of a UUID are refused so that
// every store compares ids the same way.
func ValidID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

// NewID returns a fresh random id.
func NewID() string { return uuid.NewString() }

// ChangeKind says what a Change reports.
type ChangeKind int

const (
	// UserChanged: something that shapes the power of a user's API keys
	// changed (a revocation, the subscription, a key's scope, the user's
	// access to a property, the user's removal).
	UserChanged ChangeKind = iota + 1
	// Listening: from now on every change is reported. Whatever was
	// learned before may be stale.
	Listening
	// NotListening: changes may go unreported until the next Listening.
	NotListening
)

// Change is one event of a Watcher.
type Change struct {
	Kind   ChangeKind
	UserID string // with UserChanged
}

// Watcher is implemented by stores that other processes can change (the
// PostgreSQL store), so that caches in every process learn of changes.
type Watcher interface {
	// Watch reports changes to fn until ctx ends, reconnecting as needed.
	// Until the first Listening, changes are not reported. It reports
	// NotListening whenever changes may go unreported, Listening once they
	// are reported again, and UserChanged for each change. fn is called
	// from one goroutine and must not block for long.
	Watch(ctx context.Context, fn func(Change)) error
}
