package gateway

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestApplyEnv(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	addr := fs.String("redis-addr", "default", "")
	level := fs.String("log-level", "info", "")
	t.Setenv("GW_REDIS_ADDR", "from-env")
	t.Setenv("GW_LOG_LEVEL", "from-env")
	if err := fs.Parse([]string{"-log-level", "from-flag"}); err != nil {
		t.Fatal(err)
	}
	if err := ApplyEnv(fs, "GW"); err != nil {
		t.Fatal(err)
	}
	if *addr != "from-env" || *level != "from-flag" {
		t.Fatalf("redis-addr %q, log-level %q; want env then flag", *addr, *level)
	}
	fs.Int("n", 1, "")
	t.Setenv("GW_N", "many")
	if err := ApplyEnv(fs, "GW"); err == nil || !strings.Contains(err.Error(), "GW_N") {
		t.Fatalf("bad env value: err %v; want one naming GW_N", err)
	}
}

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
