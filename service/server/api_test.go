package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/auth"
	"github.com/keygate/keygate/service/server"
	"github.com/keygate/keygate/service/store"
	"github.com/keygate/keygate/service/store/memory"
)

func TestAPIMemory(t *testing.T) {
	testAPI(t, func(*testing.T) store.Store { return memory.New() })
}

// testAPI runs every end-to-end test against servers on stores from
// newStore, one fresh store per test.
func testAPI(t *testing.T, newStore func(*testing.T) store.Store) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"FlowREST", testFlowREST},
		{"FlowGRPC", testFlowGRPC},
		{"ErrorsREST", testErrorsREST},
		{"ErrorsGRPC", testErrorsGRPC},
		{"BadInput", testBadInput},
		{"RevokeUnderLoad", testRevokeUnderLoad},
		{"Subscription", testSubscription},
		{"Properties", testProperties},
		{"Sessions", testSessions},
		{"Plumbing", testPlumbing},
		{"Sharing", testSharing},
		{"GroupsREST", testGroupsREST},
		{"GroupsGRPC", testGroupsGRPC},
		{"PropertyAttributes", testPropertyAttributes},
		{"PropertyListQueries", testPropertyListQueries},
		{"PropertyOptions", testPropertyOptions},
		{"KeyExpiry", testKeyExpiry},
		{"ReadOnlyKeys", testReadOnlyKeys},
		{"AllowedAddresses", testAllowedAddresses},
		{"UpdateKey", testUpdateKey},
		{"UpdateKeyREST", testUpdateKeyREST},
		{"RollKey", testRollKey},
		{"AuditTrail", testAuditTrail},
		{"AuditIsolation", testAuditIsolation},
		{"AuditNoSecrets", testAuditNoSecrets},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, newStore(t))
			tc.fn(t, e)
		})
	}
}

