package server_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/memory"
)

// panickingStore panics when asked for one chosen property: a bug deep in
// a handler, for the recovery interceptor to catch.
type panickingStore struct {
	store.Store
	panicOn atomic.Value // property id
}

func (s *panickingStore) GetProperty(ctx context.Context, id string) (store.Property, error) {
	if s.panicOn.Load() == id {
		panic("a bug")
	}
	return s.Store.GetProperty(ctx, id)
}

// TestSameInterceptorsRESTAndGRPC: REST calls go through every interceptor
// of the chain exactly as gRPC calls do, seen from outside: the request
// id (taken from the caller, on the response and in the log line), the
// log line itself, authentication and authorization, and recovery from a
// panic in a handler.
func TestSameInterceptorsRESTAndGRPC(t *testing.T) {
	st := &panickingStore{Store: memory.New()}
	e := start(t, st)
	u := e.newUser(true)
	key := e.newKey(u).GetApiKey()
	broken := e.newProperty(u, "Broken Hotel")
	st.panicOn.Store(broken)

	// grpcCall makes a gRPC call with request id id and returns its error
	// and the request id of its response.
	grpcCall := func(ctx context.Context, id string, call func(context.Context, ...grpc.CallOption) error) (error, string) {
		t.Helper()
		var hdr metadata.MD
		err := call(metadata.AppendToOutgoingContext(ctx, "x-request-id", id), grpc.Header(&hdr))
		return err, strings.Join(hdr.Get("x-request-id"), ",")
	}
	whoAmI := func(ctx context.Context, opts ...grpc.CallOption) error {
		_, err := e.auth.WhoAmI(ctx, &keygatev1.WhoAmIRequest{}, opts...)
		return err
	}
	// logged reports whether the log has the RPC line of a call.
	logged := func(id, method string, code codes.Code) bool {
		return strings.Contains(e.logs.String(), `"msg":"rpc","request_id":"`+id+`","method":"`+method+`","code":"`+code.String()+`"`)
	}

	t.Run("request id and logging", func(t *testing.T) {
		r := e.rest("GET", "/api/v1/me", "", "user-api-key", key, "X-Request-Id", "rest-ok-1")
		if r.code != 200 || r.header.Get("x-request-id") != "rest-ok-1" {
			t.Fatalf("REST: %d, x-request-id %q", r.code, r.header.Get("x-request-id"))
		}
		err, id := grpcCall(withKey(key), "grpc-ok-1", whoAmI)
		if err != nil || id != "grpc-ok-1" {
			t.Fatalf("gRPC: %v, x-request-id %q", err, id)
		}
		// The log line's request id is the one the request id interceptor
		// put in the context: without it the line would have none.
		for _, id := range []string{"rest-ok-1", "grpc-ok-1"} {
			if !logged(id, "/keygate.v1.AuthService/WhoAmI", codes.OK) {
				t.Fatalf("no rpc log line for %s:\n%s", id, e.logs.String())
			}
		}
	})

	t.Run("auth", func(t *testing.T) {
		wantError(t, e.rest("GET", "/api/v1/me", "", "X-Request-Id", "rest-anon-1"), 401, "unauthorized")
		err, _ := grpcCall(context.Background(), "grpc-anon-1", whoAmI)
		wantCode(t, err, codes.Unauthenticated)

		wantError(t, e.rest("GET", "/api/v1/api_keys", "", "user-api-key", key, "X-Request-Id", "rest-key-1"), 403, "forbidden")
		err, _ = grpcCall(withKey(key), "grpc-key-1", func(ctx context.Context, opts ...grpc.CallOption) error {
			_, err := e.keys.ListApiKeys(ctx, &keygatev1.ListApiKeysRequest{}, opts...)
			return err
		})
		wantCode(t, err, codes.PermissionDenied)

		for _, c := range []struct {
			id, method string
			code       codes.Code
		}{
			{"rest-anon-1", "/keygate.v1.AuthService/WhoAmI", codes.Unauthenticated},
			{"grpc-anon-1", "/keygate.v1.AuthService/WhoAmI", codes.Unauthenticated},
			{"rest-key-1", "/keygate.v1.ApiKeyService/ListApiKeys", codes.PermissionDenied},
			{"grpc-key-1", "/keygate.v1.ApiKeyService/ListApiKeys", codes.PermissionDenied},
		} {
			if !logged(c.id, c.method, c.code) {
				t.Fatalf("no rpc log line for %s:\n%s", c.id, e.logs.String())
			}
		}
	})

	t.Run("recovery", func(t *testing.T) {
		r := e.rest("GET", "/api/v1/properties/"+broken, "", "user-api-key", key, "X-Request-Id", "rest-panic-1")
		wantError(t, r, 500, "internal_server_error")
		if d := str(r.body, "errors", "details"); d != "request id rest-panic-1" || strings.Contains(r.raw, "a bug") {
			t.Fatalf("500 details: %s", r.raw)
		}
		err, id := grpcCall(withKey(key), "grpc-panic-1", func(ctx context.Context, opts ...grpc.CallOption) error {
			_, err := e.props.GetProperty(ctx, &keygatev1.GetPropertyRequest{Id: broken}, opts...)
			return err
		})
		wantCode(t, err, codes.Internal)
		if id != "grpc-panic-1" || strings.Contains(status.Convert(err).Message(), "a bug") {
			t.Fatalf("gRPC: %v, x-request-id %q", err, id)
		}
		for _, id := range []string{"rest-panic-1", "grpc-panic-1"} {
			if !strings.Contains(e.logs.String(), `"msg":"panic","method":"/keygate.v1.PropertyService/GetProperty","request_id":"`+id+`"`) {
				t.Fatalf("no panic log line for %s:\n%s", id, e.logs.String())
			}
		}
		// Both faces still serve.
		if r := e.rest("GET", "/api/v1/me", "", "user-api-key", key); r.code != 200 {
			t.Fatalf("after the panic: %d %s", r.code, r.raw)
		}
		if err, _ := grpcCall(withKey(key), "grpc-after-1", whoAmI); err != nil {
			t.Fatalf("after the panic: %v", err)
		}
	})
}

// TestRESTClientAddressUnforgeable: a REST client cannot choose the
// address the server charges its failed lookups to, whatever headers it
// sends: once its address's budget is spent, it is refused whatever
// address it claims.
func TestRESTClientAddressUnforgeable(t *testing.T) {
	e := startWith(t, memory.New(), func(c *serverConfig) { c.FailuresPerSecond, c.FailureBurst = 0.001, 5 })
	claim := func(i int) []string {
		ip := "10.0.0." + string(rune('1'+i%9))
		return []string{
			"user-api-key", auth.NewSecret(auth.APIKeyPrefix),
			"X-Forwarded-For", ip,
			"X-Real-Ip", ip,
			"Grpc-Metadata-X-Forwarded-For", ip,
			"Grpc-Metadata-" + auth.GatewayClientHeader, ip,
			"Grpc-Metadata-" + auth.GatewayTokenHeader, "guess",
		}
	}
	got := map[int]int{}
	for i := 0; i < 20; i++ {
		got[e.rest("GET", "/api/v1/properties", "", claim(i)...).code]++
	}
	if got[http.StatusTooManyRequests] == 0 || got[http.StatusUnauthorized] > 5 {
		t.Fatalf("20 fake keys claiming other addresses: %v, want at most 5 lookups and then 429", got)
	}
}
