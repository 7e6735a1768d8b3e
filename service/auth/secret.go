package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"hash"
	"hash/crc32"
	"strings"
	"sync"
)

// Secrets (API keys and session tokens) look like GitHub tokens:
//
//	kg_<43 base62 characters of randomness><6 base62 characters of CRC32>
//
// 43 base62 characters carry 43·log2(62) ≈ 256 bits from crypto/rand. The
// prefix makes leaked keys easy to scan for; the checksum lets a mistyped
// or made-up key be refused without a store lookup.
const (
	APIKeyPrefix  = "kg_"
	SessionPrefix = "kgs_"

	bodyLen     = 43
	checksumLen = 6
	alphabet    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// ErrMalformed means a string is not a well-formed secret of the expected
// kind. It never includes the string itself.
var ErrMalformed = errors.New("malformed secret")

// NewSecret returns a fresh secret with the given prefix.
func NewSecret(prefix string) string {
	var b strings.Builder
	b.Grow(len(prefix) + bodyLen + checksumLen)
	b.WriteString(prefix)
	// Rejection sampling keeps every character uniform: bytes ≥ 248 (the
	// largest multiple of 62 below 256) are discarded.
	var buf [64]byte
	for n := 0; n < bodyLen; {
		rand.Read(buf[:]) // never returns an error (crypto/rand docs)
		for _, c := range buf {
			if c < 248 && n < bodyLen {
				b.WriteByte(alphabet[c%62])
				n++
			}
		}
	}
	sum := checksum(b.String()[len(prefix):])
	b.Write(sum[:])
	return b.String()
}

// CheckSecret reports whether s is well formed: the prefix, the length,
// the alphabet and the checksum. It does not say whether s exists.
func CheckSecret(prefix, s string) error {
	if len(s) != len(prefix)+bodyLen+checksumLen || !strings.HasPrefix(s, prefix) {
		return ErrMalformed
	}
	rest := s[len(prefix):]
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(alphabet, rest[i]) < 0 {
			return ErrMalformed
		}
	}
	sum := checksum(rest[:bodyLen])
	if string(sum[:]) != rest[bodyLen:] {
		return ErrMalformed
	}
	return nil
}

// Digest is what a store keeps of a secret. The secrets carry 256 bits of
// randomness, so a plain SHA-256 cannot be brute-forced and needs no salt.
func Digest(secret string) []byte {
	d := digest(secret)
	return d[:]
}

// hashers are reused so that digesting a well-formed secret, on every
// request, allocates nothing.
var hashers = sync.Pool{New: func() any { return &hasher{h: sha256.New()} }}

type hasher struct {
	h   hash.Hash
	buf [64]byte
	sum [sha256.Size]byte
}

// digest computes Digest as an array.
func digest(secret string) [32]byte {
	if len(secret) > 64 {
		return sha256.Sum256([]byte(secret))
	}
	x := hashers.Get().(*hasher)
	defer hashers.Put(x)
	x.h.Reset()
	n := copy(x.buf[:], secret)
	x.h.Write(x.buf[:n])
	x.h.Sum(x.sum[:0])
	return x.sum
}

// checksum encodes the CRC32 of body as six base62 characters.
func checksum(body string) [checksumLen]byte {
	// CRC-32 (IEEE) over the string itself, without converting it to a
	// byte slice.
	n := ^uint32(0)
	for i := 0; i < len(body); i++ {
		n = crc32.IEEETable[byte(n)^body[i]] ^ (n >> 8)
	}
	n = ^n
	var out [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = alphabet[n%62]
		n /= 62
	}
	return out
}
