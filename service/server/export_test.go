package server

import (
	"net/http"

	"github.com/keygate/keygate/service/auth"
)

// WithoutAuth returns cfg for a server that skips authentication and
// treats every call as p's: the baseline of the benchmarks that measure
// what authentication costs. It exists only in tests.
func WithoutAuth(cfg Config, p *auth.Principal) Config {
	cfg.benchmarkPrincipal = p
	return cfg
}

// HTTPHandler is the whole HTTP handler of s, for benchmarks that measure
// the REST path without a network connection.
func (s *Server) HTTPHandler() http.Handler { return s.httpServer.Handler }
