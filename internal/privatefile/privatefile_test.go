package privatefile

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
	"syscall"
	"testing"
)

// entries lists dir's names.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// holdsAlone fails t unless path holds want and its folder holds nothing
// else (no temporary file).
func holdsAlone(t *testing.T, path, want string) {
	t.Helper()
	if data, err := os.ReadFile(path); string(data) != want {
		t.Errorf("%s holds %.40q, %v; want %q", path, data, err, want)
	}
	if names := entries(t, filepath.Dir(path)); !slices.Equal(names, []string{filepath.Base(path)}) {
		t.Errorf("the folder holds %v, want %s alone", names, filepath.Base(path))
	}
}

// TestWriteReplacesWithAPrivateFile: a write replaces the file there (of
// mode 0644) with one of mode 0600 holding what was written, and leaves no
// temporary file.
func TestWriteReplacesWithAPrivateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "voters.csv")
	if err := os.WriteFile(path, []byte("an earlier roll\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteData(path, []byte("voter_id,credential,state\n")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 600", st.Mode().Perm())
	}
	holdsAlone(t, path, "voter_id,credential,state\n")
}

// TestFailedWriteLeavesNothing: a write that fails (a cancelled context, as
// Ctrl-C makes it) or panics after writing part of the file leaves the file
// there as it was and no temporary file.
func TestFailedWriteLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "voters.csv")
	if err := os.WriteFile(path, []byte("an earlier roll\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Write(path, func(w io.Writer) error {
		if _, err := io.WriteString(w, strings.Repeat("V1,secret-credential,CA\n", 10_000)); err != nil {
			return err
		}
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Write = %v, want the write's error", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the write's panic was not passed on")
			}
		}()
		Write(path, func(w io.Writer) error {
			io.WriteString(w, "V1,secret-credential,CA\n")
			panic("the writer failed")
		})
	}()
	holdsAlone(t, path, "an earlier roll\n")
}

// TestRemoveStale: RemoveStale removes the temporary files of path that a
// killed Write left, saying so, and nothing else: not one of another file,
// not a name of another shape, not a folder, not the temporary file of a
// Write still writing (it is locked).
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "voters.csv")
	stale := []string{".voters.csv.123.tmp", ".voters.csv.4294967295.tmp"}
	kept := []string{
		"voters.csv.tmp", ".voters.csv.tmp", ".voters.csv..tmp", ".voters.csv.12a.tmp",
		".voters.csv.1.tmp.bak", "x.voters.csv.1.tmp", ".other.csv.1.tmp", ".voters.csv.1.2.tmp",
	}
	for _, name := range append(slices.Clone(stale), kept...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("V1,secret-credential,CA\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".voters.csv.5.tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, ".voters.csv.5.tmp")
	var log bytes.Buffer
	var removed []string
	err := Write(path, func(w io.Writer) error {
		// A second writer starts meanwhile: this one's temporary file is
		// locked, so kept.
		removed = RemoveStale(path, slog.New(slog.NewTextHandler(&log, nil)))
		_, err := io.WriteString(w, "voter_id,credential,state\n")
		return err
	})
	if err != nil {
		t.Fatalf("Write with RemoveStale run while it writes: %v", err)
	}
	var want []string
	for _, name := range stale {
		want = append(want, filepath.Join(dir, name))
	}
	if !slices.Equal(removed, want) {
		t.Errorf("RemoveStale removed %v, want %v", removed, want)
	}
	names := entries(t, dir)
	for _, name := range stale {
		if slices.Contains(names, name) {
			t.Errorf("%s is left", name)
		}
		if !strings.Contains(log.String(), name) {
			t.Errorf("the log does not name %s:\n%s", name, log.String())
		}
	}
	for _, name := range append(kept, "voters.csv") {
		if !slices.Contains(names, name) {
			t.Errorf("%s was removed", name)
		}
	}
	if strings.Count(log.String(), "\n") != len(stale) {
		t.Errorf("the log says more than the removals:\n%s", log.String())
	}
}

// TestRemoveStaleKeepsALockedFile: a temporary file another process holds
// locked (a Write still running) is kept.
func TestRemoveStaleKeepsALockedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "voters.csv")
	f, err := os.CreateTemp(dir, TempPattern(path))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if removed := RemoveStale(path, slog.New(slog.NewTextHandler(io.Discard, nil))); removed != nil {
		t.Errorf("RemoveStale removed %v, a file being written", removed)
	}
	if _, err := os.Stat(f.Name()); err != nil {
		t.Errorf("the locked temporary file: %v", err)
	}
}

// TestCreateLockedOutlivesARemoveStaleBeside: a RemoveStale that takes a
// temporary file in the moment between its creation and its lock (not
// locked yet, so taken for a killed writer's) and removes it does not fail
// the write: the file found unlinked is given up and another made, which
// is linked, locked (a RemoveStale now keeps it) and the one returned.
func TestCreateLockedOutlivesARemoveStaleBeside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "voters.csv")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var lost []string
	f, err := createLocked(path, func(f *os.File) {
		if len(lost) == 0 {
			lost = RemoveStale(path, log)
		}
	})
	if err != nil {
		t.Fatalf("createLocked with a RemoveStale beside it: %v", err)
	}
	defer f.Close()
	if len(lost) != 1 {
		t.Fatalf("the RemoveStale beside removed %v; the test wants it to take the first file", lost)
	}
	if f.Name() == lost[0] {
		t.Errorf("createLocked returned %s, the file removed under it", f.Name())
	}
	if removed := RemoveStale(path, log); removed != nil {
		t.Errorf("RemoveStale removed %v after createLocked returned: its file is not locked", removed)
	}
	if got := entries(t, dir); !slices.Equal(got, []string{filepath.Base(f.Name())}) {
		t.Errorf("the folder holds %v; want only %s", got, filepath.Base(f.Name()))
	}
}

// TestRemoveOlderCopy: PATH.tmp, a regular file, is removed, logged and
// reported; a folder of that name, or none, is not.
func TestRemoveOlderCopy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.password")
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	if RemoveOlderCopy(path, logger) {
		t.Error("RemoveOlderCopy reports a copy where there is none")
	}
	if err := os.WriteFile(path+".tmp", []byte("a password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !RemoveOlderCopy(path, logger) {
		t.Error("RemoveOlderCopy did not report the copy it had to remove")
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.tmp: %v; want it removed", path, err)
	}
	if !strings.Contains(log.String(), path+".tmp") {
		t.Errorf("the log does not name the copy:\n%s", log.String())
	}
	if err := os.Mkdir(path+".tmp", 0o700); err != nil {
		t.Fatal(err)
	}
	if RemoveOlderCopy(path, logger) {
		t.Error("RemoveOlderCopy removed a folder")
	}
}

// A nil logger logs nothing: the removals happen all the same.
func TestRemoveWithoutALogger(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "roll.jsonl")
	for _, name := range []string{path + ".tmp", filepath.Join(dir, ".roll.jsonl.123.tmp")} {
		if err := os.WriteFile(name, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if !RemoveOlderCopy(path, nil) {
		t.Error("RemoveOlderCopy with no logger did not remove the older copy")
	}
	if got := RemoveStale(path, nil); len(got) != 1 {
		t.Errorf("RemoveStale with no logger removed %v; want the one temporary file", got)
	}
}
