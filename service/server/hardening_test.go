package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/server"
	"github.com/keygate/keygate/service/store/memory"
)

// TestNoStoreOnSecrets: responses that carry a secret are never cached;
// others are left alone.
func TestNoStoreOnSecrets(t *testing.T) {
	e := start(t, memory.New())
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	id := e.newKey(u).GetId()
	for _, tc := range []struct {
		name    string
		r       response
		noStore bool
	}{
		{"sign_in", e.rest("POST", "/api/v1/sign_in", fmt.Sprintf(`{"user":{"email":%q,"password":%q}}`, u.email, u.password)), true},
		{"key create", e.rest("POST", "/api/v1/api_keys", `{"api_key":{"name":"x","all_properties":true}}`, session...), true},
		{"key roll", e.rest("POST", "/api/v1/api_keys/"+id+"/roll", `{"roll":{"expires_in_seconds":60}}`, session...), true},
		{"key get", e.rest("GET", "/api/v1/api_keys/"+id, "", session...), false},
		{"key list", e.rest("GET", "/api/v1/api_keys", "", session...), false},
		{"me", e.rest("GET", "/api/v1/me", "", session...), false},
	} {
		if tc.r.code >= 300 {
			t.Fatalf("%s: %d %s", tc.name, tc.r.code, tc.r.raw)
		}
		if got := tc.r.header.Get("Cache-Control") == "no-store"; got != tc.noStore {
			t.Errorf("%s: Cache-Control %q", tc.name, tc.r.header.Get("Cache-Control"))
		}
	}
}

// TestAdminTokenTooShort: start-up refuses a guessable admin token, with
// a message that says what to do; empty still disables AdminService.
func TestAdminTokenTooShort(t *testing.T) {
	for _, token := range []string{" ", "dev-admin-token", strings.Repeat("x", 31), strings.Repeat("x", 31) + " y"} {
		_, err := server.New(context.Background(), server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Store: memory.New(), AdminToken: token})
		if err == nil || !strings.Contains(err.Error(), "admin token") || !strings.Contains(err.Error(), "openssl rand") {
			t.Errorf("admin token %q: %v", token, err)
		}
	}
	e := startWith(t, memory.New(), func(c *serverConfig) { c.AdminToken = "" })
	_, err := e.admin.CreateUser(withAdmin(), &keygatev1.CreateUserRequest{Email: "a@example.com", Password: "long enough"})
	wantCode(t, err, codes.Unauthenticated)
}

// TestLargeMetadataRefused: 1 MB of metadata on Health/Check, sent by a
// raw HTTP/2 client that ignores the server's advertised limit, is
// refused, and the server answers normal calls afterwards.
func TestLargeMetadataRefused(t *testing.T) {
	e := start(t, memory.New())
	conn, err := net.Dial("tcp", e.srv.GRPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute)) // a failsafe, not the limit under test
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/grpc.health.v1.Health/Check"},
		{":authority", "x"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	for i := 0; i < 128; i++ {
		enc.WriteField(hpack.HeaderField{Name: fmt.Sprintf("x-pad-%d", i), Value: strings.Repeat("a", 16<<10)})
	}
	if block.Len() < 1<<20 {
		t.Fatalf("only %d bytes of headers", block.Len())
	}
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	// Write the header block in frames of 16 KiB while reading what the
	// server says; it may close the connection before it has all of it.
	go func() {
		b := block.Bytes()
		first := true
		for len(b) > 0 {
			n := min(len(b), 16<<10)
			var err error
			if first {
				err = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:n], EndHeaders: n == len(b)})
				first = false
			} else {
				err = fr.WriteContinuation(1, n == len(b), b[:n])
			}
			if err != nil {
				return
			}
			b = b[n:]
		}
	}()
	refused := false
	for !refused {
		f, err := fr.ReadFrame()
		if err != nil {
			refused = true // the server closed the connection
			break
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame, *http2.GoAwayFrame:
			refused = true
		case *http2.HeadersFrame:
			// A response: only an error status is acceptable.
			dec := hpack.NewDecoder(4096, nil)
			fields, _ := dec.DecodeFull(f.HeaderBlockFragment())
			for _, hf := range fields {
				if hf.Name == ":status" && hf.Value != "200" || hf.Name == "grpc-status" && hf.Value != "0" {
					refused = true
				}
				if hf.Name == "grpc-status" && hf.Value == "0" {
					t.Fatal("1 MB of metadata was accepted")
				}
			}
		}
	}
	if _, err := healthpb.NewHealthClient(e.conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("after the refusal: %v", err)
	}
	// gRPC clients that honour the limit fail on their side.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-pad", strings.Repeat("a", 1<<20))
	if _, err := healthpb.NewHealthClient(e.conn).Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
		t.Fatal("1 MB of metadata went through")
	}
}

// waitClosed reads from conn until the server closes it, and fails if it
// is still open after a generous failsafe.
func waitClosed(t *testing.T, conn net.Conn, what string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := conn.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("%s: still open after 30 s", what)
			}
			return
		}
	}
}

