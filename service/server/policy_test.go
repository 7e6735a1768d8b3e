package server_test

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/store/memory"
)

// createKeyREST creates a key over REST from the attributes of
// {"api_key":…} and returns its id and plaintext.
func (e *env) createKeyREST(u user, attributes string) (id, secret string) {
	e.t.Helper()
	r := e.rest("POST", "/api/v1/api_keys", `{"api_key":`+attributes+`}`, "Authorization", "Bearer "+u.token)
	if r.code != 201 {
		e.t.Fatalf("create key %s: %d %s", attributes, r.code, r.raw)
	}
	return str(r.body, "data", "id"), str(r.body, "data", "attributes", "api_key")
}

// me calls GET /api/v1/me with a key and returns the response.
func (e *env) me(key string) response {
	e.t.Helper()
	return e.rest("GET", "/api/v1/me", "", "user-api-key", key)
}

// wantDetails checks a REST error and that its details contain want.
func wantDetails(t *testing.T, r response, code int, errCode, want string) {
	t.Helper()
	wantError(t, r, code, errCode)
	if !strings.Contains(fmt.Sprint(get(r.body, "errors", "details")), want) {
		t.Fatalf("details %v, want them to say %q", get(r.body, "errors", "details"), want)
	}
}

// wantStatus checks a gRPC error's code and that its message contains want.
func wantStatus(t *testing.T, err error, code codes.Code, want string) {
	t.Helper()
	if st := status.Convert(err); st.Code() != code || !strings.Contains(st.Message(), want) {
		t.Fatalf("got %v %q, want %v %q", st.Code(), st.Message(), code, want)
	}
}

// testKeyExpiry: a key that expires in about two seconds works, then is
// refused at its instant although it is cached, and shows as expired.
func testKeyExpiry(t *testing.T, e *env) {
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	expiresAt := time.Now().Add(2 * time.Second).UTC()
	id, key := e.createKeyREST(u, fmt.Sprintf(`{"name":"contractor","all_properties":true,"expires_at":%q}`, expiresAt.Format(time.RFC3339Nano)))
	for range 2 { // the second use comes from the cache
		if r := e.me(key); r.code != 200 {
			t.Fatalf("key before expiry: %d %s", r.code, r.raw)
		}
	}
	if _, err := e.auth.WhoAmI(withKey(key), &keygatev1.WhoAmIRequest{}); err != nil {
		t.Fatalf("key before expiry over gRPC: %v", err)
	}
	r := e.rest("GET", "/api/v1/api_keys/"+id, "", session...)
	if str(r.body, "data", "attributes", "status") != "active" || str(r.body, "data", "attributes", "expires_at") == "" {
		t.Fatalf("key before expiry: %s", r.raw)
	}

	time.Sleep(time.Until(expiresAt))
	wantDetails(t, e.me(key), 401, "unauthorized", "this API key expired at "+expiresAt.Truncate(time.Second).Format(time.RFC3339))
	_, err := e.auth.WhoAmI(withKey(key), &keygatev1.WhoAmIRequest{})
	wantStatus(t, err, codes.Unauthenticated, "this API key expired at")
	r = e.rest("GET", "/api/v1/api_keys/"+id, "", session...)
	if str(r.body, "data", "attributes", "status") != "expired" {
		t.Fatalf("status after expiry: %s", r.raw)
	}
	// An expired key cannot be changed or rolled, but can be withdrawn.
	wantViolationsREST(t, e.rest("PUT", "/api/v1/api_keys/"+id, `{"api_key":{"name":"again"}}`, session...), "status")
	wantViolationsREST(t, e.rest("POST", "/api/v1/api_keys/"+id+"/roll", `{}`, session...), "status")
	r = e.rest("DELETE", "/api/v1/api_keys/"+id, "", session...)
	if r.code != 200 || str(r.body, "data", "attributes", "status") != "revoked" {
		t.Fatalf("withdrawing an expired key: %d %s", r.code, r.raw)
	}

	// An expiry in the past, or now, is refused on create.
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	r = e.rest("POST", "/api/v1/api_keys", `{"api_key":{"name":"x","all_properties":true,"expires_at":"`+past+`"}}`, session...)
	wantViolationsREST(t, r, "expires_at")
	_, err = e.keys.CreateApiKey(withSession(u.token), &keygatev1.CreateApiKeyRequest{ApiKey: &keygatev1.ApiKeyInput{
		Name: "x", AllProperties: true, ExpiresAt: timestamppb.New(time.Now().Add(-time.Second)),
	}})
	wantViolations(t, err, "expires_at")
}

