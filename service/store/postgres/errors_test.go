package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/keygate/keygate/service/store"
)

func TestTranslate(t *testing.T) {
	live := context.Background()
	cancelled, cancel := context.WithCancel(live)
	cancel()
	pgErr := func(code string) error { return fmt.Errorf("query: %w", &pgconn.PgError{Code: code}) }
	internal := errors.New("internal") // stands for "none of the sentinels"

	for _, c := range []struct {
		name string
		ctx  context.Context
		err  error
		want error
	}{
		{"no rows", live, pgx.ErrNoRows, store.ErrNotFound},
		{"sentinel", live, store.ErrAborted, store.ErrAborted},
		{"last owner", live, store.ErrLastOwner, store.ErrLastOwner},
		{"last owner, cancelled", cancelled, store.ErrLastOwner, store.ErrLastOwner},
		{"unique violation", live, pgErr("23505"), store.ErrAlreadyExists},
		{"foreign key violation", live, pgErr("23503"), store.ErrNotFound},
		{"malformed uuid", live, pgErr("22P02"), store.ErrNotFound},
		{"NUL byte", live, pgErr("22021"), store.ErrInvalidText},
		{"untranslatable character", live, pgErr("22P05"), store.ErrInvalidText},
		{"invalid text, cancelled", cancelled, pgErr("22021"), store.ErrInvalidText},
		{"serialization failure", live, pgErr("40001"), store.ErrAborted},
		{"deadlock", live, pgErr("40P01"), store.ErrAborted},
		{"admin shutdown", live, pgErr("57P01"), store.ErrUnavailable},
		{"cannot connect now", live, pgErr("57P03"), store.ErrUnavailable},
		{"connection failure", live, pgErr("08006"), store.ErrUnavailable},
		{"statement timeout", live, pgErr("57014"), store.ErrUnavailable},
		{"undefined table", live, pgErr("42P01"), internal},
		{"unexpected EOF", live, io.ErrUnexpectedEOF, store.ErrUnavailable},
		{"closed pool", live, puddle.ErrClosedPool, store.ErrUnavailable},
		{"net error", live, &net.OpError{Op: "dial", Err: errors.New("connection refused")}, store.ErrUnavailable},
		{"other", live, errors.New("boom"), internal},
		{"cancelled", cancelled, context.Canceled, context.Canceled},
		{"cancelled query", cancelled, pgErr("57014"), context.Canceled},
		{"cancelled connection", cancelled, io.ErrUnexpectedEOF, context.Canceled},
		{"cancelled no rows", cancelled, pgx.ErrNoRows, store.ErrNotFound},
	} {
		got := translate(c.ctx, c.err)
		sentinels := []error{store.ErrNotFound, store.ErrAlreadyExists, store.ErrUnavailable, store.ErrAborted, store.ErrLastOwner, store.ErrInvalidText, context.Canceled}
		for _, s := range sentinels {
			if errors.Is(got, s) != (s == c.want) {
				t.Errorf("%s: translate(%v) = %v, want it to match only %v", c.name, c.err, got, c.want)
				break
			}
		}
		if !errors.Is(got, c.err) && c.want == internal {
			t.Errorf("%s: translate(%v) = %v, want the cause wrapped", c.name, c.err, got)
		}
	}
	if err := translate(live, nil); err != nil {
		t.Errorf("translate(nil) = %v", err)
	}
}

// adminURL is dbtest.AdminURL, which this package cannot import: dbtest
// imports it.
func adminURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("KEYGATE_TEST_DATABASE_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("KEYGATE_TEST_DATABASE_URL is not set; CI must run the PostgreSQL tests")
		}
		t.Skip("KEYGATE_TEST_DATABASE_URL is not set; skipping a test that needs PostgreSQL")
	}
	return url
}

// TestTimeouts tells a query the caller gave up on from one the database
// gave up on.
func TestTimeouts(t *testing.T) {
	s, err := Open(t.Context(), Config{URL: adminURL(t), StatementTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	sleep := func(ctx context.Context) (err error) {
		defer edge(ctx, &err)
		_, err = s.pool.Exec(ctx, `SELECT pg_sleep(3)`)
		return err
	}

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err = sleep(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("query past the caller's deadline: error = %v, want context.DeadlineExceeded only", err)
	}

	ctx, cancel = context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	err = sleep(ctx)
	if !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("query cancelled by the caller: error = %v, want context.Canceled only", err)
	}

	err = sleep(t.Context())
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("query past statement_timeout: error = %v, want ErrUnavailable", err)
	}

	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping after the timeouts: %v", err)
	}
}

func TestPoolConfig(t *testing.T) {
	for _, c := range []struct {
		cfg              Config
		maxConns         int32
		connect          time.Duration
		statementTimeout string
	}{
		{Config{URL: "postgres://h/db"}, DefaultMaxConns, DefaultConnectTimeout, "5000"},
		{Config{URL: "postgres://h/db", MaxConns: 3, ConnectTimeout: time.Second, StatementTimeout: 1500 * time.Millisecond}, 3, time.Second, "1500"},
		{Config{URL: "postgres://h/db?pool_max_conns=7&connect_timeout=2&statement_timeout=900"}, 7, 2 * time.Second, "900"},
		{Config{URL: "postgres://h/db?statement_timeout=900", StatementTimeout: -1}, DefaultMaxConns, DefaultConnectTimeout, "0"},
	} {
		pc, err := poolConfig(c.cfg)
		if err != nil {
			t.Fatalf("poolConfig(%+v): %v", c.cfg, err)
		}
		if pc.MaxConns != c.maxConns || pc.ConnConfig.ConnectTimeout != c.connect || pc.ConnConfig.RuntimeParams["statement_timeout"] != c.statementTimeout {
			t.Errorf("poolConfig(%+v): MaxConns %d, ConnectTimeout %v, statement_timeout %q; want %d, %v, %q",
				c.cfg, pc.MaxConns, pc.ConnConfig.ConnectTimeout, pc.ConnConfig.RuntimeParams["statement_timeout"],
				c.maxConns, c.connect, c.statementTimeout)
		}
	}
}