// testFlowREST is the newcomer's walkthrough over REST: sign in, create a
// property, an all-properties key and a one-property key, use both,
// withdraw one and see it refused on the very next call.
func testFlowREST(t *testing.T, e *env) {
	u := e.newUser(true)
	r := e.rest("POST", "/api/v1/sign_in", fmt.Sprintf(`{"user":{"email":%q,"password":%q}}`, strings.ToUpper(u.email), u.password))
	if r.code != 200 || str(r.body, "data", "type") != "session" {
		t.Fatalf("sign_in: %d %s", r.code, r.raw)
	}
	token := str(r.body, "data", "attributes", "token")
	session := []string{"Authorization", "Bearer " + token}

	r = e.rest("POST", "/api/v1/properties", `{"property":{"title":"Seaside","currency":"EUR"}}`, session...)
	if r.code != 201 || str(r.body, "data", "type") != "property" || str(r.body, "data", "attributes", "title") != "Seaside" {
		t.Fatalf("create property: %d %s", r.code, r.raw)
	}
	seaside := str(r.body, "data", "id")
	if str(r.body, "data", "attributes", "id") != seaside {
		t.Fatalf("data.id and attributes.id differ: %s", r.raw)
	}
	r = e.rest("POST", "/api/v1/properties", `{"property":{"title":"Alpine","currency":"CHF"}}`, session...)
	alpine := str(r.body, "data", "id")

	r = e.rest("POST", "/api/v1/api_keys", `{"api_key":{"name":"PMS","all_properties":true}}`, session...)
	if r.code != 201 || str(r.body, "data", "type") != "api_key" {
		t.Fatalf("create key: %d %s", r.code, r.raw)
	}
	keyAll := str(r.body, "data", "attributes", "api_key")
	if auth.CheckSecret(auth.APIKeyPrefix, keyAll) != nil {
		t.Fatalf("created key %q is not well formed", keyAll)
	}
	if str(r.body, "data", "attributes", "status") != "active" || get(r.body, "data", "attributes", "revoked_at") != nil {
		t.Fatalf("new key: %s", r.raw)
	}
	r = e.rest("POST", "/api/v1/api_keys", fmt.Sprintf(`{"api_key":{"name":"RMS","property_ids":[%q]}}`, seaside), session...)
	if r.code != 201 {
		t.Fatalf("create scoped key: %d %s", r.code, r.raw)
	}
	keyOne, keyOneID := str(r.body, "data", "attributes", "api_key"), str(r.body, "data", "id")

	// The all-properties key sees both, by title.
	r = e.rest("GET", "/api/v1/properties", "", "user-api-key", keyAll)
	if r.code != 200 || str(r.body, "data", 0, "attributes", "title") != "Alpine" || str(r.body, "data", 1, "attributes", "title") != "Seaside" {
		t.Fatalf("list with all-properties key: %d %s", r.code, r.raw)
	}
	if get(r.body, "meta", "total") != 2.0 || get(r.body, "meta", "page") != 1.0 || get(r.body, "meta", "limit") != 10.0 {
		t.Fatalf("list meta: %s", r.raw)
	}
	// The one-property key sees one, and is refused the other.
	r = e.rest("GET", "/api/v1/properties", "", "user-api-key", keyOne)
	if r.code != 200 || get(r.body, "meta", "total") != 1.0 || str(r.body, "data", 0, "id") != seaside {
		t.Fatalf("list with scoped key: %d %s", r.code, r.raw)
	}
	if r = e.rest("GET", "/api/v1/properties/"+seaside, "", "user-api-key", keyOne); r.code != 200 {
		t.Fatalf("get in scope: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/properties/"+alpine, "", "user-api-key", keyOne), 403, "forbidden")

	// Withdraw it: it stays listed, revoked, and the next call is refused.
	r = e.rest("DELETE", "/api/v1/api_keys/"+keyOneID, "", session...)
	if r.code != 200 || str(r.body, "data", "attributes", "status") != "revoked" || str(r.body, "data", "attributes", "revoked_at") == "" {
		t.Fatalf("revoke: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/properties/"+seaside, "", "user-api-key", keyOne), 401, "unauthorized")
	again := e.rest("DELETE", "/api/v1/api_keys/"+keyOneID, "", session...)
	if again.code != 200 || str(again.body, "data", "attributes", "revoked_at") != str(r.body, "data", "attributes", "revoked_at") {
		t.Fatalf("second revoke changed the key: %s then %s", r.raw, again.raw)
	}
	r = e.rest("GET", "/api/v1/api_keys", "", session...)
	if r.code != 200 || get(r.body, "meta", "total") != 2.0 {
		t.Fatalf("list keys: %d %s", r.code, r.raw)
	}
	statuses := map[string]string{}
	for i := 0; i < 2; i++ {
		statuses[str(r.body, "data", i, "id")] = str(r.body, "data", i, "attributes", "status")
	}
	if statuses[keyOneID] != "revoked" || len(statuses) != 2 {
		t.Fatalf("withdrawn key not listed as revoked: %s", r.raw)
	}
	// The other key is untouched.
	if r = e.rest("GET", "/api/v1/properties/"+alpine, "", "user-api-key", keyAll); r.code != 200 {
		t.Fatalf("all-properties key after the other's revocation: %d %s", r.code, r.raw)
	}
	// The plaintext keys appear in the create responses only.
	for _, path := range []string{"/api/v1/api_keys", "/api/v1/api_keys/" + keyOneID} {
		r = e.rest("GET", path, "", session...)
		if strings.Contains(r.raw, keyAll) || strings.Contains(r.raw, keyOne) || strings.Contains(r.raw, `"api_key":"`) {
			t.Fatalf("GET %s shows a secret: %s", path, r.raw)
		}
	}
	for _, secret := range []string{keyAll, keyOne, token, u.password} {
		if strings.Contains(e.logs.String(), secret) {
			t.Fatalf("the log contains a secret")
		}
	}
}

