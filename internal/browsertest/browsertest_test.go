package browsertest

import (
	"flag"
	"testing"
)

// TestNewSkipsUnderShort: under -short New skips its test before it looks
// for Chromium, so the browser tests need no -short check of their own.
func TestNewSkipsUnderShort(t *testing.T) {
	if !testing.Short() {
		if err := flag.Set("test.short", "true"); err != nil {
			t.Fatal(err)
		}
		defer flag.Set("test.short", "false")
	}
	skipped := false
	t.Run("new", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		New(t)
		t.Error("New returned under -short; want it to skip the test")
	})
	if !skipped {
		t.Errorf("New did not skip its test under -short; want the skip %q", shortSkip)
	}
}
