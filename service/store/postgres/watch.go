package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/keygate/keygate/service/store"
)

// Channel is the channel on which the triggers of migration 00003 announce
// changes. The payload of a notification is the id of the user affected;
// an empty payload (a TRUNCATE, or a NOTIFY typed by hand) means that any
// user may be.
const Channel = "keygate_changes"

// ListenerApplicationName is the application_name of the connection of
// Watch, by which it can be found in pg_stat_activity:
//
//	SELECT pid FROM pg_stat_activity
//	WHERE application_name = 'keygate-listener' AND datname = current_database()
const ListenerApplicationName = "keygate-listener"

// DefaultListenerKeepalive is the zero value of Config.ListenerKeepalive.
const DefaultListenerKeepalive = time.Second

// Reconnection delays of Watch: the first retry waits minListenBackoff,
// each failure doubles the wait up to maxListenBackoff, and a successful
// LISTEN resets it.
const (
	minListenBackoff = 50 * time.Millisecond
	maxListenBackoff = 2 * time.Second
)

// listenerCloseTimeout bounds closing a listener connection, which may be
// a dead one.
const listenerCloseTimeout = time.Second

var _ store.Watcher = (*Store)(nil)

// listenConfig derives the configuration of Watch's connections from the
// pool's.
func listenConfig(cc *pgx.ConnConfig) *pgx.ConnConfig {
	c := cc.Copy()
	if c.RuntimeParams == nil {
		c.RuntimeParams = map[string]string{}
	}
	c.RuntimeParams["application_name"] = ListenerApplicationName
	// Waiting for a notification with a deadline must leave the session
	// alone when the deadline passes: interrupt the read by a deadline on
	// the socket, never by a cancel request that could reach the server
	// late and cancel the next keepalive query.
	c.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pc.Conn()}
	}
	return c
}

// Watch implements store.Watcher on a connection of its own (not one of
// the pool's), named ListenerApplicationName, that LISTENs on Channel.
//
// It reports Listening once LISTEN has succeeded, then a UserChanged per
// notification. An empty payload is reported as NotListening followed by
// Listening: whatever was learned before may be stale, for any user.
// Payloads that are not ids are ignored. Until the first Listening, the
// caller must assume that changes go unreported; Watch does not report
// NotListening while it has not been listening.
//
// When the connection fails, Watch reports NotListening, closes it and
// connects again, after 50 ms, doubling the wait after each failed attempt
// up to 2 s; a successful LISTEN resets the wait. A link that died
// silently is noticed by a keepalive: once no notification has arrived for
// Config.ListenerKeepalive, Watch runs a trivial query, which must answer
// within the same time.
//
// Watch returns nil once ctx ends or the store is closed, and never
// reports NotListening then. It calls fn from its own goroutine, one call
// at a time.
func (s *Store) Watch(ctx context.Context, fn func(store.Change)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.closed:
			cancel()
		case <-ctx.Done():
		}
	}()

	backoff := minListenBackoff
	for ctx.Err() == nil {
		conn, err := s.listen(ctx)
		if err == nil {
			backoff = minListenBackoff
			fn(store.Change{Kind: store.Listening})
			s.receive(ctx, conn, fn)
			if ctx.Err() == nil {
				fn(store.Change{Kind: store.NotListening})
			}
			closeListener(ctx, conn)
		}
		if !sleep(ctx, backoff) {
			break
		}
		backoff = min(2*backoff, maxListenBackoff)
	}
	return nil
}

// listen connects and LISTENs on Channel.
func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.listenConfig.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		closeListener(ctx, conn)
		return nil, err
	}
	return conn, nil
}

// receive reports the notifications of conn until the connection fails or
// ctx ends.
func (s *Store) receive(ctx context.Context, conn *pgx.Conn, fn func(store.Change)) {
	for {
		wait, cancel := context.WithTimeout(ctx, s.keepalive)
		n, err := conn.WaitForNotification(wait)
		idle := wait.Err() != nil
		cancel()
		if n != nil {
			report(n.Payload, fn)
		}
		if ctx.Err() != nil || conn.IsClosed() {
			return
		}
		if err == nil {
			continue
		}
		if !idle {
			return // the connection failed
		}
		// Nothing arrived for a while: make sure the link is alive. A
		// notification that arrives meanwhile is kept by pgx for the next
		// WaitForNotification.
		ping, cancel := context.WithTimeout(ctx, s.keepalive)
		_, err = conn.Exec(ping, "SELECT 1")
		cancel()
		if err != nil {
			return
		}
	}
}

// report turns the payload of one notification into changes.
func report(payload string, fn func(store.Change)) {
	switch {
	case payload == "":
		fn(store.Change{Kind: store.NotListening})
		fn(store.Change{Kind: store.Listening})
	case store.ValidID(payload):
		fn(store.Change{Kind: store.UserChanged, UserID: payload})
	}
}

// closeListener closes a listener connection, giving up after
// listenerCloseTimeout, even once ctx has ended.
func closeListener(ctx context.Context, conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), listenerCloseTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}

// sleep waits for d, or until ctx ends; it reports whether ctx is alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
