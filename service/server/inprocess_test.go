package server

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
)

// probe is an AuthService whose SignIn shows what a handler sees.
type probe struct {
	keygatev1.UnimplementedAuthServiceServer
	signIn func(context.Context, *keygatev1.SignInRequest) (*keygatev1.SignInResponse, error)
}

func (p *probe) SignIn(ctx context.Context, req *keygatev1.SignInRequest) (*keygatev1.SignInResponse, error) {
	return p.signIn(ctx, req)
}

// TestInProcess: a call through the in-process connection reaches the
// handler through the interceptor, with what a call from the network
// carries (metadata, deadline, cancellation, peer, method, headers), and
// fails with status errors only.
func TestInProcess(t *testing.T) {
	var intercepted []string
	p := &probe{}
	conn := newInProcess(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		intercepted = append(intercepted, info.FullMethod)
		return handler(ctx, req)
	})
	keygatev1.RegisterAuthServiceServer(conn, p)
	client := keygatev1.NewAuthServiceClient(conn)
	req := func() *keygatev1.SignInRequest {
		return &keygatev1.SignInRequest{User: &keygatev1.SignInRequest_Credentials{Email: "a@example.com"}}
	}

	t.Run("what the handler sees", func(t *testing.T) {
		httpReq := withHTTPPeer(httptest.NewRequest("POST", "/api/v1/sign_in", nil))
		httpReq.RemoteAddr = "203.0.113.9:4711" // too late: the peer was taken before
		ctx, cancel := context.WithTimeout(httpReq.Context(), time.Minute)
		defer cancel()
		deadline, _ := ctx.Deadline()
		ctx = metadata.AppendToOutgoingContext(ctx, "user-api-key", "k", "x-request-id", "r1")
		p.signIn = func(ctx context.Context, in *keygatev1.SignInRequest) (*keygatev1.SignInResponse, error) {
			if d, ok := ctx.Deadline(); !ok || !d.Equal(deadline) {
				t.Errorf("deadline %v, want %v", d, deadline)
			}
			if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("user-api-key")) != 1 || md.Get("x-request-id")[0] != "r1" {
				t.Errorf("incoming metadata %v", md)
			}
			if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md) > 0 {
				t.Errorf("the caller's metadata is outgoing in the handler: %v", md)
			}
			if pr, ok := peer.FromContext(ctx); !ok || pr.Addr.String() != "192.0.2.1:1234" {
				t.Errorf("peer %v, want the HTTP client's 192.0.2.1:1234", pr)
			}
			if m, _ := grpc.Method(ctx); m != "/keygate.v1.AuthService/SignIn" {
				t.Errorf("method %q", m)
			}
			in.User.Email = "changed by the handler"
			_ = grpc.SetHeader(ctx, metadata.Pairs("x-request-id", "r1"))
			_ = grpc.SetTrailer(ctx, metadata.Pairs("t", "v"))
			return &keygatev1.SignInResponse{Session: &keygatev1.Session{Token: "tok"}}, nil
		}
		var header, trailer metadata.MD
		r := req()
		resp, err := client.SignIn(ctx, r, grpc.Header(&header), grpc.Trailer(&trailer))
		if err != nil || resp.GetSession().GetToken() != "tok" {
			t.Fatalf("SignIn: %v %v", resp, err)
		}
		if r.GetUser().GetEmail() != "a@example.com" {
			t.Fatal("the handler changed the caller's request")
		}
		if header.Get("x-request-id")[0] != "r1" || trailer.Get("t")[0] != "v" {
			t.Fatalf("header %v, trailer %v", header, trailer)
		}
		if len(intercepted) != 1 || intercepted[0] != "/keygate.v1.AuthService/SignIn" {
			t.Fatalf("interceptor saw %v", intercepted)
		}
	})

	t.Run("cancellation", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		p.signIn = func(ctx context.Context, _ *keygatev1.SignInRequest) (*keygatev1.SignInResponse, error) {
			cancel()
			<-ctx.Done() // the caller's cancellation reaches the handler
			return nil, ctx.Err()
		}
		_, err := client.SignIn(ctx, req())
		if status.Code(err) != codes.Canceled {
			t.Fatalf("got %v, want CANCELED", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, c := range []struct {
			err  error
			want codes.Code
		}{
			{status.Error(codes.NotFound, "no such user"), codes.NotFound},
			{context.DeadlineExceeded, codes.DeadlineExceeded},
			{errors.New("plain"), codes.Unknown},
		} {
			p.signIn = func(context.Context, *keygatev1.SignInRequest) (*keygatev1.SignInResponse, error) { return nil, c.err }
			_, err := client.SignIn(context.Background(), req())
			if st, ok := status.FromError(err); !ok || st.Code() != c.want {
				t.Errorf("%v: got %v, want %v", c.err, err, c.want)
			}
		}
		_, err := keygatev1.NewPropertyServiceClient(conn).GetProperty(context.Background(), &keygatev1.GetPropertyRequest{})
		if status.Code(err) != codes.Unimplemented {
			t.Fatalf("unregistered service: %v", err)
		}
	})
}
