// Package rundir guards the deletion of run folders: the commands that
// wipe a folder named by --dir (votechain, vcnet, benchrun) delete only a
// folder they made, never one a mistyped --dir ($HOME, /) points at. It
// also writes, for advice in messages, the command lines that act on a
// run folder (Tool.Command), of the project's programs among others
// (Votechain, Vcnet), so that any command can advise them without linking
// the packages that run them. It reads a go.mod the one way the project
// does (FindModule, ModulePath): the folder whose make targets it advises
// is the one whose go.mod names Module, and tests find the module's
// folder, for their .run/test data, by FindModule.
package rundir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Marker is the file Make writes into a run folder: its presence says a
// votechain command made the folder and may delete what is in it.
const Marker = ".votechain-run"

// SystemDir is the run folder of make up's system (stack.DefaultDir),
// relative to the project's folder, where make runs.
const SystemDir = ".run"

// NetworkDir is the network folder of make's network targets
// (localnet.DefaultDir), relative to the project's folder.
const NetworkDir = SystemDir + "/network"

// DeployDir is the folder of the networks vcnet bundles generates for
// separate machines when no --dir is given, relative to the project's
// folder: beside make up's system, not inside its network.
const DeployDir = SystemDir + "/deploy"

// Make creates dir (and its parents) if need be and writes Marker in it,
// after Check(dir, records, others): a folder holding anything else is
// refused rather than claimed, so that a later wipe cannot reach it.
func Make(dir string, records, others []string) error {
	if err := Check(dir, records, others); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	m := filepath.Join(dir, Marker)
	if _, err := os.Stat(m); err == nil {
		return nil
	}
	return os.WriteFile(m, []byte("made by votechain: a wipe may delete this folder's contents\n"), 0o644)
}

// ErrForeign is wrapped by Check's refusal of a folder it does not own.
var ErrForeign = errors.New("not a votechain run folder")

// Check returns nil if dir is a run folder, which a wipe may empty: it does
// not exist, it holds Marker or one of records (files that folders made
// before Marker existed hold, such as a state file), or each of its
// entries (if any) is one of others (folders of other votechain commands,
// which a wipe keeps). Otherwise it returns an error wrapping ErrForeign
// that names dir and what to do.
func Check(dir string, records, others []string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if Is(dir, records) {
		return nil
	}
	if !slices.ContainsFunc(entries, func(e os.DirEntry) bool { return !slices.Contains(others, e.Name()) }) {
		return nil
	}
	return fmt.Errorf("%w: %s holds files but no %s, so it was not made by votechain and nothing in it is deleted: "+
		"check the --dir given, or empty the folder by hand if it is a system's", ErrForeign, dir, Marker)
}

// Is reports whether dir holds Marker or one of records: it was made by a
// votechain command. Unlike Check it does not take an absent or empty
// folder: a command that only updates its record (a plain down) writes
// into such a folder alone, so that it never makes a foreign folder ($HOME
// given as --dir) pass Check for a later wipe.
func Is(dir string, records []string) bool {
	for _, name := range append([]string{Marker}, records...) {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// ErrUnreadable is wrapped by the refusal to open a run folder whose
// record is damaged (a state file cut short) or was written by an older
// version: the commands that wipe a folder then stop the processes its
// records name and wipe it without opening it.
var ErrUnreadable = errors.New("run folder record cannot be opened")
