package postgres_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/dbtest"
	"github.com/keygate/keygate/service/store/postgres"
)

// changeTimeout is how soon a change must be reported.
const changeTimeout = time.Second

// reconnectTimeout is how soon a lost listener must be noticed, and how
// soon it must be listening again once the database answers.
const reconnectTimeout = 5 * time.Second

// watchedDB is a fresh migrated database with a store on it and a
// connection of its own for SQL typed by hand.
type watchedDB struct {
	url string
	s   *postgres.Store
	sql *pgx.Conn
}

// newWatchedDB migrates a fresh database and opens a store on it, with
// the configuration config returns for the database's URL (nil: the URL
// alone).
func newWatchedDB(t *testing.T, config func(dbURL string) postgres.Config) *watchedDB {
	t.Helper()
	ctx := t.Context()
	dbURL := dbtest.NewDatabase(t)
	if err := postgres.Migrate(ctx, dbURL); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	cfg := postgres.Config{URL: dbURL}
	if config != nil {
		cfg = config(dbURL)
	}
	s, err := postgres.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return &watchedDB{url: dbURL, s: s, sql: conn}
}

// exec runs SQL typed by hand.
func (db *watchedDB) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := db.sql.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// listenerPIDs returns the backends of Watch connected to the database.
func (db *watchedDB) listenerPIDs(t *testing.T) []int32 {
	t.Helper()
	rows, err := db.sql.Query(t.Context(), `
		SELECT pid FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`,
		postgres.ListenerApplicationName)
	if err != nil {
		t.Fatalf("find the listener: %v", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatalf("find the listener: %v", err)
	}
	return pids
}

// watcher runs Watch in a goroutine and collects what it reports.
type watcher struct {
	changes    chan store.Change
	done       chan error
	cancel     context.CancelFunc
	inFn       atomic.Int32
	concurrent atomic.Bool // fn was called while a call was running
	overflow   atomic.Bool // changes was full
}

// startWatch starts Watch on s; it is stopped when the test ends.
func startWatch(t *testing.T, s *postgres.Store) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{changes: make(chan store.Change, 1024), done: make(chan error, 1), cancel: cancel}
	go func() {
		w.done <- s.Watch(ctx, func(c store.Change) {
			if w.inFn.Add(1) != 1 {
				w.concurrent.Store(true)
			}
			select {
			case w.changes <- c:
			default:
				w.overflow.Store(true)
			}
			w.inFn.Add(-1)
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-w.done:
			if err != nil {
				t.Errorf("Watch returned %v, want nil", err)
			}
			w.done <- err // for a later stop
		case <-time.After(reconnectTimeout):
			t.Errorf("Watch did not return after its context ended")
		}
		if w.concurrent.Load() {
			t.Errorf("Watch called fn concurrently")
		}
		if w.overflow.Load() {
			t.Errorf("the test did not read what Watch reported fast enough")
		}
	})
	return w
}

// next returns the next change reported within timeout.
func (w *watcher) next(timeout time.Duration) (store.Change, bool) {
	select {
	case c := <-w.changes:
		return c, true
	case <-time.After(timeout):
		return store.Change{}, false
	}
}

// stop cancels Watch and returns what it returned, failing the test if it
// does not return within timeout.
func (w *watcher) stop(t *testing.T, timeout time.Duration) error {
	t.Helper()
	w.cancel()
	select {
	case err := <-w.done:
		w.done <- err
		return err
	case <-time.After(timeout):
		t.Fatalf("Watch did not return within %v of its context ending", timeout)
		return nil
	}
}

// expectKind waits for a change of the given kind, the first reported.
func (w *watcher) expectKind(t *testing.T, what string, kind store.ChangeKind, timeout time.Duration) {
	t.Helper()
	c, ok := w.next(timeout)
	if !ok {
		t.Fatalf("%s: nothing reported within %v, want %s", what, timeout, kindName(kind))
	}
	if c.Kind != kind {
		t.Fatalf("%s: reported %s, want %s", what, describe(c), kindName(kind))
	}
}