// testFlowGRPC is the same flow over a real gRPC connection.
func testFlowGRPC(t *testing.T, e *env) {
	u := e.newUser(true)
	seaside, alpine := e.newProperty(u, "Seaside"), e.newProperty(u, "Alpine")
	all, one := e.newKey(u), e.newKey(u, seaside)
	if all.GetApiKey() == "" || one.GetApiKey() == "" || all.GetStatus() != keygatev1.ApiKeyStatus_API_KEY_STATUS_ACTIVE {
		t.Fatalf("created keys: %v %v", all, one)
	}
	list, err := e.props.ListProperties(withKey(all.GetApiKey()), &keygatev1.ListPropertiesRequest{})
	if err != nil || len(list.GetProperties()) != 2 || list.GetProperties()[0].GetTitle() != "Alpine" || list.GetMeta().GetTotal() != 2 {
		t.Fatalf("ListProperties with all-properties key: %v %v", list, err)
	}
	list, err = e.props.ListProperties(withKey(one.GetApiKey()), &keygatev1.ListPropertiesRequest{})
	if err != nil || len(list.GetProperties()) != 1 || list.GetProperties()[0].GetId() != seaside {
		t.Fatalf("ListProperties with scoped key: %v %v", list, err)
	}
	_, err = e.props.GetProperty(withKey(one.GetApiKey()), &keygatev1.GetPropertyRequest{Id: alpine})
	wantCode(t, err, codes.PermissionDenied)
	who, err := e.auth.WhoAmI(withKey(one.GetApiKey()), &keygatev1.WhoAmIRequest{})
	if err != nil || who.GetCaller().GetUser().GetId() != u.id || who.GetCaller().GetApiKey().GetId() != one.GetId() ||
		who.GetCaller().GetApiKey().ApiKey != nil || len(who.GetCaller().GetApiKey().GetPropertyIds()) != 1 {
		t.Fatalf("WhoAmI: %v %v", who, err)
	}

	rev, err := e.keys.RevokeApiKey(withSession(u.token), &keygatev1.RevokeApiKeyRequest{Id: one.GetId()})
	if err != nil || rev.GetApiKey().GetStatus() != keygatev1.ApiKeyStatus_API_KEY_STATUS_REVOKED || rev.GetApiKey().GetRevokedAt() == nil {
		t.Fatalf("RevokeApiKey: %v %v", rev, err)
	}
	_, err = e.props.GetProperty(withKey(one.GetApiKey()), &keygatev1.GetPropertyRequest{Id: seaside})
	wantCode(t, err, codes.Unauthenticated)
	got, err := e.keys.GetApiKey(withSession(u.token), &keygatev1.GetApiKeyRequest{Id: one.GetId()})
	if err != nil || got.GetApiKey().GetStatus() != keygatev1.ApiKeyStatus_API_KEY_STATUS_REVOKED || got.GetApiKey().ApiKey != nil {
		t.Fatalf("GetApiKey after revoke: %v %v", got, err)
	}
	keys, err := e.keys.ListApiKeys(withSession(u.token), &keygatev1.ListApiKeysRequest{})
	if err != nil || len(keys.GetApiKeys()) != 2 {
		t.Fatalf("ListApiKeys: %v %v", keys, err)
	}
	for _, k := range keys.GetApiKeys() {
		if k.ApiKey != nil {
			t.Fatalf("ListApiKeys shows a secret")
		}
	}
}

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("got %v (%v), want %v", got, err, want)
	}
}

// wantViolations checks INVALID_ARGUMENT with exactly these fields.
func wantViolations(t *testing.T, err error, fields ...string) {
	t.Helper()
	wantCode(t, err, codes.InvalidArgument)
	got := map[string]bool{}
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				got[v.GetField()] = true
			}
		}
	}
	if len(got) != len(fields) {
		t.Fatalf("violations %v, want %v", got, fields)
	}
	for _, f := range fields {
		if !got[f] {
			t.Fatalf("violations %v, want %v", got, fields)
		}
	}
}

