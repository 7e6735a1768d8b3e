package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/server"
	"github.com/keygate/keygate/service/store"
)

const adminToken = "test-admin-token-0123456789abcdef"

// env is one running server with clients for both of its faces.
type env struct {
	t       testing.TB
	store   store.Store
	srv     *server.Server
	baseURL string // REST: http://127.0.0.1:port
	logs    *syncBuffer
	// stop shuts the server down and waits for Run to return; the test's
	// cleanup calls it too, and calling it twice is harmless.
	stop func()

	conn  *grpc.ClientConn
	auth  keygatev1.AuthServiceClient
	keys  keygatev1.ApiKeyServiceClient
	props keygatev1.PropertyServiceClient
	admin keygatev1.AdminServiceClient
}

// syncBuffer collects the server's log for assertions.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type serverConfig = server.Config

// start runs a server on st on free loopback ports until the test ends,
// and checks at the end that it shut down cleanly.
func start(t testing.TB, st store.Store) *env {
	t.Helper()
	return startWith(t, st, func(*serverConfig) {})
}

// startWith is start with changes to the server's configuration.
func startWith(t testing.TB, st store.Store, configure func(*serverConfig)) *env {
	t.Helper()
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := server.Config{
		GRPCAddr:   "127.0.0.1:0",
		HTTPAddr:   "127.0.0.1:0",
		Store:      st,
		AdminToken: adminToken,
		Logger:     slog.New(slog.NewJSONHandler(logs, nil)),
	}
	configure(&cfg)
	srv, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("server.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	stop := sync.OnceFunc(func() {
		conn.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after shutdown", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not shut down")
		}
	})
	t.Cleanup(stop)
	return &env{
		t: t, store: st, srv: srv, baseURL: "http://" + srv.HTTPAddr(), logs: logs, stop: stop,
		conn:  conn,
		auth:  keygatev1.NewAuthServiceClient(conn),
		keys:  keygatev1.NewApiKeyServiceClient(conn),
		props: keygatev1.NewPropertyServiceClient(conn),
		admin: keygatev1.NewAdminServiceClient(conn),
	}
}

// Contexts carrying each kind of credential.
func withKey(key string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "user-api-key", key)
}

func withSession(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
}

func withAdmin() context.Context { return withSession(adminToken) }

// user is a user created through AdminService and signed in.
type user struct {
	id, email, password, token string
}

// newUser creates a user with the given subscription and signs them in.
func (e *env) newUser(active bool) user {
	e.t.Helper()
	status := keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_INACTIVE
	if active {
		status = keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE
	}
	u := user{email: "hotelier-" + store.NewID()[:8] + "@example.com", password: "correct horse battery"}
	resp, err := e.admin.CreateUser(withAdmin(), &keygatev1.CreateUserRequest{
		Email: u.email, Name: "Test", Password: u.password, SubscriptionStatus: status,
	})
	if err != nil {
		e.t.Fatalf("CreateUser: %v", err)
	}
	u.id = resp.GetUser().GetId()
	in, err := e.auth.SignIn(context.Background(), &keygatev1.SignInRequest{
		User: &keygatev1.SignInRequest_Credentials{Email: u.email, Password: u.password},
	})
	if err != nil {
		e.t.Fatalf("SignIn: %v", err)
	}
	u.token = in.GetSession().GetToken()
	return u
}

// newProperty creates a property over gRPC and returns its id.
func (e *env) newProperty(u user, title string) string {
	e.t.Helper()
	resp, err := e.props.CreateProperty(withSession(u.token), &keygatev1.CreatePropertyRequest{
		Property: &keygatev1.PropertyInput{Title: proto.String(title), Currency: proto.String("EUR")},
	})
	if err != nil {
		e.t.Fatalf("CreateProperty: %v", err)
	}
	return resp.GetProperty().GetId()
}

// newKey creates a key over gRPC; no ids means all properties.
func (e *env) newKey(u user, ids ...string) *keygatev1.ApiKey {
	e.t.Helper()
	resp, err := e.keys.CreateApiKey(withSession(u.token), &keygatev1.CreateApiKeyRequest{
		ApiKey: &keygatev1.ApiKeyInput{Name: "integration", AllProperties: len(ids) == 0, PropertyIds: ids},
	})
	if err != nil {
		e.t.Fatalf("CreateApiKey: %v", err)
	}
	return resp.GetApiKey()
}

// response is a decoded REST response.
type response struct {
	code   int
	header http.Header
	raw    string
	body   map[string]any
}

// rest sends one HTTP request; headers come as name, value pairs.
func (e *env) rest(method, path, body string, headers ...string) response {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.baseURL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{code: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %v\n%s", method, path, err, raw)
		}
	}
	return out
}

// get walks a decoded JSON value: get(body, "data", "attributes", "id").
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := get(v, path...).(string)
	return s
}

// wantError checks a REST error response: status, code and that details
// are present.
func wantError(t testing.TB, r response, code int, errCode string) {
	t.Helper()
	if r.code != code || str(r.body, "errors", "code") != errCode {
		t.Fatalf("got %d %s, want %d %s", r.code, r.raw, code, errCode)
	}
	if str(r.body, "errors", "title") == "" || get(r.body, "errors", "details") == nil {
		t.Fatalf("error without title or details: %s", r.raw)
	}
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
