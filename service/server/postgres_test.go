package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/dbtest"
	"github.com/keygate/keygate/service/store/postgres"
)

// TestAPIPostgres runs every end-to-end test on PostgreSQL.
func TestAPIPostgres(t *testing.T) {
	dbtest.AdminURL(t)
	testAPI(t, func(t *testing.T) store.Store { return dbtest.NewStore(t) })
}

// openStore opens a store on an existing, migrated database.
func openStore(t testing.TB, url string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), postgres.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func migratedDatabase(t testing.TB) string {
	t.Helper()
	url := dbtest.NewDatabase(t)
	if err := postgres.Migrate(context.Background(), url); err != nil {
		t.Fatal(err)
	}
	return url
}

// TestRestartPostgres: everything survives a restart of the server.
func TestRestartPostgres(t *testing.T) {
	url := migratedDatabase(t)
	first := openStore(t, url)
	e := start(t, first)
	u := e.newUser(true)
	p := e.newProperty(u, "Durable Hotel")
	live, withdrawn := e.newKey(u), e.newKey(u, p)
	if _, err := e.keys.RevokeApiKey(withSession(u.token), &keygatev1.RevokeApiKeyRequest{Id: withdrawn.GetId()}); err != nil {
		t.Fatal(err)
	}
	e.stop()
	first.Close()

	e = start(t, openStore(t, url))
	if r := e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", live.GetApiKey()); r.code != 200 || str(r.body, "data", "attributes", "title") != "Durable Hotel" {
		t.Fatalf("key after restart: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", withdrawn.GetApiKey()), 401, "unauthorized")
	r := e.rest("GET", "/api/v1/api_keys", "", "Authorization", "Bearer "+u.token)
	if r.code != 200 || get(r.body, "meta", "total") != 2.0 {
		t.Fatalf("session after restart: %d %s", r.code, r.raw)
	}
}

// TestTwoReplicasPostgres: a change made through one server is enforced
// by another on the same database within a second.
func TestTwoReplicasPostgres(t *testing.T) {
	url := migratedDatabase(t)
	a, b := start(t, openStore(t, url)), start(t, openStore(t, url))
	u := a.newUser(true)
	p1, p2 := a.newProperty(u, "One"), a.newProperty(u, "Two")
	k, scoped := a.newKey(u), a.newKey(u, p1, p2)
	okOnB := func(key, id string) int {
		return b.rest("GET", "/api/v1/properties/"+id, "", "user-api-key", key).code
	}
	if okOnB(k.GetApiKey(), p1) != 200 || okOnB(scoped.GetApiKey(), p2) != 200 {
		t.Fatal("keys do not work on the second server")
	}
	within := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not enforced by the other server within 1s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Deleting a property on A takes it out of the scoped key on B.
	if _, err := a.props.DeleteProperty(withSession(u.token), &keygatev1.DeletePropertyRequest{Id: p2}); err != nil {
		t.Fatal(err)
	}
	within("property deletion", func() bool { return okOnB(scoped.GetApiKey(), p2) == 404 })
	// A subscription change on A.
	if _, err := a.admin.SetSubscription(withAdmin(), &keygatev1.SetSubscriptionRequest{UserId: u.id, SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_INACTIVE}); err != nil {
		t.Fatal(err)
	}
	within("subscription change", func() bool { return okOnB(k.GetApiKey(), p1) == 403 })
	if _, err := a.admin.SetSubscription(withAdmin(), &keygatev1.SetSubscriptionRequest{UserId: u.id, SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE}); err != nil {
		t.Fatal(err)
	}
	within("reactivation", func() bool { return okOnB(k.GetApiKey(), p1) == 200 })
	// A revocation on A.
	if _, err := a.keys.RevokeApiKey(withSession(u.token), &keygatev1.RevokeApiKeyRequest{Id: k.GetId()}); err != nil {
		t.Fatal(err)
	}
	within("revocation", func() bool { return okOnB(k.GetApiKey(), p1) == 401 })
	// Sign-out on A ends the session on B.
	if _, err := a.auth.SignOut(withSession(u.token), &keygatev1.SignOutRequest{}); err != nil {
		t.Fatal(err)
	}
	within("sign-out", func() bool {
		return b.rest("GET", "/api/v1/me", "", "Authorization", "Bearer "+u.token).code == 401
	})
}

// TestConcurrentSignupPostgres: of 20 simultaneous CreateUser calls with
// one email, exactly one succeeds.
func TestConcurrentSignupPostgres(t *testing.T) {
	e := start(t, dbtest.NewStore(t))
	var wg sync.WaitGroup
	results := make(chan codes.Code, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			email := "race@example.com"
			if i%2 == 1 {
				email = "RACE@example.com"
			}
			_, err := e.admin.CreateUser(withAdmin(), &keygatev1.CreateUserRequest{
				Email: email, Password: "long enough", SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE,
			})
			results <- status.Code(err)
		}(i)
	}
	wg.Wait()
	close(results)
	count := map[codes.Code]int{}
	for c := range results {
		count[c]++
	}
	if count[codes.OK] != 1 || count[codes.AlreadyExists] != 19 {
		t.Fatalf("outcomes: %v", count)
	}
}

