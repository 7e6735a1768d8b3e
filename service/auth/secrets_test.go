package auth

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
)

func TestSecrets(t *testing.T) {
	plain := "kg_plain"
	for _, tc := range []struct {
		name string
		m    proto.Message
		want []string
	}{
		{"sign-in", &keygatev1.SignInResponse{Session: &keygatev1.Session{Token: "ks_token"}}, []string{"ks_token"}},
		{"key create", &keygatev1.CreateApiKeyResponse{ApiKey: &keygatev1.ApiKey{Name: "n", ApiKey: &plain}}, []string{plain}},
		{"key get", &keygatev1.GetApiKeyResponse{ApiKey: &keygatev1.ApiKey{Name: "n"}}, nil},
		{"key list", &keygatev1.ListApiKeysResponse{ApiKeys: []*keygatev1.ApiKey{{Name: "a"}, {Name: "b", ApiKey: &plain}}}, []string{plain}},
		{"who am I", &keygatev1.WhoAmIResponse{Caller: &keygatev1.Caller{ApiKey: &keygatev1.ApiKey{Name: "n"}}}, nil},
		{"property", &keygatev1.GetPropertyResponse{Property: &keygatev1.Property{Title: "t"}}, nil},
	} {
		if got := Secrets(tc.m); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if mayHoldSecret((&keygatev1.ListPropertiesResponse{}).ProtoReflect().Descriptor()) {
		t.Error("a property list is walked for secrets")
	}
}
