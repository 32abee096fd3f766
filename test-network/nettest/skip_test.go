package nettest

import (
	"flag"
	"fmt"
	"testing"
)

// TestShortSkipText pins what the tests print when -short skips them:
// Integration's and SeparateHostsSkip's reasons, both from shortSkip.
func TestShortSkipText(t *testing.T) {
	if !testing.Short() {
		if err := flag.Set("test.short", "true"); err != nil {
			t.Fatal(err)
		}
		defer flag.Set("test.short", "false")
	}
	var skip skipRecorder
	Integration(&skip)
	if want := "starts a Fabric network: skipped under -short (run make test)"; skip.why != want {
		t.Errorf("Integration skips with %q; want %q", skip.why, want)
	}
	if got, want := SeparateHostsSkip(), "makes network namespaces for an integration test: skipped under -short (run make test)"; got != want {
		t.Errorf("SeparateHostsSkip() = %q; want %q", got, want)
	}
}

// skipRecorder is a testing.TB that records why it was skipped.
type skipRecorder struct {
	testing.TB
	why string
}

func (r *skipRecorder) Helper()          {}
func (r *skipRecorder) Skip(args ...any) { r.why = fmt.Sprint(args...) }
