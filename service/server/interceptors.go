package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/rpcerr"
)

// requestIDHeader carries the request id on every gRPC and HTTP response,
// and from the REST gateway to the gRPC server.
const requestIDHeader = "x-request-id"

// chain returns the interceptors in the order they run: request id →
// recovery → logging (which also translates errors) → NUL rejection →
// response size limit → auth → handler. The request id comes first so
// that even a panic is logged with it. Streams (health watches,
// reflection, and unknown methods) get the request id, recovery and auth. The unary chain is one interceptor, which the gRPC
// server and the REST gateway's in-process connection both run.
func chain(log *slog.Logger, authorize grpc.UnaryServerInterceptor, a *auth.Interceptor) (grpc.UnaryServerInterceptor, grpc.ServerOption) {
	unary := chainUnary(
		requestIDUnary,
		recoverUnary(log),
		logUnary(log),
		rejectNUL,
		limitResponse,
		authorize,
	)
	stream := grpc.ChainStreamInterceptor(requestIDStream, recoverStream(log), a.Stream)
	return unary, stream
}

// chainUnary composes interceptors into one; the first is the outermost.
func chainUnary(interceptors ...grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return runChain(interceptors, ctx, req, info, handler)
	}
}

func runChain(interceptors []grpc.UnaryServerInterceptor, ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if len(interceptors) == 0 {
		return handler(ctx, req)
	}
	return interceptors[0](ctx, req, info, func(ctx context.Context, req any) (any, error) {
		return runChain(interceptors[1:], ctx, req, info, handler)
	})
}

func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				log.ErrorContext(ctx, "panic", "method", info.FullMethod, "request_id", requestID(ctx), "panic", r, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return handler(ctx, req)
	}
}

func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return handler(srv, ss)
	}
}

// requestIDUnary takes the caller's x-request-id when it is a sane token
// (the REST gateway always sends one) or makes a new one, puts it in the
// context and sends it back as a response header.
func requestIDUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	id := incomingRequestID(ctx)
	_ = grpc.SetHeader(ctx, metadata.Pairs(requestIDHeader, id))
	return handler(auth.WithRequestID(ctx, id), req)
}

// requestIDStream does the same for streams.
func requestIDStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	_ = ss.SetHeader(metadata.Pairs(requestIDHeader, incomingRequestID(ss.Context())))
	return handler(srv, ss)
}

func incomingRequestID(ctx context.Context) string {
	if v := metadata.ValueFromIncomingContext(ctx, requestIDHeader); len(v) == 1 && validRequestID(v[0]) {
		return v[0]
	}
	return newRequestID()
}

func requestID(ctx context.Context) string {
	return auth.RequestID(ctx)
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validRequestID accepts ids of up to 64 letters, digits, '-' and '_', so
// that a caller's id can be logged without escaping or log injection.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// logUnary writes one line per RPC and turns every error into a gRPC
// status (rpcerr.Translate); internal errors are logged in full here and
// reach the client only as "internal error" with the request id. No
// credential and no request body is ever logged.
func logUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, handlerErr := handler(ctx, req)
		err, internal := rpcerr.Translate(handlerErr)
		code := status.Code(err)
		attrs := []any{
			"request_id", requestID(ctx),
			"method", info.FullMethod,
			"code", code.String(),
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000,
		}
		level := slog.LevelInfo
		if internal {
			level = slog.LevelError
			attrs = append(attrs, "error", handlerErr.Error())
		}
		log.Log(ctx, level, "rpc", attrs...)
		return resp, err
	}
}
