package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
)

// BenchmarkRESTRatio measures the REST path against two baselines on one
// server (memory store, a cached API key), each pair in alternating rounds
// (ABBA) so that both sides see the same machine in turn, 16 callers:
//
//   - me/healthz: REST GET /api/v1/me against GET /healthz on the same
//     HTTP listener with the same client: what the gateway and the
//     interceptor chain cost over the cheapest HTTP answer;
//   - WhoAmI and GetProperty: REST against gRPC for the same RPC.
//
// Each reports the throughput of the first as a fraction of the second.
// Use -benchtime 20x or more: each iteration is two rounds of 2,000 calls.
func BenchmarkRESTRatio(b *testing.B) {
	s := newBenchServer(b, true)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	ctx := withKey(s.key)
	me := func() { s.getREST(b, client, "/api/v1/me", true) }
	healthz := func() { s.getREST(b, client, "/healthz", false) }
	whoAmI := func() {
		if _, err := s.auth.WhoAmI(ctx, &keygatev1.WhoAmIRequest{}); err != nil {
			b.Error(err)
		}
	}
	restProperty := func() { s.callREST(b, client) }
	grpcProperty := func() { s.callGRPC(b, ctx) }

	b.Run("me-vs-healthz", func(b *testing.B) { alternate(b, "me/healthz", me, healthz) })
	b.Run("WhoAmI", func(b *testing.B) { alternate(b, "REST/gRPC", me, whoAmI) })
	b.Run("GetProperty", func(b *testing.B) { alternate(b, "REST/gRPC", restProperty, grpcProperty) })
}

// alternate runs rounds of a and of c in ABBA order and reports the
// throughput of a divided by that of c as metric, and both rates.
func alternate(b *testing.B, metric string, a, c func()) {
	const callers, perRound = 16, 2000
	round := func(call func(), n int) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				for range n / callers {
					call()
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	round(a, 800) // warm both
	round(c, 800)
	var ta, tc time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			ta += round(a, perRound)
			tc += round(c, perRound)
		} else {
			tc += round(c, perRound)
			ta += round(a, perRound)
		}
	}
	b.ReportMetric(tc.Seconds()/ta.Seconds(), metric)
	b.ReportMetric(float64(b.N*perRound)/ta.Seconds(), "a-calls/s")
	b.ReportMetric(float64(b.N*perRound)/tc.Seconds(), "b-calls/s")
}

// getREST makes one GET over the network, with the API key when withKey.
func (s *benchServer) getREST(b *testing.B, client *http.Client, path string, withKey bool) {
	req, _ := http.NewRequest("GET", s.httpURL+path, nil)
	if withKey {
		req.Header.Set("user-api-key", s.key)
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
}

// BenchmarkRESTHandler runs REST requests through the server's whole HTTP
// handler (middleware, gateway, interceptors, handler, envelope) without a
// network connection, so that allocs/op and profiles show the server's
// own work: the allocations per REST call. Each iteration also builds its
// request and response recorder (a few allocations, the same in every
// variant; /healthz shows them).
func BenchmarkRESTHandler(b *testing.B) {
	s := newBenchServer(b, true)
	h := s.srv.HTTPHandler()
	for _, c := range []struct{ name, path string }{
		{"me", "/api/v1/me"},
		{"GetProperty", "/api/v1/properties/" + s.propertyID},
		{"healthz", "/healthz"},
	} {
		path := c.path
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequestWithContext(context.Background(), "GET", path, nil)
					req.Header.Set("user-api-key", s.key)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != 200 {
						b.Errorf("GET %s: status %d %s", path, w.Code, w.Body)
					}
				}
			})
		})
	}
}
