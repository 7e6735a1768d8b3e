// Package server wires keygate together: the gRPC server with its
// interceptor chain, health and reflection; the REST gateway that calls
// the same services through that chain in process (inprocess.go);
// /healthz and /readyz; and graceful shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/account"
	"github.com/keygate/keygate/service/apikey"
	"github.com/keygate/keygate/service/audit"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/console"
	"github.com/keygate/keygate/service/group"
	"github.com/keygate/keygate/service/property"
	"github.com/keygate/keygate/service/sharing"
	"github.com/keygate/keygate/service/store"
)

// Config is what a server needs.
type Config struct {
	GRPCAddr   string // e.g. ":9090"; port 0 picks a free port
	HTTPAddr   string // e.g. ":8080"; port 0 picks a free port
	Store      store.Store
	AdminToken string // empty disables AdminService
	Logger     *slog.Logger
	// ShutdownGrace bounds how long in-flight calls may take to finish
	// after shutdown starts. Zero means 10 seconds.
	ShutdownGrace time.Duration
	// Cache bounds the cache of verified API keys (see auth.CacheConfig).
	Cache auth.CacheConfig
	// UsageFlushInterval is how often last_used_at is written. Zero means
	// 10 seconds.
	UsageFlushInterval time.Duration
	// FailuresPerSecond and FailureBurst bound the failed credential
	// lookups, and separately the failed sign-ins, of one client address
	// (defaults: 10 a second, bursts of 50).
	FailuresPerSecond float64
	FailureBurst      int
	// AccountFailures bounds the failed sign-ins of one account (default:
	// bursts of 10, then one every 10 seconds).
	AccountFailures auth.Limit
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (see auth.ClientAddrs).
	TrustedProxies []netip.Prefix
	// TLSCertFile and TLSKeyFile are PEM files; when set, both listeners
	// serve TLS only.
	TLSCertFile, TLSKeyFile string
	// Timeouts bound connection setup and idle connections.
	Timeouts Timeouts
	// AuditRetention is how long audit events are kept. Zero means
	// audit.DefaultRetention.
	AuditRetention time.Duration

	// benchmarkPrincipal replaces authentication by this fixed principal.
	// Only the benchmarks that measure what authentication costs set it
	// (export_test.go); no flag or exported field can.
	benchmarkPrincipal *auth.Principal
}

// Server is a running keygate: both listeners are bound once New returns.
type Server struct {
	cfg          Config
	grpcServer   *grpc.Server
	httpServer   *http.Server
	grpcListener net.Listener
	httpListener net.Listener
	local        *inProcess // the gateway's connection to the services
	health       *health.Server
	keys         *auth.KeyCache
	usage        *auth.Usage
}

// New binds both listeners and builds the servers. Call Run to serve.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = 10 * time.Second
	}
	cfg.Timeouts.defaults()
	if err := checkAdminToken(cfg.AdminToken); err != nil {
		return nil, err
	}
	var grpcTLS, httpTLS *tls.Config
	if cfg.TLSCertFile != "" || cfg.TLSKeyFile != "" {
		cert, err := loadTLS(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, err
		}
		grpcTLS, httpTLS = serverTLS(cert), serverTLS(cert, "h2", "http/1.1")
	}
	// A store that other processes change reports changes through a
	// watcher; until it listens, the key cache is bypassed.
	_, watched := cfg.Store.(store.Watcher)
	s := &Server{
		cfg:    cfg,
		health: health.NewServer(),
		keys:   auth.NewKeyCache(cfg.Cache, !watched),
		usage:  auth.NewUsage(cfg.Store, cfg.UsageFlushInterval, cfg.Logger),
	}
	st := auth.Invalidating(cfg.Store, s.keys)
	// The gateway proves it is this process's own with a token that lives
	// only in memory, so that it may say which client a call comes from.
	gatewayToken := newRequestID() + newRequestID()
	addrs := auth.NewClientAddrs(cfg.TrustedProxies, gatewayToken)
	interceptor, err := auth.NewInterceptor(st, auth.Options{
		AdminToken:        cfg.AdminToken,
		Keys:              s.keys,
		Usage:             s.usage,
		Addrs:             addrs,
		FailuresPerSecond: cfg.FailuresPerSecond,
		FailureBurst:      cfg.FailureBurst,
		AccountFailures:   cfg.AccountFailures,
	})
	if err != nil {
		return nil, err
	}
	authorize := interceptor.Unary
	if p := cfg.benchmarkPrincipal; p != nil {
		authorize = func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			return handler(auth.WithPrincipal(ctx, p), req)
		}
	}
	unary, stream := chain(cfg.Logger, authorize, interceptor)
	opts := append(grpcLimits(cfg.Timeouts), grpc.UnaryInterceptor(unary), stream,
		// Unknown methods pass through the stream interceptors too, so
		// that their answers carry a request id (and are denied by auth).
		grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
			return status.Error(codes.Unimplemented, "unknown method")
		}),
	)
	if grpcTLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(grpcTLS)))
	}
	s.grpcServer = grpc.NewServer(opts...)
	// The gateway calls the services in process, through the same unary
	// interceptor chain: register every service with both.
	s.local = newInProcess(unary)
	services := services{s.grpcServer, s.local}
	keygatev1.RegisterAuthServiceServer(services, account.NewAuthService(st))
	keygatev1.RegisterAdminServiceServer(services, account.NewAdminService(st))
	keygatev1.RegisterApiKeyServiceServer(services, apikey.New(st))
	keygatev1.RegisterPropertyServiceServer(services, property.New(st))
	keygatev1.RegisterPropertyUserServiceServer(services, sharing.New(st))
	keygatev1.RegisterGroupServiceServer(services, group.New(st))
	keygatev1.RegisterAuditServiceServer(services, audit.NewService(st))
	healthpb.RegisterHealthServer(services, s.health)
	reflection.Register(s.grpcServer)
	// Not serving until the first store check passes (see watchStore).
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)

	if s.grpcListener, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("grpc listener: %w", err)
	}
	if s.httpListener, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		s.grpcListener.Close()
		return nil, fmt.Errorf("http listener: %w", err)
	}
	gateway, err := newGateway(ctx, s.local, gatewayToken, addrs)
	if err != nil {
		s.closeListeners()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("/api/", gateway)
	mux.Handle("/", console.Handler())
	s.httpServer = &http.Server{
		Handler:           httpMiddleware(cfg.Logger, mux),
		MaxHeaderBytes:    MaxHeaderBytes,
		ReadHeaderTimeout: cfg.Timeouts.Handshake, // the TLS handshake too
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       cfg.Timeouts.Idle,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: MaxStreams},
		TLSConfig:         httpTLS,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelInfo),
	}
	return s, nil
}

