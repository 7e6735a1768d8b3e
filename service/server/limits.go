package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// What one client may hold of the server. A connection costs memory for
// its headers and streams, and a silent one costs a file descriptor for
// as long as it is kept: every one of these bounds a client that sends
// nothing, or too much, before it is authenticated.
const (
	// MaxHeaderBytes bounds the headers (gRPC metadata) of one request.
	MaxHeaderBytes = 64 << 10
	// MaxStreams bounds the concurrent calls of one HTTP/2 connection.
	MaxStreams = 100
	// MaxResponseBytes bounds one response (its protobuf encoding): the
	// default receive limit of gRPC clients (4 MiB), so that any client
	// can receive every answer keygate sends. A response that would be
	// larger is refused with a clear INVALID_ARGUMENT (REST 400), never
	// with the RESOURCE_EXHAUSTED (REST 429) a client's receive limit
	// would report. List pages are cut by bytes to stay under it.
	MaxResponseBytes = 4 << 20
)

// Timeouts bounds how long connections may take or sit idle. Zero fields
// take the defaults.
type Timeouts struct {
	// Handshake bounds a new connection's setup: the TLS and HTTP/2
	// handshake on gRPC, reading a request's header on HTTP (default 10 s).
	Handshake time.Duration
	// Idle is how long a connection with no call in flight is kept
	// (default 2 minutes).
	Idle time.Duration
}

// Reading a whole HTTP request, and writing its response, are bounded too.
const (
	httpReadTimeout  = 30 * time.Second
	httpWriteTimeout = 60 * time.Second
)

func (t *Timeouts) defaults() {
	if t.Handshake <= 0 {
		t.Handshake = 10 * time.Second
	}
	if t.Idle <= 0 {
		t.Idle = 2 * time.Minute
	}
}

// grpcLimits are the gRPC server's options for the limits above.
func grpcLimits(t Timeouts) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxHeaderListSize(MaxHeaderBytes),
		grpc.MaxConcurrentStreams(MaxStreams),
		grpc.ConnectionTimeout(t.Handshake),
		grpc.MaxRecvMsgSize(MaxBodyBytes), // the same body limit as REST
		grpc.MaxSendMsgSize(MaxResponseBytes),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: t.Idle,
			// Ping a connection that has been silent this long, and close
			// it when the ping is not answered in time.
			Time:    t.Idle,
			Timeout: 20 * time.Second,
		}),
		// Clients may ping to keep idle connections, but not more often
		// than every 30 seconds (else GOAWAY "too_many_pings").
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             30 * time.Second,
			PermitWithoutStream: true,
		}),
	}
}

// limitResponse refuses a response larger than MaxResponseBytes with a
// clear error, before gRPC would refuse to send it.
// REST calls are exempt: the gateway calls in process (inprocess.go), and
// nothing encodes or limits their responses.
func limitResponse(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if _, rest := grpc.ServerTransportStreamFromContext(ctx).(*inProcessStream); rest {
		return resp, err
	}
	if m, ok := resp.(proto.Message); ok && err == nil {
		if n := proto.Size(m); n > MaxResponseBytes {
			return nil, status.Errorf(codes.InvalidArgument,
				"the response would be %d bytes, more than the limit of %d: ask for a smaller page (pagination[limit])", n, MaxResponseBytes)
		}
	}
	return resp, err
}

// MinAdminTokenLen is the shortest admin token keygate starts with: the
// token opens AdminService to whoever holds it, so it must not be
// guessable (32 random characters; openssl rand -hex 32 makes 64).
const MinAdminTokenLen = 32

// checkAdminToken refuses an admin token that is too short to be safe, or
// that could not travel intact in an authorization header. Empty is
// allowed: it disables AdminService.
func checkAdminToken(t string) error {
	if t == "" {
		return nil
	}
	if len(t) < MinAdminTokenLen {
		return fmt.Errorf("the admin token must be at least %d characters long, and this one has %d; make one with: openssl rand -hex 32", MinAdminTokenLen, len(t))
	}
	for _, c := range t {
		if c <= ' ' || c > '~' {
			return errors.New("the admin token must be printable ASCII without spaces; make one with: openssl rand -hex 32")
		}
	}
	return nil
}

// loadTLS reads the certificate and key that both listeners serve.
func loadTLS(certFile, keyFile string) (tls.Certificate, error) {
	if certFile == "" || keyFile == "" {
		return tls.Certificate{}, errors.New("TLS needs both a certificate (--tls-cert) and a key (--tls-key)")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("loading the TLS certificate and key: %w", err)
	}
	return cert, nil
}

func serverTLS(cert tls.Certificate, protos ...string) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: protos}
}
