package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/keygate/keygate/service/server"
	"github.com/keygate/keygate/service/store/memory"
)

// TestDemoPrintsConsole: --demo prints where the console is, next to the
// credentials to sign in with, and the address serves the console.
func TestDemoPrintsConsole(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st := memory.New()
	srv, err := server.New(ctx, server.Config{
		GRPCAddr: "127.0.0.1:0",
		HTTPAddr: "127.0.0.1:0",
		Store:    st,
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	var out bytes.Buffer
	if err := seedDemo(ctx, st, srv, &out); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*console\s+(http://\S+/)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no console line in:\n%s", out.String())
	}
	if want := "http://" + server.Dialable(srv.HTTPAddr()) + "/"; m[1] != want {
		t.Errorf("console at %s, want %s", m[1], want)
	}
	for _, want := range []string{"email     " + demoEmail, "password  demo-"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo output lacks %q:\n%s", want, out.String())
		}
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "keygate console") {
		t.Errorf("GET %s: %d %.80s", m[1], resp.StatusCode, body)
	}
}
