package server_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
)

// BenchmarkRevocationPropagation measures how long a key revoked through
// one replica keeps working on another replica that has it cached, both
// on one PostgreSQL database (the second learns of the revocation through
// LISTEN/NOTIFY).
//
// Each trial creates a key on A, uses it on B until B answers from its
// cache (a use that reaches no store), revokes it on A with RevokeApiKey,
// then calls GetProperty on B in a tight loop until B refuses the key. The
// time from RevokeApiKey returning to B's first refusal is one sample.
// Reported: p50, p99 and max in ms over at least 100 trials (one per
// iteration; -benchtime 200x runs 200), and the fraction of trials in
// which B's very first call after the revocation was already refused.
// ns/op is the whole trial.
func BenchmarkRevocationPropagation(b *testing.B) {
	url := migratedDatabase(b) // skips without KEYGATE_TEST_DATABASE_URL
	bStore, bCount := counting(openStore(b, url))
	ra, rb := start(b, openStore(b, url)), start(b, bStore)
	u := ra.newUser(true)
	session := withSession(u.token)
	get := &keygatev1.GetPropertyRequest{Id: ra.newProperty(u, "Propagation Hotel")}

	var took, revokeCall []time.Duration
	refusedAtOnce := 0
	trial := func() {
		k := ra.newKey(u)
		key := withKey(k.GetApiKey())
		// Until B's listener reports Listening, B bypasses its cache: a
		// use that made no store lookup proves the key is cached.
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := bCount.authentications.Load()
			if _, err := rb.props.GetProperty(key, get); err != nil {
				b.Fatalf("the new key on B: %v", err)
			}
			if bCount.authentications.Load() == n {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("B did not cache the key within 5s: is its listener up?")
			}
		}
		begin := time.Now()
		if _, err := ra.keys.RevokeApiKey(session, &keygatev1.RevokeApiKeyRequest{Id: k.GetId()}); err != nil {
			b.Fatal(err)
		}
		revoked := time.Now()
		revokeCall = append(revokeCall, revoked.Sub(begin))
		for polls := 1; ; polls++ {
			_, err := rb.props.GetProperty(key, get)
			switch status.Code(err) {
			case codes.OK:
			case codes.Unauthenticated:
				took = append(took, time.Since(revoked))
				if polls == 1 {
					refusedAtOnce++
				}
				return
			default:
				b.Fatalf("B after the revocation: %v", err)
			}
			if time.Since(revoked) > 10*time.Second {
				b.Fatal("B still accepts the key 10s after its revocation")
			}
		}
	}
	for b.Loop() {
		trial()
	}
	for len(took) < 100 {
		trial()
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(nearestRank(took, 50)), "p50-ms")
	b.ReportMetric(ms(nearestRank(took, 99)), "p99-ms")
	b.ReportMetric(ms(nearestRank(took, 100)), "max-ms")
	b.ReportMetric(float64(len(took)), "trials")
	b.ReportMetric(float64(refusedAtOnce)/float64(len(took)), "refused-1st-poll")
	b.ReportMetric(ms(nearestRank(revokeCall, 50)), "revoke-call-p50-ms")
}

// nearestRank returns the p-th percentile of d (nearest-rank method); it
// sorts d.
func nearestRank(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[min(max(i, 0), len(d)-1)]
}
