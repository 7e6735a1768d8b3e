package server

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
)

func decodeInto(t *testing.T, m proto.Message, body string) (*restCall, error) {
	t.Helper()
	call := &restCall{}
	return call, decodeBody([]byte(body), m.ProtoReflect(), call)
}

func TestDecodeBodyChannexResource(t *testing.T) {
	var req keygatev1.UpdatePropertyRequest
	call, err := decodeInto(t, &req, `{"property":{
		"id":"ignored silently", "created_at":"2020-01-01T00:00:00Z", "acc_channels_count": 3,
		"title":"Sea View", "email":null, "latitude": 51.5073509, "longitude":"-0.12",
		"group_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7", "stars": 5,
		"settings":{"min_price":10000,"max_price":"150.5","unknown_setting":1,"max_day_advance":null},
		"content":{"photos":[{"url":"https://x.example/a.jpg","tag":"x"}]},
		"facilities":[]
	}}`)
	if err != nil {
		t.Fatalf("decodeBody: %v", err)
	}
	p := req.GetProperty()
	if p.GetTitle() != "Sea View" || p.Email != nil || p.GetLatitude() != "51.5073509" || p.GetLongitude() != "-0.12" {
		t.Errorf("decoded property = %v", p)
	}
	if p.GetSettings().GetMinPrice().GetMinorUnits() != 10000 || p.GetSettings().GetMaxPrice().GetDecimal() != "150.5" {
		t.Errorf("prices = %v, %v; want minor units 10000 and decimal 150.5", p.GetSettings().GetMinPrice(), p.GetSettings().GetMaxPrice())
	}
	wantIgnored := []string{"content.photos[0].tag", "settings.unknown_setting", "stars"}
	slices.Sort(call.ignored)
	if !slices.Equal(call.ignored, wantIgnored) {
		t.Errorf("ignored = %q, want %q", call.ignored, wantIgnored)
	}
	wantMask := []string{"content.photos", "email", "facilities", "group_id", "latitude", "longitude",
		"settings.max_day_advance", "settings.max_price", "settings.min_price", "title"}
	got := slices.Clone(req.GetUpdateMask().GetPaths())
	slices.Sort(got)
	if !slices.Equal(got, wantMask) {
		t.Errorf("update mask = %q, want %q", got, wantMask)
	}

	// A whole object given as null clears it as a whole.
	req.Reset()
	if _, err := decodeInto(t, &req, `{"property":{"settings":null,"content":{}}}`); err != nil {
		t.Fatal(err)
	}
	if got := req.GetUpdateMask().GetPaths(); !slices.Equal(got, []string{"settings"}) {
		t.Errorf("update mask of settings null and empty content = %q, want [settings]", got)
	}
}

func TestDecodeBodyWrongTypes(t *testing.T) {
	var req keygatev1.CreatePropertyRequest
	call, err := decodeInto(t, &req, `{"property":{"title":5,"currency":"EUR","settings":{"min_price":10.5,"state_length":"x",
		"allow_availability_autoupdate_on_modification":"yes"},"facilities":[1],"content":{"photos":[{"url":7}]},"email":["a"]}}`)
	if !errors.Is(err, errWrongTypes) {
		t.Fatalf("decodeBody = %v, want errWrongTypes", err)
	}
	for _, path := range []string{"title", "settings.min_price", "settings.state_length",
		"settings.allow_availability_autoupdate_on_modification", "facilities[0]", "content.photos[0].url", "email"} {
		if len(call.violations[path]) == 0 {
			t.Errorf("no violation at %s; violations: %v", path, call.violations)
		}
	}
	if len(call.violations) != 7 {
		t.Errorf("violations = %v, want exactly 7 paths", call.violations)
	}
}

func TestDecodeBodyRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  proto.Message
		body string
	}{
		{"unknown attribute in keygate's own body", &keygatev1.CreateApiKeyRequest{}, `{"api_key":{"name":"x","color":"red"}}`},
		{"unknown wrapper", &keygatev1.CreatePropertyRequest{}, `{"hotel":{"title":"x"}}`},
		{"attributes without their wrapper", &keygatev1.CreatePropertyRequest{}, `{"title":"x","currency":"EUR"}`},
		{"wrapper that is not an object", &keygatev1.CreatePropertyRequest{}, `{"property":"x"}`},
		{"update mask in the body", &keygatev1.UpdatePropertyRequest{}, `{"property":{},"update_mask":"title"}`},
		{"not an object", &keygatev1.CreatePropertyRequest{}, `[]`},
		{"not JSON", &keygatev1.CreatePropertyRequest{}, `{"property":`},
		{"trailing data", &keygatev1.CreatePropertyRequest{}, `{"property":{}} {}`},
		{"invalid UTF-8", &keygatev1.CreatePropertyRequest{}, "{\"property\":{\"title\":\"\xff\"}}"},
		{"NUL in a string", &keygatev1.CreatePropertyRequest{}, `{"property":{"title":"a\u0000b"}}`},
		{"NUL in a nested string", &keygatev1.CreatePropertyRequest{}, `{"property":{"content":{"photos":[{"url":"\u0000"}]}}}`},
		{"NUL in overrides", &keygatev1.CreatePropertyUserRequest{}, `{"invite":{"overrides":{"a":"\u0000"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeInto(t, tc.msg, tc.body)
			if err == nil || errors.Is(err, errWrongTypes) {
				t.Errorf("decodeBody(%s) = %v, want a 400 error", tc.body, err)
			}
		})
	}
}

func TestDecodeBodyOwnBodiesAndEnums(t *testing.T) {
	var req keygatev1.CreateApiKeyRequest
	if _, err := decodeInto(t, &req, `{"api_key":{"name":"sync","allProperties":true,"property_ids":[]}}`); err != nil {
		t.Fatalf("decodeBody: %v", err)
	}
	if req.GetApiKey().GetName() != "sync" || !req.GetApiKey().GetAllProperties() {
		t.Errorf("decoded = %v", protojson.Format(&req))
	}
	var admin keygatev1.CreateUserRequest
	for _, s := range []string{"active", "SUBSCRIPTION_STATUS_ACTIVE"} {
		admin.Reset()
		if _, err := decodeInto(t, &admin, `{"subscription_status":"`+s+`"}`); err != nil || admin.GetSubscriptionStatus() != keygatev1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE {
			t.Errorf("enum %q: %v, %v", s, admin.GetSubscriptionStatus(), err)
		}
	}
	admin.Reset()
	call, err := decodeInto(t, &admin, `{"subscription_status":"gold"}`)
	if !errors.Is(err, errWrongTypes) || !strings.Contains(strings.Join(call.violations["subscription_status"], ""), "active, inactive") {
		t.Errorf("unknown enum value: %v, %v", err, call.violations)
	}
}

// FuzzDecodeBody feeds arbitrary bytes to the body decoder and the
// property rules behind it: it must never panic, and whatever it accepts
// must be a message that encodes.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"property":{"title":"x","currency":"EUR"}}`,
		`{"property":{"settings":{"min_price":100,"max_price":"1.5"},"content":{"photos":[{"url":"http://a"}]}}}`,
		`{"property":{"latitude":1e400,"facilities":[null,1,"a"],"settings":null}}`,
		`{"property":{"title":"\u0000"}}`,
		`[]`, `null`, `{"property":{"content":{"photos":[[[[]]]]}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req keygatev1.UpdatePropertyRequest
		if err := decodeBody(body, req.ProtoReflect(), &restCall{}); err != nil {
			return
		}
		if _, err := proto.Marshal(&req); err != nil {
			t.Fatalf("accepted %q into a message that does not encode: %v", body, err)
		}
	})
}