// wantViolationsREST checks a 422 whose details name exactly fields.
func wantViolationsREST(t *testing.T, r response, fields ...string) {
	t.Helper()
	wantError(t, r, 422, "validation_error")
	details, _ := get(r.body, "errors", "details").(map[string]any)
	var got []string
	for f := range details {
		got = append(got, f)
	}
	slices.Sort(got)
	slices.Sort(fields)
	if !slices.Equal(got, fields) {
		t.Fatalf("violations of %q, want %q: %s", got, fields, r.raw)
	}
}

// testReadOnlyKeys calls every RPC that accepts API keys, as the
// descriptors list them, with a read-only key, over gRPC and over REST:
// each one declared a read works, each other one is refused as a write.
// A new RPC is covered the moment it exists, and refused to read-only
// keys until it is declared a read.
func testReadOnlyKeys(t *testing.T, e *env) {
	u := e.newUser(true)
	propertyID := e.newProperty(u, "Read Only Hotel")
	resp, err := e.keys.CreateApiKey(withSession(u.token), &keygatev1.CreateApiKeyRequest{ApiKey: &keygatev1.ApiKeyInput{
		Name: "revenue management", AllProperties: true, Access: "read_only",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetApiKey().GetAccess() != "read_only" {
		t.Fatalf("access = %q", resp.GetApiKey().GetAccess())
	}
	key := resp.GetApiKey().GetApiKey()
	// Group reads name a group or a group user, not a property.
	groups := keygatev1.NewGroupServiceClient(e.conn)
	g, err := groups.ListGroups(withSession(u.token), &keygatev1.ListGroupsRequest{})
	if err != nil || len(g.GetGroups()) != 1 {
		t.Fatalf("ListGroups: %v %v", g, err)
	}
	groupID := g.GetGroups()[0].GetId()
	members, err := groups.ListGroupUsers(withSession(u.token), &keygatev1.ListGroupUsersRequest{Filter: &keygatev1.ListGroupUsersRequest_Filter{GroupId: groupID}})
	if err != nil || len(members.GetGroupUsers()) != 1 {
		t.Fatalf("ListGroupUsers: %v %v", members, err)
	}
	ids := map[protoreflect.Name]string{"GetGroup": groupID, "GetGroupUser": members.GetGroupUsers()[0].GetId(), "ListGroupUsers": groupID}
	reads, writes := 0, 0
	protoregistry.GlobalFiles.RangeFilesByPackage("keygate.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			svc := fd.Services().Get(i)
			for j := 0; j < svc.Methods().Len(); j++ {
				m := svc.Methods().Get(j)
				rule, _ := proto.GetExtension(m.Options(), keygatev1.E_Auth).(*keygatev1.AuthRule)
				if !slices.Contains(rule.GetAllow(), keygatev1.Credential_CREDENTIAL_API_KEY) {
					continue // refused to every key alike
				}
				if rule.GetRead() {
					reads++
				} else {
					writes++
				}
				t.Run(string(m.Name()), func(t *testing.T) {
					id := propertyID
					if other, ok := ids[m.Name()]; ok {
						id = other
					}
					callReadOnly(t, e, m, rule, key, id)
				})
			}
		}
		return true
	})
	if reads < 4 || writes < 3 {
		t.Fatalf("%d reads and %d writes accept API keys: the descriptors were not read", reads, writes)
	}
}

// callReadOnly calls m with a read-only key over gRPC and REST, with every
// field and path variable that names something set to propertyID.
func callReadOnly(t *testing.T, e *env, m protoreflect.MethodDescriptor, rule *keygatev1.AuthRule, key, propertyID string) {
	full := fmt.Sprintf("/%s/%s", m.Parent().FullName(), m.Name())
	in, err := protoregistry.GlobalTypes.FindMessageByName(m.Input().FullName())
	if err != nil {
		t.Fatal(err)
	}
	out, err := protoregistry.GlobalTypes.FindMessageByName(m.Output().FullName())
	if err != nil {
		t.Fatal(err)
	}
	req := in.New()
	if f := m.Input().Fields().ByName("id"); f != nil && f.Kind() == protoreflect.StringKind {
		req.Set(f, protoreflect.ValueOfString(propertyID))
	}
	filter := ""
	if f := m.Input().Fields().ByName("filter"); f != nil && f.Message().Fields().ByName("group_id") != nil {
		req.Mutable(f).Message().Set(f.Message().Fields().ByName("group_id"), protoreflect.ValueOfString(propertyID))
		filter = "?filter[group_id]=" + propertyID
	}
	if path := rule.GetPropertyField(); path != "" {
		msg := req
		names := strings.Split(path, ".")
		for _, name := range names[:len(names)-1] {
			msg = msg.Mutable(msg.Descriptor().Fields().ByName(protoreflect.Name(name))).Message()
		}
		msg.Set(msg.Descriptor().Fields().ByName(protoreflect.Name(names[len(names)-1])), protoreflect.ValueOfString(propertyID))
	}
	err = e.conn.Invoke(withKey(key), full, req.Interface(), out.New().Interface())
	if rule.GetRead() {
		if err != nil {
			t.Errorf("gRPC %s, a read, with a read-only key: %v", full, err)
		}
	} else if st := status.Convert(err); st.Code() != codes.PermissionDenied || st.Message() != "this API key is read-only" {
		t.Errorf("gRPC %s, a write, with a read-only key: %v %q", full, st.Code(), st.Message())
	}

	httpRule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
	method, path := httpPattern(httpRule)
	if method == "" {
		return // not on REST
	}
	path = regexp.MustCompile(`\{[a-z_.]+\}`).ReplaceAllString(path, propertyID) + filter
	if p := rule.GetPropertyField(); p != "" && p != "id" {
		path += "?" + url.QueryEscape(p) + "=" + propertyID
	}
	body := ""
	if httpRule.GetBody() != "" {
		body = "{}"
	}
	r := e.rest(method, path, body, "user-api-key", key)
	if rule.GetRead() {
		if r.code != 200 {
			t.Errorf("REST %s %s, a read, with a read-only key: %d %s", method, path, r.code, r.raw)
		}
	} else if r.code != 403 || str(r.body, "errors", "details") != "this API key is read-only" {
		t.Errorf("REST %s %s, a write, with a read-only key: %d %s", method, path, r.code, r.raw)
	}
}

func httpPattern(r *annotations.HttpRule) (method, path string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return "GET", p.Get
	case *annotations.HttpRule_Post:
		return "POST", p.Post
	case *annotations.HttpRule_Put:
		return "PUT", p.Put
	case *annotations.HttpRule_Patch:
		return "PATCH", p.Patch
	case *annotations.HttpRule_Delete:
		return "DELETE", p.Delete
	}
	return "", ""
}

