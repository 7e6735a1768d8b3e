// Package dbtest gives tests a fresh PostgreSQL database of their own.
//
// The server to use is named by KEYGATE_TEST_DATABASE_URL, a URL through
// which databases can be created and dropped, e.g.
//
//	KEYGATE_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'
//
// Without it, tests that need a database are skipped, except under CI=true,
// where they fail: CI must not pass by running nothing.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/service/store/postgres"
)

// EnvURL names the environment variable holding the admin URL.
const EnvURL = "KEYGATE_TEST_DATABASE_URL"

// adminTimeout bounds creating or dropping one database.
const adminTimeout = 30 * time.Second

// AdminURL returns the admin URL, skipping the test when there is none
// (failing it under CI=true).
func AdminURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set; CI must run the PostgreSQL tests", EnvURL)
		}
		t.Skipf("%s is not set; skipping a test that needs PostgreSQL", EnvURL)
	}
	return admin
}

// NewDatabase creates an empty database named keygate_test_<random> and
// returns a URL to it; the database is dropped when the test ends. The
// schema is not applied: see NewStore, or call postgres.Migrate.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)

	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("dbtest: random database name: %v", err)
	}
	name := "keygate_test_" + hex.EncodeToString(b[:])
	dbURL, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("dbtest: %s: %v", EnvURL, err)
	}

	if err := adminExec(admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("dbtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := adminExec(admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	return dbURL
}

// NewStore returns a store on a fresh, migrated database; the store is
// closed and the database dropped when the test ends.
func NewStore(t testing.TB) *postgres.Store {
	t.Helper()
	dbURL := NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if err := postgres.Migrate(ctx, dbURL); err != nil {
		t.Fatalf("dbtest: migrate: %v", err)
	}
	s, err := postgres.Open(ctx, postgres.Config{URL: dbURL, MaxConns: 8})
	if err != nil {
		t.Fatalf("dbtest: open: %v", err)
	}
	t.Cleanup(s.Close) // runs before the database is dropped
	return s
}

// adminExec runs one statement on a connection of its own.
func adminExec(admin, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns the connection string admin with its database
// replaced by name. Both URL and keyword/value forms are understood.
func withDatabase(admin, name string) (string, error) {
	if strings.HasPrefix(admin, "postgres://") || strings.HasPrefix(admin, "postgresql://") {
		u, err := url.Parse(admin)
		if err != nil {
			return "", err
		}
		u.Path = "/" + name
		u.RawPath = ""
		if q := u.Query(); q.Has("dbname") {
			q.Del("dbname")
			u.RawQuery = q.Encode()
		}
		return u.String(), nil
	}
	// In keyword/value form a later setting overrides an earlier one.
	return admin + " dbname=" + name, nil
}