// testErrorsREST covers every row of the error table over HTTP.
func testErrorsREST(t *testing.T, e *env) {
	u, other := e.newUser(true), e.newUser(true)
	mine, theirs := e.newProperty(u, "Mine"), e.newProperty(other, "Theirs")
	second := e.newProperty(u, "Second")
	all, one := e.newKey(u).GetApiKey(), e.newKey(u, mine).GetApiKey()
	revoked := e.newKey(u)
	if _, err := e.keys.RevokeApiKey(withSession(u.token), &keygatev1.RevokeApiKeyRequest{Id: revoked.GetId()}); err != nil {
		t.Fatal(err)
	}
	session := []string{"Authorization", "Bearer " + u.token}
	badChecksum := all[:len(all)-1] + string("0123456789"[(strings.IndexByte("0123456789", all[len(all)-1])+1)%10])
	if all[len(all)-1] < '0' || all[len(all)-1] > '9' {
		badChecksum = all[:len(all)-1] + "0"
	}
	unknown := auth.NewSecret(auth.APIKeyPrefix)

	for _, tc := range []struct {
		name, method, path, body string
		headers                  []string
		code                     int
		errCode                  string
	}{
		{"no credential", "GET", "/api/v1/properties", "", nil, 401, "unauthorized"},
		{"malformed key", "GET", "/api/v1/properties", "", []string{"user-api-key", "not-a-key"}, 401, "unauthorized"},
		{"wrong checksum", "GET", "/api/v1/properties", "", []string{"user-api-key", badChecksum}, 401, "unauthorized"},
		{"unknown key", "GET", "/api/v1/properties", "", []string{"user-api-key", unknown}, 401, "unauthorized"},
		{"revoked key", "GET", "/api/v1/properties", "", []string{"user-api-key", revoked.GetApiKey()}, 401, "unauthorized"},
		{"both credentials", "GET", "/api/v1/properties", "", []string{"user-api-key", all, "Authorization", "Bearer " + u.token}, 401, "unauthorized"},
		{"both credentials on sign_in", "POST", "/api/v1/sign_in", fmt.Sprintf(`{"user":{"email":%q,"password":%q}}`, u.email, u.password), []string{"user-api-key", all, "Authorization", "Bearer " + u.token}, 401, "unauthorized"},
		{"malformed bearer", "GET", "/api/v1/properties", "", []string{"Authorization", "Bearer nope"}, 401, "unauthorized"},
		{"out of scope", "GET", "/api/v1/properties/" + second, "", []string{"user-api-key", one}, 403, "forbidden"},
		{"out of scope update", "PUT", "/api/v1/properties/" + second, `{"property":{"title":"x","currency":"EUR"}}`, []string{"user-api-key", one}, 403, "forbidden"},
		{"out of scope delete", "DELETE", "/api/v1/properties/" + second, "", []string{"user-api-key", one}, 403, "forbidden"},
		{"other user's property, session", "GET", "/api/v1/properties/" + theirs, "", session, 404, "resource_not_found"},
		{"other user's property, key", "GET", "/api/v1/properties/" + theirs, "", []string{"user-api-key", all}, 404, "resource_not_found"},
		{"other user's property, scoped key", "DELETE", "/api/v1/properties/" + theirs, "", []string{"user-api-key", one}, 404, "resource_not_found"},
		{"scoped key creates property", "POST", "/api/v1/properties", `{"property":{"title":"x","currency":"EUR"}}`, []string{"user-api-key", one}, 403, "forbidden"},
		{"key lists keys", "GET", "/api/v1/api_keys", "", []string{"user-api-key", all}, 403, "forbidden"},
		{"key creates key", "POST", "/api/v1/api_keys", `{"api_key":{"name":"x","all_properties":true}}`, []string{"user-api-key", all}, 403, "forbidden"},
		{"key revokes key", "DELETE", "/api/v1/api_keys/" + revoked.GetId(), "", []string{"user-api-key", all}, 403, "forbidden"},
		{"validation", "POST", "/api/v1/properties", `{"property":{"title":"","currency":"XYZ"}}`, session, 422, "validation_error"},
		{"malformed JSON", "POST", "/api/v1/properties", `{"property":`, session, 400, "bad_request"},
		{"not the shape", "POST", "/api/v1/properties", `{"property":"Seaside"}`, session, 400, "bad_request"},
		{"unknown field in keygate's own body", "POST", "/api/v1/api_keys", `{"api_key":{"name":"x","all_properties":true,"stars":5}}`, session, 400, "bad_request"},
		{"wrong wrapper", "POST", "/api/v1/properties", `{"title":"x","currency":"EUR"}`, session, 400, "bad_request"},
		{"unknown top-level field", "POST", "/api/v1/api_keys", `{"api_key":{"name":"x","all_properties":true},"x":1}`, session, 400, "bad_request"},
		{"unparsable query", "GET", "/api/v1/properties?pagination[page]=two", "", session, 400, "bad_request"},
		{"no such key", "GET", "/api/v1/api_keys/" + store.NewID(), "", session, 404, "resource_not_found"},
		{"other user's key", "GET", "/api/v1/api_keys/" + revoked.GetId(), "", []string{"Authorization", "Bearer " + other.token}, 404, "resource_not_found"},
		{"no such path", "GET", "/api/v1/nothing", "", session, 404, "resource_not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.rest(tc.method, tc.path, tc.body, tc.headers...)
			wantError(t, r, tc.code, tc.errCode)
			for _, secret := range []string{all, one, unknown, badChecksum, u.token} {
				if strings.Contains(r.raw, secret) {
					t.Fatalf("error echoes a secret: %s", r.raw)
				}
			}
		})
	}

	r := e.rest("POST", "/api/v1/properties", `{"property":{"title":"","currency":"XYZ"}}`, session...)
	details, _ := get(r.body, "errors", "details").(map[string]any)
	if len(details) != 2 || get(details, "title", 0) != "can't be blank" || get(details, "currency", 0) == nil {
		t.Fatalf("validation details: %s", r.raw)
	}
	r = e.rest("POST", "/api/v1/api_keys", `{"api_key":{"name":"x","all_properties":false}}`, session...)
	wantError(t, r, 422, "validation_error")
	if get(r.body, "errors", "details", "property_ids", 0) == nil {
		t.Fatalf("a scoped key without properties: %s", r.raw)
	}
	r = e.rest("POST", "/api/v1/api_keys", fmt.Sprintf(`{"api_key":{"name":"x","property_ids":[%q]}}`, theirs), session...)
	wantError(t, r, 422, "validation_error")
	if get(r.body, "errors", "details", "property_ids", 0) == nil {
		t.Fatalf("a key for another user's property: %s", r.raw)
	}
	// An all-properties key may create a property.
	if r := e.rest("POST", "/api/v1/properties", `{"property":{"title":"By key","currency":"EUR"}}`, "user-api-key", all); r.code != 201 {
		t.Fatalf("all-properties key creating a property: %d %s", r.code, r.raw)
	}
}