// TestNoSecretsInDatabasePostgres: a dump of the database holds no
// plaintext key, session token or password.
func TestNoSecretsInDatabasePostgres(t *testing.T) {
	pgDump := pgBinary(t, "pg_dump")
	url := migratedDatabase(t)
	e := start(t, openStore(t, url))
	u := e.newUser(true)
	p := e.newProperty(u, "Hotel")
	keys := []string{e.newKey(u).GetApiKey(), e.newKey(u, p).GetApiKey()}
	// A failed sign-in is in the audit trail; the password tried is not.
	wrong := "a wrong password 7"
	e.rest("POST", "/api/v1/sign_in", fmt.Sprintf(`{"user":{"email":%q,"password":%q}}`, u.email, wrong))
	out, err := exec.Command(pgDump, "--data-only", "--dbname", url).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	dump := string(out)
	if !strings.Contains(dump, u.email) || !strings.Contains(dump, "argon2id") || !strings.Contains(dump, "sign_in.failed") {
		t.Fatalf("the dump does not hold the data at all:\n%s", dump)
	}
	for _, secret := range append(keys, u.token, u.password, wrong, keys[0][len(auth.APIKeyPrefix):20]) {
		if strings.Contains(dump, secret) {
			t.Fatalf("the dump contains a plaintext secret")
		}
	}
}

// pgBinary finds a PostgreSQL program on PATH or in the Debian location.
func pgBinary(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join("/usr/lib/postgresql/15/bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found", name)
	}
	t.Skipf("%s not found", name)
	return ""
}

// cluster is a throwaway PostgreSQL server the test starts and stops.
type cluster struct {
	t        *testing.T
	dir      string
	port     int
	asUser   []string // prefix that runs a command as the postgres user
	pgCtl    string
	stopped  bool
	stopOnce sync.Once
}

// newCluster initialises and starts a PostgreSQL cluster in a temporary
// directory on a free port. initdb refuses to run as root, so as root
// the cluster belongs to the postgres user.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	dbtest.AdminURL(t) // same skip/fail rule as every PostgreSQL test
	c := &cluster{t: t, pgCtl: pgBinary(t, "pg_ctl")}
	initdb := pgBinary(t, "initdb")
	dir, err := os.MkdirTemp("", "keygate-outage-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c.dir = dir
	if os.Geteuid() == 0 {
		pg, err := osuser.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	c.port = freePort(t)
	c.run(initdb, "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync")
	c.start()
	t.Cleanup(func() { c.run(c.pgCtl, "-D", filepath.Join(dir, "data"), "-m", "immediate", "stop") })
	return c
}

func (c *cluster) run(args ...string) {
	c.t.Helper()
	cmd := exec.Command(append(c.asUser, args...)[0], append(c.asUser, args...)[1:]...)
	cmd.Dir = c.dir
	if out, err := cmd.CombinedOutput(); err != nil && !c.stopped {
		c.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (c *cluster) start() {
	c.t.Helper()
	c.stopped = false
	c.run(c.pgCtl, "-D", filepath.Join(c.dir, "data"), "-w", "-l", filepath.Join(c.dir, "log"),
		"-o", "-p "+strconv.Itoa(c.port)+" -h 127.0.0.1 -k "+c.dir+" -c fsync=off", "start")
}

func (c *cluster) stop() {
	c.t.Helper()
	c.run(c.pgCtl, "-D", filepath.Join(c.dir, "data"), "-w", "-m", "fast", "stop")
	c.stopped = true
}

func (c *cluster) url() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(c.port) + "/postgres?sslmode=disable"
}

// TestOutagePostgres: with the database stopped, requests fail quickly
// with UNAVAILABLE / 503, the process stays up, /readyz says not ready,
// no withdrawn or unknown key gets in; once the database is back, the same
// process serves again.
func TestOutagePostgres(t *testing.T) {
	c := newCluster(t)
	if err := postgres.Migrate(context.Background(), c.url()); err != nil {
		t.Fatal(err)
	}
	e := start(t, openStore(t, c.url()))
	u := e.newUser(true)
	p := e.newProperty(u, "Hotel")
	live, withdrawn := e.newKey(u), e.newKey(u)
	if _, err := e.keys.RevokeApiKey(withSession(u.token), &keygatev1.RevokeApiKeyRequest{Id: withdrawn.GetId()}); err != nil {
		t.Fatal(err)
	}

	c.stop()
	for _, key := range []string{live.GetApiKey(), withdrawn.GetApiKey(), auth.NewSecret(auth.APIKeyPrefix)} {
		begin := time.Now()
		r := e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", key)
		if took := time.Since(begin); took > 5*time.Second {
			t.Errorf("a request during the outage took %v", took)
		}
		wantError(t, r, 503, "unavailable")
	}
	begin := time.Now()
	_, err := e.props.ListProperties(withSession(u.token), &keygatev1.ListPropertiesRequest{})
	wantCode(t, err, codes.Unavailable)
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("a gRPC call during the outage took %v", took)
	}
	wantError(t, e.rest("POST", "/api/v1/properties", `{"property":{"title":"Lost?","currency":"EUR"}}`, "Authorization", "Bearer "+u.token), 503, "unavailable")
	if r := e.rest("GET", "/readyz", ""); r.code != http.StatusServiceUnavailable {
		t.Fatalf("readyz during the outage: %d", r.code)
	}
	if r := e.rest("GET", "/healthz", ""); r.code != 200 {
		t.Fatalf("healthz during the outage: %d", r.code)
	}

	c.start()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := e.rest("GET", "/api/v1/properties", "", "user-api-key", live.GetApiKey())
		if r.code == 200 {
			if get(r.body, "meta", "total") != 1.0 {
				t.Fatalf("after recovery: %s", r.raw)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving 15s after the database came back: %d %s", r.code, r.raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wantError(t, e.rest("GET", "/api/v1/properties", "", "user-api-key", withdrawn.GetApiKey()), 401, "unauthorized")
	if r := e.rest("GET", "/readyz", ""); r.code != 200 {
		t.Fatalf("readyz after recovery: %d", r.code)
	}
}