// testAllowedAddresses: a key limited to networks works from inside them
// and is refused from elsewhere, over gRPC and REST (whose client address
// the gateway reports); the test clients are on 127.0.0.1.
func testAllowedAddresses(t *testing.T, e *env) {
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	inID, inside := e.createKeyREST(u, `{"name":"office","all_properties":true,"allowed_ips":["2001:db8::/32","127.0.0.0/8"]}`)
	_, bare := e.createKeyREST(u, `{"name":"host","all_properties":true,"allowed_ips":["127.0.0.1"]}`)
	_, outside := e.createKeyREST(u, `{"name":"elsewhere","all_properties":true,"allowed_ips":["203.0.113.0/24","::1"]}`)

	r := e.rest("GET", "/api/v1/api_keys/"+inID, "", session...)
	if ips := get(r.body, "data", "attributes", "allowed_ips"); fmt.Sprint(ips) != "[2001:db8::/32 127.0.0.0/8]" {
		t.Fatalf("allowed_ips = %v", ips)
	}
	for _, key := range []string{inside, bare} {
		if r := e.me(key); r.code != 200 {
			t.Fatalf("key allowed from 127.0.0.1, REST: %d %s", r.code, r.raw)
		}
		if _, err := e.auth.WhoAmI(withKey(key), &keygatev1.WhoAmIRequest{}); err != nil {
			t.Fatalf("key allowed from 127.0.0.1, gRPC: %v", err)
		}
	}
	for range 2 { // refused again from the cache, and still valid
		wantDetails(t, e.me(outside), 403, "forbidden", "not allowed from this address")
		_, err := e.auth.WhoAmI(withKey(outside), &keygatev1.WhoAmIRequest{})
		wantStatus(t, err, codes.PermissionDenied, "not allowed from this address")
	}

	// Validation: at most 100 networks; each one an address or a CIDR.
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("%q", fmt.Sprintf("10.0.%d.0/24", i))
	}
	wantViolationsREST(t, e.rest("POST", "/api/v1/api_keys",
		`{"api_key":{"name":"x","all_properties":true,"allowed_ips":[`+strings.Join(many, ",")+`]}}`, session...), "allowed_ips")
	r = e.rest("POST", "/api/v1/api_keys",
		`{"api_key":{"name":"x","all_properties":true,"allowed_ips":["10.0.0.0/8","::1","192.0.2.1","10.0.0.0/33","fe80::1%eth0","nope"]}}`, session...)
	wantViolationsREST(t, r, "allowed_ips[3]", "allowed_ips[4]", "allowed_ips[5]")
	_, err := e.keys.CreateApiKey(withSession(u.token), &keygatev1.CreateApiKeyRequest{ApiKey: &keygatev1.ApiKeyInput{
		Name: "x", AllProperties: true, AllowedIps: []string{"10.0.0.0/8", "::1", "192.0.2.1", "300.1.2.3"},
	}})
	wantViolations(t, err, "allowed_ips[3]")
	wantViolationsREST(t, e.rest("POST", "/api/v1/api_keys", `{"api_key":{"name":"x","all_properties":true,"access":"admin"}}`, session...), "access")
}

