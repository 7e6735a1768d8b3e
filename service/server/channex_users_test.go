package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/store"
)

// testChannexPropertyUsers: the property_user record of CONTRACT §5, its
// paginated list, overrides, leaving, and invitations of emails without
// an account that take effect when AdminService creates it.
func testChannexPropertyUsers(t *testing.T, e *env) {
	owner, member := e.newUser(true), e.newUser(true)
	asOwner := []string{"Authorization", "Bearer " + owner.token}
	asMember := []string{"Authorization", "Bearer " + member.token}
	p := e.newProperty(owner, "Team Hotel")
	invite := func(email, role, overrides string) response {
		t.Helper()
		body := fmt.Sprintf(`{"invite":{"property_id":%q,"user_email":%q,"role":%q`, p, email, role)
		if overrides != "" {
			body += `,"overrides":` + overrides
		}
		return e.rest("POST", "/api/v1/property_users", body+"}}", asOwner...)
	}
	wantKeys := []string{"created_at", "id", "overrides", "property_id", "role", "status", "user_email", "user_id"}
	shape := func(t *testing.T, rec any, raw string) map[string]any {
		t.Helper()
		m, _ := rec.(map[string]any)
		attrs, _ := get(m, "attributes").(map[string]any)
		keys := make([]string, 0, len(attrs))
		for k := range attrs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if get(m, "type") != "property_user" || !store.ValidID(str(m, "id")) || attrs["id"] != m["id"] || !slices.Equal(keys, wantKeys) ||
			attrs["property_id"] != p || len(m) != 4 || get(m, "relationships", "user") == nil {
			t.Fatalf("not a property_user record (attributes %v): %s", keys, raw)
		}
		if _, ok := get(m, "relationships", "user").(map[string]any)["data"]; !ok {
			t.Fatalf("no relationships.user.data: %s", raw)
		}
		return attrs
	}

	// An invitation answers the same whether or not the account exists.
	pendingEmail := "future-" + store.NewID()[:8] + "@example.com"
	overrides := `{"notify":{"bookings":true,"channels":["a","b"]},"limit":3,"note":"Zürich","none":null}`
	answers := map[string]response{}
	for _, email := range []string{member.email, pendingEmail} {
		r := invite(email, "user", overrides)
		if r.code != 201 || propIgnored(t, r) != nil {
			t.Fatalf("invite %s: %d %s", email, r.code, r.raw)
		}
		a := shape(t, get(r.body, "data"), r.raw)
		if a["status"] != "pending" || a["user_id"] != nil || get(r.body, "data", "relationships", "user", "data") != nil ||
			a["user_email"] != email || a["role"] != "user" || propDiff(a["overrides"], channexDecode(t, overrides)) != "" {
			t.Fatalf("invite %s: %s", email, r.raw)
		}
		answers[email] = r
	}
	strip := func(r response) string {
		s := r.raw
		for _, v := range []string{str(r.body, "data", "id"), str(r.body, "data", "attributes", "user_email"), str(r.body, "data", "attributes", "created_at")} {
			s = strings.ReplaceAll(s, v, "…")
		}
		return s
	}
	if strip(answers[member.email]) != strip(answers[pendingEmail]) {
		t.Fatalf("the answers differ:\n%s\n%s", answers[member.email].raw, answers[pendingEmail].raw)
	}
	memberRec, pendingRec := str(answers[member.email].body, "data", "id"), str(answers[pendingEmail].body, "data", "id")

	// The existing account's access is effective at once.
	r := e.rest("GET", "/api/v1/property_users/"+memberRec, "", asOwner...)
	a := shape(t, get(r.body, "data"), r.raw)
	if r.code != 200 || a["status"] != "active" || a["user_id"] != member.id ||
		propDiff(get(r.body, "data", "relationships", "user", "data"), map[string]any{"id": member.id, "type": "user", "email": member.email, "name": "Test"}) != "" ||
		propDiff(a["overrides"], channexDecode(t, overrides)) != "" {
		t.Fatalf("the member's record: %d %s", r.code, r.raw)
	}
	if r := e.rest("GET", "/api/v1/properties/"+p, "", asMember...); r.code != 200 {
		t.Fatalf("the member reading the property: %d %s", r.code, r.raw)
	}
	r = e.rest("GET", "/api/v1/property_users/"+pendingRec+"/", "", asMember...)
	if a := shape(t, get(r.body, "data"), r.raw); r.code != 200 || a["status"] != "pending" || a["user_id"] != nil {
		t.Fatalf("the pending record: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/property_users/"+store.NewID(), "", asOwner...), 404, "resource_not_found")
	wantError(t, e.rest("GET", "/api/v1/property_users/"+memberRec, "", "Authorization", "Bearer "+e.newUser(true).token), 404, "resource_not_found")
	wantError(t, e.rest("GET", "/api/v1/property_users/"+memberRec, "", "user-api-key", e.newKey(owner).GetApiKey()), 403, "forbidden")

	// Overrides: at most 16 KiB, an object, replaced by an update.
	big := `{"k":"` + strings.Repeat("x", 16<<10) + `"}`
	r = invite("big-"+store.NewID()[:8]+"@example.com", "user", big)
	propWantFields(t, r, "overrides")
	r = invite("small-"+store.NewID()[:8]+"@example.com", "user", `{"k":"`+strings.Repeat("x", 16<<10-16)+`"}`)
	if r.code != 201 {
		t.Fatalf("overrides just under 16 KiB: %d %.300s", r.code, r.raw)
	}
	smallRec := str(r.body, "data", "id")
	propWantFields(t, invite("list-"+store.NewID()[:8]+"@example.com", "user", `["a"]`), "overrides")
	r = e.rest("PUT", "/api/v1/property_users/"+memberRec, `{"property_user":{"overrides":{"only":1}}}`, asOwner...)
	if r.code != 200 || propDiff(get(r.body, "data", "attributes", "overrides"), map[string]any{"only": 1.0}) != "" ||
		str(r.body, "data", "attributes", "role") != "user" {
		t.Fatalf("replacing overrides: %d %s", r.code, r.raw)
	}
	r = e.rest("GET", "/api/v1/property_users/"+memberRec, "", asMember...)
	if propDiff(get(r.body, "data", "attributes", "overrides"), map[string]any{"only": 1.0}) != "" {
		t.Fatalf("overrides read back: %s", r.raw)
	}

	// The list: oldest first, paginated, with meta.
	all := []string{"", memberRec, pendingRec, smallRec} // the owner's own record first
	r = e.rest("GET", "/api/v1/property_users?filter[property_id]="+p+"&pagination[limit]=100", "", asOwner...)
	data, _ := get(r.body, "data").([]any)
	if r.code != 200 || len(data) != 4 || propDiff(get(r.body, "meta"), map[string]any{"page": 1.0, "limit": 100.0, "total": 4.0}) != "" {
		t.Fatalf("the whole list: %d %s", r.code, r.raw)
	}
	all[0] = str(data, 0, "id")
	if str(data, 0, "attributes", "user_id") != owner.id || str(data, 0, "attributes", "role") != "owner" {
		t.Fatalf("the owner is not first: %s", r.raw)
	}
	for i, rec := range data {
		shape(t, rec, r.raw)
		if str(rec, "id") != all[i] {
			t.Fatalf("list order: %s", r.raw)
		}
	}
	for _, tc := range []struct {
		query       string
		page, limit float64
		want        []string
	}{
		{"&pagination[limit]=3", 1, 3, all[:3]},
		{"&pagination[limit]=3&pagination[page]=2", 2, 3, all[3:]},
		{"&pagination%5Blimit%5D=2&pagination%5Bpage%5D=2", 2, 2, all[2:4]},
		{"&pagination[limit]=2&pagination[page]=3", 3, 2, nil},
		{"", 1, 10, all},
	} {
		for _, base := range []string{"/api/v1/property_users?filter[property_id]=", "/api/v1/property_users/?filter%5Bproperty_id%5D="} {
			r := e.rest("GET", base+p+tc.query, "", asMember...)
			var got []string
			for _, rec := range get(r.body, "data").([]any) {
				got = append(got, str(rec, "id"))
			}
			if r.code != 200 || !slices.Equal(got, tc.want) ||
				propDiff(get(r.body, "meta"), map[string]any{"page": tc.page, "limit": tc.limit, "total": 4.0}) != "" {
				t.Fatalf("%s: %d %s", base+tc.query, r.code, r.raw)
			}
		}
	}

	// A member may leave; the last owner may not.
	ownerRec := all[0]
	propWantFields(t, e.rest("DELETE", "/api/v1/property_users/"+ownerRec, "", asOwner...), "role")
	wantError(t, e.rest("DELETE", "/api/v1/property_users/"+pendingRec, "", asMember...), 403, "forbidden")
	memberKey := e.newKey(member).GetApiKey()
	if r := e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", memberKey); r.code != 200 {
		t.Fatalf("the member's key: %d %s", r.code, r.raw)
	}
	if r := e.rest("DELETE", "/api/v1/property_users/"+memberRec, "", asMember...); r.code != 200 {
		t.Fatalf("leaving: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", memberKey), 404, "resource_not_found")
	wantError(t, e.rest("GET", "/api/v1/property_users?filter[property_id]="+p, "", asMember...), 404, "resource_not_found")
	if r := e.rest("GET", "/api/v1/property_users?filter[property_id]="+p, "", asOwner...); get(r.body, "meta", "total") != 3.0 {
		t.Fatalf("after leaving: %s", r.raw)
	}

	// The pending invitation takes effect when the account is created: the
	// record turns active and the invitee's all-properties key sees the
	// property.
	resp, err := e.admin.CreateUser(withAdmin(), &keygatev1.CreateUserRequest{
		Email: pendingEmail, Name: "Future", Password: "correct horse battery",
		SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE,
	})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	invitee := user{id: resp.GetUser().GetId(), email: pendingEmail}
	in, err := e.auth.SignIn(context.Background(), &keygatev1.SignInRequest{
		User: &keygatev1.SignInRequest_Credentials{Email: pendingEmail, Password: "correct horse battery"},
	})
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	invitee.token = in.GetSession().GetToken()
	r = e.rest("GET", "/api/v1/property_users/"+pendingRec, "", asOwner...)
	a = shape(t, get(r.body, "data"), r.raw)
	if r.code != 200 || a["status"] != "active" || a["user_id"] != invitee.id || a["role"] != "user" ||
		propDiff(get(r.body, "data", "relationships", "user", "data"), map[string]any{"id": invitee.id, "type": "user", "email": pendingEmail, "name": "Future"}) != "" ||
		propDiff(a["overrides"], channexDecode(t, overrides)) != "" {
		t.Fatalf("the invitation after the account was created: %d %s", r.code, r.raw)
	}
	inviteeKey := e.newKey(invitee).GetApiKey()
	r = e.rest("GET", "/api/v1/properties", "", "user-api-key", inviteeKey)
	if r.code != 200 || get(r.body, "meta", "total") != 1.0 || str(r.body, "data", 0, "id") != p {
		t.Fatalf("the invitee's key listing: %d %s", r.code, r.raw)
	}
	if r := e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", inviteeKey); r.code != 200 {
		t.Fatalf("the invitee's key: %d %s", r.code, r.raw)
	}
	// As a user, the invitee cannot manage access, but may leave.
	wantError(t, e.rest("DELETE", "/api/v1/property_users/"+ownerRec, "", "Authorization", "Bearer "+invitee.token), 403, "forbidden")
	if r := e.rest("DELETE", "/api/v1/property_users/"+pendingRec, "", "Authorization", "Bearer "+invitee.token); r.code != 200 {
		t.Fatalf("the invitee leaving: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", inviteeKey), 404, "resource_not_found")

	// A duplicate invitation, pending or not, is refused the same way.
	r = invite(owner.email, "user", "")
	propWantFields(t, r, "user_email")
	other := "again-" + store.NewID()[:8] + "@example.com"
	if r := invite(other, "owner", ""); r.code != 201 {
		t.Fatalf("invite: %d %s", r.code, r.raw)
	}
	propWantFields(t, invite(other, "user", ""), "user_email")
}
