// Package apikey makes and checks API keys. A key is shown once; only its SHA-256
// hash and a short lookup prefix are ever stored.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"strings"
)

// PrefixLen is how many leading characters of a key are stored in clear for lookup.
const PrefixLen = 12

// MinLen is the shortest key accepted, also for operator-chosen bootstrap keys.
const MinLen = 24

// keyPrefix marks keys this program generated, so they are recognisable in a leak scan.
const keyPrefix = "yw_"

var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// ErrMalformed means a presented key cannot be one of ours.
var ErrMalformed = errors.New("malformed api key")

// Generate returns a new random key: 240 bits of entropy behind the "yw_" marker.
func Generate() string {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the platform cannot run without randomness
	}
	return keyPrefix + strings.ToLower(encoding.EncodeToString(b))
}

// Prefix returns the lookup prefix of key, or ErrMalformed.
func Prefix(key string) (string, error) {
	if len(key) < MinLen || len(key) > 256 {
		return "", ErrMalformed
	}
	for _, r := range key {
		if r <= ' ' || r > '~' {
			return "", ErrMalformed
		}
	}
	return key[:PrefixLen], nil
}

// Hash returns the stored form of key.
func Hash(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

// Matches reports in constant time whether key hashes to stored.
func Matches(key string, stored []byte) bool {
	return subtle.ConstantTimeCompare(Hash(key), stored) == 1
}