// TestAllowedAddressesIPv6 runs a server on the IPv6 loopback: its
// clients come from ::1.
func TestAllowedAddressesIPv6(t *testing.T) {
	e := startWith(t, memory.New(), func(c *serverConfig) { c.GRPCAddr, c.HTTPAddr = "[::1]:0", "[::1]:0" })
	u := e.newUser(true)
	_, inside := e.createKeyREST(u, `{"name":"v6","all_properties":true,"allowed_ips":["::/127"]}`)
	_, exact := e.createKeyREST(u, `{"name":"v6 host","all_properties":true,"allowed_ips":["::1"]}`)
	_, outside := e.createKeyREST(u, `{"name":"v4 only","all_properties":true,"allowed_ips":["127.0.0.0/8","2001:db8::/32"]}`)
	for _, key := range []string{inside, exact} {
		if r := e.me(key); r.code != 200 {
			t.Fatalf("key allowed from ::1, REST: %d %s", r.code, r.raw)
		}
		if _, err := e.auth.WhoAmI(withKey(key), &keygatev1.WhoAmIRequest{}); err != nil {
			t.Fatalf("key allowed from ::1, gRPC: %v", err)
		}
	}
	wantDetails(t, e.me(outside), 403, "forbidden", "not allowed from this address")
	_, err := e.auth.WhoAmI(withKey(outside), &keygatev1.WhoAmIRequest{})
	wantStatus(t, err, codes.PermissionDenied, "not allowed from this address")
}