// expectUsers waits until each of ids has been reported changed, and
// fails on anything else reported meanwhile.
func (w *watcher) expectUsers(t *testing.T, what string, ids ...string) {
	t.Helper()
	missing := slices.Clone(ids)
	deadline := time.Now().Add(changeTimeout)
	for len(missing) > 0 {
		c, ok := w.next(time.Until(deadline))
		if !ok {
			t.Errorf("%s: users %q not reported changed within %v", what, missing, changeTimeout)
			return
		}
		i := slices.Index(missing, c.UserID)
		if c.Kind != store.UserChanged || i < 0 {
			t.Errorf("%s: reported %s, want changes of users %q", what, describe(c), ids)
			continue
		}
		missing = slices.Delete(missing, i, i+1)
	}
}

// expectResync waits for NotListening followed by Listening: everything
// may have changed.
func (w *watcher) expectResync(t *testing.T, what string) {
	t.Helper()
	w.expectKind(t, what, store.NotListening, changeTimeout)
	w.expectKind(t, what, store.Listening, changeTimeout)
}

// marker is a user whose subscription the tests toggle to learn that
// everything reported before has arrived: notifications are delivered in
// the order of the commits.
type marker struct {
	s      *postgres.Store
	user   store.User
	active bool
}

func newMarker(t *testing.T, s *postgres.Store) *marker {
	t.Helper()
	return &marker{s: s, user: createUser(t, s)}
}

// expectNothing checks that nothing was reported for the changes made
// since the last report was read: a change of the marker made now must be
// the next thing reported.
func (m *marker) expectNothing(t *testing.T, w *watcher, what string) {
	t.Helper()
	m.active = !m.active
	if _, err := m.s.SetSubscription(t.Context(), m.user.ID, m.active); err != nil {
		t.Fatalf("SetSubscription of the marker: %v", err)
	}
	deadline := time.Now().Add(changeTimeout)
	for {
		c, ok := w.next(time.Until(deadline))
		if !ok {
			t.Fatalf("%s: the marker's change was not reported within %v", what, changeTimeout)
		}
		if c.Kind == store.UserChanged && c.UserID == m.user.ID {
			return
		}
		t.Errorf("%s: reported %s, want nothing", what, describe(c))
	}
}

