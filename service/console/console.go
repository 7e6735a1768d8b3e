// Package console is keygate's web console: the sign-in page, User Profile
// → API Keys and the Properties page, served at / on the HTTP listener.
//
// It is plain HTML, CSS and JavaScript embedded in the binary, with no
// framework, no CDN and no build step. It is a client of the public REST
// API (/api/v1/...) like any other and has no endpoint of its own: this
// package only serves the static files, with headers that make the pages
// hard to misuse (see Handler).
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every console response. Scripts,
// styles, images and API calls come from the console's own origin only; no
// inline script or style runs (so a value from the API that slipped into
// markup could not execute); no plugin, no <base> rewriting, forms post
// only to the origin, and no other site may frame the console
// (clickjacking on the Withdraw button).
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the console's files. Mount it at "/" below the REST API.
func Handler() http.Handler {
	root, _ := fs.Sub(static, "static") // cannot fail: "static" is a valid path
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		// Always revalidate, so a new binary's files are picked up at once.
		h.Set("Cache-Control", "no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		files.ServeHTTP(w, r)
	})
}