// testUpdateKey: narrowing a key (its scope, read-only, addresses) takes
// effect on the very next request, the key having been cached; widening
// needs an active subscription; the rules of create hold.
func testUpdateKey(t *testing.T, e *env) {
	u := e.newUser(true)
	p1, p2 := e.newProperty(u, "One"), e.newProperty(u, "Two")
	k := e.newKey(u)
	key, ctx := k.GetApiKey(), withSession(u.token)
	getProp := func(id string) error {
		_, err := e.props.GetProperty(withKey(key), &keygatev1.GetPropertyRequest{Id: id})
		return err
	}
	update := func(in *keygatev1.ApiKeyInput, paths ...string) (*keygatev1.ApiKey, error) {
		resp, err := e.keys.UpdateApiKey(ctx, &keygatev1.UpdateApiKeyRequest{
			Id: k.GetId(), ApiKey: in, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
		})
		return resp.GetApiKey(), err
	}
	if getProp(p1) != nil || getProp(p2) != nil {
		t.Fatal("the new key does not work")
	}

	// Narrow the scope.
	got, err := update(&keygatev1.ApiKeyInput{PropertyIds: []string{p1}}, "all_properties", "property_ids")
	if err != nil || got.GetAllProperties() || !slices.Equal(got.GetPropertyIds(), []string{p1}) {
		t.Fatalf("narrowing the scope: %v %v", got, err)
	}
	if err := getProp(p1); err != nil {
		t.Fatalf("the key's remaining property: %v", err)
	}
	wantStatus(t, getProp(p2), codes.PermissionDenied, "not scoped to this property")

	// Read-only, with no mask: the attributes set are the ones changed.
	got, err = update(&keygatev1.ApiKeyInput{Access: "read_only"})
	if err != nil || got.GetAccess() != "read_only" || got.GetName() != k.GetName() || got.GetAllProperties() {
		t.Fatalf("switching to read-only: %v %v", got, err)
	}
	_, err = e.props.UpdateProperty(withKey(key), &keygatev1.UpdatePropertyRequest{Id: p1, Property: &keygatev1.PropertyInput{Title: proto.String("x")}})
	wantStatus(t, err, codes.PermissionDenied, "this API key is read-only")
	if err := getProp(p1); err != nil {
		t.Fatalf("a read with the read-only key: %v", err)
	}

	// Limit the addresses.
	if _, err = update(&keygatev1.ApiKeyInput{AllowedIps: []string{"203.0.113.0/24"}}, "allowed_ips"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, getProp(p1), codes.PermissionDenied, "not allowed from this address")
	if _, err = update(&keygatev1.ApiKeyInput{AllowedIps: []string{"203.0.113.0/24", "127.0.0.1"}}, "allowed_ips"); err != nil {
		t.Fatal(err)
	}
	if err := getProp(p1); err != nil {
		t.Fatalf("after allowing 127.0.0.1: %v", err)
	}

	// Rename, and set then clear an expiry, through the mask.
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	got, err = update(&keygatev1.ApiKeyInput{Name: "renamed", ExpiresAt: timestamppb.New(exp)}, "name", "expires_at")
	if err != nil || got.GetName() != "renamed" || !got.GetExpiresAt().AsTime().Equal(exp) {
		t.Fatalf("rename and expiry: %v %v", got, err)
	}
	got, err = update(&keygatev1.ApiKeyInput{}, "expires_at")
	if err != nil || got.GetExpiresAt() != nil || got.GetName() != "renamed" {
		t.Fatalf("clearing the expiry: %v %v", got, err)
	}

	// Every violation at once, with REST attribute paths; nothing changes.
	_, err = update(&keygatev1.ApiKeyInput{
		Name: " ", Access: "write", AllowedIps: []string{"1.2.3.4", "x"},
		ExpiresAt: timestamppb.New(time.Now().Add(-time.Hour)),
	}, "name", "access", "allowed_ips", "expires_at")
	wantViolations(t, err, "name", "access", "allowed_ips[1]", "expires_at")
	_, err = update(&keygatev1.ApiKeyInput{PropertyIds: []string{p1}}, "property_ids", "owner")
	wantViolations(t, err, "update_mask")
	_, err = update(&keygatev1.ApiKeyInput{}, "property_ids")
	wantViolations(t, err, "property_ids") // a chosen scope cannot be empty
	_, err = e.keys.UpdateApiKey(ctx, &keygatev1.UpdateApiKeyRequest{Id: k.GetId(), ApiKey: &keygatev1.ApiKeyInput{AllProperties: true}})
	wantViolations(t, err, "property_ids") // all_properties with a chosen scope left
	r := e.rest("GET", "/api/v1/api_keys/"+k.GetId(), "", "Authorization", "Bearer "+u.token)
	if str(r.body, "data", "attributes", "name") != "renamed" || str(r.body, "data", "attributes", "access") != "read_only" {
		t.Fatalf("a refused update changed the key: %s", r.raw)
	}

	// Another user's key, a missing one.
	other := e.newUser(true)
	_, err = e.keys.UpdateApiKey(withSession(other.token), &keygatev1.UpdateApiKeyRequest{Id: k.GetId(), ApiKey: &keygatev1.ApiKeyInput{Name: "mine"}})
	wantCode(t, err, codes.NotFound)
	wantError(t, e.rest("PUT", "/api/v1/api_keys/not-a-uuid", `{"api_key":{"name":"x"}}`, "Authorization", "Bearer "+u.token), 404, "resource_not_found")
	// keygate's own body stays strict.
	wantError(t, e.rest("PUT", "/api/v1/api_keys/"+k.GetId(), `{"api_key":{"nmae":"x"}}`, "Authorization", "Bearer "+u.token), 400, "bad_request")
	// Keys cannot change keys.
	wantError(t, e.rest("PUT", "/api/v1/api_keys/"+k.GetId(), `{"api_key":{"name":"x"}}`, "user-api-key", key), 403, "forbidden")

	// Without a subscription: narrowing works, widening does not.
	if _, err := e.admin.SetSubscription(withAdmin(), &keygatev1.SetSubscriptionRequest{UserId: u.id, SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_INACTIVE}); err != nil {
		t.Fatal(err)
	}
	for _, widen := range []struct {
		in    *keygatev1.ApiKeyInput
		paths []string
	}{
		{&keygatev1.ApiKeyInput{Access: "read_write"}, []string{"access"}},
		{&keygatev1.ApiKeyInput{PropertyIds: []string{p1, p2}}, []string{"property_ids"}},
		{&keygatev1.ApiKeyInput{AllProperties: true}, []string{"all_properties", "property_ids"}},
		{&keygatev1.ApiKeyInput{}, []string{"allowed_ips"}},
		{&keygatev1.ApiKeyInput{AllowedIps: []string{"127.0.0.0/8"}}, []string{"allowed_ips"}},
	} {
		_, err := update(widen.in, widen.paths...)
		wantStatus(t, err, codes.PermissionDenied, "needs an active subscription")
	}
	got, err = update(&keygatev1.ApiKeyInput{Name: "narrowed", AllowedIps: []string{"127.0.0.1"}, ExpiresAt: timestamppb.New(exp)}, "name", "allowed_ips", "expires_at")
	if err != nil || got.GetName() != "narrowed" || len(got.GetAllowedIps()) != 1 {
		t.Fatalf("narrowing without a subscription: %v %v", got, err)
	}
	_, err = update(&keygatev1.ApiKeyInput{ExpiresAt: timestamppb.New(exp.Add(time.Hour))}, "expires_at")
	wantStatus(t, err, codes.PermissionDenied, "needs an active subscription")

	// A withdrawn key cannot be changed.
	if _, err := e.keys.RevokeApiKey(ctx, &keygatev1.RevokeApiKeyRequest{Id: k.GetId()}); err != nil {
		t.Fatal(err)
	}
	_, err = update(&keygatev1.ApiKeyInput{Name: "again"}, "name")
	wantViolations(t, err, "status")
}

