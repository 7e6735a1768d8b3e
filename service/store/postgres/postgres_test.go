package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver of database/sql
	"github.com/pressly/goose/v3"

	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/dbtest"
	"github.com/keygate/keygate/service/store/postgres"
	"github.com/keygate/keygate/service/store/storetest"
)

// TestConformance runs the store suite, each subtest on a database of its
// own.
func TestConformance(t *testing.T) {
	dbtest.AdminURL(t) // skip (or fail under CI) before the suite starts
	storetest.Run(t, func(t *testing.T) store.Store { return dbtest.NewStore(t) })
}

// TestMigrateIdempotent runs the migrations again, and concurrently, on a
// database that has them.
func TestMigrateIdempotent(t *testing.T) {
	url := dbtest.NewDatabase(t)
	ctx := t.Context()

	for i := range 2 {
		if err := postgres.Migrate(ctx, url); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = postgres.Migrate(ctx, url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate #%d: %v", i+1, err)
		}
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	for _, version := range []int{1, 2, 3} {
		var applied int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id = $1 AND is_applied`, version).Scan(&applied); err != nil {
			t.Fatalf("read goose_db_version: %v", err)
		}
		if applied != 1 {
			t.Errorf("migration %d recorded %d times, want once", version, applied)
		}
	}

	s, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	u := store.User{ID: store.NewID(), Email: "a@example.com", CreatedAt: time.Now()}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser after migrating twice: %v", err)
	}
}

// TestMigratePropertyModel applies the property model migration to a
// database holding records of the first schema, then reverts and reapplies
// it.
func TestMigratePropertyModel(t *testing.T) {
	url := dbtest.NewDatabase(t)
	ctx := t.Context()

	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, db, postgres.Migrations(),
		goose.WithDisableGlobalRegistry(true), goose.WithLogger(goose.NopLogger()))
	if err != nil {
		t.Fatalf("goose: %v", err)
	}
	if _, err := provider.UpTo(ctx, 1); err != nil {
		t.Fatalf("migrate to version 1: %v", err)
	}

	owner, shared := store.NewID(), store.NewID()
	propertyID := store.NewID()
	created := time.Date(2024, time.May, 1, 12, 30, 0, 123456000, time.UTC)
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, 'o@example.com', 'O', 'h', now()), ($2, 's@example.com', 'S', 'h', now())`, []any{owner, shared}},
		{`INSERT INTO properties (id, title, currency, created_at, updated_at) VALUES ($1, 'Harbour', 'EUR', $2, $2)`, []any{propertyID, created}},
		{`INSERT INTO property_users (property_id, user_id, role) VALUES ($1, $2, 'owner'), ($1, $3, 'user')`, []any{propertyID, owner, shared}},
	} {
		if _, err := db.ExecContext(ctx, stmt.sql, stmt.args...); err != nil {
			t.Fatalf("%s: %v", stmt.sql, err)
		}
	}

	if err := postgres.Migrate(ctx, url); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	s, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close() // closing twice is harmless

	p, err := s.GetProperty(ctx, propertyID)
	if err != nil {
		t.Fatalf("GetProperty of a migrated property: %v", err)
	}
	want := store.Property{ID: propertyID, Title: "Harbour", Currency: "EUR", IsActive: true, CreatedAt: created, UpdatedAt: created}
	want.Content.Photos, want.Facilities = []store.Photo{}, []string{}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("migrated property = %+v, want %+v", p, want)
	}

	users, _, err := s.ListPropertyUsers(ctx, propertyID, 0, 0)
	if err != nil {
		t.Fatalf("ListPropertyUsers of a migrated property: %v", err)
	}
	if len(users) != 2 {
		t.Fatalf("migrated property users = %+v, want 2", users)
	}
	roles := map[string]store.Role{}
	for _, pu := range users {
		if !store.ValidID(pu.ID) || !pu.CreatedAt.Equal(created) || pu.PropertyID != propertyID {
			t.Errorf("migrated property user %+v: want a fresh id and the property's creation time %v", pu, created)
		}
		got, err := s.GetPropertyUser(ctx, pu.ID)
		if err != nil || !reflect.DeepEqual(got, pu) {
			t.Errorf("GetPropertyUser(%s) = %+v, %v; want %+v", pu.ID, got, err, pu)
		}
		roles[pu.UserID] = pu.Role
	}
	if users[0].ID == users[1].ID {
		t.Errorf("migrated property users share the id %s", users[0].ID)
	}
	if roles[owner] != store.RoleOwner || roles[shared] != store.RoleUser {
		t.Errorf("migrated roles = %v, want %s owner and %s user", roles, owner, shared)
	}
	s.Close()

	// The migration reverts, and applies again.
	if _, err := provider.DownTo(ctx, 1); err != nil {
		t.Fatalf("revert to version 1: %v", err)
	}
	if err := postgres.Migrate(ctx, url); err != nil {
		t.Fatalf("Migrate after reverting: %v", err)
	}
	s, err = postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if got, err := s.GetProperty(ctx, propertyID); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("GetProperty after reverting and migrating again = %+v, %v; want %+v", got, err, want)
	}
	if role, err := s.PropertyRole(ctx, owner, propertyID); err != nil || role != store.RoleOwner {
		t.Errorf("PropertyRole of the owner after reverting and migrating again = %q, %v; want %q", role, err, store.RoleOwner)
	}
}

