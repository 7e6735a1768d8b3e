package server_test

import (
	"fmt"
	"testing"

	"github.com/keygate/keygate/service/store/memory"
)

// TestNoStoreOnSecrets: responses that carry a secret are never cached;
// others are left alone.
func TestNoStoreOnSecrets(t *testing.T) {
	e := start(t, memory.New())
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	id := e.newKey(u).GetId()
	for _, tc := range []struct {
		name    string
		r       response
		noStore bool
	}{
		{"sign_in", e.rest("POST", "/api/v1/sign_in", fmt.Sprintf(`{"user":{"email":%q,"password":%q}}`, u.email, u.password)), true},
		{"key create", e.rest("POST", "/api/v1/api_keys", `{"api_key":{"name":"x","all_properties":true}}`, session...), true},
		{"key roll", e.rest("POST", "/api/v1/api_keys/"+id+"/roll", `{"roll":{"expires_in_seconds":60}}`, session...), true},
		{"key get", e.rest("GET", "/api/v1/api_keys/"+id, "", session...), false},
		{"key list", e.rest("GET", "/api/v1/api_keys", "", session...), false},
		{"me", e.rest("GET", "/api/v1/me", "", session...), false},
	} {
		if tc.r.code >= 300 {
			t.Fatalf("%s: %d %s", tc.name, tc.r.code, tc.r.raw)
		}
		if got := tc.r.header.Get("Cache-Control") == "no-store"; got != tc.noStore {
			t.Errorf("%s: Cache-Control %q", tc.name, tc.r.header.Get("Cache-Control"))
		}
	}
}