func kindName(k store.ChangeKind) string {
	switch k {
	case store.UserChanged:
		return "UserChanged"
	case store.Listening:
		return "Listening"
	case store.NotListening:
		return "NotListening"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

func describe(c store.Change) string {
	if c.Kind == store.UserChanged {
		return fmt.Sprintf("UserChanged(%s)", c.UserID)
	}
	return kindName(c.Kind)
}

var emails atomic.Int64

func createUser(t *testing.T, s *postgres.Store) store.User {
	t.Helper()
	u := store.User{
		ID:        store.NewID(),
		Email:     fmt.Sprintf("user%d@example.com", emails.Add(1)),
		Name:      "Test User",
		CreatedAt: time.Now(),
	}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return u
}

func createProperty(t *testing.T, s *postgres.Store, ownerID string) store.Property {
	t.Helper()
	now := time.Now()
	p := store.Property{ID: store.NewID(), Title: "Harbour", Currency: "EUR", IsActive: true, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateProperty(t.Context(), p, ownerID); err != nil {
		t.Fatalf("CreateProperty: %v", err)
	}
	return p
}

func newKey(userID string, propertyIDs ...string) store.APIKey {
	d := sha256.Sum256([]byte(store.NewID()))
	return store.APIKey{
		ID:            store.NewID(),
		UserID:        userID,
		Name:          "key",
		Digest:        d[:],
		AllProperties: len(propertyIDs) == 0,
		PropertyIDs:   propertyIDs,
		CreatedAt:     time.Now(),
	}
}

func createKey(t *testing.T, s *postgres.Store, userID string, propertyIDs ...string) store.APIKey {
	t.Helper()
	k := newKey(userID, propertyIDs...)
	if err := s.CreateAPIKey(t.Context(), k); err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	return k
}

func addPropertyUser(t *testing.T, s *postgres.Store, propertyID, userID string, role store.Role) store.PropertyUser {
	t.Helper()
	pu := store.PropertyUser{ID: store.NewID(), PropertyID: propertyID, UserID: userID, Role: role, CreatedAt: time.Now()}
	if _, err := s.AddPropertyUser(t.Context(), pu); err != nil {
		t.Fatalf("AddPropertyUser: %v", err)
	}
	return pu
}

// TestWatch makes every kind of change, through the store and by hand,
// and checks what Watch reports for each: the users whose keys may do
// less (or more) than before, exactly once per change, and nothing for
// changes that alter no key's power.
func TestWatch(t *testing.T) {
	db := newWatchedDB(t, nil)
	s, ctx := db.s, t.Context()

	a, b := createUser(t, s), createUser(t, s)
	m := newMarker(t, s)
	shared := createProperty(t, s, a.ID)
	addPropertyUser(t, s, shared.ID, b.ID, store.RoleUser)
	other := createProperty(t, s, a.ID)
	keyAScoped := createKey(t, s, a.ID, shared.ID)
	keyA := createKey(t, s, a.ID)
	keyB := createKey(t, s, b.ID)

	w := startWatch(t, s)
	w.expectKind(t, "start", store.Listening, reconnectTimeout)
	if pids := db.listenerPIDs(t); len(pids) != 1 {
		t.Errorf("listener backends named %q = %v, want one", postgres.ListenerApplicationName, pids)
	}

	var keyAOther store.APIKey
	var shareB store.PropertyUser
	var fresh store.User
	steps := []struct {
		name  string
		do    func(t *testing.T)
		users []*store.User // nil: nothing is reported
	}{
		// Changes that alter no key's power.
		// A new user joins their default group, which is announced; they
		// have no keys yet, so nothing is stale.
		{"CreateUser", func(t *testing.T) { fresh = createUser(t, s) }, []*store.User{&fresh}},
		{"CreateAPIKey of an all-properties key", func(t *testing.T) { createKey(t, s, a.ID) }, nil},
		{"RecordKeyUse", func(t *testing.T) {
			now := time.Now()
			err := s.RecordKeyUse(ctx, map[string]store.KeyUse{keyAScoped.ID: {At: now}, keyA.ID: {At: now}, keyB.ID: {At: now}})
			if err != nil {
				t.Fatalf("RecordKeyUse: %v", err)
			}
		}, nil},
		{"UPDATE api_keys SET last_used_at by hand", func(t *testing.T) {
			db.exec(t, `UPDATE api_keys SET last_used_at = now() + interval '1 hour'`)
		}, nil},
		{"UPDATE api_keys SET last_used_ip by hand", func(t *testing.T) {
			db.exec(t, `UPDATE api_keys SET last_used_ip = '192.0.2.1'`)
		}, nil},
		{"UPDATE api_keys SET name to itself by hand", func(t *testing.T) {
			db.exec(t, `UPDATE api_keys SET name = name`)
		}, nil},
		// Any other column announces, a key's name included.
		{"UPDATE api_keys SET name by hand", func(t *testing.T) {
			db.exec(t, `UPDATE api_keys SET name = 'renamed' WHERE user_id = $1`, b.ID)
		}, []*store.User{&b}},
		{"CreateSession", func(t *testing.T) {
			d := sha256.Sum256([]byte(store.NewID()))
			sess := store.Session{Digest: d[:], UserID: a.ID, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
			if err := s.CreateSession(ctx, sess); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
		}, nil},
		{"UpdateProperty", func(t *testing.T) {
			p := shared
			p.Title = "Meadow"
			if _, err := s.UpdateProperty(ctx, p.ID, func(q *store.Property) error { q.Title = p.Title; return nil }); err != nil {
				t.Fatalf("UpdateProperty: %v", err)
			}
		}, nil},

		// Revocations and subscriptions.
		{"RevokeAPIKey", func(t *testing.T) {
			if _, err := s.RevokeAPIKey(ctx, a.ID, keyA.ID, time.Now()); err != nil {
				t.Fatalf("RevokeAPIKey: %v", err)
			}
		}, []*store.User{&a}},
		{"RevokeAPIKey of a revoked key", func(t *testing.T) {
			if _, err := s.RevokeAPIKey(ctx, a.ID, keyA.ID, time.Now()); err != nil {
				t.Fatalf("RevokeAPIKey: %v", err)
			}
		}, nil},
		{"SetSubscription", func(t *testing.T) {
			if _, err := s.SetSubscription(ctx, b.ID, true); err != nil {
				t.Fatalf("SetSubscription: %v", err)
			}
		}, []*store.User{&b}},
		{"SetSubscription to the same state", func(t *testing.T) {
			if _, err := s.SetSubscription(ctx, b.ID, true); err != nil {
				t.Fatalf("SetSubscription: %v", err)
			}
		}, nil},

		// Scopes and access. Additions are reported too, so that no cache
		// keeps a scope or an access narrower than the stored one.
		{"CreateAPIKey of a scoped key", func(t *testing.T) { keyAOther = createKey(t, s, a.ID, other.ID) }, []*store.User{&a}},
		{"AddPropertyUser", func(t *testing.T) {
			shareB = addPropertyUser(t, s, other.ID, b.ID, store.RoleUser)
		}, []*store.User{&b}},
		{"UpdatePropertyUser", func(t *testing.T) {
			if _, err := s.UpdatePropertyUser(ctx, shareB.ID, store.RoleOwner, nil); err != nil {
				t.Fatalf("UpdatePropertyUser: %v", err)
			}
		}, []*store.User{&b}},
		{"UpdatePropertyUser to the same role", func(t *testing.T) {
			if _, err := s.UpdatePropertyUser(ctx, shareB.ID, store.RoleOwner, nil); err != nil {
				t.Fatalf("UpdatePropertyUser: %v", err)
			}
		}, nil},
		{"UPDATE property_users SET role to the same role by hand", func(t *testing.T) {
			db.exec(t, `UPDATE property_users SET role = role`)
		}, nil},
		{"RemovePropertyUser", func(t *testing.T) {
			if err := s.RemovePropertyUser(ctx, shareB.ID); err != nil {
				t.Fatalf("RemovePropertyUser: %v", err)
			}
		}, []*store.User{&b}},
		{"DeleteProperty of a property shared with a scoped key", func(t *testing.T) {
			if err := s.DeleteProperty(ctx, shared.ID); err != nil {
				t.Fatalf("DeleteProperty: %v", err)
			}
		}, []*store.User{&a, &b}},
		{"CreateProperty", func(t *testing.T) { createProperty(t, s, b.ID) }, []*store.User{&b}},

		// SQL typed by hand.
		{"UPDATE api_keys SET revoked_at by hand", func(t *testing.T) {
			db.exec(t, `UPDATE api_keys SET revoked_at = now() WHERE id = $1`, keyB.ID)
		}, []*store.User{&b}},
		{"UPDATE users SET email by hand", func(t *testing.T) {
			db.exec(t, `UPDATE users SET email = 'changed-' || email WHERE id = $1`, b.ID)
		}, []*store.User{&b}},
		{"DELETE FROM api_key_properties by hand", func(t *testing.T) {
			db.exec(t, `DELETE FROM api_key_properties WHERE api_key_id = $1`, keyAOther.ID)
		}, []*store.User{&a}},
		{"UPDATE api_keys SET all_properties by hand", func(t *testing.T) {
			db.exec(t, `UPDATE api_keys SET all_properties = NOT all_properties WHERE id = $1`, keyAOther.ID)
		}, []*store.User{&a}},
		{"a transaction rolled back", func(t *testing.T) {
			tx, err := db.sql.Begin(ctx)
			if err != nil {
				t.Fatalf("begin: %v", err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, b.ID); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatalf("rollback: %v", err)
			}
		}, nil},
		{"a transaction of several changes of one user", func(t *testing.T) {
			tx, err := db.sql.Begin(ctx)
			if err != nil {
				t.Fatalf("begin: %v", err)
			}
			defer tx.Rollback(ctx)
			for _, sql := range []string{
				`UPDATE users SET subscription_active = false WHERE id = $1`,
				`UPDATE users SET name = 'renamed' WHERE id = $1`,
				`UPDATE api_keys SET revoked_at = NULL WHERE user_id = $1`,
			} {
				if _, err := tx.Exec(ctx, sql, b.ID); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatalf("commit: %v", err)
			}
		}, []*store.User{&b}},
		{"DELETE FROM users by hand", func(t *testing.T) {
			db.exec(t, `DELETE FROM users WHERE id = $1`, a.ID)
		}, []*store.User{&a}},
		{"NOTIFY with a payload that is no id", func(t *testing.T) {
			db.exec(t, `NOTIFY keygate_changes, 'not an id'`)
		}, nil},
	}
	for _, step := range steps {
		step.do(t)
		var ids []string
		for _, u := range step.users {
			ids = append(ids, u.ID)
		}
		if len(ids) > 0 {
			w.expectUsers(t, step.name, ids...)
		}
		// Nothing else, and nothing twice.
		m.expectNothing(t, w, step.name)
	}

	// Changes that name no user: everything may be stale.
	for _, sql := range []string{
		`TRUNCATE api_key_properties, api_keys`,
		`NOTIFY keygate_changes`,
	} {
		db.exec(t, sql)
		w.expectResync(t, sql)
		m.expectNothing(t, w, sql)
	}
}

// TestWatchReconnects terminates the listener's backend and checks that
// Watch reports NotListening, connects again, reports Listening and then
// reports changes.
func TestWatchReconnects(t *testing.T) {
	db := newWatchedDB(t, nil)
	u := createUser(t, db.s)
	w := startWatch(t, db.s)
	w.expectKind(t, "start", store.Listening, reconnectTimeout)

	for i := range 3 {
		what := fmt.Sprintf("termination #%d", i+1)
		pids := db.listenerPIDs(t)
		if len(pids) != 1 {
			t.Fatalf("%s: listener backends = %v, want one", what, pids)
		}
		db.exec(t, `SELECT pg_terminate_backend($1)`, pids[0])
		w.expectKind(t, what, store.NotListening, reconnectTimeout)
		w.expectKind(t, what, store.Listening, reconnectTimeout)
		if again := db.listenerPIDs(t); len(again) != 1 || again[0] == pids[0] {
			t.Errorf("%s: listener backends = %v, want one other than %d", what, again, pids[0])
		}
		if _, err := db.s.SetSubscription(t.Context(), u.ID, i%2 == 0); err != nil {
			t.Fatalf("SetSubscription: %v", err)
		}
		w.expectUsers(t, what+": a change after listening again", u.ID)
	}
}

// TestWatchKeepalive puts a proxy between the store and the database and
// makes the link go silent: no error, no data. The keepalive must notice,
// and Watch listen again once the link is back. Idle periods longer than
// the keepalive must not disturb a healthy link.
func TestWatchKeepalive(t *testing.T) {
	const keepalive = 200 * time.Millisecond
	var p *proxy
	db := newWatchedDB(t, func(dbURL string) postgres.Config {
		p = newProxy(t, hostPort(t, dbURL))
		return postgres.Config{
			URL:               proxied(t, dbURL, p.addr()),
			ListenerKeepalive: keepalive,
			ConnectTimeout:    time.Second,
		}
	})
	s := db.s
	u := createUser(t, s)

	w := startWatch(t, s)
	w.expectKind(t, "start", store.Listening, reconnectTimeout)

	// Several keepalive periods of silence, then a change.
	if c, ok := w.next(5 * keepalive); ok {
		t.Errorf("idle healthy link: reported %s, want nothing", describe(c))
	}
	db.exec(t, `UPDATE users SET subscription_active = true WHERE id = $1`, u.ID)
	w.expectUsers(t, "a change after idling", u.ID)

	p.pause()
	w.expectKind(t, "link gone silent", store.NotListening, 2*keepalive+time.Second)
	// Connecting through the silent link times out; nothing is reported.
	if c, ok := w.next(1500 * time.Millisecond); ok {
		t.Errorf("while the link is silent: reported %s, want nothing", describe(c))
	}
	p.resume()
	w.expectKind(t, "link back", store.Listening, reconnectTimeout)
	db.exec(t, `UPDATE users SET subscription_active = false WHERE id = $1`, u.ID)
	w.expectUsers(t, "a change once the link is back", u.ID)
}

// TestWatchStops checks that Watch returns nil promptly once its context
// ends or the store is closed, whether it is listening or waiting to
// connect.
func TestWatchStops(t *testing.T) {
	t.Run("ContextWhileListening", func(t *testing.T) {
		db := newWatchedDB(t, nil)
		w := startWatch(t, db.s)
		w.expectKind(t, "start", store.Listening, reconnectTimeout)
		if err := w.stop(t, time.Second); err != nil {
			t.Errorf("Watch returned %v, want nil", err)
		}
		if c, ok := w.next(0); ok {
			t.Errorf("after the context ended: reported %s, want nothing", describe(c))
		}
		// The connection is gone.
		deadline := time.Now().Add(reconnectTimeout)
		for len(db.listenerPIDs(t)) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the listener's backend is still there %v after Watch returned", reconnectTimeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("CloseWhileListening", func(t *testing.T) {
		db := newWatchedDB(t, nil)
		w := startWatch(t, db.s)
		w.expectKind(t, "start", store.Listening, reconnectTimeout)
		db.s.Close()
		select {
		case err := <-w.done:
			w.done <- err
			if err != nil {
				t.Errorf("Watch returned %v after Close, want nil", err)
			}
		case <-time.After(time.Second):
			t.Fatalf("Watch did not return within 1s of Close")
		}
	})

	t.Run("ContextWhileUnreachable", func(t *testing.T) {
		s, err := postgres.Open(t.Context(), postgres.Config{
			URL:            "postgres://postgres@127.0.0.1:1/keygate?sslmode=disable",
			ConnectTimeout: 100 * time.Millisecond,
		})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		w := startWatch(t, s)
		if c, ok := w.next(500 * time.Millisecond); ok {
			t.Errorf("unreachable database: reported %s, want nothing", describe(c))
		}
		if err := w.stop(t, time.Second); err != nil {
			t.Errorf("Watch returned %v, want nil", err)
		}
	})

	t.Run("ContextAlreadyDone", func(t *testing.T) {
		db := newWatchedDB(t, nil)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		called := false
		if err := db.s.Watch(ctx, func(store.Change) { called = true }); err != nil {
			t.Errorf("Watch with a cancelled context returned %v, want nil", err)
		}
		if called {
			t.Errorf("Watch with a cancelled context reported a change")
		}
	})
}

// proxy forwards TCP connections to target; paused, it holds every byte
// in both directions without closing anything, like a link gone dead.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	open  chan struct{} // closed while forwarding
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p := &proxy{ln: ln, target: target, open: make(chan struct{})}
	close(p.open)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", p.target)
			if err != nil {
				client.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, client, server)
			p.mu.Unlock()
			wg.Go(func() { p.forward(server, client) })
			wg.Go(func() { p.forward(client, server) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		p.resume()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// forward copies from src to dst, holding each chunk while paused.
func (p *proxy) forward(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			open := p.open
			p.mu.Unlock()
			<-open
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				src.Close()
			}
			return
		}
	}
}

func (p *proxy) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default:
	}
}

func (p *proxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

// hostPort returns the host:port of a database URL.
func hostPort(t *testing.T, dbURL string) string {
	t.Helper()
	cc, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("parse %s: %v", dbtest.EnvURL, err)
	}
	return net.JoinHostPort(cc.Host, fmt.Sprint(cc.Port))
}

// proxied returns dbURL with its host replaced by addr.
func proxied(t *testing.T, dbURL, addr string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("%s must be a URL for this test: %v", dbtest.EnvURL, err)
	}
	u.Host = addr
	return u.String()
}
