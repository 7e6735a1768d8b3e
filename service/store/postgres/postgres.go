// Package postgres is the PostgreSQL store.Store, on a pgx connection pool.
//
// The schema is applied by Migrate, never implicitly: a server calls
// Migrate, then Open. Every error a Store method returns passes through one
// translation (see translate) so that callers can tell the store.Err*
// outcomes apart with errors.Is.
package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keygate/keygate/service/store"
)

// Defaults used for the zero values of Config.
const (
	DefaultMaxConns         = 10
	DefaultConnectTimeout   = 5 * time.Second
	DefaultStatementTimeout = 5 * time.Second
)

// Config configures Open.
type Config struct {
	// URL is a PostgreSQL connection string, in URL or keyword/value form.
	URL string
	// MaxConns is the size of the pool. Zero means the URL's
	// pool_max_conns if it has one, else DefaultMaxConns.
	MaxConns int32
	// ConnectTimeout bounds establishing one connection. Zero means the
	// URL's connect_timeout if it has one, else DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// StatementTimeout is the server-side statement_timeout of every
	// connection. Zero means the URL's statement_timeout if it sets one,
	// else DefaultStatementTimeout; a negative value disables it.
	StatementTimeout time.Duration
	// ListenerKeepalive is how long Watch waits for a notification before
	// it checks its connection with a query, and how long that query may
	// take: a connection that died silently is noticed within twice this
	// time. Zero means DefaultListenerKeepalive.
	ListenerKeepalive time.Duration
}

// Store is the PostgreSQL store.
type Store struct {
	pool *pgxpool.Pool
	// listenConfig configures the connections of Watch: the pool's,
	// copied at Open, with ListenerApplicationName.
	listenConfig *pgx.ConnConfig
	keepalive    time.Duration // Config.ListenerKeepalive
	// closed is closed by Close, which ends every Watch.
	closed    chan struct{}
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open returns a store on a new connection pool. It neither connects nor
// migrates: connections are made on demand, so Open succeeds while the
// database is down and methods then fail with store.ErrUnavailable. Call
// Ping to check the database, and Migrate before Open to apply the schema.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	pc, err := poolConfig(cfg)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: open pool: %w", err)
	}
	keepalive := cfg.ListenerKeepalive
	if keepalive <= 0 {
		keepalive = DefaultListenerKeepalive
	}
	return &Store{
		pool:         pool,
		listenConfig: listenConfig(pc.ConnConfig),
		keepalive:    keepalive,
		closed:       make(chan struct{}),
	}, nil
}

// poolConfig turns cfg into a pool configuration, applying the defaults.
func poolConfig(cfg Config) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// pgconn's parse errors leave the password out.
		return nil, fmt.Errorf("postgres: parse URL: %w", err)
	}
	switch {
	case cfg.MaxConns > 0:
		pc.MaxConns = cfg.MaxConns
	case !strings.Contains(cfg.URL, "pool_max_conns"):
		pc.MaxConns = DefaultMaxConns
	}
	switch {
	case cfg.ConnectTimeout > 0:
		pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	case pc.ConnConfig.ConnectTimeout == 0:
		pc.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	params := pc.ConnConfig.RuntimeParams
	switch _, inURL := params["statement_timeout"]; {
	case cfg.StatementTimeout > 0:
		params["statement_timeout"] = strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10)
	case cfg.StatementTimeout < 0:
		params["statement_timeout"] = "0"
	case !inURL:
		params["statement_timeout"] = strconv.FormatInt(DefaultStatementTimeout.Milliseconds(), 10)
	}
	if params["application_name"] == "" {
		params["application_name"] = "keygate"
	}
	return pc, nil
}

// inTx runs fn in a transaction, committed if fn returns nil and rolled
// back otherwise. Every write of several rows goes through it.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, fn)
}

// Ping checks that a connection can be made and used.
func (s *Store) Ping(ctx context.Context) (err error) {
	defer edge(ctx, &err)
	return s.pool.Ping(ctx)
}

// Close ends every Watch and closes the pool, waiting for connections in
// use to be returned. Closing twice is harmless.
func (s *Store) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.pool.Close()
}

// edge translates the error a method is about to return; every method
// defers it.
func edge(ctx context.Context, err *error) { *err = translate(ctx, *err) }
