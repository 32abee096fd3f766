package intakelog

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A key file holds an Ed25519 signing key's 32-byte seed as 64 hex
// characters and a newline, mode 0600. Its public half is what the election
// admin registers on the ledger (ballot.NewLogKey, RegisterLogKeys).

// DefaultKeyFile is where make up keeps the gateway's log signing key
// (relative to the project's folder).
const DefaultKeyFile = ".run/secrets/intakelog/gateway.key"

// EnsureKey loads the key in path, creating it (and its directory, 0700)
// from crypto/rand if the file does not exist.
func EnsureKey(path string) (ed25519.PrivateKey, error) {
	k, err := LoadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(seed) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("log key %s: %w", path, err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// LoadKey reads a key file. It refuses a file others may read.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("log key %s is a folder: give the key file's path", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("log key %s has mode %v; make it 0600 (chmod 600 %s)", path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("log key %s: want %d hex characters (an Ed25519 seed)", path, 2*ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
