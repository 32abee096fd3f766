package config

import (
	"bytes"
	"os"
	"testing"
)

// TestEmbeddedFilesAreNewCopies: AlertRules and Dashboard return the
// repository's files, and a caller's edit of the bytes one call returned
// does not reach the next call.
func TestEmbeddedFilesAreNewCopies(t *testing.T) {
	for _, c := range []struct {
		path string
		get  func() []byte
	}{
		{"prometheus/alerts.yml", AlertRules},
		{"grafana/votechain.json", Dashboard},
	} {
		want, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		got := c.get()
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: the function returns %d bytes that are not the file's %d", c.path, len(got), len(want))
		}
		got[0] ^= 0xff
		if again := c.get(); !bytes.Equal(again, want) {
			t.Errorf("%s: a caller's change to the returned bytes shows in the next call", c.path)
		}
	}
}
