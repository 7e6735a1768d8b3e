// Package store defines the persistence interface of keygate and the
// records it keeps. Two implementations exist: store/memory (the zero-setup
// default) and store/postgres; both must pass store/storetest unchanged.
//
// Secrets never reach a store in plaintext: API keys and session tokens are
// kept as SHA-256 digests, passwords as argon2id hashes.
package store

import (
	"context"
	"errors"
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

// Session is a signed-in session, found by the digest of its token.
type Session struct {
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
}

// Revoked reports whether the key has been withdrawn.
func (k APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// Property is a hotel or other lodging.
type Property struct {
	ID        string
	Title     string
	Currency  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PropertyQuery selects properties for ListProperties.
type PropertyQuery struct {
	// UserID: only properties this user can access.
	UserID string
	// OnlyIDs, when true, narrows the result further to IDs (an API key's
	// chosen scope). An empty IDs then matches nothing.
	OnlyIDs bool
	IDs     []string
	// Offset and Limit select the page; Limit 0 means no limit.
	Offset, Limit int
}

// Store is keygate's persistence. Every method is safe for concurrent use
// and atomic: a method that writes several records writes all or none.
type Store interface {
	// CreateUser stores a new user. ErrAlreadyExists if the email is taken
	// in any letter case.
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
	// AuthenticateAPIKey finds a key by digest together with its user, in
	// one step. Revoked keys are returned too; the caller refuses them.
	AuthenticateAPIKey(ctx context.Context, digest []byte) (APIKey, User, error)

	// CreateProperty stores a property and gives ownerID access to it.
	CreateProperty(ctx context.Context, p Property, ownerID string) error
	GetProperty(ctx context.Context, id string) (Property, error)
	// ListProperties returns a page of the properties q selects, ordered by
	// title then id, and the number selected across all pages.
	ListProperties(ctx context.Context, q PropertyQuery) ([]Property, int, error)
	// UpdateProperty replaces Title, Currency and UpdatedAt of an existing
	// property and returns the stored result.
	UpdateProperty(ctx context.Context, p Property) (Property, error)
	// DeleteProperty deletes a property, every user's access to it, and
	// removes it from every key's scope.
	DeleteProperty(ctx context.Context, id string) error
	// HasPropertyAccess reports whether a user can access a property. A
	// missing property is simply not accessible.
	HasPropertyAccess(ctx context.Context, userID, propertyID string) (bool, error)

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
