package console_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/server"
	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/memory"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the console screenshots under docs/ (for the README)")

const adminToken = "console-test-admin-token-0123456789"

// keygate is a server on free loopback ports with the memory store.
type keygate struct {
	t     *testing.T
	base  string // http://127.0.0.1:port
	admin keygatev1.AdminServiceClient
}

func startKeygate(t *testing.T) *keygate {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{
		GRPCAddr:   "127.0.0.1:0",
		HTTPAddr:   "127.0.0.1:0",
		Store:      memory.New(),
		AdminToken: adminToken,
		Logger:     slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
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
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &keygate{t: t, base: "http://" + srv.HTTPAddr(), admin: keygatev1.NewAdminServiceClient(conn)}
}

type account struct {
	id, email, password, token string
}

// newAccount creates a user through AdminService and signs in over REST.
func (k *keygate) newAccount(active bool) account {
	k.t.Helper()
	a := account{email: "hotelier-" + store.NewID()[:8] + "@example.com", password: "correct horse battery"}
	st := keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_INACTIVE
	if active {
		st = keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE
	}
	resp, err := k.admin.CreateUser(k.adminContext(), &keygatev1.CreateUserRequest{
		Email: a.email, Name: "Ana Novak", Password: a.password, SubscriptionStatus: st,
	})
	if err != nil {
		k.t.Fatalf("CreateUser: %v", err)
	}
	a.id = resp.GetUser().GetId()
	_, body := k.rest(200, "POST", "/api/v1/sign_in", fmt.Sprintf(`{"user":{"email":%q,"password":%q}}`, a.email, a.password))
	a.token = str(body, "data", "attributes", "token")
	return a
}

func (k *keygate) adminContext() context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+adminToken)
}

func (k *keygate) setSubscription(a account, active bool) {
	k.t.Helper()
	st := keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_INACTIVE
	if active {
		st = keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE
	}
	if _, err := k.admin.SetSubscription(k.adminContext(), &keygatev1.SetSubscriptionRequest{UserId: a.id, SubscriptionStatus: st}); err != nil {
		k.t.Fatalf("SetSubscription: %v", err)
	}
}

// newProperty creates a property over REST and returns its id.
func (k *keygate) newProperty(a account, title string) string {
	k.t.Helper()
	body, _ := json.Marshal(map[string]any{"property": map[string]any{"title": title, "currency": "EUR"}})
	_, resp := k.rest(201, "POST", "/api/v1/properties", string(body), "authorization", "Bearer "+a.token)
	return str(resp, "data", "id")
}

// rest sends one request and checks its status (want 0: any); headers
// come as name, value pairs.
func (k *keygate) rest(want int, method, path, body string, headers ...string) (int, map[string]any) {
	k.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, k.base+path, r)
	if err != nil {
		k.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		k.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if want != 0 && resp.StatusCode != want {
		k.t.Fatalf("%s %s: got %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	return resp.StatusCode, out
}

// str walks decoded JSON: str(body, "data", "attributes", "id").
func str(v any, path ...string) string {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

// browser is one headless Chromium tab. It records every console error,
// uncaught exception, browser log error and JavaScript dialog, so that a
// test can check the page ran cleanly.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string
	dialogs  []string
	// synced receives once the console reader has read up to a sync mark
	// (see checkClean).
	synced chan struct{}
}

const syncMark = "keygate-test-sync"

// chromium finds the browser: KEYGATE_CHROMIUM, else chromium on PATH.
// Without it the test is skipped, or fails under CI=true.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KEYGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; CI must run the browser tests (.ci/run installs it)")
	}
	t.Skip("chromium is not installed (apt-get install chromium); skipping the browser tests")
	return ""
}

