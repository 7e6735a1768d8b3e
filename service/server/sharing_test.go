package server_test

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
)

// testSharing: an owner shares a property with a colleague, whose keys
// follow; only owners change access, a user may leave; a property keeps an
// owner.
func testSharing(t *testing.T, e *env) {
	owner, colleague, stranger := e.newUser(true), e.newUser(true), e.newUser(true)
	asOwner := []string{"Authorization", "Bearer " + owner.token}
	asColleague := []string{"Authorization", "Bearer " + colleague.token}
	p := e.newProperty(owner, "Shared Hotel")
	colleagueAll := e.newKey(colleague)
	invite := func(who []string, email, role string) response {
		return e.rest("POST", "/api/v1/property_users",
			fmt.Sprintf(`{"invite":{"property_id":%q,"user_email":%q,"role":%q}}`, p, email, role), who...)
	}

	wantError(t, e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", colleagueAll.GetApiKey()), 404, "resource_not_found")

	// The answer to an invitation never tells whether the account exists:
	// pending, no user id, no related user.
	r := invite(asOwner, colleague.email, "user")
	if r.code != 201 || str(r.body, "data", "type") != "property_user" || str(r.body, "data", "attributes", "user_email") != colleague.email ||
		str(r.body, "data", "attributes", "role") != "user" || str(r.body, "data", "attributes", "property_id") != p ||
		str(r.body, "data", "attributes", "status") != "pending" || get(r.body, "data", "attributes", "user_id") != nil ||
		get(r.body, "data", "relationships", "user", "data") != nil || get(r.body, "data", "attributes", "overrides") != nil {
		t.Fatalf("invite: %d %s", r.code, r.raw)
	}
	colleagueAccess := str(r.body, "data", "id")
	if str(r.body, "data", "attributes", "id") != colleagueAccess {
		t.Fatalf("ids of the record: %s", r.raw)
	}
	// The account exists, so the access is effective at once: later reads
	// show it active, with the user.
	r = e.rest("GET", "/api/v1/property_users/"+colleagueAccess, "", asColleague...)
	if r.code != 200 || str(r.body, "data", "attributes", "status") != "active" || str(r.body, "data", "attributes", "user_id") != colleague.id ||
		propDiff(get(r.body, "data", "relationships", "user", "data"), map[string]any{"id": colleague.id, "type": "user", "email": colleague.email, "name": "Test"}) != "" {
		t.Fatalf("the colleague's record: %d %s", r.code, r.raw)
	}

	// The colleague's all-properties key now reaches the property; a key
	// for just this property can be made.
	if r := e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", colleagueAll.GetApiKey()); r.code != 200 {
		t.Fatalf("colleague's key after the invitation: %d %s", r.code, r.raw)
	}
	colleagueOne := e.newKey(colleague, p)
	if r := e.rest("GET", "/api/v1/properties", "", "user-api-key", colleagueOne.GetApiKey()); r.code != 200 || get(r.body, "meta", "total") != 1.0 {
		t.Fatalf("colleague's scoped key: %d %s", r.code, r.raw)
	}

	// A user may read and update, not invite, change roles or delete.
	if r := e.rest("PUT", "/api/v1/properties/"+p, `{"property":{"title":"Renamed by colleague"}}`, asColleague...); r.code != 200 ||
		str(r.body, "data", "attributes", "title") != "Renamed by colleague" || str(r.body, "data", "attributes", "currency") != "EUR" {
		t.Fatalf("colleague updating: %d %s", r.code, r.raw)
	}
	r = e.rest("GET", "/api/v1/property_users?filter[property_id]="+p, "", asColleague...)
	if l, _ := get(r.body, "data").([]any); r.code != 200 || len(l) != 2 ||
		propDiff(get(r.body, "meta"), map[string]any{"page": 1.0, "limit": 10.0, "total": 2.0}) != "" {
		t.Fatalf("colleague listing access: %d %s", r.code, r.raw)
	}
	ownerAccess := str(r.body, "data", 0, "id")
	if str(r.body, "data", 0, "attributes", "role") != "owner" || str(r.body, "data", 0, "attributes", "user_id") != owner.id {
		t.Fatalf("the owner is not listed first: %s", r.raw)
	}
	wantError(t, invite(asColleague, stranger.email, "user"), 403, "forbidden")
	wantError(t, e.rest("PUT", "/api/v1/property_users/"+ownerAccess, `{"property_user":{"role":"user"}}`, asColleague...), 403, "forbidden")
	wantError(t, e.rest("DELETE", "/api/v1/property_users/"+ownerAccess, "", asColleague...), 403, "forbidden")
	wantError(t, e.rest("DELETE", "/api/v1/properties/"+p, "", asColleague...), 403, "forbidden")
	wantError(t, e.rest("DELETE", "/api/v1/properties/"+p, "", "user-api-key", colleagueAll.GetApiKey()), 403, "forbidden")

	// Strangers see nothing; keys never change access.
	wantError(t, e.rest("GET", "/api/v1/property_users?filter[property_id]="+p, "", "Authorization", "Bearer "+stranger.token), 404, "resource_not_found")
	wantError(t, e.rest("DELETE", "/api/v1/property_users/"+colleagueAccess, "", "Authorization", "Bearer "+stranger.token), 404, "resource_not_found")
	wantError(t, invite([]string{"user-api-key", e.newKey(owner).GetApiKey()}, stranger.email, "user"), 403, "forbidden")

	// Bad invitations.
	r = invite(asOwner, "nobody-at-example.com", "user")
	wantError(t, r, 422, "validation_error")
	if get(r.body, "errors", "details", "user_email", 0) == nil {
		t.Fatalf("a bad email: %s", r.raw)
	}
	r = invite(asOwner, colleague.email, "user")
	wantError(t, r, 422, "validation_error")
	if get(r.body, "errors", "details", "user_email", 0) == nil {
		t.Fatalf("a second invitation: %s", r.raw)
	}
	r = invite(asOwner, stranger.email, "admin")
	wantError(t, r, 422, "validation_error")
	if get(r.body, "errors", "details", "role", 0) == nil {
		t.Fatalf("a bad role: %s", r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/property_users", "", asOwner...), 404, "resource_not_found")
	wantError(t, e.rest("PUT", "/api/v1/property_users/not-a-uuid", `{"property_user":{"role":"user"}}`, asOwner...), 404, "resource_not_found")

	// The last owner can be neither demoted nor removed.
	r = e.rest("PUT", "/api/v1/property_users/"+ownerAccess, `{"property_user":{"role":"user"}}`, asOwner...)
	wantError(t, r, 422, "validation_error")
	wantError(t, e.rest("DELETE", "/api/v1/property_users/"+ownerAccess, "", asOwner...), 422, "validation_error")

	// Withdrawing access: the colleague's keys lose the property on the
	// very next request.
	r = e.rest("DELETE", "/api/v1/property_users/"+colleagueAccess, "", asOwner...)
	if r.code != 200 {
		t.Fatalf("removing access: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", colleagueAll.GetApiKey()), 404, "resource_not_found")
	wantError(t, e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", colleagueOne.GetApiKey()), 404, "resource_not_found")
	if r := e.rest("GET", "/api/v1/properties", "", "user-api-key", colleagueOne.GetApiKey()); r.code != 200 || get(r.body, "meta", "total") != 0.0 {
		t.Fatalf("colleague's scoped key after removal: %d %s", r.code, r.raw)
	}

	// A user may leave: remove their own record, and no other.
	r = invite(asOwner, colleague.email, "user")
	if r.code != 201 {
		t.Fatalf("inviting again: %d %s", r.code, r.raw)
	}
	colleagueAccess = str(r.body, "data", "id")
	if r := e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", colleagueAll.GetApiKey()); r.code != 200 {
		t.Fatalf("colleague's key after the second invitation: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("DELETE", "/api/v1/property_users/"+ownerAccess, "", asColleague...), 403, "forbidden")
	if r := e.rest("DELETE", "/api/v1/property_users/"+colleagueAccess+"/", "", asColleague...); r.code != 200 {
		t.Fatalf("leaving: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", colleagueAll.GetApiKey()), 404, "resource_not_found")
	wantError(t, e.rest("GET", "/api/v1/property_users/"+colleagueAccess, "", asOwner...), 404, "resource_not_found")
	if r := e.rest("GET", "/api/v1/property_users?filter[property_id]="+p, "", asOwner...); r.code != 200 || get(r.body, "meta", "total") != 1.0 {
		t.Fatalf("the list after leaving: %d %s", r.code, r.raw)
	}

	// With a second owner, the first may step down.
	r = invite(asOwner, colleague.email, "owner")
	if r.code != 201 {
		t.Fatalf("inviting an owner: %d %s", r.code, r.raw)
	}
	r = e.rest("PUT", "/api/v1/property_users/"+ownerAccess+"/", `{"property_user":{"role":"user"}}`, asOwner...)
	if r.code != 200 || str(r.body, "data", "attributes", "role") != "user" {
		t.Fatalf("stepping down: %d %s", r.code, r.raw)
	}
	// The former owner still owns the property through their default
	// group, which holds it; the new owner may delete it.
	if r := e.rest("DELETE", "/api/v1/properties/"+p, "", asColleague...); r.code != 200 {
		t.Fatalf("the new owner deleting: %d %s", r.code, r.raw)
	}

	// gRPC: the same service, sessions only.
	_, err := keygatev1.NewPropertyUserServiceClient(e.conn).ListPropertyUsers(withKey(colleagueAll.GetApiKey()),
		&keygatev1.ListPropertyUsersRequest{Filter: &keygatev1.ListPropertyUsersRequest_Filter{PropertyId: p}})
	wantCode(t, err, codes.PermissionDenied)
}
