package rundir_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// TestCheckTakesAnOlderUpsSecretFolder: a folder an older `votechain up`
// left holding only its election secret (mode 0600, 32 bytes in hex and a
// newline), other commands' folders aside, is a run folder; Make marks it
// and keeps the secret. A folder holding that file beside another, or a
// file of that name in another form (other content, mode, a link, a
// folder), is still refused.
func TestCheckTakesAnOlderUpsSecretFolder(t *testing.T) {
	const secret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	others := []string{"deploy"}
	base := t.TempDir()
	folder := func(name, data string, mode os.FileMode) string {
		dir := filepath.Join(base, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rundir.OlderSecret), []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	older := folder("older", secret, 0o600)
	withDeploy := folder("with-deploy", secret, 0o600)
	if err := os.Mkdir(filepath.Join(withDeploy, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{older, withDeploy} {
		if err := rundir.Check(dir, nil, others); err != nil {
			t.Errorf("Check(%s) = %v, want it taken as a run folder", filepath.Base(dir), err)
		}
	}
	if err := rundir.Make(older, nil, others); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(older, rundir.OlderSecret)); string(data) != secret {
		t.Errorf("after Make the secret holds %q, %v; want it kept", data, err)
	}
	if _, err := os.Stat(filepath.Join(older, rundir.Marker)); err != nil {
		t.Errorf("Make did not mark the older folder: %v", err)
	}

	beside := folder("beside", secret, 0o600)
	thesis := rundirtest.Foreign(t, beside)
	rundirtest.Refused(t, "Check", rundir.Check(beside, nil, others), thesis)
	linked := filepath.Join(base, "linked")
	if err := os.Mkdir(linked, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(older, rundir.OlderSecret), filepath.Join(linked, rundir.OlderSecret)); err != nil {
		t.Fatal(err)
	}
	asFolder := filepath.Join(base, "as-folder")
	if err := os.MkdirAll(filepath.Join(asFolder, rundir.OlderSecret), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{
		folder("readable", secret, 0o644),
		folder("upper-case", strings.ToUpper(secret), 0o600),
		folder("no-newline", strings.TrimSpace(secret)+" ", 0o600),
		folder("short", secret[:32]+"\n", 0o600),
		folder("prose", strings.Repeat("x", len(secret)-1)+"\n", 0o600),
		linked, asFolder,
	} {
		if err := rundir.Check(dir, nil, others); !errors.Is(err, rundir.ErrForeign) {
			t.Errorf("Check(%s) = %v, want it refused as not a run folder", filepath.Base(dir), err)
		}
	}
}
