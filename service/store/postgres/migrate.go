package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var embedded embed.FS

// Migrations returns the schema migrations, in goose's SQL format.
func Migrations() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		panic(err) // the directory is embedded; it cannot be missing
	}
	return sub
}

// Migrate applies the migrations that the database at url lacks. It is
// safe to run on every start and from several processes at once: an
// advisory lock serialises concurrent runs on one database.
func Migrate(ctx context.Context, url string) (err error) {
	defer edge(ctx, &err)

	cc, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("postgres: parse URL: %w", err)
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	db := stdlib.OpenDB(*cc)
	defer db.Close()

	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockTimeout(1, 300), // wait up to 5 minutes for another migration
	)
	if err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, Migrations(),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
	)
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}
