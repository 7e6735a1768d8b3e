package server_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/auth"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// testBadInput sends hostile and malformed input. Each gets its documented
// error, nothing panics, and nothing is written.
func testBadInput(t *testing.T, e *env) {
	u := e.newUser(true)
	p := e.newProperty(u, "Hotel")
	k := e.newKey(u)
	session := []string{"Authorization", "Bearer " + u.token}
	count := func() (props, keys float64) {
		t.Helper()
		r := e.rest("GET", "/api/v1/properties", "", session...)
		props, _ = get(r.body, "meta", "total").(float64)
		r = e.rest("GET", "/api/v1/api_keys", "", session...)
		keys, _ = get(r.body, "meta", "total").(float64)
		return props, keys
	}
	props0, keys0 := count()

	// Keys: wrong checksum, 10 KB, wrong prefix, non-ASCII.
	secret := k.GetApiKey()
	flipped := []byte(secret)
	flipped[10] ^= 1 // another base62 character, same length: only the checksum can tell
	for name, key := range map[string]string{
		"wrong checksum": string(flipped),
		"10 KB":          "kg_" + strings.Repeat("a", 10<<10),
		"session prefix": strings.Replace(secret, auth.APIKeyPrefix, auth.SessionPrefix, 1),
		"empty":          "",
		"truncated":      secret[:len(secret)-1],
	} {
		t.Run("key "+name, func(t *testing.T) {
			wantError(t, e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", key), 401, "unauthorized")
			_, err := e.props.GetProperty(withKey(key), &keygatev1.GetPropertyRequest{Id: p})
			wantCode(t, err, codes.Unauthenticated)
		})
	}
	t.Run("key non-ASCII", func(t *testing.T) {
		// net/http refuses to send such a header, so write the request by hand.
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.baseURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		key := secret[:20] + "\xc3\xa9\xff" + secret[23:]
		fmt.Fprintf(conn, "GET /api/v1/properties HTTP/1.1\r\nHost: x\r\nuser-api-key: %s\r\nConnection: close\r\n\r\n", key)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 && resp.StatusCode != 400 {
			t.Fatalf("non-ASCII key: %d", resp.StatusCode)
		}
	})

	// Ids that are not UUIDs.
	for _, id := range []string{"not-a-uuid", "1", strings.Repeat("f", 300), "00000000-0000-0000-0000-00000000000g", "'; DROP TABLE properties; --"} {
		path := "/api/v1/properties/" + urlPathEscape(id)
		wantError(t, e.rest("GET", path, "", session...), 404, "resource_not_found")
		wantError(t, e.rest("PUT", path, `{"property":{"title":"x","currency":"EUR"}}`, session...), 404, "resource_not_found")
		wantError(t, e.rest("DELETE", path, "", session...), 404, "resource_not_found")
		wantError(t, e.rest("DELETE", "/api/v1/api_keys/"+urlPathEscape(id), "", session...), 404, "resource_not_found")
	}
	r := e.rest("POST", "/api/v1/api_keys", `{"api_key":{"name":"x","property_ids":["not-a-uuid"]}}`, session...)
	wantError(t, r, 422, "validation_error")

	// Bodies: empty, unknown fields, wrong types, JSON that is not an object.
	for _, tc := range []struct{ body, code string }{
		{"", "validation_error"},
		{"{}", "validation_error"},
		{`{"property":{}}`, "validation_error"},
		{`{"property":{"title":1,"currency":"EUR"}}`, "validation_error"},
		{`{"property":"x"}`, "bad_request"},
		{`{"property":{"title":"x","currency":"EUR"},"stars":5}`, "bad_request"},
		{`{"property":{"title":"x\u0000","currency":"EUR"}}`, "bad_request"},
		{`[]`, "bad_request"},
		{`null`, "bad_request"},
		{`{"property":{"title":"x","currency":"EUR"}}trailing`, "bad_request"},
		{"\xff\xfe", "bad_request"},
	} {
		r := e.rest("POST", "/api/v1/properties", tc.body, session...)
		want := map[string]int{"validation_error": 422, "bad_request": 400}[tc.code]
		if r.code != want || str(r.body, "errors", "code") != tc.code {
			t.Errorf("POST /properties with %q: %d %s, want %d %s", tc.body, r.code, r.raw, want, tc.code)
		}
	}
	wantError(t, e.rest("POST", "/api/v1/api_keys", "", session...), 422, "validation_error")
	wantError(t, e.rest("GET", "/api/v1/properties?pagination[limit]=1000", "", session...), 422, "validation_error")
	wantError(t, e.rest("GET", "/api/v1/api_keys?pagination[limit]=1000", "", session...), 422, "validation_error")
	wantError(t, e.rest("GET", "/api/v1/properties?pagination[limit]=99999999999", "", session...), 400, "bad_request")

	if props, keys := count(); props != props0 || keys != keys0 {
		t.Fatalf("bad input wrote something: %v properties, %v keys, want %v, %v", props, keys, props0, keys0)
	}
	if strings.Contains(e.logs.String(), `"level":"ERROR"`) {
		t.Fatalf("bad input caused an internal error:\n%s", e.logs.String())
	}
}

func urlPathEscape(s string) string {
	return strings.NewReplacer("%", "%25", "/", "%2F", " ", "%20", "'", "%27", ";", "%3B", "-", "-").Replace(s)
}

// testRevokeUnderLoad: 50 goroutines use a key over gRPC while it is
// withdrawn. No call that starts after RevokeApiKey returned may succeed.
func testRevokeUnderLoad(t *testing.T, e *env) {
	u := e.newUser(true)
	p := e.newProperty(u, "Busy Hotel")
	k := e.newKey(u)
	ctx := withKey(k.GetApiKey())
	var revoked atomic.Bool
	var okBefore, refusedAfter, lateSuccess atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				startedAfter := revoked.Load()
				_, err := e.props.GetProperty(ctx, &keygatev1.GetPropertyRequest{Id: p})
				switch {
				case err == nil && startedAfter:
					lateSuccess.Add(1)
				case err == nil:
					okBefore.Add(1)
				case startedAfter && status.Code(err) == codes.Unauthenticated:
					refusedAfter.Add(1)
				case status.Code(err) != codes.Unauthenticated:
					t.Errorf("unexpected error: %v", err)
					return
				}
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	waitUntil := func(cond func() bool) {
		for !cond() {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("no progress: %d calls succeeded, %d were refused", okBefore.Load(), refusedAfter.Load())
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitUntil(func() bool { return okBefore.Load() >= 200 })
	if _, err := e.keys.RevokeApiKey(withSession(u.token), &keygatev1.RevokeApiKeyRequest{Id: k.GetId()}); err != nil {
		t.Fatal(err)
	}
	revoked.Store(true)
	waitUntil(func() bool { return refusedAfter.Load() >= 500 })
	close(stop)
	wg.Wait()
	if n := lateSuccess.Load(); n != 0 {
		t.Fatalf("%d calls that started after the revocation succeeded", n)
	}
	t.Logf("%d calls succeeded before the revocation, %d were refused after it", okBefore.Load(), refusedAfter.Load())
}

// testHealthAndReflection: infrastructure calls need no credential; an
// RPC no rule covers is refused.
func testHealthAndReflection(t *testing.T, e *env) {
	// Serving once the first store check has passed, without a credential.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var hdr metadata.MD
		resp, err := healthpb.NewHealthClient(e.conn).Check(context.Background(), &healthpb.HealthCheckRequest{}, grpc.Header(&hdr))
		if err != nil {
			t.Fatalf("health check: %v", err)
		}
		if len(hdr.Get("x-request-id")) != 1 {
			t.Fatal("health check without x-request-id")
		}
		if resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health: %v", resp.GetStatus())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Unknown methods are refused, with a request id like every answer.
	var hdr metadata.MD
	err := e.conn.Invoke(context.Background(), "/keygate.v1.PropertyService/NoSuchMethod", &keygatev1.GetPropertyRequest{}, &keygatev1.GetPropertyResponse{}, grpc.Header(&hdr))
	if status.Code(err) == codes.OK || status.Code(err) == codes.Unknown || len(hdr.Get("x-request-id")) != 1 {
		t.Fatalf("unknown method: %v, header %v", err, hdr)
	}
	stream, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	got, err := stream.Recv()
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	names := map[string]bool{}
	for _, s := range got.GetListServicesResponse().GetService() {
		names[s.GetName()] = true
	}
	for _, want := range []string{"keygate.v1.PropertyService", "keygate.v1.ApiKeyService", "keygate.v1.AuthService", "keygate.v1.AdminService"} {
		if !names[want] {
			t.Fatalf("reflection does not list %s: %v", want, names)
		}
	}
	stream.CloseSend()
}
