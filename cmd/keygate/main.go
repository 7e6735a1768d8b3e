// Command keygate serves the keygate API-key service over gRPC and REST.
//
//	keygate serve    serve gRPC and the REST gateway
//	keygate migrate  apply PostgreSQL migrations and exit
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/server"
	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/memory"
	"github.com/keygate/keygate/service/store/postgres"
)

const usage = `keygate: the API-key service

usage:
  keygate serve [flags]     serve gRPC and the REST gateway
  keygate migrate [flags]   apply PostgreSQL migrations and exit

Run "keygate <command> -h" for the flags of a command.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "keygate:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal starts the drain, a second one stops at once.
	context.AfterFunc(ctx, stop)
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "migrate":
		return migrate(ctx, args[1:], stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// env returns the value of an environment variable, or def when unset.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	grpcAddr := fs.String("grpc-addr", env("KEYGATE_GRPC_ADDR", ":9090"), "gRPC listen address; port 0 picks a free port (env KEYGATE_GRPC_ADDR)")
	httpAddr := fs.String("http-addr", env("KEYGATE_HTTP_ADDR", ":8080"), "REST gateway, /healthz and /readyz listen address (env KEYGATE_HTTP_ADDR)")
	dbURL := fs.String("database-url", env("KEYGATE_DATABASE_URL", ""), "postgres:// URL; empty keeps everything in memory (env KEYGATE_DATABASE_URL)")
	adminToken := fs.String("admin-token", env("KEYGATE_ADMIN_TOKEN", ""), "bearer token for AdminService, at least 32 characters; empty disables it. Prefer the env var KEYGATE_ADMIN_TOKEN: flags are visible in ps")
	trustedProxies := fs.String("trusted-proxies", env("KEYGATE_TRUSTED_PROXIES", ""), "comma-separated CIDRs of proxies whose X-Forwarded-For names the client (env KEYGATE_TRUSTED_PROXIES)")
	tlsCert := fs.String("tls-cert", env("KEYGATE_TLS_CERT", ""), "PEM certificate; with --tls-key, both listeners serve TLS only (env KEYGATE_TLS_CERT)")
	tlsKey := fs.String("tls-key", env("KEYGATE_TLS_KEY", ""), "PEM private key of --tls-cert (env KEYGATE_TLS_KEY)")
	demo := fs.Bool("demo", false, "seed a demo user, two properties and an API key, and print them once")
	retention := fs.String("audit-retention", env("KEYGATE_AUDIT_RETENTION", "2160h"), "how long audit events are kept, e.g. 2160h (env KEYGATE_AUDIT_RETENTION)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	auditRetention, err := time.ParseDuration(*retention)
	if err != nil || auditRetention <= 0 {
		return fmt.Errorf("serve: --audit-retention %q is not a positive duration such as 2160h", *retention)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	proxies, err := auth.ParseCIDRs(*trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))

	st, err := openStore(ctx, *dbURL, log)
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := server.New(ctx, server.Config{
		GRPCAddr:       *grpcAddr,
		HTTPAddr:       *httpAddr,
		Store:          st,
		AdminToken:     *adminToken,
		TrustedProxies: proxies,
		TLSCertFile:    *tlsCert,
		TLSKeyFile:     *tlsKey,
		Logger:         log,
		AuditRetention: auditRetention,
	})
	if err != nil {
		return err
	}
	if *demo {
		if err := seedDemo(ctx, st, srv, stdout); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return srv.Run(ctx)
}

// openStore returns the PostgreSQL store, migrated, when url is set, and
// the in-memory store otherwise. The URL is never logged: it may hold a
// password.
func openStore(ctx context.Context, url string, log *slog.Logger) (store.Store, error) {
	if url == "" {
		log.Info("using the in-memory store: nothing is kept across restarts")
		return memory.New(), nil
	}
	if err := postgres.Migrate(ctx, url); err != nil {
		return nil, fmt.Errorf("migrating the database: %w", err)
	}
	st, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		return nil, err
	}
	log.Info("using the PostgreSQL store")
	return st, nil
}

func migrate(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database-url", env("KEYGATE_DATABASE_URL", ""), "postgres:// URL (env KEYGATE_DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return errors.New("migrate: --database-url is required")
	}
	if err := postgres.Migrate(ctx, *dbURL); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintln(stderr, "migrations applied")
	return nil
}
