package store

import (
	"context"
	"time"
)

// Group is a set of properties shared with a set of users (Channex's
// groups). Every property is in at least one group; every user has a
// default group, made with the account.
type Group struct {
	ID    string
	Title string
	// DefaultOf is the user whose default group this is, or "".
	DefaultOf string
	CreatedAt time.Time
}

// GroupUser is one user's membership of a group, or a pending invitation
// of an email that no account has yet. A member reaches every property of
// the group with the member's role.
type GroupUser struct {
	ID      string
	GroupID string
	UserID  string // "" while pending
	// UserEmail is the user's email; for a pending invitation, the email
	// invited.
	UserEmail string
	UserName  string // read-only: the user's name, filled in on reads
	Role      Role
	// Overrides is a JSON object the store keeps, or nil.
	Overrides []byte
	CreatedAt time.Time
}

// Pending reports whether the record waits for an account with its email.
func (gu GroupUser) Pending() bool { return gu.UserID == "" }

// Ref names a related record: a group of a property, a property of a
// group.
type Ref struct {
	ID    string
	Title string
}

// Groups is the part of the store that keeps groups, their properties and
// their users. Every change to a group's properties or users changes what
// its members (and their API keys) may reach, through PropertyRole.
type Groups interface {
	// CreateGroup stores a group and makes ownerID its owner (a GroupUser
	// with a fresh id), together. ErrNotFound if the user does not exist.
	CreateGroup(ctx context.Context, g Group, ownerID string) error
	GetGroup(ctx context.Context, id string) (Group, error)
	// ListGroups returns a page of the groups userID is a member of, by
	// title (byte-wise) then id, and their number across all pages. Limit
	// 0 means no limit.
	ListGroups(ctx context.Context, userID string, offset, limit int) ([]Group, int, error)
	// UpdateGroup sets a group's title and returns the group.
	UpdateGroup(ctx context.Context, id, title string) (Group, error)
	// DeleteGroup deletes a group and its users. ErrDefaultGroup for a
	// user's default group; ErrGroupNotEmpty while it holds properties.
	DeleteGroup(ctx context.Context, id string) error
	// GroupRole returns a user's role in a group, or "" when the user is
	// not a member (a missing group included).
	GroupRole(ctx context.Context, userID, groupID string) (Role, error)
	// GroupProperties returns the properties of a group by title
	// (byte-wise) then id; ErrNotFound if the group does not exist.
	GroupProperties(ctx context.Context, groupID string) ([]Ref, error)
	// PropertyGroups returns the groups of each of the given properties,
	// by title (byte-wise) then id; a missing property has no entry.
	PropertyGroups(ctx context.Context, propertyIDs []string) (map[string][]Ref, error)
	// LinkProperty puts a property in a group. ErrNotFound if either does
	// not exist; ErrAlreadyExists if it is already there.
	LinkProperty(ctx context.Context, groupID, propertyID string) error
	// UnlinkProperty takes a property out of a group. ErrNotFound if it is
	// not there; ErrLastGroup if it is the property's last group.
	// Concurrent changes never leave a property in no group.
	UnlinkProperty(ctx context.Context, groupID, propertyID string) error

	// AddGroupUser adds a user to a group, as AddPropertyUser does for a
	// property: by gu.UserID, or else by gu.UserEmail (a pending
	// invitation when no account has it). ErrNotFound if the group or a
	// given user does not exist; ErrAlreadyExists if the user (or the
	// pending email) already has a record.
	AddGroupUser(ctx context.Context, gu GroupUser) (GroupUser, error)
	GetGroupUser(ctx context.Context, id string) (GroupUser, error)
	// ListGroupUsers returns a page of the records of a group, oldest first
	// (ties by id), and their number; ErrNotFound if the group does not
	// exist. Limit 0 means no limit.
	ListGroupUsers(ctx context.Context, groupID string, offset, limit int) ([]GroupUser, int, error)
	// UpdateGroupUser changes the role (unless "") and the overrides
	// (unless nil) of a record. ErrLastOwner if it would demote the
	// group's last owner.
	UpdateGroupUser(ctx context.Context, id string, role Role, overrides []byte) (GroupUser, error)
	// RemoveGroupUser deletes a record. ErrLastOwner if it is the group's
	// last owner.
	RemoveGroupUser(ctx context.Context, id string) error
}

// Stronger returns the stronger of two roles: owner > user > "" (none).
func Stronger(a, b Role) Role {
	switch {
	case a == RoleOwner || b == RoleOwner:
		return RoleOwner
	case a == RoleUser || b == RoleUser:
		return RoleUser
	}
	return ""
}

// DefaultGroupTitle is the title of the default group every account gets.
const DefaultGroupTitle = "Default"
