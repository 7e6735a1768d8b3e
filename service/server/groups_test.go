package server_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/store"
)

// testGroupsREST: a colleague invited to a group reaches its properties
// with their keys, and loses them on the very next request after the
// property leaves the group or the colleague leaves it; the rules of §6.
func testGroupsREST(t *testing.T, e *env) {
	owner, colleague, stranger := e.newUser(true), e.newUser(true), e.newUser(true)
	asOwner := []string{"Authorization", "Bearer " + owner.token}
	asColleague := []string{"Authorization", "Bearer " + colleague.token}
	asStranger := []string{"Authorization", "Bearer " + stranger.token}
	bay, cliff := e.newProperty(owner, "Bay Hotel"), e.newProperty(owner, "Cliff Inn")

	// Every property is in its creator's default group.
	r := e.rest("GET", "/api/v1/properties/"+bay, "", asOwner...)
	defaultID := str(r.body, "data", "relationships", "groups", "data", 0, "id")
	if r.code != 200 || defaultID == "" || propDiff(get(r.body, "data", "relationships", "groups", "data"), []any{
		map[string]any{"id": defaultID, "type": "group", "attributes": map[string]any{"id": defaultID, "title": "Default"}},
	}) != "" {
		t.Fatalf("a new property's groups: %d %s", r.code, r.raw)
	}
	r = e.rest("GET", "/api/v1/properties/options", "", asOwner...)
	if r.code != 200 || propDiff(get(r.body, "data", 0, "attributes", "group_ids"), []any{defaultID}) != "" {
		t.Fatalf("options: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("DELETE", "/api/v1/groups/"+defaultID, "", asOwner...), 400, "bad_request")

	// A group with both properties.
	r = e.rest("POST", "/api/v1/groups", `{"group":{"title":"Coast","colour":"blue"}}`, asOwner...)
	group := str(r.body, "data", "id")
	if r.code != 201 || str(r.body, "data", "type") != "group" || str(r.body, "data", "attributes", "title") != "Coast" ||
		str(r.body, "data", "attributes", "id") != group || propDiff(get(r.body, "meta", "ignored_attributes"), []any{"colour"}) != "" {
		t.Fatalf("create group: %d %s", r.code, r.raw)
	}
	link := func(who []string, method, g, p string) response {
		return e.rest(method, "/api/v1/groups/"+g+"/properties/"+p, "", who...)
	}
	for _, p := range []string{bay, cliff} {
		if r := link(asOwner, "POST", group, p); r.code != 200 || str(r.body, "meta", "message") != "Success" {
			t.Fatalf("link: %d %s", r.code, r.raw)
		}
	}
	wantError(t, link(asOwner, "POST", group, bay), 422, "validation_error")
	r = e.rest("GET", "/api/v1/groups/"+group, "", asOwner...)
	if r.code != 200 || propDiff(get(r.body, "data", "relationships", "properties", "data"), []any{
		map[string]any{"id": bay, "type": "property", "attributes": map[string]any{"id": bay, "title": "Bay Hotel"}},
		map[string]any{"id": cliff, "type": "property", "attributes": map[string]any{"id": cliff, "title": "Cliff Inn"}},
	}) != "" {
		t.Fatalf("get group: %d %s", r.code, r.raw)
	}

	// The colleague's all-properties key sees nothing of the owner's yet.
	colleagueAll := e.newKey(colleague)
	asColleagueKey := []string{"user-api-key", colleagueAll.GetApiKey()}
	if r := e.rest("GET", "/api/v1/properties", "", asColleagueKey...); r.code != 200 || get(r.body, "meta", "total") != 0.0 {
		t.Fatalf("colleague before the invitation: %d %s", r.code, r.raw)
	}
	invite := func(who []string, email, role string) response {
		return e.rest("POST", "/api/v1/group_users",
			fmt.Sprintf(`{"invite":{"group_id":%q,"user_email":%q,"role":%q}}`, group, email, role), who...)
	}
	// The answer never tells whether the account exists.
	r = invite(asOwner, colleague.email, "user")
	if r.code != 201 || str(r.body, "data", "type") != "group_user" || str(r.body, "data", "attributes", "status") != "pending" ||
		get(r.body, "data", "attributes", "user_id") != nil || str(r.body, "data", "attributes", "group_id") != group ||
		propDiff(get(r.body, "data", "relationships", "group", "data"), map[string]any{"id": group, "type": "group"}) != "" ||
		get(r.body, "data", "relationships", "user", "data") != nil {
		t.Fatalf("invite: %d %s", r.code, r.raw)
	}
	membership := str(r.body, "data", "id")
	if r := invite(asOwner, strings.ToUpper(colleague.email), "owner"); r.code != 400 || str(r.body, "errors", "details") != "User already invited" {
		t.Fatalf("inviting again: %d %s", r.code, r.raw)
	}
	r = e.rest("GET", "/api/v1/group_users/"+membership, "", asColleague...)
	if r.code != 200 || str(r.body, "data", "attributes", "status") != "active" || str(r.body, "data", "attributes", "user_id") != colleague.id ||
		propDiff(get(r.body, "data", "relationships", "user", "data"), map[string]any{"id": colleague.id, "type": "user", "email": colleague.email, "name": "Test"}) != "" {
		t.Fatalf("the colleague's membership: %d %s", r.code, r.raw)
	}
	want := map[string]bool{"id": true, "group_id": true, "user_id": true, "role": true, "overrides": true, "status": true}
	if attrs, _ := get(r.body, "data", "attributes").(map[string]any); len(attrs) != len(want) {
		t.Errorf("group user attributes: %s", r.raw)
	}

	// The colleague's keys follow at once.
	if r := e.rest("GET", "/api/v1/properties", "", asColleagueKey...); r.code != 200 || get(r.body, "meta", "total") != 2.0 {
		t.Fatalf("colleague's all-properties key after the invitation: %d %s", r.code, r.raw)
	}
	r = e.rest("GET", "/api/v1/groups", "", asColleagueKey...)
	if r.code != 200 || get(r.body, "meta", "total") != 2.0 || str(r.body, "data", 0, "attributes", "title") != "Coast" {
		t.Fatalf("colleague's key listing groups: %d %s", r.code, r.raw)
	}
	if r := e.rest("GET", "/api/v1/groups/options", "", asColleague...); r.code != 200 || len(get(r.body, "data").([]any)) != 2 {
		t.Fatalf("group options: %d %s", r.code, r.raw)
	}
	scoped := e.newKey(colleague, bay)
	asScoped := []string{"user-api-key", scoped.GetApiKey()}
	if r := e.rest("GET", "/api/v1/properties/"+bay, "", asScoped...); r.code != 200 {
		t.Fatalf("scoped key: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/groups", "", asScoped...), 403, "forbidden")
	wantError(t, e.rest("GET", "/api/v1/groups/"+group, "", asScoped...), 403, "forbidden")
	// A user of the group may not change it.
	wantError(t, e.rest("PUT", "/api/v1/groups/"+group, `{"group":{"title":"Mine"}}`, asColleague...), 403, "forbidden")
	wantError(t, link(asColleague, "DELETE", group, bay), 403, "forbidden")
	// Keys never write groups.
	wantError(t, e.rest("POST", "/api/v1/groups", `{"group":{"title":"By key"}}`, asColleagueKey...), 403, "forbidden")
	wantError(t, invite(asColleagueKey, stranger.email, "user"), 403, "forbidden")

	// Taking the property out of the group: the very next request is
	// refused.
	if r := link(asOwner, "DELETE", group, bay); r.code != 200 {
		t.Fatalf("unlink: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/properties/"+bay, "", asScoped...), 404, "resource_not_found")
	if r := e.rest("GET", "/api/v1/properties", "", asColleagueKey...); r.code != 200 || get(r.body, "meta", "total") != 1.0 {
		t.Fatalf("all-properties key after the unlink: %d %s", r.code, r.raw)
	}
	// Back in the group, back in reach.
	if r := link(asOwner, "POST", group, bay); r.code != 200 {
		t.Fatalf("link again: %d %s", r.code, r.raw)
	}
	if r := e.rest("GET", "/api/v1/properties/"+bay, "", asScoped...); r.code != 200 {
		t.Fatalf("scoped key after linking again: %d %s", r.code, r.raw)
	}

	// Promoted, the colleague may delete; lowered again, not.
	if r := e.rest("PUT", "/api/v1/group_users/"+membership, `{"group_user":{"role":"owner","status":"x"}}`, asOwner...); r.code != 200 ||
		str(r.body, "data", "attributes", "role") != "owner" {
		t.Fatalf("promote: %d %s", r.code, r.raw)
	}
	if r := e.rest("PUT", "/api/v1/group_users/"+membership, `{"group_user":{"role":"user"}}`, asOwner...); r.code != 200 {
		t.Fatalf("demote: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("DELETE", "/api/v1/properties/"+cliff, "", asColleagueKey...), 403, "forbidden")

	r = e.rest("GET", "/api/v1/group_users?filter[group_id]="+group+"&pagination[limit]=1", "", asColleague...)
	if r.code != 200 || propDiff(get(r.body, "meta"), map[string]any{"page": 1.0, "limit": 1.0, "total": 2.0}) != "" {
		t.Fatalf("group users: %d %s", r.code, r.raw)
	}
	ownerMembership := str(r.body, "data", 0, "id")
	wantError(t, e.rest("DELETE", "/api/v1/group_users/"+ownerMembership, "", asOwner...), 422, "validation_error")
	wantError(t, e.rest("PUT", "/api/v1/group_users/"+ownerMembership, `{"group_user":{"role":"user"}}`, asOwner...), 422, "validation_error")
	wantError(t, e.rest("DELETE", "/api/v1/group_users/"+ownerMembership, "", asColleague...), 403, "forbidden")

	// Removing the colleague from the group: the very next request is
	// refused.
	if r := e.rest("DELETE", "/api/v1/group_users/"+membership, "", asOwner...); r.code != 200 {
		t.Fatalf("remove group user: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/properties/"+bay, "", asScoped...), 404, "resource_not_found")
	if r := e.rest("GET", "/api/v1/properties", "", asColleagueKey...); r.code != 200 || get(r.body, "meta", "total") != 0.0 {
		t.Fatalf("all-properties key after the removal: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/groups/"+group, "", asColleague...), 404, "resource_not_found")

	// A member may leave.
	r = invite(asOwner, colleague.email, "user")
	again := str(r.body, "data", "id")
	if r := e.rest("DELETE", "/api/v1/group_users/"+again, "", asColleague...); r.code != 200 {
		t.Fatalf("leaving: %d %s", r.code, r.raw)
	}

	// A group with properties cannot be deleted; a property keeps a group.
	wantError(t, e.rest("DELETE", "/api/v1/groups/"+group, "", asOwner...), 400, "bad_request")
	if r := link(asOwner, "DELETE", defaultID, cliff); r.code != 200 {
		t.Fatalf("unlink from the default group: %d %s", r.code, r.raw)
	}
	wantError(t, link(asOwner, "DELETE", group, cliff), 400, "bad_request")
	wantError(t, link(asOwner, "DELETE", defaultID, cliff), 404, "resource_not_found")

	// A property created in a group the caller owns; group_id is create-only.
	r = e.rest("POST", "/api/v1/properties", fmt.Sprintf(`{"property":{"title":"Dune Lodge","currency":"EUR","group_id":%q}}`, group), asOwner...)
	dune := str(r.body, "data", "id")
	if r.code != 201 || str(r.body, "data", "relationships", "groups", "data", 0, "id") != group || len(get(r.body, "data", "relationships", "groups", "data").([]any)) != 1 {
		t.Fatalf("create in a group: %d %s", r.code, r.raw)
	}
	r = e.rest("PUT", "/api/v1/properties/"+dune, fmt.Sprintf(`{"property":{"title":"Dune","group_id":%q}}`, defaultID), asOwner...)
	if r.code != 200 || str(r.body, "data", "relationships", "groups", "data", 0, "id") != group || get(r.body, "meta") != nil {
		t.Fatalf("group_id on update: %d %s", r.code, r.raw)
	}
	strangerGroup := str(e.rest("POST", "/api/v1/groups", `{"group":{"title":"Elsewhere"}}`, asStranger...).body, "data", "id")
	wantError(t, e.rest("POST", "/api/v1/properties", fmt.Sprintf(`{"property":{"title":"X","currency":"EUR","group_id":%q}}`, strangerGroup), asOwner...), 422, "validation_error")
	wantError(t, e.rest("POST", "/api/v1/properties", `{"property":{"title":"X","currency":"EUR","group_id":"nope"}}`, asOwner...), 422, "validation_error")

	// Bad input.
	wantError(t, e.rest("GET", "/api/v1/groups/"+store.NewID(), "", asOwner...), 404, "resource_not_found")
	wantError(t, e.rest("GET", "/api/v1/groups/not-a-uuid", "", asOwner...), 404, "resource_not_found")
	wantError(t, e.rest("GET", "/api/v1/groups/"+strangerGroup, "", asOwner...), 404, "resource_not_found")
	wantError(t, e.rest("DELETE", "/api/v1/groups/"+strangerGroup, "", asOwner...), 404, "resource_not_found")
	wantError(t, link(asOwner, "POST", strangerGroup, bay), 404, "resource_not_found")
	wantError(t, link(asStranger, "POST", strangerGroup, bay), 404, "resource_not_found")
	wantError(t, link(asOwner, "POST", group, "not-a-uuid"), 404, "resource_not_found")
	wantError(t, e.rest("GET", "/api/v1/group_users?filter[group_id]="+strangerGroup, "", asOwner...), 404, "resource_not_found")
	wantError(t, e.rest("GET", "/api/v1/group_users/not-a-uuid", "", asOwner...), 404, "resource_not_found")
	long := strings.Repeat("é", 256)
	r = e.rest("POST", "/api/v1/groups", fmt.Sprintf(`{"group":{"title":%q}}`, long), asOwner...)
	if wantError(t, r, 422, "validation_error"); get(r.body, "errors", "details", "title") == nil {
		t.Fatalf("long title: %s", r.raw)
	}
	wantError(t, e.rest("PUT", "/api/v1/groups/"+group, fmt.Sprintf(`{"group":{"title":%q}}`, long), asOwner...), 422, "validation_error")
	wantError(t, e.rest("POST", "/api/v1/groups", `{"group":{"title":""}}`, asOwner...), 422, "validation_error")
	wantError(t, e.rest("POST", "/api/v1/groups", `{"grupo":{"title":"x"}}`, asOwner...), 400, "bad_request")
	if r := e.rest("PUT", "/api/v1/groups/"+group, `{"group":{"title":"`+strings.Repeat("é", 255)+`"}}`, asOwner...); r.code != 200 {
		t.Fatalf("a title of 255 characters: %d %s", r.code, r.raw)
	}
	// An empty group that is not a default group can be deleted.
	if r := e.rest("DELETE", "/api/v1/groups/"+strangerGroup, "", asStranger...); r.code != 200 || str(r.body, "meta", "message") != "Success" {
		t.Fatalf("delete an empty group: %d %s", r.code, r.raw)
	}
}

// testGroupsGRPC: the same access model over gRPC.
func testGroupsGRPC(t *testing.T, e *env) {
	groups := keygatev1.NewGroupServiceClient(e.conn)
	owner, colleague := e.newUser(true), e.newUser(true)
	ownerCtx := withSession(owner.token)
	p := e.newProperty(owner, "Harbour")
	g, err := groups.CreateGroup(ownerCtx, &keygatev1.CreateGroupRequest{Group: &keygatev1.GroupInput{Title: proto.String("Coast")}})
	if err != nil {
		t.Fatal(err)
	}
	groupID := g.GetGroup().GetId()
	if _, err := groups.LinkGroupProperty(ownerCtx, &keygatev1.LinkGroupPropertyRequest{GroupId: groupID, PropertyId: p}); err != nil {
		t.Fatal(err)
	}
	gu, err := groups.CreateGroupUser(ownerCtx, &keygatev1.CreateGroupUserRequest{Invite: &keygatev1.CreateGroupUserRequest_Invite{
		GroupId: groupID, UserEmail: colleague.email, Role: "user",
	}})
	if err != nil {
		t.Fatal(err)
	}
	all, scoped := e.newKey(colleague), e.newKey(colleague, p)
	list, err := e.props.ListProperties(withKey(all.GetApiKey()), &keygatev1.ListPropertiesRequest{})
	if err != nil || len(list.GetProperties()) != 1 || list.GetProperties()[0].GetId() != p {
		t.Fatalf("colleague's all-properties key: %v %v", list, err)
	}
	if _, err := e.props.GetProperty(withKey(scoped.GetApiKey()), &keygatev1.GetPropertyRequest{Id: p}); err != nil {
		t.Fatalf("colleague's scoped key: %v", err)
	}
	_, err = groups.ListGroups(withKey(scoped.GetApiKey()), &keygatev1.ListGroupsRequest{})
	wantCode(t, err, codes.PermissionDenied)
	_, err = groups.CreateGroup(withKey(all.GetApiKey()), &keygatev1.CreateGroupRequest{Group: &keygatev1.GroupInput{Title: proto.String("x")}})
	wantCode(t, err, codes.PermissionDenied)
	_, err = groups.DeleteGroup(ownerCtx, &keygatev1.DeleteGroupRequest{Id: groupID})
	wantCode(t, err, codes.InvalidArgument)
	_, err = groups.LinkGroupProperty(ownerCtx, &keygatev1.LinkGroupPropertyRequest{GroupId: groupID, PropertyId: p})
	wantCode(t, err, codes.InvalidArgument)

	// Removing the colleague: the scoped key is refused on the very next
	// call, and the all-properties key sees nothing.
	members, err := groups.ListGroupUsers(ownerCtx, &keygatev1.ListGroupUsersRequest{Filter: &keygatev1.ListGroupUsersRequest_Filter{GroupId: groupID}})
	if err != nil || len(members.GetGroupUsers()) != 2 {
		t.Fatalf("ListGroupUsers: %v %v", members, err)
	}
	var membership string
	for _, m := range members.GetGroupUsers() {
		if m.GetUserId() == colleague.id {
			membership = m.GetId()
		}
	}
	if membership == "" || gu.GetGroupUser().GetStatus() != "pending" {
		t.Fatalf("no active membership of the colleague: %v (invite answer %v)", members, gu)
	}
	if _, err := groups.RemoveGroupUser(ownerCtx, &keygatev1.RemoveGroupUserRequest{Id: membership}); err != nil {
		t.Fatal(err)
	}
	_, err = e.props.GetProperty(withKey(scoped.GetApiKey()), &keygatev1.GetPropertyRequest{Id: p})
	wantCode(t, err, codes.NotFound)
	list, err = e.props.ListProperties(withKey(all.GetApiKey()), &keygatev1.ListPropertiesRequest{})
	if err != nil || len(list.GetProperties()) != 0 {
		t.Fatalf("all-properties key after the removal: %v %v", list, err)
	}
}
