package console_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/keygate/keygate/service/console"
)

func TestHandlerHeaders(t *testing.T) {
	srv := httptest.NewServer(console.Handler())
	defer srv.Close()
	for _, c := range []struct {
		method, path string
		code         int
		contentType  string
	}{
		{"GET", "/", 200, "text/html"},
		{"GET", "/app.js", 200, "text/javascript"},
		{"GET", "/console.css", 200, "text/css"},
		{"HEAD", "/", 200, "text/html"},
		{"GET", "/no-such-file", 404, ""},
		{"POST", "/", 405, ""},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.code)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.contentType) {
			t.Errorf("%s %s: Content-Type %q, want %s", c.method, c.path, ct, c.contentType)
		}
		if c.method == "GET" && c.code == 200 && len(body) == 0 {
			t.Errorf("%s %s: empty body", c.method, c.path)
		}
		for name, want := range map[string]string{
			"Content-Security-Policy": console.ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
		} {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("%s %s: %s %q, want %q", c.method, c.path, name, got, want)
			}
		}
	}
	for _, directive := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(console.ContentSecurityPolicy, directive) {
			t.Errorf("the CSP lacks %s", directive)
		}
	}
	if strings.Contains(console.ContentSecurityPolicy, "unsafe") {
		t.Error("the CSP allows something unsafe")
	}
}

// TestStaticFilesKeepDataAsText reads the console's own source for the
// ways data could turn into markup or code, or the session could leak into
// lasting storage. The browser tests check the behaviour; this keeps the
// source honest where no test happens to look.
func TestStaticFilesKeepDataAsText(t *testing.T) {
	forbidden := map[string]*regexp.Regexp{
		".js": regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|localStorage\.\w|document\.cookie|setAttribute\(\s*['"](style|on)`),
		// No inline script or style, and no event-handler attributes.
		".html": regexp.MustCompile(`(?i)<script(?:\s+type="module")?>|<style|\sstyle=|\son[a-z]+=`),
	}
	root := os.DirFS("static")
	n := 0
	err := fs.WalkDir(root, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := fs.ReadFile(root, path)
		if err != nil {
			return err
		}
		for ext, re := range forbidden {
			if strings.HasSuffix(path, ext) {
				n++
				if m := re.Find(src); m != nil {
					t.Errorf("%s contains %q", path, m)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("checked %d files, want the HTML and every script", n)
	}
}
