package explorer

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/votechain/votechain/explorer/index"
)

// TestReplaceIndex: a closed new index (SQLite deleted its WAL) takes the
// old one's place, and the old one's WAL files, which a killed explorer
// left, are deleted rather than replayed onto it; a new index that kept its
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
	idx, err := index.Open(fresh)
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
	for _, gone := range []string{fresh, path + "-wal", path + "-shm"} {
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
