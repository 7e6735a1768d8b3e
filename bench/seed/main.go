// Command seed prepares a PostgreSQL database for bench/load.sh: one user
// with an active subscription, one property they own, and many API keys
// (all-properties, one of them withdrawn), written with COPY in the exact
// format keygate uses (auth.NewSecret, auth.Digest, auth.HashPassword).
//
//	seed -admin-url URL -create-database NAME   create a database, print its URL
//	seed -admin-url URL -drop-database NAME     drop a database (connections are ended)
//	seed -database-url URL [-keys N]            seed a migrated, empty database
//
// Seeding prints shell-style assignments on stdout:
//
//	USER_ID=…  EMAIL=…  PASSWORD=…  PROPERTY_ID=…  ACTIVE_KEY=…  REVOKED_KEY=…  KEYS=…
//
// and progress on stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run() error {
	adminURL := flag.String("admin-url", "", "URL of a database through which databases can be created and dropped")
	create := flag.String("create-database", "", "create this database (needs -admin-url) and print its URL")
	drop := flag.String("drop-database", "", "drop this database (needs -admin-url)")
	dbURL := flag.String("database-url", "", "the migrated, empty database to seed")
	keys := flag.Int("keys", 100_000, "number of API keys to create, one of them withdrawn (at least 2)")
	flag.Parse()
	ctx := context.Background()
	switch {
	case *create != "":
		u, err := withDatabase(*adminURL, *create)
		if err != nil {
			return err
		}
		if err := adminExec(ctx, *adminURL, "CREATE DATABASE "+pgx.Identifier{*create}.Sanitize()); err != nil {
			return err
		}
		fmt.Println(u)
		return nil
	case *drop != "":
		return adminExec(ctx, *adminURL, "DROP DATABASE IF EXISTS "+pgx.Identifier{*drop}.Sanitize()+" WITH (FORCE)")
	case *dbURL != "":
		if *keys < 2 {
			return errors.New("-keys must be at least 2")
		}
		return seed(ctx, *dbURL, *keys)
	}
	flag.Usage()
	return errors.New("nothing to do")
}

// adminExec runs one statement through the admin URL.
func adminExec(ctx context.Context, adminURL, sql string) error {
	if adminURL == "" {
		return errors.New("-admin-url is required")
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns the URL admin with its database replaced by name.
func withDatabase(admin, name string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("-admin-url must be a postgres:// URL")
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String(), nil
}

func seed(ctx context.Context, dbURL string, n int) error {
	begin := time.Now()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)

	now := time.Now().UTC().Truncate(store.Precision)
	userID, propertyID := uuid.New(), uuid.New()
	email := "bench-" + userID.String()[:8] + "@example.com"
	password := auth.NewSecret("pw_")
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"users"},
		[]string{"id", "email", "name", "password_hash", "subscription_active", "created_at"},
		pgx.CopyFromRows([][]any{{userID, email, "Bench", auth.HashPassword(password), true, now}})); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	// Settings and content as the store writes them for a new property.
	settings := `{"allow_availability_autoupdate_on_confirmation":false,"allow_availability_autoupdate_on_modification":false,"allow_availability_autoupdate_on_cancellation":false,"min_stay_type":"","min_price":"","max_price":"","state_length":0,"cut_off_time":"","cut_off_days":0,"max_day_advance":null}`
	content := `{"description":"","important_information":"","photos":[],"logo_url":"","website":""}`
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"properties"},
		[]string{"id", "title", "currency", "settings", "content", "is_active", "created_at", "updated_at"},
		pgx.CopyFromRows([][]any{{propertyID, "Bench Hotel", "EUR", settings, content, true, now, now}})); err != nil {
		return fmt.Errorf("properties: %w", err)
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"property_users"},
		[]string{"id", "property_id", "user_id", "role", "created_at"},
		pgx.CopyFromRows([][]any{{uuid.New(), propertyID, userID, "owner", now}})); err != nil {
		return fmt.Errorf("property_users: %w", err)
	}

	// Key 0 is withdrawn; one other, chosen at random, is printed.
	active := 1 + rand.IntN(n-1)
	var revokedKey, activeKey string
	rows := generate(n, func(i int, secret string) {
		switch i {
		case 0:
			revokedKey = secret
		case active:
			activeKey = secret
		}
	})
	var batch []keyRow
	next := 0
	copied, err := conn.CopyFrom(ctx, pgx.Identifier{"api_keys"},
		[]string{"id", "user_id", "name", "digest", "all_properties", "created_at", "revoked_at", "last_used_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			for next == len(batch) {
				b, ok := <-rows
				if !ok {
					return nil, nil
				}
				batch, next = b, 0
			}
			r := batch[next]
			next++
			var revokedAt *time.Time
			if r.index == 0 {
				revokedAt = &now
			}
			return []any{r.id, userID, fmt.Sprintf("bench key %d", r.index), r.digest, true, now, revokedAt, nil}, nil
		}))
	if err != nil {
		return fmt.Errorf("api_keys: %w", err)
	}
	if copied != int64(n) {
		return fmt.Errorf("api_keys: copied %d rows, want %d", copied, n)
	}
	fmt.Fprintf(os.Stderr, "seed: %d keys copied in %.1fs\n", n, time.Since(begin).Seconds())
	// Leave nothing for autovacuum to do during a measurement.
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) users, properties, property_users, api_keys"); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seed: done in %.1fs\n", time.Since(begin).Seconds())

	var out strings.Builder
	for _, kv := range [][2]string{
		{"USER_ID", userID.String()}, {"EMAIL", email}, {"PASSWORD", password},
		{"PROPERTY_ID", propertyID.String()}, {"ACTIVE_KEY", activeKey},
		{"REVOKED_KEY", revokedKey}, {"KEYS", fmt.Sprint(n)},
	} {
		fmt.Fprintf(&out, "%s=%s\n", kv[0], kv[1])
	}
	_, err = os.Stdout.WriteString(out.String())
	return err
}

type keyRow struct {
	index  int
	id     uuid.UUID
	digest []byte
}

// generate makes n keys on every core, in batches, in no particular
// order. It calls keep once per key with its index and secret, from the
// worker goroutines (concurrently for different keys); the secret is then
// forgotten. Everything keep stores is visible once the channel is closed.
func generate(n int, keep func(i int, secret string)) <-chan []keyRow {
	const batchSize = 4096
	out := make(chan []keyRow, 2*runtime.GOMAXPROCS(0))
	starts := make(chan int)
	go func() {
		for i := 0; i < n; i += batchSize {
			starts <- i
		}
		close(starts)
	}()
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := range starts {
				batch := make([]keyRow, 0, batchSize)
				for i := start; i < min(start+batchSize, n); i++ {
					secret := auth.NewSecret(auth.APIKeyPrefix)
					keep(i, secret)
					batch = append(batch, keyRow{index: i, id: uuid.New(), digest: auth.Digest(secret)})
				}
				out <- batch
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()
	return out
}