// newBrowser starts headless Chromium with a fresh profile and a window of
// the given size.
func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	path := chromium(t)
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	// A bound for a hung browser, far above what the tests take.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancel()
	})
	b := &browser{t: t, ctx: tabCtx, synced: make(chan struct{}, 1)}
	if err := chromedp.Do(tabCtx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	messages := chromedp.Console(tabCtx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// Failed requests are the API's answers (the console shows
			// 4xx and 5xx as "Failed to load resource"); the tests check
			// those answers themselves.
			if m.Source == "network" {
				continue
			}
			if m.Type == chromedp.ConsoleInfo && m.Text == syncMark {
				b.synced <- struct{}{}
				continue
			}
			if m.IsException() || m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning {
				b.mu.Lock()
				b.problems = append(b.problems, m.String())
				b.mu.Unlock()
			}
		}
	}()
	dialogs := chromedp.Events(tabCtx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, ev.Message)
			b.mu.Unlock()
			_, _ = chromedp.Call(tabCtx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return b
}

// do runs actions and fails the test at the first error, with the text
// of the page. A step that waits for something that never comes gives up
// after a minute (a bound for a broken page, not a measure of speed).
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		page, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText`))
		b.t.Fatalf("%s: %v\nthe page reads:\n%s", what, err, page)
	}
}

// text returns the visible text of the first node sel finds.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(sel, chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// sync returns once every console message the page wrote so far has been
// read: the messages arrive in order, so reading a mark written now means
// all earlier ones were read.
func (b *browser) sync() {
	b.t.Helper()
	eval[bool](b, `console.info("`+syncMark+`"), true`)
	select {
	case <-b.synced:
	case <-b.ctx.Done():
		b.t.Fatal("the browser went away")
	}
}

// checkClean fails the test if the page logged an error or a warning,
// threw, or opened a dialog.
func (b *browser) checkClean() {
	b.t.Helper()
	b.sync()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.problems) > 0 {
		b.t.Errorf("the console logged:\n%s", strings.Join(b.problems, "\n"))
	}
	if len(b.dialogs) > 0 {
		b.t.Errorf("the page opened dialogs: %q", b.dialogs)
	}
}

// bodyOf returns the body of the first request in sent (subscribed to
// before the action that sends it) with the method and URL.
func (b *browser) bodyOf(sent iter.Seq2[network.EventRequestWillBeSent, error], method, url string) string {
	b.t.Helper()
	for ev, err := range sent {
		if err != nil {
			b.t.Fatalf("waiting for %s %s: %v", method, url, err)
		}
		if ev.Request.Method == method && ev.Request.URL == url {
			var body strings.Builder
			for _, e := range ev.Request.PostDataEntries {
				body.Write(e.Bytes)
			}
			return body.String()
		}
	}
	b.t.Fatalf("no %s %s", method, url)
	return ""
}

// problemsSoFar returns what checkClean would complain about.
func (b *browser) problemsSoFar() []string {
	b.sync()
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.problems)
}

// signIn signs in with the keyboard alone: the email field has the focus
// when the page opens; Tab moves to the password, Enter submits.
func (b *browser) signIn(k *keygate, a account) {
	b.t.Helper()
	b.do("opening the console",
		chromedp.Navigate(k.base+"/"),
		chromedp.WaitVisible(`input[name="email"]`),
	)
	if got := eval[string](b, `document.activeElement.name`); got != "email" {
		b.t.Fatalf("focus on the sign-in page is on %q, want the email field", got)
	}
	b.do("signing in with the keyboard",
		chromedp.KeyEvent(a.email),
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent(a.password),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(`#api-keys-heading`),
	)
}

// screenshot takes a screenshot of the viewport and, with
// -update-screenshots, writes it to docs/name.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if len(png) < 8 || string(png[1:4]) != "PNG" {
		b.t.Fatalf("screenshot %s is not a PNG", name)
	}
	if !*updateScreenshots {
		return
	}
	path := filepath.Join("..", "..", "docs", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("wrote %s", path)
}

// clearField empties a form control, as selecting its text and deleting
// it would. (chromedp.Clear only resets the value attribute, which no
// longer counts once the control has been typed in.)
func clearField(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ""`, sel))
}
