package stack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestWriteRollLeavesNoCopy: the roll `make up` (and the benchmark) write
// is written whole with mode 0600; a write stopped by its context leaves no
// temporary copy of it (one holding every credential was left as
// voters.csv.tmp), and a write removes, saying so, the copies earlier
// writes killed outright left (voters.csv.tmp of earlier versions
// included), keeping other files.
func TestWriteRollLeavesNoCopy(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	s, err := New(Config{Dir: dir, PortBase: planBase, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir, Voters: 5000,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rollDir := filepath.Dir(s.RollCSV())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.generateRoll(ctx, []string{"CA", "NY"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("generateRoll with its context ended: %v, want context.Canceled", err)
	}
	if files, err := os.ReadDir(rollDir); len(files) != 0 {
		t.Errorf("after a cancelled roll write %s holds %v, %v; want nothing", rollDir, files, err)
	}

	stale := []string{".voters.csv.31415.tmp", "voters.csv.tmp"}
	kept := []string{".voters.csv.tmp", "notes.txt"}
	for _, name := range append(slices.Clone(stale), kept...) {
		if err := os.WriteFile(filepath.Join(rollDir, name), []byte("V1,secret-credential,CA\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WriteRoll(func(w io.Writer) error {
		_, err := io.WriteString(w, "voter_id,credential,state\n")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(s.RollCSV()); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the roll: %v, %v; want it written, mode 0600", st, err)
	}
	for _, name := range stale {
		if _, err := os.Stat(filepath.Join(rollDir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v; want it removed", name, err)
		}
		if !strings.Contains(logs.String(), name) {
			t.Errorf("the log does not name %s:\n%s", name, logs.String())
		}
	}
	for _, name := range kept {
		if _, err := os.Stat(filepath.Join(rollDir, name)); err != nil {
			t.Errorf("%s: %v; want it kept", name, err)
		}
	}
}

// TestLoadRollNamesARepeatedVotersLines: a voter listed under two states
// in the roll up loads is named with the roll's lines that list it (the
// roll is read through a reader that can seek again), not only the states.
func TestLoadRollNamesARepeatedVotersLines(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Dir: dir, PortBase: planBase, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir, Voters: 3,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	const csv = "voter_id,credential,state\nV1,c1,CA\nV2,c2,NY\nV1,c1,NY\n"
	if err := s.WriteRoll(func(w io.Writer) error {
		_, err := io.WriteString(w, csv)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, err = s.loadRoll(context.Background(), nil, []byte("secret"), "e1", []string{"CA", "NY"}, []string{"president"})
	if err == nil || !strings.Contains(err.Error(), "lines 2 and 4: one voter listed under states CA and NY") {
		t.Fatalf("loading a roll listing V1 under CA (line 2) and NY (line 4): %v; want both lines named", err)
	}
}