// TestOpenDoesNotMigrate checks that the schema only comes from Migrate.
func TestOpenDoesNotMigrate(t *testing.T) {
	url := dbtest.NewDatabase(t)
	ctx := t.Context()
	s, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	_, err = s.GetUser(ctx, store.NewID())
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("GetUser without a schema: error = %v, want an internal error", err)
	}
}

// TestUnreachable checks that a database that cannot be reached is
// ErrUnavailable, and that the caller's cancellation stays a cancellation.
func TestUnreachable(t *testing.T) {
	const url = "postgres://postgres@127.0.0.1:1/keygate?sslmode=disable"
	ctx := t.Context()
	s, err := postgres.Open(ctx, postgres.Config{URL: url, ConnectTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open must not connect, got: %v", err)
	}
	defer s.Close()

	_, err = s.GetUser(ctx, store.NewID())
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetUser on an unreachable database: error = %v, want ErrUnavailable", err)
	}
	err = s.CreateUser(ctx, store.User{ID: store.NewID(), Email: "a@example.com"})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CreateUser on an unreachable database: error = %v, want ErrUnavailable", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping on an unreachable database: error = %v, want ErrUnavailable", err)
	}
	if err := postgres.Migrate(ctx, url); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Migrate on an unreachable database: error = %v, want ErrUnavailable", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.GetUser(cancelled, store.NewID())
	if !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetUser with a cancelled context: error = %v, want context.Canceled only", err)
	}

	// A caller's deadline that expires while connecting is the caller's:
	// this listener accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	accepted := make(chan []net.Conn)
	go func() {
		var conns []net.Conn
		for {
			conn, err := ln.Accept()
			if err != nil {
				accepted <- conns
				return
			}
			conns = append(conns, conn)
		}
	}()
	defer func() {
		ln.Close()
		for _, conn := range <-accepted {
			conn.Close()
		}
	}()
	slow, err := postgres.Open(ctx, postgres.Config{
		URL:            "postgres://postgres@" + ln.Addr().String() + "/keygate?sslmode=disable",
		ConnectTimeout: time.Minute,
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer slow.Close()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = slow.GetUser(short, store.NewID())
	if errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GetUser past the caller's deadline: error = %v, want context.DeadlineExceeded only", err)
	}

	// The same silent server, with the connect timeout expiring first, is
	// unavailable.
	silent, err := postgres.Open(ctx, postgres.Config{
		URL:            "postgres://postgres@" + ln.Addr().String() + "/keygate?sslmode=disable",
		ConnectTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer silent.Close()
	_, err = silent.GetUser(ctx, store.NewID())
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetUser past the connect timeout: error = %v, want ErrUnavailable", err)
	}
}

// TestCancelledContext checks every kind of method with a context already
// cancelled or past its deadline.
func TestCancelledContext(t *testing.T) {
	s := dbtest.NewStore(t)
	u := store.User{ID: store.NewID(), Email: "a@example.com", CreatedAt: time.Now()}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()

	for _, c := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"expired", expired, context.DeadlineExceeded},
	} {
		calls := map[string]error{}
		_, calls["GetUser"] = s.GetUser(c.ctx, u.ID)
		calls["CreateUser"] = s.CreateUser(c.ctx, store.User{ID: store.NewID(), Email: "b@example.com"})
		calls["CreateProperty"] = s.CreateProperty(c.ctx, store.Property{ID: store.NewID(), Title: "Harbour"}, u.ID)
		calls["CreateAPIKey"] = s.CreateAPIKey(c.ctx, store.APIKey{ID: store.NewID(), UserID: u.ID, Digest: []byte{1}, AllProperties: true})
		_, _, calls["ListProperties"] = s.ListProperties(c.ctx, store.PropertyQuery{UserID: u.ID})
		_, _, calls["AuthenticateAPIKey"] = s.AuthenticateAPIKey(c.ctx, []byte{1})
		calls["Ping"] = s.Ping(c.ctx)
		for op, err := range calls {
			if !errors.Is(err, c.want) || errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s with a %s context: error = %v, want %v only", op, c.name, err, c.want)
			}
		}
	}

	// Nothing was written.
	props, total, err := s.ListProperties(t.Context(), store.PropertyQuery{UserID: u.ID})
	if err != nil || total != 0 || len(props) != 0 {
		t.Errorf("ListProperties after cancelled writes = %d properties, total %d, %v; want none", len(props), total, err)
	}
}
