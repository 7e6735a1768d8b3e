package auth

import (
	"context"
	"crypto/sha256"
	"hash/crc32"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
	"github.com/keygate/keygate/service/store/memory"
)

func TestSecretFormat(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		s := NewSecret(APIKeyPrefix)
		if err := CheckSecret(APIKeyPrefix, s); err != nil {
			t.Fatalf("fresh secret %d rejected: %v", i, err)
		}
		if seen[s] {
			t.Fatal("the same secret twice")
		}
		seen[s] = true
		if CheckSecret(SessionPrefix, s) == nil {
			t.Fatal("an API key passes as a session token")
		}
	}
	s := NewSecret(APIKeyPrefix)
	// Every single-character change of the body is caught by the checksum
	// (CRC32 detects all single-symbol errors within 32 bits).
	for i := len(APIKeyPrefix); i < len(s); i++ {
		for _, c := range []byte(alphabet) {
			if c == s[i] {
				continue
			}
			mut := s[:i] + string(c) + s[i+1:]
			if CheckSecret(APIKeyPrefix, mut) == nil {
				t.Fatalf("changing position %d to %q went unnoticed", i, c)
			}
		}
	}
	for name, bad := range map[string]string{
		"empty":     "",
		"short":     s[:len(s)-1],
		"long":      s + "0",
		"prefix":    "kx_" + s[3:],
		"non-ASCII": s[:10] + "é" + s[12:],
		"symbol":    s[:10] + "-" + s[11:],
		"huge":      APIKeyPrefix + strings.Repeat("a", 10<<10),
	} {
		if CheckSecret(APIKeyPrefix, bad) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if len(Digest(s)) != 32 || string(Digest(s)) == string(Digest(s[:len(s)-1])) {
		t.Fatal("Digest is not a SHA-256 of the secret")
	}
}

func TestPassword(t *testing.T) {
	h := HashPassword("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id in PHC format", h)
	}
	if h == HashPassword("correct horse") {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !CheckPassword(h, "correct horse") || CheckPassword(h, "correct horsE") || CheckPassword(h, "") {
		t.Fatal("CheckPassword gives wrong answers")
	}
	if CheckPassword("", "anything") || CheckPassword("$bcrypt$junk", "anything") {
		t.Fatal("a missing or foreign hash matched")
	}
}

// Every RPC of every keygate service declares a rule, so none is left
// to deny-by-default by accident, and the rules say what CONTRACT §2 says.
func TestRules(t *testing.T) {
	rules, err := loadRules()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("keygate.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			s := fd.Services().Get(i)
			for j := 0; j < s.Methods().Len(); j++ {
				n++
				name := "/" + string(s.FullName()) + "/" + string(s.Methods().Get(j).Name())
				if _, ok := rules[name]; !ok {
					t.Errorf("%s has no auth rule", name)
				}
			}
		}
		return true
	})
	if n == 0 || len(rules) != n {
		t.Fatalf("%d methods, %d rules", n, len(rules))
	}
	public := 0
	for name, r := range rules {
		// Reads are named as reads (AIP-131, -132), and only reads are
		// declared reads: read-only keys may call exactly these.
		method := name[strings.LastIndex(name, "/")+1:]
		looksRead := strings.HasPrefix(method, "Get") || strings.HasPrefix(method, "List") || method == "WhoAmI"
		if r.read != looksRead && !r.allow[keygatev1.Credential_CREDENTIAL_ADMIN] && !r.allow[keygatev1.Credential_CREDENTIAL_PUBLIC] {
			t.Errorf("%s: declared read = %t, but its name says %t", name, r.read, looksRead)
		}
		if r.allow[keygatev1.Credential_CREDENTIAL_PUBLIC] {
			public++
			if name != "/keygate.v1.AuthService/SignIn" {
				t.Errorf("%s is public", name)
			}
		}
		if strings.HasPrefix(name, "/keygate.v1.ApiKeyService/") && r.allow[keygatev1.Credential_CREDENTIAL_API_KEY] {
			t.Errorf("%s accepts API keys", name)
		}
		if strings.HasPrefix(name, "/keygate.v1.AdminService/") && (len(r.allow) != 1 || !r.allow[keygatev1.Credential_CREDENTIAL_ADMIN]) {
			t.Errorf("%s accepts more than the admin token", name)
		}
	}
	if public != 1 {
		t.Fatalf("%d public methods", public)
	}
	if f := rules["/keygate.v1.PropertyService/GetProperty"].propertyField; len(f) != 1 || f[0].Name() != "id" {
		t.Fatal("GetProperty does not name its property field")
	}
	if f := rules["/keygate.v1.PropertyUserService/CreatePropertyUser"].propertyField; len(f) != 2 || f[1].Name() != "property_id" {
		t.Fatal("CreatePropertyUser does not name its property field")
	}
	invite := &keygatev1.CreatePropertyUserRequest{}
	r := rules["/keygate.v1.PropertyUserService/CreatePropertyUser"]
	if r.propertyID(invite.ProtoReflect()) != "" {
		t.Fatal("an unset nested property id is not empty")
	}
	invite.Invite = &keygatev1.CreatePropertyUserRequest_Invite{PropertyId: "p1"}
	if r.propertyID(invite.ProtoReflect()) != "p1" {
		t.Fatal("nested property id not read")
	}
	if _, err := fieldPath(invite.ProtoReflect().Descriptor(), "invite.role.x"); err == nil {
		t.Fatal("a path through a string was accepted")
	}
}

func TestDenyByDefault(t *testing.T) {
	i, err := NewInterceptor(memory.New(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	called := false
	handler := func(context.Context, any) (any, error) { called = true; return nil, nil }
	for _, method := range []string{"/keygate.v1.PropertyService/Nope", "/other.Service/Method", ""} {
		_, err := i.Unary(context.Background(), &keygatev1.GetPropertyRequest{}, &grpc.UnaryServerInfo{FullMethod: method}, handler)
		if status.Code(err) != codes.PermissionDenied || called {
			t.Fatalf("%q: %v, handler called: %v", method, err, called)
		}
	}
	err = i.Stream(nil, nil, &grpc.StreamServerInfo{FullMethod: "/keygate.v1.PropertyService/ListProperties"}, func(any, grpc.ServerStream) error { called = true; return nil })
	if status.Code(err) != codes.PermissionDenied || called {
		t.Fatalf("stream: %v", err)
	}
	// With no admin token, AdminService refuses everyone.
	_, err = i.Unary(context.Background(), &keygatev1.CreateUserRequest{}, &grpc.UnaryServerInfo{FullMethod: "/keygate.v1.AdminService/CreateUser"}, handler)
	if status.Code(err) != codes.Unauthenticated || called {
		t.Fatalf("disabled admin: %v", err)
	}
}

// The hand-rolled CRC and the pooled digest agree with the standard ones.
func TestChecksumAndDigest(t *testing.T) {
	for _, s := range []string{"", "a", "kg_" + strings.Repeat("z", 43), NewSecret(APIKeyPrefix), strings.Repeat("x", 100)} {
		want := sha256.Sum256([]byte(s))
		if digest(s) != want {
			t.Fatalf("digest(%q) is not its SHA-256", s)
		}
		sum := checksum(s)
		n := crc32.ChecksumIEEE([]byte(s))
		for i := checksumLen - 1; i >= 0; i-- {
			if sum[i] != alphabet[n%62] {
				t.Fatalf("checksum(%q) is not its CRC-32", s)
			}
			n /= 62
		}
	}
}
