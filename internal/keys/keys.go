// Package keys authenticates client keys for the proxy and the query API.
// Secrets are held only as SHA-256 digests; a presented key is hashed and
// compared in constant time, and no function here returns or logs a secret.
package keys

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/config"
)

// Key is an authenticated client key: who it is, never what it is.
type Key struct {
	ID    string
	Team  string
	Admin bool
	// ZeroRetention keeps the key's bodies out of records.
	ZeroRetention bool
	hash          [sha256.Size]byte
}

// Set is the configured keys, indexed by digest.
type Set struct {
	byHash map[[sha256.Size]byte]*Key
}

// New builds the set from the config (already validated).
func New(cfg []config.Key) (*Set, error) {
	s := &Set{byHash: make(map[[sha256.Size]byte]*Key, len(cfg))}
	for i, k := range cfg {
		key := &Key{ID: k.ID, Team: k.Team, Admin: k.Admin, ZeroRetention: k.ZeroRetention}
		if k.KeySHA256 != "" {
			b, err := hex.DecodeString(k.KeySHA256)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("keys[%d].key_sha256: must be 64 hex digits", i)
			}
			copy(key.hash[:], b)
		} else {
			key.hash = sha256.Sum256([]byte(k.Key))
		}
		if _, dup := s.byHash[key.hash]; dup {
			return nil, fmt.Errorf("keys[%d]: the same secret is configured twice", i)
		}
		s.byHash[key.hash] = key
	}
	return s, nil
}

// Lookup returns the key whose secret is given, if any.
func (s *Set) Lookup(secret string) (*Key, bool) {
	if secret == "" {
		return nil, false
	}
	h := sha256.Sum256([]byte(secret))
	k, ok := s.byHash[h]
	if !ok || subtle.ConstantTimeCompare(h[:], k.hash[:]) != 1 {
		return nil, false
	}
	return k, true
}

// Bearer extracts the token of an "Authorization: Bearer <token>" value.
func Bearer(header string) string {
	const prefix = "Bearer "
	if len(header) > len(prefix) && strings.EqualFold(header[:len(prefix)], prefix) {
		return strings.TrimSpace(header[len(prefix):])
	}
	return ""
}

// HashHex returns the hex SHA-256 of a secret, the form config's key_sha256
// takes.
func HashHex(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
