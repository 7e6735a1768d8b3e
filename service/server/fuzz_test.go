package server_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keygate/keygate/service/store/memory"
)

// FuzzGateway sends arbitrary requests (method, target with path and
// query, a credential header, a body) through the whole REST handler of a
// server with a user, a property and a key. Whatever comes in, the answer
// is never a 5xx.
func FuzzGateway(f *testing.F) {
	e := start(f, memory.New())
	u := e.newUser(true)
	p := e.newProperty(u, "Harbour View")
	key := e.newKey(u).GetApiKey()
	handler := e.srv.HTTPHandler()

	for _, seed := range [][4]string{
		{"GET", "/api/v1/properties?pagination[page]=2&filter[title]=x&order[title]=desc", "user-api-key: " + key, ""},
		{"GET", "/api/v1/properties/" + p, "authorization: Bearer " + u.token, ""},
		{"PUT", "/api/v1/properties/" + p, "authorization: Bearer " + u.token, `{"property":{"title":"x","settings":{"min_price":"1.00"}}}`},
		{"POST", "/api/v1/properties", "user-api-key: " + key, `{"property":{"title":"New","currency":"EUR","content":{"photos":[{"url":"https://x"}]}}}`},
		{"POST", "/api/v1/api_keys", "authorization: Bearer " + u.token, `{"api_key":{"name":"x","all_properties":true}}`},
		{"POST", "/api/v1/sign_in", "", `{"user":{"email":"` + u.email + `","password":"wrong"}}`},
		{"POST", "/api/v1/property_users", "authorization: Bearer " + u.token, `{"invite":{"property_id":"` + p + `","user_email":"a@example.com","role":"user"}}`},
		{"GET", "/api/v1/properties/%FF", "user-api-key: " + key, ""},
		{"GET", "/api/v1/api_keys?pagination%5Blimit%5D=5", "authorization: Bearer " + u.token, ""},
		{"DELETE", "/api/v1/api_keys/" + p, "authorization: Bearer " + u.token, ""},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	f.Fuzz(func(t *testing.T, method, target, header, body string) {
		raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: keygate\r\n%s\r\nContent-Length: %d\r\n\r\n%s", method, target, header, len(body), body)
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return // not HTTP: the server's own parser answers 400
		}
		req.RemoteAddr = "192.0.2.1:1234"
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q with %q and body %q: %d %s", method, target, header, body, w.Code, w.Body.String())
		}
	})
}