// testRollKey: the successor works at once and has the same name, scope
// and policy; the old key works until its grace ends; a grace of 0 ends
// it at once; a withdrawn key cannot be rolled.
func testRollKey(t *testing.T, e *env) {
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	p := e.newProperty(u, "Rolling Hotel")
	oldID, oldKey := e.createKeyREST(u, `{"name":"pms","all_properties":false,"property_ids":["`+p+`"],"access":"read_only","allowed_ips":["127.0.0.0/8"]}`)
	if r := e.me(oldKey); r.code != 200 {
		t.Fatalf("old key: %d %s", r.code, r.raw)
	}

	r := e.rest("POST", "/api/v1/api_keys/"+oldID+"/roll", `{"roll":{"expires_in_seconds":2}}`, session...)
	if r.code != 201 {
		t.Fatalf("roll: %d %s", r.code, r.raw)
	}
	a := get(r.body, "data", "attributes")
	newID, newKey := str(a, "id"), str(a, "api_key")
	if newID == oldID || !strings.HasPrefix(newKey, "kg_") || str(a, "rolled_from") != oldID ||
		str(a, "name") != "pms" || str(a, "access") != "read_only" || fmt.Sprint(get(a, "property_ids")) != "["+p+"]" ||
		fmt.Sprint(get(a, "allowed_ips")) != "[127.0.0.0/8]" || get(a, "rolled_to") != nil {
		t.Fatalf("roll response: %s", r.raw)
	}
	if r := e.me(newKey); r.code != 200 {
		t.Fatalf("new key: %d %s", r.code, r.raw)
	}
	if r := e.me(oldKey); r.code != 200 {
		t.Fatalf("old key during its grace: %d %s", r.code, r.raw)
	}
	r = e.rest("GET", "/api/v1/api_keys/"+oldID, "", session...)
	graceEnd, err := time.Parse(time.RFC3339Nano, str(r.body, "data", "attributes", "expires_at"))
	if str(r.body, "data", "attributes", "rolled_to") != newID || err != nil || time.Until(graceEnd) > 2*time.Second {
		t.Fatalf("old key after roll: %s", r.raw)
	}
	// The plaintext is in the roll response only.
	r = e.rest("GET", "/api/v1/api_keys", "", session...)
	if strings.Contains(r.raw, newKey) || strings.Contains(r.raw, oldKey) || strings.Contains(r.raw, `"api_key":`) {
		t.Fatalf("a secret in the list: %s", r.raw)
	}
	// Rolled once, the old key cannot be rolled again.
	wantViolationsREST(t, e.rest("POST", "/api/v1/api_keys/"+oldID+"/roll", `{}`, session...), "rolled_to")

	time.Sleep(time.Until(graceEnd))
	wantDetails(t, e.me(oldKey), 401, "unauthorized", "this API key expired at")
	if r := e.me(newKey); r.code != 200 {
		t.Fatalf("new key after the grace: %d %s", r.code, r.raw)
	}

	// A grace of 0 ends the old key at once (over gRPC).
	resp, err := e.keys.RollApiKey(withSession(u.token), &keygatev1.RollApiKeyRequest{Id: newID, Roll: &keygatev1.RollApiKeyRequest_Roll{ExpiresInSeconds: proto.Int32(0)}})
	if err != nil {
		t.Fatal(err)
	}
	wantDetails(t, e.me(newKey), 401, "unauthorized", "this API key expired at")
	third := resp.GetApiKey()
	if r := e.me(third.GetApiKey()); r.code != 200 || third.GetRolledFrom().GetValue() != newID {
		t.Fatalf("third key: %d %s %v", r.code, r.raw, third)
	}

	// Out of range; withdrawn; no body at all takes the default grace.
	wantViolationsREST(t, e.rest("POST", "/api/v1/api_keys/"+third.GetId()+"/roll", `{"roll":{"expires_in_seconds":604801}}`, session...), "expires_in_seconds")
	_, err = e.keys.RollApiKey(withSession(u.token), &keygatev1.RollApiKeyRequest{Id: third.GetId(), Roll: &keygatev1.RollApiKeyRequest_Roll{ExpiresInSeconds: proto.Int32(-1)}})
	wantViolations(t, err, "expires_in_seconds")
	before := time.Now()
	r = e.rest("POST", "/api/v1/api_keys/"+third.GetId()+"/roll", "", session...)
	if r.code != 201 {
		t.Fatalf("roll without a body: %d %s", r.code, r.raw)
	}
	g, err := e.keys.GetApiKey(withSession(u.token), &keygatev1.GetApiKeyRequest{Id: third.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if end := g.GetApiKey().GetExpiresAt().AsTime(); end.Before(before.Add(24*time.Hour-time.Second)) || end.After(time.Now().Add(24*time.Hour)) {
		t.Fatalf("default grace ends at %v", end)
	}
	k := e.newKey(u)
	if _, err := e.keys.RevokeApiKey(withSession(u.token), &keygatev1.RevokeApiKeyRequest{Id: k.GetId()}); err != nil {
		t.Fatal(err)
	}
	wantViolationsREST(t, e.rest("POST", "/api/v1/api_keys/"+k.GetId()+"/roll", `{}`, session...), "status")
	wantError(t, e.rest("POST", "/api/v1/api_keys/"+k.GetId()+"/roll", `{}`, "user-api-key", newKey), 401, "unauthorized")

	// Rolling needs a subscription: it makes a key.
	if _, err := e.admin.SetSubscription(withAdmin(), &keygatev1.SetSubscriptionRequest{UserId: u.id, SubscriptionStatus: keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_INACTIVE}); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.rest("POST", "/api/v1/api_keys/"+str(r.body, "data", "id")+"/roll", `{}`, session...), 403, "forbidden")
}

// TestKeyPolicyTwoReplicasPostgres: a key's update or roll made through
// one server reaches another server that has the key cached, through the
// database's change notifications.
func TestKeyPolicyTwoReplicasPostgres(t *testing.T) {
	url := migratedDatabase(t)
	a, b := start(t, openStore(t, url)), start(t, openStore(t, url))
	u := a.newUser(true)
	p1, p2 := a.newProperty(u, "One"), a.newProperty(u, "Two")
	k := a.newKey(u)
	onB := func(key, method, id string) int {
		body := ""
		if method == "PUT" {
			body = `{"property":{"title":"Renamed","currency":"EUR"}}`
		}
		return b.rest(method, "/api/v1/properties/"+id, body, "user-api-key", key).code
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
	// B caches the key once it listens for changes.
	within("the key on B", func() bool { return onB(k.GetApiKey(), "GET", p2) == 200 })
	update := func(in *keygatev1.ApiKeyInput, paths ...string) {
		t.Helper()
		_, err := a.keys.UpdateApiKey(withSession(u.token), &keygatev1.UpdateApiKeyRequest{
			Id: k.GetId(), ApiKey: in, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	update(&keygatev1.ApiKeyInput{PropertyIds: []string{p1}}, "all_properties", "property_ids")
	within("narrowed scope", func() bool { return onB(k.GetApiKey(), "GET", p2) == 403 })
	update(&keygatev1.ApiKeyInput{Access: "read_only"}, "access")
	within("read-only", func() bool { return onB(k.GetApiKey(), "PUT", p1) == 403 })
	if onB(k.GetApiKey(), "GET", p1) != 200 {
		t.Fatal("a read with the read-only key on B")
	}
	update(&keygatev1.ApiKeyInput{AllowedIps: []string{"203.0.113.0/24"}}, "allowed_ips")
	within("allowed addresses", func() bool { return onB(k.GetApiKey(), "GET", p1) == 403 })
	update(&keygatev1.ApiKeyInput{AllowedIps: []string{"127.0.0.1"}}, "allowed_ips")
	within("widened addresses", func() bool { return onB(k.GetApiKey(), "GET", p1) == 200 })

	resp, err := a.keys.RollApiKey(withSession(u.token), &keygatev1.RollApiKeyRequest{
		Id: k.GetId(), Roll: &keygatev1.RollApiKeyRequest_Roll{ExpiresInSeconds: proto.Int32(0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	within("roll", func() bool { return onB(k.GetApiKey(), "GET", p1) == 401 })
	if code := onB(resp.GetApiKey().GetApiKey(), "GET", p1); code != 200 {
		t.Fatalf("the new key on B: %d", code)
	}
}

// testUpdateKeyREST: PUT {"api_key":{…}} changes the attributes present,
// keeps the absent ones, and null clears expires_at; narrowing takes
// effect on the very next request.
func testUpdateKeyREST(t *testing.T, e *env) {
	u := e.newUser(true)
	session := []string{"Authorization", "Bearer " + u.token}
	p1, p2 := e.newProperty(u, "One"), e.newProperty(u, "Two")
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	id, key := e.createKeyREST(u, `{"name":"sync","all_properties":true,"expires_at":"`+expires+`"}`)
	put := func(attributes string) response {
		t.Helper()
		return e.rest("PUT", "/api/v1/api_keys/"+id, `{"api_key":`+attributes+`}`, session...)
	}
	asKey := func(method, propertyID string) int {
		body := ""
		if method == "PUT" {
			body = `{"property":{"title":"Renamed"}}`
		}
		return e.rest(method, "/api/v1/properties/"+propertyID, body, "user-api-key", key).code
	}
	if asKey("GET", p2) != 200 {
		t.Fatal("the new key does not work")
	}

	r := put(`{"all_properties":false,"property_ids":["` + p1 + `"]}`)
	a := get(r.body, "data", "attributes")
	if r.code != 200 || str(a, "name") != "sync" || get(a, "all_properties") != false || str(a, "expires_at") != expires {
		t.Fatalf("narrowing the scope: %d %s", r.code, r.raw)
	}
	if code := asKey("GET", p2); code != 403 {
		t.Fatalf("a property out of the narrowed scope: %d", code)
	}

	r = put(`{"expires_at":null,"access":"read_only"}`)
	if a := get(r.body, "data", "attributes"); r.code != 200 || get(a, "expires_at") != nil || str(a, "access") != "read_only" {
		t.Fatalf("clearing the expiry, read-only: %d %s", r.code, r.raw)
	}
	if code := asKey("PUT", p1); code != 403 {
		t.Fatalf("a write with the read-only key: %d", code)
	}
	if code := asKey("GET", p1); code != 200 {
		t.Fatalf("a read with the read-only key: %d", code)
	}

	if r = put(`{"allowed_ips":["203.0.113.0/24"]}`); r.code != 200 {
		t.Fatalf("allowed addresses: %d %s", r.code, r.raw)
	}
	if code := asKey("GET", p1); code != 403 {
		t.Fatalf("a call from outside the allowed addresses: %d", code)
	}

	wantViolationsREST(t, put(`{"allowed_ips":["10.0.0.1","::1","10.0.0.0/8","10.0.0.0/40"],"expires_at":"2001-01-01T00:00:00Z","name":null}`),
		"allowed_ips[3]", "expires_at", "name")
	wantError(t, put(`{"nmae":"x"}`), 400, "bad_request")
	if r := e.rest("GET", "/api/v1/api_keys/"+id, "", session...); fmt.Sprint(get(r.body, "data", "attributes", "allowed_ips")) != "[203.0.113.0/24]" {
		t.Fatalf("a refused update changed the key: %s", r.raw)
	}
}
