package auth

import (
	"crypto/sha256"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Failure limits. A valid API key or session token is never refused
// because its address has failed before; only failures are charged, and
// only attempts that could be failures are refused:
//
//   - A credential is checked first when it is cached, or known (this
//     process issued or accepted it within knownTTL): it costs no budget
//     unless it fails, however many failures its address has caused.
//   - Any other credential takes one unit of its address's budget before
//     it is looked up, and gives it back when it turns out valid (or the
//     store fails), so that concurrent lookups cannot overdraw the budget.
//     While the budget is spent, such credentials are refused with
//     RESOURCE_EXHAUSTED without a store lookup: a flood of made-up keys
//     costs the store a bounded number of queries.
//   - Failed admin-token attempts share that budget, and are refused
//     first while it is spent: the admin token may be guessable, so a
//     spent budget must stop guesses from being checked at all.
//   - Passwords are guessable too. A sign-in takes from the account's
//     budget and from its address's sign-in budget (kept apart from
//     failed keys, so a flood of made-up keys never blocks signing in)
//     before the password is checked. An address that has signed in to
//     the account before is exempt from the address budget, never from
//     the account's: while an account is over its budget, even its right
//     password gets RESOURCE_EXHAUSTED, which is what slows guessing; its
//     sessions and keys keep working.
//
// The residue: a key or session this process has not seen valid within
// knownTTL, used from an address that is over its budget, gets
// RESOURCE_EXHAUSTED until the budget refills (at FailuresPerSecond).

// Limit is a token bucket: PerSecond failures refill, Burst at most.
type Limit struct {
	PerSecond float64
	Burst     int
}

// failureLimiter holds one token bucket per key (an address group or an
// account). Memory is bounded: a bucket that has refilled is forgotten (a
// new one is the same), and when maxBuckets are held regardless, arbitrary
// ones are forgotten, which gives those sources a fresh budget.
type failureLimiter[K comparable] struct {
	limit      Limit
	maxBuckets int

	mu      sync.Mutex
	buckets map[K]*rate.Limiter
}

func newFailureLimiter[K comparable](l Limit) *failureLimiter[K] {
	return &failureLimiter[K]{limit: l, maxBuckets: 100_000, buckets: map[K]*rate.Limiter{}}
}

func (l *failureLimiter[K]) bucket(k K, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[k]
	if b != nil {
		return b
	}
	if len(l.buckets) >= l.maxBuckets {
		for k, b := range l.buckets {
			if b.TokensAt(now) >= float64(l.limit.Burst) {
				delete(l.buckets, k)
			}
		}
		for k := range l.buckets {
			if len(l.buckets) < l.maxBuckets*9/10 {
				break
			}
			delete(l.buckets, k)
		}
	}
	b = rate.NewLimiter(rate.Limit(l.limit.PerSecond), l.limit.Burst)
	l.buckets[k] = b
	return b
}

// reserve takes one unit of k's budget for an attempt that may fail; ok is
// false, and nothing is taken, when the budget is spent. Give the unit
// back with refund unless the attempt failed.
func (l *failureLimiter[K]) reserve(k K, now time.Time) (r *rate.Reservation, ok bool) {
	r = l.bucket(k, now).ReserveN(now, 1)
	if !r.OK() || r.DelayFrom(now) > 0 {
		r.CancelAt(now)
		return nil, false
	}
	return r, true
}

// charge takes one unit of k's budget for a failure that reserved none,
// if there is one left.
func (l *failureLimiter[K]) charge(k K, now time.Time) {
	l.bucket(k, now).AllowN(now, 1)
}

// refund gives back a reserved unit; nil is a no-op.
func refund(r *rate.Reservation, now time.Time) {
	if r != nil {
		r.CancelAt(now)
	}
}

// knownTTL is how long a credential this process issued or accepted stays
// known, and so exempt from refusals for its address's failures.
const knownTTL = 24 * time.Hour

// knownCredentials remembers credentials (by a digest of what identifies
// them) that this process issued or accepted recently. Knowing one grants
// only a check against the store, never access: a revoked key that is
// known is still refused. Memory is bounded by maxEntries.
type knownCredentials struct {
	maxEntries int
	mu         sync.Mutex
	entries    map[[16]byte]time.Time // → expiry
}

func newKnownCredentials() *knownCredentials {
	return &knownCredentials{maxEntries: 100_000, entries: map[[16]byte]time.Time{}}
}

func (c *knownCredentials) add(d [16]byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[d]; !ok && len(c.entries) >= c.maxEntries {
		for k, exp := range c.entries {
			if !now.Before(exp) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.maxEntries*9/10 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[d] = now.Add(knownTTL)
}

func (c *knownCredentials) has(d [16]byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.entries[d]
	return ok && now.Before(exp)
}

// knownSecret identifies a key or session token by its digest.
func knownSecret(d [32]byte) [16]byte { return [16]byte(d[:16]) }

// knownSignIn identifies an account signed in to from an address group.
func knownSignIn(account [32]byte, group netip.Prefix) [16]byte {
	d := sha256.Sum256([]byte("sign-in\x00" + string(account[:]) + "\x00" + group.String()))
	return [16]byte(d[:16])
}

// accountOf is the key of an account's sign-in budget: a digest of the
// normalized email, so that the limiter holds no email addresses and its
// keys have a fixed size whatever a client sends. Unknown emails have
// budgets too, so that answers do not tell which accounts exist.
func accountOf(email string) [32]byte {
	return sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
}

var (
	tooManyFailures       = status.Error(codes.ResourceExhausted, "too many failed authentications from this address; slow down")
	tooManySignInFailures = status.Error(codes.ResourceExhausted, "too many failed sign-ins from this address; try again later")
	tooManyAccountFailure = status.Error(codes.ResourceExhausted, "too many failed sign-ins for this account; try again later")
)
