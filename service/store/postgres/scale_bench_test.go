package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/dbtest"
	"github.com/keygate/keygate/service/store/postgres"
)

// BenchmarkAuthenticateAPIKeyScale measures AuthenticateAPIKey, the one
// query a cache miss costs, on random existing keys of a table holding
// 1,000 and then 1,000,000 keys. The digest index makes it one index probe
// either way, so the two should cost about the same: compare the p50-ns
// metrics of one run (the target is 1M/1k ≤ 1.2). Seeding is outside the
// timer and takes a few seconds for a million keys.
//
// The cached path (a hit in the process's key cache) is a map lookup by
// digest and does not depend on the number of stored keys at all.
func BenchmarkAuthenticateAPIKeyScale(b *testing.B) {
	// Seeded once, here: every sub-benchmark uses the same two databases.
	small, large := seedScale(b, 1_000), seedScale(b, 1_000_000)
	for _, db := range []*scaleDB{small, large} {
		b.Run(fmt.Sprintf("keys=%d", len(db.digests)), func(b *testing.B) {
			db.warm(b)
			took := make([]time.Duration, 0, 1<<16)
			for b.Loop() {
				took = append(took, db.lookup(b))
			}
			b.ReportMetric(float64(percentile(took, 50).Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(percentile(took, 99).Nanoseconds()), "p99-ns")
		})
	}
	// The same lookups alternating between the two tables, so that both
	// see the same machine at the same time: the ratio to quote.
	b.Run("interleaved", func(b *testing.B) {
		small.warm(b)
		large.warm(b)
		var tookSmall, tookLarge []time.Duration
		for i := 0; b.Loop(); i++ {
			if i%2 == 0 {
				tookSmall = append(tookSmall, small.lookup(b))
			} else {
				tookLarge = append(tookLarge, large.lookup(b))
			}
		}
		if len(tookSmall) == 0 || len(tookLarge) == 0 {
			return
		}
		p50s, p50l := percentile(tookSmall, 50), percentile(tookLarge, 50)
		b.ReportMetric(float64(p50s.Nanoseconds()), "p50-1k-ns")
		b.ReportMetric(float64(p50l.Nanoseconds()), "p50-1M-ns")
		b.ReportMetric(p50l.Seconds()/p50s.Seconds(), "p50-1M/1k")
		b.ReportMetric(percentile(tookLarge, 99).Seconds()/percentile(tookSmall, 99).Seconds(), "p99-1M/1k")
	})
}

// scaleDB is a store holding many keys, and the digests of all of them.
type scaleDB struct {
	st      *postgres.Store
	digests [][]byte
	rng     *rand.Rand
}

// lookup authenticates a random existing key and returns how long it took.
func (db *scaleDB) lookup(b *testing.B) time.Duration {
	d := db.digests[db.rng.IntN(len(db.digests))]
	start := time.Now()
	k, _, err := db.st.AuthenticateAPIKey(context.Background(), d)
	took := time.Since(start)
	if err != nil || !bytes.Equal(k.Digest, d) {
		b.Fatalf("AuthenticateAPIKey: %v", err)
	}
	return took
}

// warm opens connections and prepares the statement before measuring.
func (db *scaleDB) warm(b *testing.B) {
	for range 2000 {
		db.lookup(b)
	}
}

// percentile returns the p-th percentile of took, which it sorts.
func percentile(took []time.Duration, p int) time.Duration {
	slices.Sort(took)
	return took[min(len(took)*p/100, len(took)-1)]
}

// seedScale returns a store on a fresh database holding n all-properties
// keys of one user.
//
// The keys are real (auth.NewSecret, auth.Digest) and written with COPY
// in digest order: a bulk load, which fills the B-tree pages more densely
// than keys created one by one over the years would, but leaves the same
// number of levels to descend.
func seedScale(b *testing.B, n int) *scaleDB {
	b.Helper()
	url := dbtest.NewDatabase(b)
	ctx := context.Background()
	if err := postgres.Migrate(ctx, url); err != nil {
		b.Fatal(err)
	}
	st, err := postgres.Open(ctx, postgres.Config{URL: url, MaxConns: 8})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	begin := time.Now()
	u := store.User{ID: store.NewID(), Email: "scale@example.com", Name: "Scale", PasswordHash: auth.HashPassword("scale benchmark"), SubscriptionActive: true, CreatedAt: time.Now()}
	if err := st.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}

	digests := make([][]byte, n)
	ids := make([]uuid.UUID, n)
	var g errgroup.Group
	const parts = 2
	for p := range parts {
		g.Go(func() error {
			for i := p * n / parts; i < (p+1)*n/parts; i++ {
				digests[i] = auth.Digest(auth.NewSecret(auth.APIKeyPrefix))
				ids[i] = uuid.New()
			}
			return nil
		})
	}
	g.Wait()
	g.Go(func() error { slices.SortFunc(digests, bytes.Compare); return nil })
	g.Go(func() error {
		slices.SortFunc(ids, func(x, y uuid.UUID) int { return bytes.Compare(x[:], y[:]) })
		return nil
	})
	g.Wait()

	now := time.Now().UTC().Truncate(store.Precision)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	// Skipping the per-row foreign key check (every row names the one user
	// above) roughly halves the load; it needs a superuser, and without
	// one the load just takes longer.
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		b.Logf("foreign keys checked while loading: %v", err)
	}
	i := 0
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"api_keys"},
		[]string{"id", "user_id", "name", "digest", "all_properties", "created_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			i++
			return []any{ids[i-1], u.ID, "scale", digests[i-1], true, now}, nil
		}))
	if err != nil {
		b.Fatalf("copying keys: %v", err)
	}
	if _, err := conn.Exec(ctx, "RESET session_replication_role"); err != nil {
		b.Fatal(err)
	}
	// Hint bits and statistics, as a table that has been in use would
	// have them; and no autovacuum run during the measurement.
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) api_keys"); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d keys in %v", n, time.Since(begin).Round(time.Millisecond))
	return &scaleDB{st: st, digests: digests, rng: rand.New(rand.NewPCG(uint64(n), 1))}
}