// GRPCAddr is the address the gRPC server listens on.
func (s *Server) GRPCAddr() string { return s.grpcListener.Addr().String() }

// HTTPAddr is the address the REST gateway listens on.
func (s *Server) HTTPAddr() string { return s.httpListener.Addr().String() }

// Run serves until ctx is cancelled, then drains in-flight calls for up to
// the shutdown grace period and returns nil; or it returns the first error
// of a listener.
func (s *Server) Run(ctx context.Context) error {
	log := s.cfg.Logger
	log.Info("grpc listening on " + s.GRPCAddr())
	log.Info("http listening on " + s.HTTPAddr())
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.grpcServer.Serve(s.grpcListener) })
	g.Go(func() error {
		serve := s.httpServer.Serve
		if s.httpServer.TLSConfig != nil {
			serve = func(l net.Listener) error { return s.httpServer.ServeTLS(l, "", "") }
		}
		if err := serve(s.httpListener); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error { s.watchStore(ctx); return nil })
	g.Go(func() error { s.usage.Run(ctx); return nil })
	g.Go(func() error { s.purger().Run(ctx); return nil })
	if w, ok := s.cfg.Store.(store.Watcher); ok {
		g.Go(func() error { return w.Watch(ctx, s.applyChange) })
	}
	g.Go(func() error {
		<-ctx.Done()
		s.shutdown()
		return nil
	})
	return g.Wait()
}

// shutdown stops taking new work and lets in-flight calls finish. HTTP
// goes first: its requests are themselves calls to the gRPC services.
func (s *Server) shutdown() {
	s.cfg.Logger.Info("shutting down")
	s.health.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	if err := s.httpServer.Shutdown(ctx); err != nil {
		s.httpServer.Close()
	}
	done := make(chan struct{})
	go func() { s.grpcServer.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.grpcServer.Stop()
	}
	// The uses of the last requests, with time of its own even when the
	// drain used up the grace period.
	flushCtx, cancelFlush := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelFlush()
	s.usage.Flush(flushCtx)
}

// applyChange hands a store change to the key cache, and logs when the
// cache stops or starts being used.
func (s *Server) applyChange(ch store.Change) {
	switch ch.Kind {
	case store.NotListening:
		s.cfg.Logger.Warn("not listening for changes: verifying every API key against the database until listening again")
	case store.Listening:
		s.cfg.Logger.Info("listening for changes: API key cache in use")
	}
	s.keys.Apply(ch)
}

// watchStore keeps the gRPC health status in line with the store.
func (s *Server) watchStore(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		st := healthpb.HealthCheckResponse_SERVING
		if s.ping(ctx) != nil {
			st = healthpb.HealthCheckResponse_NOT_SERVING
		}
		s.health.SetServingStatus("", st)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return s.cfg.Store.Ping(ctx)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.ping(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) closeListeners() {
	s.grpcListener.Close()
	s.httpListener.Close()
}

// Dialable turns a listen address into one a local client can dial: an
// unspecified host (":9090" listens on every address) becomes 127.0.0.1.
func Dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// purger removes audit events past the retention in the background.
func (s *Server) purger() *audit.Purger {
	retention := s.cfg.AuditRetention
	if retention <= 0 {
		retention = audit.DefaultRetention
	}
	return &audit.Purger{Store: s.cfg.Store, Retention: retention, Log: s.cfg.Logger}
}
