package rundir_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/rundir/rundirtest"
)

func TestCheck(t *testing.T) {
	base := t.TempDir()
	foreign := filepath.Join(base, "home")
	thesis := rundirtest.Foreign(t, foreign)
	recorded := filepath.Join(base, "old")
	if err := os.MkdirAll(recorded, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(recorded, "state.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	records, others := []string{"state.json"}, []string{"deploy"}
	made := filepath.Join(base, "made", "run")
	if err := rundir.Make(made, records, others); err != nil {
		t.Fatal(err)
	}
	rundirtest.Refused(t, "Make", rundir.Make(foreign, records, others), thesis)
	if _, err := os.Stat(filepath.Join(foreign, rundir.Marker)); err == nil {
		t.Errorf("Make wrote %s into the foreign folder", rundir.Marker)
	}
	if err := os.MkdirAll(filepath.Join(base, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(base, "shared", "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir     string
		foreign bool
	}{
		{foreign, true},
		{recorded, false},
		{made, false},
		{filepath.Join(base, "empty"), false},
		{filepath.Join(base, "absent"), false},
		{filepath.Join(base, "shared"), false},
	} {
		err := rundir.Check(tc.dir, records, others)
		if got := errors.Is(err, rundir.ErrForeign); got != tc.foreign || (!tc.foreign && err != nil) {
			t.Errorf("Check(%s) = %v, want foreign %v", tc.dir, err, tc.foreign)
		}
	}
}

// TestIs: a folder holding the marker or a record is a run folder; an
// absent, empty or foreign one is not (though Check lets the first two be
// made one).
func TestIs(t *testing.T) {
	base := t.TempDir()
	records := []string{"state.json"}
	foreign := filepath.Join(base, "home")
	rundirtest.Foreign(t, foreign)
	marked, recorded, empty := filepath.Join(base, "marked"), filepath.Join(base, "recorded"), filepath.Join(base, "empty")
	for _, f := range []string{filepath.Join(marked, rundir.Marker), filepath.Join(recorded, "state.json")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]bool{marked: true, recorded: true, empty: false, foreign: false, filepath.Join(base, "absent"): false} {
		if got := rundir.Is(dir, records); got != want {
			t.Errorf("Is(%s) = %v, want %v", filepath.Base(dir), got, want)
		}
	}
}
