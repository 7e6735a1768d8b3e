package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/server"
	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/memory"
)

// benchServer is a server for benchmarks on the memory store, with one
// user, one property and an all-properties key.
type benchServer struct {
	srv        *server.Server
	grpc       keygatev1.PropertyServiceClient
	auth       keygatev1.AuthServiceClient
	httpURL    string
	key        string
	propertyID string
}

func newBenchServer(b *testing.B, withAuth bool) *benchServer {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	u := store.User{ID: store.NewID(), Email: "bench@example.com", SubscriptionActive: true, CreatedAt: time.Now()}
	p := store.Property{ID: store.NewID(), Title: "Bench Hotel", Currency: "EUR", IsActive: true, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	key := auth.NewSecret(auth.APIKeyPrefix)
	if err := st.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	if err := st.CreateProperty(ctx, p, u.ID); err != nil {
		b.Fatal(err)
	}
	if err := st.CreateAPIKey(ctx, store.APIKey{ID: store.NewID(), UserID: u.ID, Name: "bench", Digest: auth.Digest(key), AllProperties: true, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	cfg := server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Store: st, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	if !withAuth {
		cfg = server.WithoutAuth(cfg, &auth.Principal{User: u})
	}
	srv, err := server.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(); cancel(); <-done })
	return &benchServer{srv: srv, grpc: keygatev1.NewPropertyServiceClient(conn), auth: keygatev1.NewAuthServiceClient(conn), httpURL: "http://" + srv.HTTPAddr(), key: key, propertyID: p.ID}
}

// callGRPC and callREST make one call; they run on the benchmark's worker
// goroutines, so they report failures with b.Error (b.Fatal may only be
// called from the benchmark's own goroutine).
func (s *benchServer) callGRPC(b *testing.B, ctx context.Context) {
	if _, err := s.grpc.GetProperty(ctx, &keygatev1.GetPropertyRequest{Id: s.propertyID}); err != nil {
		b.Error(err)
	}
}

func (s *benchServer) callREST(b *testing.B, client *http.Client) {
	req, _ := http.NewRequest("GET", s.httpURL+"/api/v1/properties/"+s.propertyID, nil)
	req.Header.Set("user-api-key", s.key)
	resp, err := client.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Errorf("status %d", resp.StatusCode)
	}
}

// BenchmarkGetProperty measures GetProperty over a real loopback
// connection, gRPC and REST, with authentication (an API key, cached) and
// without it (the benchmark-only wiring), with 8 concurrent callers.
// Compare the ns/op of the auth and noauth variants run together, or see
// BenchmarkAuthCost for the ratio measured in one run.
func BenchmarkGetProperty(b *testing.B) {
	for _, withAuth := range []bool{true, false} {
		name := map[bool]string{true: "auth", false: "noauth"}[withAuth]
		b.Run("gRPC/"+name, func(b *testing.B) {
			s := newBenchServer(b, withAuth)
			ctx := withKey(s.key)
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					s.callGRPC(b, ctx)
				}
			})
		})
		b.Run("REST/"+name, func(b *testing.B) {
			s := newBenchServer(b, withAuth)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					s.callREST(b, client)
				}
			})
		})
	}
}

// BenchmarkAuthCost runs the same GetProperty load against a server with
// authentication and one without, alternating rounds so that both see the
// same machine in turn (ABBA), and reports the throughput with auth as a
// fraction of the throughput without (auth/noauth; 1.0 means free). Use
// -benchtime 20x or more: each iteration is two rounds of 2,000 calls.
func BenchmarkAuthCost(b *testing.B) {
	for _, transport := range []string{"gRPC", "REST"} {
		b.Run(transport, func(b *testing.B) {
			on, off := newBenchServer(b, true), newBenchServer(b, false)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			ctx := withKey(on.key)
			round := func(s *benchServer, n int) time.Duration {
				const callers = 8
				start := time.Now()
				var wg sync.WaitGroup
				for c := 0; c < callers; c++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < n/callers; i++ {
							if transport == "gRPC" {
								s.callGRPC(b, ctx)
							} else {
								s.callREST(b, client)
							}
						}
					}()
				}
				wg.Wait()
				return time.Since(start)
			}
			round(on, 800) // warm both
			round(off, 800)
			var tOn, tOff time.Duration
			const perRound = 2000
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// ABBA order, so that neither side always runs first.
				if i%2 == 0 {
					tOn += round(on, perRound)
					tOff += round(off, perRound)
				} else {
					tOff += round(off, perRound)
					tOn += round(on, perRound)
				}
			}
			b.ReportMetric(tOff.Seconds()/tOn.Seconds(), "auth/noauth")
			b.ReportMetric(float64(b.N*perRound)/tOn.Seconds(), "auth-calls/s")
			b.ReportMetric(float64(b.N*perRound)/tOff.Seconds(), "noauth-calls/s")
		})
	}
}
