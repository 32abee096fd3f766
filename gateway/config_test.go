package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "s")
	_ = os.WriteFile(good, []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
	if s, err := LoadSecret(good); err != nil || len(s) != 32 {
		t.Fatalf("file: %x, %v", s, err)
	}
	t.Setenv(SecretEnv, strings.Repeat("cd", 16))
	if s, err := LoadSecret(""); err != nil || len(s) != 16 {
		t.Fatalf("env: %x, %v", s, err)
	}
	for _, bad := range []string{"", "zz", "abcd"} {
		t.Setenv(SecretEnv, bad)
		if _, err := LoadSecret(""); err == nil {
			t.Errorf("secret %q accepted", bad)
		}
	}
}
