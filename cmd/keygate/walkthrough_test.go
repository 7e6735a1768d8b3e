package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keygate/keygate/service/auth"
)

// TestREADMEWalkthrough runs the README's "Five-minute walkthrough" (every
// fenced block tagged ```sh walkthrough, in order, as one bash script)
// against a freshly built keygate on free ports. It keeps the README true,
// and checks on the way that no secret the walkthrough saw reached the
// server's log and that SIGTERM shuts the server down cleanly.
func TestREADMEWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the keygate binary; skipped with -short")
	}
	if runtime.GOOS == "windows" {
		t.Skip("the walkthrough is a bash script and the server is stopped with SIGTERM")
	}
	for _, tool := range []string{"bash", "curl", "jq", "buf"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not on PATH; CI must run the README walkthrough", tool)
			}
			t.Skipf("%s is not on PATH; skipping the README walkthrough", tool)
		}
	}

	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	script := walkthroughScript(t, string(readme))

	srv := startServer(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Env = append(os.Environ(),
		"HTTP=http://"+srv.httpAddr,
		"GRPC=http://"+srv.grpcAddr,
		"ADMIN_TOKEN="+srv.adminToken,
	)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	t.Logf("walkthrough stdout:\n%s", stdout.String())
	if stderr.Len() > 0 {
		t.Logf("walkthrough stderr:\n%s", stderr.String())
	}
	if runErr != nil {
		t.Errorf("walkthrough failed: %v", runErr)
	}

	// The walkthrough prints a session token and both plaintext keys. None
	// of them may appear in the server's log.
	secrets := uniq(secretPattern.FindAllString(stdout.String(), -1))
	if runErr == nil && len(secrets) < 3 {
		t.Errorf("walkthrough printed %d secrets (%q), want at least a session token and two API keys", len(secrets), secrets)
	}

	log := srv.stop(t)
	for _, s := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("server log contains the secret %s…", s[:8])
		}
	}
	if t.Failed() {
		t.Logf("server log:\n%s", log)
	}
}

// secretPattern matches API keys (kg_) and session tokens (kgs_).
var secretPattern = regexp.MustCompile(`\b(?:` + regexp.QuoteMeta(auth.APIKeyPrefix) + `|` +
	regexp.QuoteMeta(auth.SessionPrefix) + `)[0-9A-Za-z]{20,}`)

// walkthroughScript joins the README's walkthrough blocks into one script.
func walkthroughScript(t *testing.T, readme string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("set -euo pipefail\n")
	blocks := 0
	in := false
	for _, line := range strings.Split(readme, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case !in && trimmed == "```sh walkthrough":
			in = true
			blocks++
			b.WriteString("\n")
		case in && trimmed == "```":
			in = false
		case in:
			b.WriteString(line + "\n")
		}
	}
	if in {
		t.Fatal("README.md: a ```sh walkthrough block is not closed")
	}
	if blocks == 0 {
		t.Fatal("README.md has no ```sh walkthrough blocks")
	}
	return b.String()
}

// process is a keygate process started by the test.
type process struct {
	cmd        *exec.Cmd
	adminToken string
	grpcAddr   string
	httpAddr   string

	mu      sync.Mutex
	log     bytes.Buffer  // everything the server wrote to stderr
	logDone chan struct{} // closed when stderr reaches EOF
	stopped bool
}

// startServer builds keygate and starts it on free ports with a random
// admin token. It returns once both listeners are bound. The process is
// killed at the end of the test if stop was not called.
func startServer(t *testing.T) *process {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "keygate")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	s := &process{adminToken: auth.NewSecret("admin_"), logDone: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve",
		"--grpc-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0",
	)
	// Settings from the environment must not leak in: memory store only.
	// The admin token travels as the README advises, in the environment.
	s.cmd.Env = append(os.Environ(), "KEYGATE_DATABASE_URL=", "KEYGATE_ADMIN_TOKEN="+s.adminToken)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.mu.Lock()
		stopped := s.stopped
		s.mu.Unlock()
		if !stopped {
			s.cmd.Process.Kill()
			<-s.logDone
			s.cmd.Wait()
		}
	})

	bound := make(chan struct{})
	var boundOnce sync.Once
	go func() {
		defer close(s.logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			var entry struct {
				Msg string `json:"msg"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil {
				if a, ok := strings.CutPrefix(entry.Msg, "grpc listening on "); ok {
					s.grpcAddr = a
				}
				if a, ok := strings.CutPrefix(entry.Msg, "http listening on "); ok {
					s.httpAddr = a
				}
				if s.grpcAddr != "" && s.httpAddr != "" {
					boundOnce.Do(func() { close(bound) })
				}
			}
			s.mu.Unlock()
		}
	}()

	select {
	case <-bound:
	case <-s.logDone:
		t.Fatalf("keygate exited before listening:\n%s", s.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("keygate did not log its addresses within 30s:\n%s", s.logText())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Logf("keygate: grpc %s, http %s", s.grpcAddr, s.httpAddr)
	return s
}

func (s *process) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// stop sends SIGTERM, requires a graceful exit with status 0 within the
// shutdown grace period, and returns the server's whole log.
func (s *process) stop(t *testing.T) string {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	exited := make(chan error, 1)
	go func() {
		<-s.logDone // all of stderr is read before Wait closes the pipe
		exited <- s.cmd.Wait()
	}()
	select {
	case err := <-exited:
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			t.Errorf("keygate exited with %v after SIGTERM, want status 0", exit)
		case err != nil:
			t.Errorf("waiting for keygate: %v", err)
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-exited
		t.Errorf("keygate did not exit within 20s of SIGTERM")
	}
	return s.logText()
}

func uniq(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
