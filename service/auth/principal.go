package auth

import (
	"context"

	"github.com/keygate/keygate/service/store"
)

// Principal is who a request acts for, as established by the interceptor.
type Principal struct {
	User store.User
	// Key is the API key used, or nil for a session. It may be shared with
	// the key cache: read it, never modify it.
	Key *store.APIKey
	// SessionDigest is the digest of the session token used, or nil.
	SessionDigest []byte
	// SessionID names the session in the audit trail ("" for sessions
	// older than the audit trail).
	SessionID string
}

// Scope returns the property ids the principal is narrowed to, and whether
// it is narrowed at all (sessions and all-properties keys are not).
func (p *Principal) Scope() (ids []string, narrowed bool) {
	if p.Key == nil || p.Key.AllProperties {
		return nil, false
	}
	return p.Key.PropertyIDs, true
}

// newKeyPrincipal builds the principal of an API key in one allocation,
// sharing k (which the cache never modifies once cached).
func newKeyPrincipal(k *store.APIKey, u *store.User) *Principal {
	return &Principal{User: *u, Key: k}
}

type principalKey struct{}

// FromContext returns the principal of an authenticated request. Handlers
// of RPCs that need a credential can rely on it being there.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}