// testErrorsGRPC covers the error table over gRPC.
func testErrorsGRPC(t *testing.T, e *env) {
	u, other := e.newUser(true), e.newUser(true)
	mine, theirs := e.newProperty(u, "Mine"), e.newProperty(other, "Theirs")
	second := e.newProperty(u, "Second")
	all, one := e.newKey(u).GetApiKey(), e.newKey(u, mine).GetApiKey()
	revoked := e.newKey(u)
	if _, err := e.keys.RevokeApiKey(withSession(u.token), &keygatev1.RevokeApiKeyRequest{Id: revoked.GetId()}); err != nil {
		t.Fatal(err)
	}
	list := func(ctx context.Context) error {
		_, err := e.props.ListProperties(ctx, &keygatev1.ListPropertiesRequest{})
		return err
	}
	getProp := func(ctx context.Context, id string) error {
		_, err := e.props.GetProperty(ctx, &keygatev1.GetPropertyRequest{Id: id})
		return err
	}
	both := withKey(all)
	both = metadata.AppendToOutgoingContext(both, "authorization", "Bearer "+u.token)
	createProp := func(ctx context.Context, title, currency string) error {
		_, err := e.props.CreateProperty(ctx, &keygatev1.CreatePropertyRequest{Property: &keygatev1.PropertyInput{Title: proto.String(title), Currency: proto.String(currency)}})
		return err
	}
	for _, tc := range []struct {
		name string
		err  error
		want codes.Code
	}{
		{"no credential", list(context.Background()), codes.Unauthenticated},
		{"malformed key", list(withKey("kg_nope")), codes.Unauthenticated},
		{"unknown key", list(withKey(auth.NewSecret(auth.APIKeyPrefix))), codes.Unauthenticated},
		{"session token as key", list(withKey(u.token)), codes.Unauthenticated},
		{"key as bearer", list(withSession(all)), codes.Unauthenticated},
		{"revoked key", list(withKey(revoked.GetApiKey())), codes.Unauthenticated},
		{"both credentials", list(both), codes.Unauthenticated},
		{"out of scope", getProp(withKey(one), second), codes.PermissionDenied},
		{"other user's property", getProp(withKey(all), theirs), codes.NotFound},
		{"other user's property, session", getProp(withSession(u.token), theirs), codes.NotFound},
		{"missing property", getProp(withSession(u.token), store.NewID()), codes.NotFound},
		{"not a uuid", getProp(withSession(u.token), "not-a-uuid"), codes.NotFound},
		{"upper-case uuid", getProp(withSession(u.token), strings.ToUpper(mine)), codes.NotFound},
		{"scoped key creates property", createProp(withKey(one), "x", "EUR"), codes.PermissionDenied},
		{"key lists keys", func() error {
			_, err := e.keys.ListApiKeys(withKey(all), &keygatev1.ListApiKeysRequest{})
			return err
		}(), codes.PermissionDenied},
		{"admin without token", func() error {
			_, err := e.admin.SetSubscription(withSession(u.token), &keygatev1.SetSubscriptionRequest{UserId: u.id, SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE})
			return err
		}(), codes.Unauthenticated},
		{"admin with a key", func() error {
			_, err := e.admin.SetSubscription(withKey(all), &keygatev1.SetSubscriptionRequest{UserId: u.id, SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE})
			return err
		}(), codes.Unauthenticated},
		{"duplicate email", func() error {
			_, err := e.admin.CreateUser(withAdmin(), &keygatev1.CreateUserRequest{Email: strings.ToUpper(u.email), Password: "long enough", SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE})
			return err
		}(), codes.AlreadyExists},
		{"admin token on a user RPC", list(withAdmin()), codes.Unauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.err, tc.want) })
	}
	wantViolations(t, createProp(withSession(u.token), strings.Repeat("é", 256), "eur"), "title", "currency")
	_, err := e.admin.CreateUser(withAdmin(), &keygatev1.CreateUserRequest{Email: "not an email", Password: "short"})
	wantViolations(t, err, "email", "password", "subscription_status")
	_, err = e.keys.CreateApiKey(withSession(u.token), &keygatev1.CreateApiKeyRequest{ApiKey: &keygatev1.ApiKeyInput{
		Name: " ", AllProperties: true, PropertyIds: []string{mine},
	}})
	wantViolations(t, err, "name", "property_ids")
}

