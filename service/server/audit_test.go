package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/store"
)

// auditEvents lists a user's audit events over REST with a raw query.
func (e *env) auditEvents(u user, query string) response {
	e.t.Helper()
	r := e.rest("GET", "/api/v1/audit_events?"+query, "", "Authorization", "Bearer "+u.token)
	if r.code != 200 {
		e.t.Fatalf("GET /api/v1/audit_events?%s: %d %s", query, r.code, r.raw)
	}
	return r
}

// actions are the actions of a list response, in order.
func actions(r response) []string {
	var out []string
	for i := range len(get(r.body, "data").([]any)) {
		out = append(out, str(r.body, "data", i, "attributes", "action"))
	}
	return out
}

// findEvent returns the first event of the list with the action.
func findEvent(t *testing.T, r response, action string) map[string]any {
	t.Helper()
	for _, ev := range get(r.body, "data").([]any) {
		if str(ev, "attributes", "action") == action {
			return ev.(map[string]any)
		}
	}
	t.Fatalf("no %s event in %s", action, r.raw)
	return nil
}

// testAuditTrail goes through every recorded action over REST and gRPC
// and reads the trail back: the event's facts, filters, paging, order.
func testAuditTrail(t *testing.T, e *env) {
	a := e.newUser(true)
	asA := []string{"Authorization", "Bearer " + a.token, "User-Agent", "audit-test/1.0"}

	// Three wrong passwords: one event with a count.
	for range 3 {
		r := e.rest("POST", "/api/v1/sign_in", fmt.Sprintf(`{"user":{"email":%q,"password":"wrong password!"}}`, a.email))
		wantError(t, r, 401, "unauthorized")
	}
	p := e.newProperty(a, "Harbour")
	if r := e.rest("PUT", "/api/v1/properties/"+p, `{"property":{"title":"Harbour View","city":"Porto"}}`, asA...); r.code != 200 {
		t.Fatalf("update property: %d %s", r.code, r.raw)
	}
	created := e.rest("POST", "/api/v1/api_keys", `{"api_key":{"name":"pms","all_properties":true}}`, asA...)
	if created.code != 201 {
		t.Fatalf("create key: %d %s", created.code, created.raw)
	}
	keyID, secret := str(created.body, "data", "id"), str(created.body, "data", "attributes", "api_key")
	if r := e.rest("PUT", "/api/v1/api_keys/"+keyID, `{"api_key":{"name":"pms-2"}}`, asA...); r.code != 200 {
		t.Fatalf("update key: %d %s", r.code, r.raw)
	}
	// The key itself updates the property: the event names it.
	if r := e.rest("PUT", "/api/v1/properties/"+p, `{"property":{"city":"Lisbon"}}`, "user-api-key", secret); r.code != 200 {
		t.Fatalf("update property with the key: %d %s", r.code, r.raw)
	}
	if r := e.rest("POST", "/api/v1/api_keys/"+keyID+"/roll", `{"roll":{"expires_in_seconds":60}}`, asA...); r.code != 201 {
		t.Fatalf("roll key: %d %s", r.code, r.raw)
	}
	for range 2 { // the second revocation changes nothing
		if r := e.rest("DELETE", "/api/v1/api_keys/"+keyID, "", asA...); r.code != 200 {
			t.Fatalf("revoke key: %d %s", r.code, r.raw)
		}
	}
	if _, err := e.admin.SetSubscription(withAdmin(), &keygatev1.SetSubscriptionRequest{
		UserId: a.id, SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_INACTIVE,
	}); err != nil {
		t.Fatal(err)
	}
	in, err := e.auth.SignIn(context.Background(), &keygatev1.SignInRequest{User: &keygatev1.SignInRequest_Credentials{Email: a.email, Password: a.password}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.SignOut(withSession(in.GetSession().GetToken()), &keygatev1.SignOutRequest{}); err != nil {
		t.Fatal(err)
	}

	all := e.auditEvents(a, "pagination[limit]=100")
	want := []string{
		"session.ended", "sign_in.succeeded", "subscription.changed", "api_key.revoked", "api_key.rolled",
		"property.updated", "api_key.updated", "api_key.created", "property.updated", "property.created",
		"sign_in.failed", "sign_in.succeeded",
	}
	if got := actions(all); !slices.Equal(got, want) {
		t.Fatalf("actions, newest first:\n got %v\nwant %v", got, want)
	}
	if n := get(all.body, "meta", "total"); n != float64(len(want)) {
		t.Errorf("meta.total = %v, want %d", n, len(want))
	}
	var last string
	for i := range len(want) {
		at := str(all.body, "data", i, "attributes", "occurred_at")
		if last != "" && at > last {
			t.Errorf("event %d occurred at %s, after the one before it (%s)", i, at, last)
		}
		last = at
		if typ := str(all.body, "data", i, "type"); typ != "audit_event" {
			t.Errorf("type %q", typ)
		}
	}

	// Every fact of one event.
	ev := findEvent(t, all, "api_key.created")
	attrs := ev["attributes"].(map[string]any)
	if str(attrs, "actor", "user_id") != a.id || str(attrs, "actor", "credential") != "session" || get(attrs, "actor", "api_key_id") != nil {
		t.Errorf("actor %v", attrs["actor"])
	}
	if str(attrs, "target", "type") != "api_key" || str(attrs, "target", "id") != keyID {
		t.Errorf("target %v", attrs["target"])
	}
	if attrs["ip"] != "127.0.0.1" || attrs["user_agent"] != "audit-test/1.0" || attrs["request_id"] != created.header.Get("X-Request-Id") {
		t.Errorf("ip %v, user agent %v, request id %v (response header %q)", attrs["ip"], attrs["user_agent"], attrs["request_id"], created.header.Get("X-Request-Id"))
	}
	if get(attrs, "changes", "name", 1) != "pms" || get(attrs, "changes", "all_properties", 1) != true {
		t.Errorf("changes of a new key %v", attrs["changes"])
	}
	if ch := get(findEvent(t, all, "api_key.updated"), "attributes", "changes"); !equalJSON(ch, `{"name":["pms","pms-2"]}`) {
		t.Errorf("api_key.updated changes %v", ch)
	}
	if ch := get(findEvent(t, all, "property.updated"), "attributes", "changes"); !equalJSON(ch, `{"city":["Porto","Lisbon"]}`) {
		t.Errorf("property.updated by the key: changes %v", ch)
	}
	byKey := findEvent(t, all, "property.updated")
	if str(byKey, "attributes", "actor", "credential") != "api_key" || str(byKey, "attributes", "actor", "api_key_id") != keyID {
		t.Errorf("actor of a change made with a key: %v", get(byKey, "attributes", "actor"))
	}
	failed := findEvent(t, all, "sign_in.failed")
	if get(failed, "attributes", "count") != 3.0 || get(failed, "attributes", "actor", "user_id") != nil || str(failed, "attributes", "target", "id") != a.id {
		t.Errorf("sign_in.failed %v", failed)
	}
	sub := findEvent(t, all, "subscription.changed")
	if str(sub, "attributes", "actor", "credential") != "admin" || !equalJSON(get(sub, "attributes", "changes"), `{"subscription_status":["active","inactive"]}`) {
		t.Errorf("subscription.changed %v", sub)
	}
	if str(all.body, "data", 0, "attributes", "target", "id") != str(all.body, "data", 1, "attributes", "target", "id") {
		t.Errorf("session.ended and sign_in.succeeded name different sessions")
	}

	// Filters.
	if got := actions(e.auditEvents(a, "filter[action]=api_key.updated")); !slices.Equal(got, []string{"api_key.updated"}) {
		t.Errorf("filter[action]: %v", got)
	}
	if got := actions(e.auditEvents(a, "filter%5Btarget_id%5D="+keyID)); !slices.Equal(got, []string{"api_key.revoked", "api_key.rolled", "api_key.updated", "api_key.created"}) {
		t.Errorf("filter[target_id]: %v", got)
	}
	if got := actions(e.auditEvents(a, "filter[api_key_id]="+keyID)); !slices.Equal(got, []string{"property.updated"}) {
		t.Errorf("filter[api_key_id]: %v", got)
	}
	rolledAt := str(findEvent(t, all, "api_key.rolled"), "attributes", "occurred_at")
	q := url.QueryEscape(rolledAt)
	if got := actions(e.auditEvents(a, "filter[target_id]="+keyID+"&filter[occurred_at][gte]="+q)); !slices.Equal(got, []string{"api_key.revoked", "api_key.rolled"}) {
		t.Errorf("filter[occurred_at][gte]: %v", got)
	}
	if got := actions(e.auditEvents(a, "filter[target_id]="+keyID+"&filter[occurred_at][lt]="+q)); !slices.Equal(got, []string{"api_key.updated", "api_key.created"}) {
		t.Errorf("filter[occurred_at][lt]: %v", got)
	}
	wantError(t, e.rest("GET", "/api/v1/audit_events?filter[occurred_at][gte]=yesterday", "", asA...), 400, "bad_request")

	// Pages.
	page := e.auditEvents(a, "pagination[page]=2&pagination[limit]=5")
	if got := actions(page); !slices.Equal(got, want[5:10]) || get(page.body, "meta", "total") != float64(len(want)) || get(page.body, "meta", "page") != 2.0 {
		t.Errorf("page 2 of 5: %v %v", got, page.body["meta"])
	}

	// gRPC: the same events; sessions only.
	list, err := keygatev1.NewAuditServiceClient(e.conn).ListAuditEvents(withSession(a.token), &keygatev1.ListAuditEventsRequest{
		Filter:     &keygatev1.AuditEventFilter{TargetId: keyID, OccurredAt: &keygatev1.TimeRange{Lt: timestamppb.New(time.Now().Add(time.Hour))}},
		Pagination: &keygatev1.Pagination{Limit: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.GetAuditEvents()); n != 3 || list.GetMeta().GetTotal() != 4 || list.GetAuditEvents()[0].GetAction() != "api_key.revoked" {
		t.Errorf("gRPC list: %d events, total %d: %v", n, list.GetMeta().GetTotal(), list.GetAuditEvents())
	}
	key := e.newKeyOf(a)
	_, err = keygatev1.NewAuditServiceClient(e.conn).ListAuditEvents(withKey(key), &keygatev1.ListAuditEventsRequest{})
	wantCode(t, err, codes.PermissionDenied)
}

// newKeyOf makes a user active again if needed and returns a new key.
func (e *env) newKeyOf(u user) string {
	e.t.Helper()
	if _, err := e.admin.SetSubscription(withAdmin(), &keygatev1.SetSubscriptionRequest{
		UserId: u.id, SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE,
	}); err != nil {
		e.t.Fatal(err)
	}
	return e.newKey(u).GetApiKey()
}

func equalJSON(v any, want string) bool {
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		panic(err)
	}
	got, _ := json.Marshal(v)
	exp, _ := json.Marshal(w)
	return string(got) == string(exp)
}

// testAuditIsolation: users see their own events and those of properties
// they own while they own them; never another user's, even through a
// property shared with them, before or after the access ends.
func testAuditIsolation(t *testing.T, e *env) {
	a, b, c := e.newUser(true), e.newUser(true), e.newUser(true)
	asA := []string{"Authorization", "Bearer " + a.token}
	p := e.newProperty(a, "Harbour")
	e.newKey(a)
	invite := func(who user, role string) string {
		r := e.rest("POST", "/api/v1/property_users", fmt.Sprintf(`{"invite":{"property_id":%q,"user_email":%q,"role":%q}}`, p, who.email, role), asA...)
		if r.code != 201 {
			t.Fatalf("invite: %d %s", r.code, r.raw)
		}
		return str(r.body, "data", "id")
	}
	update := func(as user, title string) {
		if r := e.rest("PUT", "/api/v1/properties/"+p, `{"property":{"title":"`+title+`"}}`, "Authorization", "Bearer "+as.token); r.code != 200 {
			t.Fatalf("update: %d %s", r.code, r.raw)
		}
	}
	bAccess, cAccess := invite(b, "owner"), invite(c, "user")
	update(a, "While B owns it")
	update(c, "C's own change")
	for _, id := range []string{bAccess, cAccess} {
		if r := e.rest("DELETE", "/api/v1/property_users/"+id, "", asA...); r.code != 200 {
			t.Fatalf("remove access: %d %s", r.code, r.raw)
		}
	}
	update(a, "After B and C left")
	e.newKey(a)

	ids := func(u user) map[string]string { // event id → action
		out := map[string]string{}
		r := e.auditEvents(u, "pagination[limit]=100")
		for _, ev := range get(r.body, "data").([]any) {
			out[str(ev, "id")] = str(ev, "attributes", "action")
		}
		return out
	}
	countOf := func(events map[string]string, action string) int {
		n := 0
		for _, a := range events {
			if a == action {
				n++
			}
		}
		return n
	}
	evA, evB, evC := ids(a), ids(b), ids(c)
	// B, a former co-owner: own sign-in; the change made while owning it
	// and the removal of their own access; nothing of A's keys, sign-ins
	// or of the property after leaving.
	if countOf(evB, "api_key.created") != 0 || countOf(evB, "sign_in.succeeded") != 1 || countOf(evB, "property.updated") != 2 {
		t.Errorf("B sees %v", evB)
	}
	// C never owned it: own sign-in and own change only.
	if len(evC) != 2 || countOf(evC, "sign_in.succeeded") != 1 || countOf(evC, "property.updated") != 1 {
		t.Errorf("C sees %v", evC)
	}
	if countOf(evA, "property.updated") != 3 || countOf(evA, "api_key.created") != 2 || countOf(evA, "property_user.created") != 2 || countOf(evA, "property_user.deleted") != 2 {
		t.Errorf("A sees %v", evA)
	}
	for id := range evB {
		if _, ok := evA[id]; !ok && evB[id] != "sign_in.succeeded" {
			t.Errorf("B sees an event A does not: %s", evB[id])
		}
	}
	// The latest change is A's alone.
	latest := e.auditEvents(a, "filter[action]=property.updated&pagination[limit]=1")
	id := str(latest.body, "data", 0, "id")
	if _, ok := evB[id]; ok {
		t.Error("B sees a change made after their access ended")
	}
	if _, ok := evC[id]; ok {
		t.Error("C sees a change made after their access ended")
	}
	// A filter never widens: B asking for A's property by id sees no more.
	if r := e.auditEvents(b, "filter[target_id]="+p); len(get(r.body, "data").([]any)) != 2 {
		t.Errorf("B filtering by the property: %s", r.raw)
	}
}

// testAuditNoSecrets: no stored event holds a password, session token or
// API key the test made, nor the digest of one.
func testAuditNoSecrets(t *testing.T, e *env) {
	u := e.newUser(true)
	secrets := []string{u.password, u.token, "not the password 1"}
	e.rest("POST", "/api/v1/sign_in", fmt.Sprintf(`{"user":{"email":%q,"password":"not the password 1"}}`, u.email))
	in := e.rest("POST", "/api/v1/sign_in", fmt.Sprintf(`{"user":{"email":%q,"password":%q}}`, u.email, u.password))
	secrets = append(secrets, str(in.body, "data", "attributes", "token"))
	p := e.newProperty(u, "Harbour")
	k := e.newKey(u, p)
	secrets = append(secrets, k.GetApiKey())
	rolled, err := e.keys.RollApiKey(withSession(u.token), &keygatev1.RollApiKeyRequest{Id: k.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, rolled.GetApiKey().GetApiKey())
	if _, err := e.keys.RevokeApiKey(withSession(u.token), &keygatev1.RevokeApiKeyRequest{Id: k.GetId()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.SignOut(withSession(u.token), &keygatev1.SignOutRequest{}); err != nil {
		t.Fatal(err)
	}
	var forms []string
	for _, s := range secrets {
		d := sha256.Sum256([]byte(s))
		forms = append(forms, s, hex.EncodeToString(d[:]), base64.StdEncoding.EncodeToString(d[:]), base64.RawURLEncoding.EncodeToString(d[:]))
	}
	events, n, err := e.store.ListAuditEvents(context.Background(), store.AuditQuery{UserID: u.id})
	if err != nil {
		t.Fatal(err)
	}
	if n < 8 {
		t.Fatalf("only %d events were recorded", n)
	}
	dump, _ := json.Marshal(events)
	text := string(dump) + fmt.Sprintf("%+v", events)
	for _, s := range forms {
		if strings.Contains(text, s) {
			t.Fatalf("a stored event holds a secret or its digest")
		}
	}
}
