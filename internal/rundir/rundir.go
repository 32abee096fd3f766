// Package rundir guards the deletion of run folders: the commands that
// wipe a folder named by --dir (votechain, vcnet, benchrun) delete only a
// folder they made, never one a mistyped --dir ($HOME, /) points at.
package rundir

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Marker is the file Make writes into a run folder: its presence says a
// votechain command made the folder and may delete what is in it.
const Marker = ".votechain-run"

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
// which a wipe keeps) or the election secret an older `votechain up` left
// alone in the folder (isOlderSecret). Otherwise it returns an error
// wrapping ErrForeign that names dir and what to do.
func Check(dir string, records, others []string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, name := range append([]string{Marker}, records...) {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return nil
		}
	}
	foreign := func(e os.DirEntry) bool { return !slices.Contains(others, e.Name()) && !isOlderSecret(dir, e) }
	if !slices.ContainsFunc(entries, foreign) {
		return nil
	}
	return fmt.Errorf("%w: %s holds files but no %s, so it was not made by votechain and nothing in it is deleted: "+
		"check the --dir given, or empty the folder by hand if it is a system's", ErrForeign, dir, Marker)
}

// OlderSecret is the file an older `votechain up` wrote first into its run
// folder, before Marker existed: the election secret. An up that stopped
// right after it (the network not brought up) left a folder holding it
// alone, which no wipe accepted.
const OlderSecret = "election.secret"

// isOlderSecret reports whether dir's entry e is OlderSecret exactly as an
// older up wrote it: a regular file (no link) of mode 0600 holding 32 bytes
// in lowercase hex and a newline, nothing else. A file of that name in any
// other form is not taken for it.
func isOlderSecret(dir string, e os.DirEntry) bool {
	if e.Name() != OlderSecret || !e.Type().IsRegular() {
		return false
	}
	info, err := e.Info()
	if err != nil || info.Mode().Perm() != 0o600 || info.Size() != 2*32+1 {
		return false
	}
	data, err := os.ReadFile(filepath.Join(dir, e.Name()))
	if err != nil || len(data) != 2*32+1 || data[2*32] != '\n' {
		return false
	}
	secret, err := hex.DecodeString(string(data[:2*32]))
	return err == nil && hex.EncodeToString(secret) == string(data[:2*32])
}
