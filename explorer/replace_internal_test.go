package explorer

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/votechain/votechain/explorer/index"
)

// TestReplaceIndex: a closed new index (SQLite deleted its WAL) takes the
// old one's place, and the old one's WAL files, which a killed explorer
// left, are moved aside with it and deleted rather than replayed onto
// it, nothing of the old one left aside; a new index that kept its
// WAL is refused, the old index and the new one left as they were.
func TestReplaceIndex(t *testing.T) {
	dir := t.TempDir()
	path, fresh := filepath.Join(dir, "index.db"), filepath.Join(dir, "index.db.new")
	write := func(name, content string) {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	write(path, "the old index")
	write(path+"-wal", "the old index's log")
	write(path+"-shm", "the old index's shared memory")
	idx, err := index.Open(t.Context(), fresh)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
	built := read(fresh)

	if err := replaceIndex(fresh, path); err != nil {
		t.Fatalf("replace with a closed index: %v", err)
	}
	if !bytes.Equal(read(path), built) {
		t.Error("the index is not the new one")
	}
	for _, gone := range []string{fresh, path + "-wal", path + "-shm", path + ".reindex-aside", path + ".reindex-aside-wal", path + ".reindex-aside-shm"} {
		if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after the replace: %v; want it gone", filepath.Base(gone), err)
		}
	}

	write(fresh, "a new index")
	write(fresh+"-wal", "its log")
	if err := replaceIndex(fresh, path); err == nil {
		t.Error("a new index that kept its WAL replaced the old one")
	}
	if !bytes.Equal(read(path), built) || string(read(fresh)) != "a new index" {
		t.Error("the refused replace changed the old index or the new one")
	}
}

// TestFailedReplaceKeepsTheOldIndexLog: the old index as a killed explorer
// leaves it, its last committed rows only in its WAL. A replace whose
// rename of the new index fails (there is none) leaves the old index
// opening with all its rows; a replace that succeeds then puts the new
// index in its place, leaving nothing of the old one.
func TestFailedReplaceKeepsTheOldIndexLog(t *testing.T) {
	dir := t.TempDir()
	path, fresh := filepath.Join(dir, "index.db"), filepath.Join(dir, "index.db.new")
	const rows = 5
	leaveKilledDatabase(t, path, rows)

	if err := replaceIndex(fresh, path); err == nil {
		t.Fatal("replaced the index with a new one that is not there")
	}
	if n, err := countRows(path); err != nil || n != rows {
		t.Errorf("the old index after a failed replace holds %d rows (%v); want %d", n, err, rows)
	}

	idx, err := index.Open(t.Context(), fresh)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
	if err := replaceIndex(fresh, path); err != nil {
		t.Fatalf("replace with a closed index: %v", err)
	}
	if _, err := countRows(path); err == nil {
		t.Error("the index after the replace still has the old one's rows")
	}
	for _, gone := range []string{fresh, path + "-wal", path + ".reindex-aside", path + ".reindex-aside-wal", path + ".reindex-aside-shm"} {
		if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after the replace: %v; want it gone", filepath.Base(gone), err)
		}
	}
}

// TestLockRecoversAnInterruptedReplace: LockIndex finds the files a
// replace interrupted by a crash left. The old index aside, the new one not
// yet in place: the old one is moved back with its WAL. Both there: the old
// one is deleted, the new one kept.
func TestLockRecoversAnInterruptedReplace(t *testing.T) {
	for _, tc := range []struct {
		name        string
		files, want map[string]string // suffix of the index path: content
	}{
		{"old aside", map[string]string{".reindex-aside": "old", ".reindex-aside-wal": "old log"}, map[string]string{"": "old", "-wal": "old log"}},
		{"only the log aside", map[string]string{"": "old", ".reindex-aside-wal": "old log"}, map[string]string{"": "old", "-wal": "old log"}},
		{"new in place", map[string]string{"": "new", ".reindex-aside": "old", ".reindex-aside-shm": "old shm"}, map[string]string{"": "new"}},
		{"an operator's backup", map[string]string{"": "live", ".old": "backup"}, map[string]string{"": "live", ".old": "backup"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "index.db")
			for suffix, content := range tc.files {
				if err := os.WriteFile(path+suffix, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			lock, err := LockIndex(path)
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Close()
			for _, suffix := range []string{"", "-wal", "-shm", ".old", ".reindex-aside", ".reindex-aside-wal", ".reindex-aside-shm"} {
				got, err := os.ReadFile(path + suffix)
				want, kept := tc.want[suffix]
				if kept && string(got) != want || !kept && !errors.Is(err, os.ErrNotExist) {
					t.Errorf("index.db%s after the lock: %q (%v); want %q (kept %v)", suffix, got, err, want, kept)
				}
			}
		})
	}
}

// leaveKilledDatabase leaves at path an SQLite database as a process killed
// while it had it open leaves one: a table votes of rows rows committed to
// its WAL, path+"-wal", and not to the database file.
func leaveKilledDatabase(t *testing.T, path string, rows int) {
	t.Helper()
	live := filepath.Join(t.TempDir(), "live.db")
	db, err := sql.Open("sqlite", "file:"+live+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE votes (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if _, err := db.Exec(`INSERT INTO votes VALUES (?)`, i); err != nil {
			t.Fatal(err)
		}
	}
	// Copied while open: SQLite checkpoints and deletes the WAL on close.
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(live + suffix)
		if err == nil {
			err = os.WriteFile(path+suffix, b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	alone := filepath.Join(t.TempDir(), "alone.db")
	if b, err := os.ReadFile(path); err != nil || os.WriteFile(alone, b, 0o644) != nil {
		t.Fatal(err)
	}
	if n, err := countRows(alone); err == nil && n == rows {
		t.Fatal("the database file holds the rows without its WAL")
	}
}

// countRows counts the rows of table votes in the SQLite database at path.
func countRows(path string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM votes`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows of %s: %w", path, err)
	}
	return n, nil
}

// TestReplaceIndexDropsAWALWithoutItsDatabase: a WAL whose database was
// deleted by hand is deleted before the swap, not moved aside (where a
// crash before the clean-up would leave it for recoverReplace to pair
// with the new index): after a replace that fails (no new index) it is
// gone, where one moved aside would be moved back; after one that works,
// it is gone too and the new index in place.
func TestReplaceIndexDropsAWALWithoutItsDatabase(t *testing.T) {
	failed := filepath.Join(t.TempDir(), "index.db")
	if err := os.WriteFile(failed+"-wal", []byte("a log without its database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := replaceIndex(failed+".new", failed); err == nil {
		t.Fatal("replace with no new index: no error")
	}
	if _, err := os.Stat(failed + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the WAL without its database after a failed replace: %v; want it deleted", err)
	}

	dir := t.TempDir()
	path, fresh := filepath.Join(dir, "index.db"), filepath.Join(dir, "index.db.new")
	for name, content := range map[string]string{fresh: "the new index", path + "-wal": "a log without its database"} {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := replaceIndex(fresh, path); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "the new index" {
		t.Errorf("index after the replace: %q, %v; want the new one", got, err)
	}
	for _, gone := range []string{path + "-wal", path + asideSuffix + "-wal"} {
		if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after the replace: %v; want it deleted", filepath.Base(gone), err)
		}
	}
}
