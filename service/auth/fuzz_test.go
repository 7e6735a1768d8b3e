package auth

import (
	"strings"
	"testing"
)

// FuzzCheckSecret: the format check of keys and session tokens never
// panics, accepts what NewSecret makes, and accepts nothing that a
// one-character change of an accepted secret makes of it (the checksum).
func FuzzCheckSecret(f *testing.F) {
	f.Add(NewSecret(APIKeyPrefix))
	f.Add(NewSecret(SessionPrefix))
	f.Add("kg_")
	f.Add("kg_\x00\xff")
	f.Add(strings.Repeat("a", 300))
	f.Fuzz(func(t *testing.T, s string) {
		for _, prefix := range []string{APIKeyPrefix, SessionPrefix} {
			if CheckSecret(prefix, s) != nil {
				continue
			}
			if !strings.HasPrefix(s, prefix) {
				t.Fatalf("%q accepted without the prefix %q", s, prefix)
			}
			_ = Digest(s)
		}
		// The authorization header parser.
		if token, ok := bearer([]string{s}); ok && (token == "" || !strings.Contains(s, token)) {
			t.Fatalf("bearer(%q) = %q", s, token)
		}
	})
}

// FuzzSecretRoundTrip: every secret NewSecret makes is accepted, and a
// change of one character is refused.
func FuzzSecretRoundTrip(f *testing.F) {
	f.Add(uint8(5), byte('x'))
	f.Fuzz(func(t *testing.T, pos uint8, c byte) {
		s := NewSecret(APIKeyPrefix)
		if err := CheckSecret(APIKeyPrefix, s); err != nil {
			t.Fatalf("NewSecret made %q, refused: %v", s, err)
		}
		i := len(APIKeyPrefix) + int(pos)%(len(s)-len(APIKeyPrefix))
		if s[i] == c {
			return
		}
		changed := s[:i] + string(c) + s[i+1:]
		if CheckSecret(APIKeyPrefix, changed) == nil {
			t.Fatalf("%q accepted after changing one character of %q", changed, s)
		}
	})
}