// TestSilentConnectionsClosed: a connection that sends only the HTTP/2
// preface, or nothing after its settings, or a partial HTTP request, is
// closed by the server (after the short timeouts configured here).
func TestSilentConnectionsClosed(t *testing.T) {
	e := startWith(t, memory.New(), func(c *serverConfig) {
		c.Timeouts.Handshake = 300 * time.Millisecond
		c.Timeouts.Idle = 500 * time.Millisecond
	})
	dial := func(addr string) net.Conn {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	conn := dial(e.srv.GRPCAddr())
	io.WriteString(conn, http2.ClientPreface)
	waitClosed(t, conn, "gRPC, preface only")

	// A well-behaved client that makes no call: answers pings, and is
	// told to go away once idle.
	conn = dial(e.srv.GRPCAddr())
	io.WriteString(conn, http2.ClientPreface)
	fr := http2.NewFramer(conn, conn)
	fr.WriteSettings()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for goAway := false; !goAway; {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("gRPC, idle: %v before GOAWAY", err)
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			goAway = true
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		}
	}

	conn = dial(e.srv.HTTPAddr())
	io.WriteString(conn, http2.ClientPreface)
	waitClosed(t, conn, "HTTP, preface only")

	conn = dial(e.srv.HTTPAddr())
	io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	waitClosed(t, conn, "HTTP, half a header")
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// to dir, and returns their paths and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "keygate test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLS: with a certificate, both listeners serve TLS only: a round
// trip over gRPC (TLS) and over REST (HTTPS, HTTP/2 and HTTP/1.1)
// succeeds, and plaintext is refused on both.
func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	e := startWith(t, memory.New(), func(c *serverConfig) { c.TLSCertFile, c.TLSKeyFile = certFile, keyFile })

	conn, err := grpc.NewClient(e.srv.GRPCAddr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	u, err := keygatev1.NewAdminServiceClient(conn).CreateUser(withAdmin(), &keygatev1.CreateUserRequest{
		Email: "tls@example.com", Name: "T", Password: "correct horse battery", SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE,
	})
	if err != nil {
		t.Fatalf("CreateUser over TLS: %v", err)
	}
	in, err := keygatev1.NewAuthServiceClient(conn).SignIn(context.Background(), &keygatev1.SignInRequest{
		User: &keygatev1.SignInRequest_Credentials{Email: "tls@example.com", Password: "correct horse battery"},
	})
	if err != nil {
		t.Fatalf("SignIn over TLS: %v", err)
	}

	for _, h2 := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		client := &http.Client{Transport: tr}
		req, _ := http.NewRequest("GET", "https://"+e.srv.HTTPAddr()+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+in.GetSession().GetToken())
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("HTTPS (h2 %v): %v", h2, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), u.GetUser().GetId()) {
			t.Fatalf("HTTPS (h2 %v): %d %s", h2, resp.StatusCode, body)
		}
		if want := map[bool]int{true: 2, false: 1}[h2]; resp.ProtoMajor != want {
			t.Errorf("HTTPS: HTTP/%d, want HTTP/%d", resp.ProtoMajor, want)
		}
	}

	// Plaintext is refused on both listeners.
	if resp, err := http.Get("http://" + e.srv.HTTPAddr() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plaintext HTTP served")
		}
	}
	plain, err := grpc.NewClient(e.srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(plain).Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
		t.Fatal("plaintext gRPC served")
	}
}

// TestTLSMisconfigured: a certificate without a key, or files that do not
// load, stop start-up with a clear error.
func TestTLSMisconfigured(t *testing.T) {
	certFile, _, _ := selfSigned(t)
	for _, tc := range [][2]string{{certFile, ""}, {"", certFile}, {certFile, certFile}} {
		_, err := server.New(context.Background(), server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Store: memory.New(), TLSCertFile: tc[0], TLSKeyFile: tc[1]})
		if err == nil || !strings.Contains(err.Error(), "TLS") {
			t.Errorf("cert %q key %q: %v", tc[0], tc[1], err)
		}
	}
}

// TestLargeResponse: a list page of the largest properties (the longest
// descriptions, in four-byte characters) is either cut by bytes to fit the
// response limit, or refused on gRPC with a clear INVALID_ARGUMENT that
// says what to do, never the client's RESOURCE_EXHAUSTED (which REST would
// report as 429); a smaller page works on both faces.
func TestLargeResponse(t *testing.T) {
	e := start(t, memory.New())
	u := e.newUser(true)
	text := strings.Repeat("🏨", 65535)
	for i := 0; i < 9; i++ {
		r := e.rest("POST", "/api/v1/properties", fmt.Sprintf(`{"property":{"title":"Big %d","currency":"EUR","content":{"description":%q,"important_information":%q}}}`, i, text, text),
			"Authorization", "Bearer "+u.token)
		if r.code != 201 {
			t.Fatalf("create: %d %.300s", r.code, r.raw)
		}
	}
	ctx := withSession(u.token)
	resp, err := e.props.ListProperties(ctx, &keygatev1.ListPropertiesRequest{Pagination: &keygatev1.Pagination{Limit: 9}}, grpc.MaxCallRecvMsgSize(64<<20))
	switch {
	case err == nil: // the page was cut by bytes
		if n := proto.Size(resp); n > server.MaxResponseBytes {
			t.Fatalf("a %d-byte page, over the limit of %d", n, server.MaxResponseBytes)
		}
	case status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "smaller page"):
		t.Fatalf("a page over the limit: %v, want a clear INVALID_ARGUMENT", err)
	}
	if _, err := e.props.ListProperties(ctx, &keygatev1.ListPropertiesRequest{Pagination: &keygatev1.Pagination{Limit: 2}}); err != nil {
		t.Fatalf("a smaller page: %v", err)
	}
	r := e.rest("GET", "/api/v1/properties?pagination[limit]=9", "", "Authorization", "Bearer "+u.token)
	if r.code == 429 || r.code >= 500 {
		t.Fatalf("REST list of large properties: %d %.300s", r.code, r.raw)
	}
}