// testSubscription: keys of an inactive user are refused and work again
// once the subscription is back; sessions carry on, and withdrawing a key
// is always possible.
func testSubscription(t *testing.T, e *env) {
	u := e.newUser(true)
	p := e.newProperty(u, "Hotel")
	k := e.newKey(u)
	setSub := func(active bool) {
		t.Helper()
		s := keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_INACTIVE
		if active {
			s = keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE
		}
		resp, err := e.admin.SetSubscription(withAdmin(), &keygatev1.SetSubscriptionRequest{UserId: u.id, SubscriptionStatus: s})
		if err != nil || resp.GetUser().GetSubscriptionStatus() != s {
			t.Fatalf("SetSubscription: %v %v", resp, err)
		}
	}
	setSub(false)
	wantError(t, e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", k.GetApiKey()), 403, "forbidden")
	r := e.rest("POST", "/api/v1/api_keys", `{"api_key":{"name":"x","all_properties":true}}`, "Authorization", "Bearer "+u.token)
	wantError(t, r, 403, "forbidden")
	if !strings.Contains(str(r.body, "errors", "details"), "subscription") {
		t.Fatalf("refusal does not mention the subscription: %s", r.raw)
	}
	if r := e.rest("GET", "/api/v1/properties", "", "Authorization", "Bearer "+u.token); r.code != 200 {
		t.Fatalf("session of an inactive user: %d %s", r.code, r.raw)
	}
	setSub(true)
	if r := e.rest("GET", "/api/v1/properties/"+p, "", "user-api-key", k.GetApiKey()); r.code != 200 {
		t.Fatalf("key after reactivation: %d %s", r.code, r.raw)
	}
	setSub(false)
	if r := e.rest("DELETE", "/api/v1/api_keys/"+k.GetId(), "", "Authorization", "Bearer "+u.token); r.code != 200 {
		t.Fatalf("revoke while inactive: %d %s", r.code, r.raw)
	}
	_, err := e.admin.SetSubscription(withAdmin(), &keygatev1.SetSubscriptionRequest{UserId: store.NewID(), SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE})
	wantCode(t, err, codes.NotFound)
	_, err = e.admin.SetSubscription(withAdmin(), &keygatev1.SetSubscriptionRequest{UserId: u.id})
	wantViolations(t, err, "subscription_status")
}

// testProperties: CRUD over REST, pages, scope after deletion.
func testProperties(t *testing.T, e *env) {
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	var ids []string
	for i := 0; i < 12; i++ {
		ids = append(ids, e.newProperty(u, fmt.Sprintf("Hotel %02d", 11-i)))
	}
	r := e.rest("GET", "/api/v1/properties/?pagination[page]=2&pagination%5Blimit%5D=5", "", session...)
	if r.code != 200 || get(r.body, "meta", "total") != 12.0 || get(r.body, "meta", "page") != 2.0 || get(r.body, "meta", "limit") != 5.0 {
		t.Fatalf("page 2: %d %s", r.code, r.raw)
	}
	if l, _ := get(r.body, "data").([]any); len(l) != 5 || str(r.body, "data", 0, "attributes", "title") != "Hotel 05" {
		t.Fatalf("page 2 holds the wrong items: %s", r.raw)
	}
	r = e.rest("GET", "/api/v1/properties?pagination[page]=3&pagination[limit]=5", "", session...)
	if l, _ := get(r.body, "data").([]any); len(l) != 2 {
		t.Fatalf("last page: %s", r.raw)
	}
	r = e.rest("GET", "/api/v1/properties?pagination[page]=9", "", session...)
	if l, ok := get(r.body, "data").([]any); r.code != 200 || !ok || len(l) != 0 {
		t.Fatalf("page past the end: %s", r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/properties?pagination[page]=-1", "", session...), 422, "validation_error")

	r = e.rest("PUT", "/api/v1/properties/"+ids[0]+"/", `{"property":{"title":"Renamed","currency":"USD"}}`, session...)
	if r.code != 200 || str(r.body, "data", "attributes", "title") != "Renamed" || str(r.body, "data", "attributes", "currency") != "USD" {
		t.Fatalf("update: %d %s", r.code, r.raw)
	}
	// A partial update keeps what it does not name; null clears, but not a
	// required attribute.
	r = e.rest("PUT", "/api/v1/properties/"+ids[0], `{"property":{"title":"Renamed again"}}`, session...)
	if r.code != 200 || str(r.body, "data", "attributes", "title") != "Renamed again" || str(r.body, "data", "attributes", "currency") != "USD" {
		t.Fatalf("partial update: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("PUT", "/api/v1/properties/"+ids[0], `{"property":{"title":null}}`, session...), 422, "validation_error")

	// A key whose only property is deleted still works and sees nothing.
	k := e.newKey(u, ids[1])
	r = e.rest("DELETE", "/api/v1/properties/"+ids[1]+"?force=true", "", session...)
	if r.code != 200 || str(r.body, "meta", "message") != "Success" {
		t.Fatalf("delete: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/properties/"+ids[1], "", session...), 404, "resource_not_found")
	r = e.rest("GET", "/api/v1/properties", "", "user-api-key", k.GetApiKey())
	if r.code != 200 || get(r.body, "meta", "total") != 0.0 {
		t.Fatalf("key after its property was deleted: %d %s", r.code, r.raw)
	}
	got, err := e.keys.GetApiKey(withSession(u.token), &keygatev1.GetApiKeyRequest{Id: k.GetId()})
	if err != nil || len(got.GetApiKey().GetPropertyIds()) != 0 || got.GetApiKey().GetAllProperties() {
		t.Fatalf("deleted property still in the key's scope: %v %v", got, err)
	}
	// An all-properties key follows the user: a new property is in scope.
	all := e.newKey(u)
	added := e.newProperty(u, "Added later")
	if r := e.rest("GET", "/api/v1/properties/"+added, "", "user-api-key", all.GetApiKey()); r.code != 200 {
		t.Fatalf("all-properties key and a later property: %d %s", r.code, r.raw)
	}
}

// testSessions: sign-in failures, sign-out, expiry.
func testSessions(t *testing.T, e *env) {
	u := e.newUser(false)
	wantError(t, e.rest("POST", "/api/v1/sign_in", fmt.Sprintf(`{"user":{"email":%q,"password":"wrong password"}}`, u.email)), 401, "unauthorized")
	wantError(t, e.rest("POST", "/api/v1/sign_in", `{"user":{"email":"nobody@example.com","password":"whatever1"}}`), 401, "unauthorized")
	wantError(t, e.rest("POST", "/api/v1/sign_in", `{"user":{}}`), 422, "validation_error")

	r := e.rest("GET", "/api/v1/me", "", "Authorization", "Bearer "+u.token)
	if r.code != 200 || str(r.body, "data", "attributes", "user", "email") != u.email || str(r.body, "data", "attributes", "credential") != "session" {
		t.Fatalf("me: %d %s", r.code, r.raw)
	}
	if r := e.rest("POST", "/api/v1/sign_out", "", "Authorization", "Bearer "+u.token); r.code != 200 {
		t.Fatalf("sign_out: %d %s", r.code, r.raw)
	}
	wantError(t, e.rest("GET", "/api/v1/me", "", "Authorization", "Bearer "+u.token), 401, "unauthorized")

	// An expired session is refused (written straight to the store, since
	// waiting 24 hours is not an option).
	token := auth.NewSecret(auth.SessionPrefix)
	past := store.Session{Digest: auth.Digest(token), UserID: u.id}
	past.CreatedAt = mustTime(t, "2020-01-01T00:00:00Z")
	past.ExpiresAt = mustTime(t, "2020-01-02T00:00:00Z")
	if err := e.store.CreateSession(context.Background(), past); err != nil {
		t.Fatal(err)
	}
	r = e.rest("GET", "/api/v1/me", "", "Authorization", "Bearer "+token)
	wantError(t, r, 401, "unauthorized")
	if !strings.Contains(str(r.body, "errors", "details"), "expired") {
		t.Fatalf("expiry not explained: %s", r.raw)
	}
}

// testPlumbing: request ids, health, readiness, trailing slashes, body
// limits, reflection.
func testPlumbing(t *testing.T, e *env) {
	for _, path := range []string{"/healthz", "/readyz", "/api/v1/properties", "/api/v1/nothing"} {
		r := e.rest("GET", path, "")
		if r.header.Get("x-request-id") == "" {
			t.Fatalf("GET %s: no x-request-id", path)
		}
	}
	if r := e.rest("GET", "/readyz", ""); r.code != 200 {
		t.Fatalf("readyz: %d %s", r.code, r.raw)
	}
	// The request id of a REST call is the one the gRPC log line carries.
	r := e.rest("GET", "/api/v1/properties", "")
	id := r.header.Get("x-request-id")
	if !strings.Contains(e.logs.String(), `"request_id":"`+id+`","method":"/keygate.v1.PropertyService/ListProperties"`) {
		t.Fatalf("request id %s not in the rpc log line:\n%s", id, e.logs.String())
	}
	// The HTTP log line has the path as sent, with its query string.
	r = e.rest("GET", "/api/v1/properties/?pagination%5Bpage%5D=2&filter[title]=sea", "")
	id = r.header.Get("x-request-id")
	if !strings.Contains(e.logs.String(), `"request_id":"`+id+`","method":"GET","path":"/api/v1/properties/?pagination%5Bpage%5D=2&filter[title]=sea"`) {
		t.Fatalf("path and query of request %s not in the http log line:\n%s", id, e.logs.String())
	}
	// A caller's own well-formed id is kept.
	if r := e.rest("GET", "/healthz", "", "X-Request-Id", "trace-123"); r.header.Get("x-request-id") != "trace-123" {
		t.Fatalf("caller's request id not kept: %q", r.header.Get("x-request-id"))
	}
	if r := e.rest("GET", "/healthz", "", "X-Request-Id", "bad id\"{"); r.header.Get("x-request-id") == "bad id\"{" {
		t.Fatal("a malformed request id was echoed")
	}
	// Over gRPC the id comes back as a header.
	var hdr metadata.MD
	_, err := e.props.ListProperties(context.Background(), &keygatev1.ListPropertiesRequest{}, grpc.Header(&hdr))
	wantCode(t, err, codes.Unauthenticated)
	if len(hdr.Get("x-request-id")) != 1 {
		t.Fatalf("gRPC response without x-request-id: %v", hdr)
	}

	u := e.newUser(true)
	big := `{"property":{"title":"` + strings.Repeat("a", server.MaxBodyBytes+1) + `","currency":"EUR"}}`
	r = e.rest("POST", "/api/v1/properties", big, "Authorization", "Bearer "+u.token)
	if r.code != http.StatusRequestEntityTooLarge && r.code != http.StatusBadRequest {
		t.Fatalf("body over 1 MiB: %d %s", r.code, r.raw[:min(len(r.raw), 200)])
	}
	r = e.rest("GET", "/api/v1/properties", "", "Authorization", "Bearer "+u.token)
	if get(r.body, "meta", "total") != 0.0 {
		t.Fatalf("an oversized request wrote something: %s", r.raw)
	}
	wantError(t, e.rest("PATCH", "/api/v1/properties", ""), 405, "method_not_allowed")
	testHealthAndReflection(t, e)
}
