package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, 1
// lane). Hashes record their parameters, so these can be raised later
// without breaking stored hashes.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// hashing bounds how many argon2id computations run at once: each takes
// 19 MiB, and sign-ins are open to anyone.
var hashing = make(chan struct{}, 2*runtime.GOMAXPROCS(0))

// HashPassword returns an argon2id hash of password in PHC string format.
func HashPassword(password string) string {
	hashing <- struct{}{}
	defer func() { <-hashing }()
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// dummyHash is checked against when a user does not exist, so that a
// sign-in for an unknown email costs as much as one with a wrong password.
var dummyHash = HashPassword("keygate-dummy-password")

// CheckPassword reports whether password matches hash, in constant time.
// An empty hash (unknown user) costs the same as a real one and never
// matches.
func CheckPassword(hash, password string) bool {
	if hash == "" {
		checkPHC(dummyHash, password)
		return false
	}
	ok, err := checkPHC(hash, password)
	return err == nil && ok
}

func checkPHC(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("not an argon2id hash")
	}
	var version int
	var memory, time uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil {
		return false, err
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, err
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return false, err
	}
	if memory > 256*1024 || time > 16 || threads == 0 || threads > 16 || len(want) > 64 {
		return false, errors.New("argon2 parameters out of range")
	}
	hashing <- struct{}{}
	defer func() { <-hashing }()
	got := argon2.IDKey([]byte(password), salt, time, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
