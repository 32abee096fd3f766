package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenWritesPrivateCSV: the credentials CSV is readable by its owner only.
func TestGenWritesPrivateCSV(t *testing.T) {
	out := filepath.Join(t.TempDir(), "voters.csv")
	if err := run(context.Background(), []string{"gen", "-n", "10", "-o", out}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("roll CSV mode %o, want 600", mode)
	}
	data, _ := os.ReadFile(out)
	if n := strings.Count(string(data), "\n"); n != 11 {
		t.Errorf("roll CSV has %d lines, want header + 10", n)
	}
}
