package browsertest

import (
	"flag"
	"testing"
)

// TestNewSkipsUnderShort: under -short New skips its test before it looks
// for Chromium, so the browser tests need no -short check of their own.
func TestNewSkipsUnderShort(t *testing.T) {
	was := flag.Lookup("test.short").Value.String()
	t.Cleanup(func() { flag.Set("test.short", was) })
	if err := flag.Set("test.short", "true"); err != nil {
		t.Fatal(err)
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
