package server

import "github.com/keygate/keygate/service/auth"

// WithoutAuth returns cfg for a server that skips authentication and
// treats every call as p's: the baseline of the benchmarks that measure
// what authentication costs. It exists only in tests.
func WithoutAuth(cfg Config, p *auth.Principal) Config {
	cfg.benchmarkPrincipal = p
	return cfg
}
