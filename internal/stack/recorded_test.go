package stack

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/proc/proctest"
	"github.com/votechain/votechain/internal/rundir/rundirtest"
)

// TestStopRecordedRefusesWhatWillNotStop: a recorded process that does not
// stop (proc.Stop failing, as for one the caller may not signal) is named
// with its record and the command that stops it, beside those stopped; a
// folder no stack made is refused and its recorded process left alone.
func TestStopRecordedRefusesWhatWillNotStop(t *testing.T) {
	dir, bin := t.TempDir(), t.TempDir()
	stuck, gone := proctest.Sleeper(t, bin, "batcher"), proctest.Sleeper(t, bin, "peer")
	stop := stopProcess
	t.Cleanup(func() { stopProcess = stop })
	stopProcess = func(id proc.ID, bin string, grace time.Duration) (proc.Outcome, error) {
		if id == stuck {
			return proc.Stopped, fmt.Errorf("process %d (%s) did not stop", id.PID, filepath.Base(bin))
		}
		return stop(id, bin, grace)
	}
	writeJSON(t, filepath.Join(dir, "stack.json"), map[string]proc.ID{"batcher0": stuck})
	writeJSON(t, filepath.Join(dir, "network", "state.json"), map[string]any{"pids": map[string]proc.ID{"peer0.Commission": gone}})

	err := StopRecorded(dir, nil)
	if err == nil {
		t.Fatal("StopRecorded = nil with a process left running")
	}
	want := fmt.Sprintf("batcher0, recorded in %s: process %d (batcher) did not stop: stop it with `kill -KILL %d`",
		filepath.Join(dir, "stack.json"), stuck.PID, stuck.PID)
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "peer0") {
		t.Errorf("StopRecorded = %q, want it to name only %q", err, want)
	}
	if proc.Running(gone, "") {
		t.Errorf("the peer (PID %d) that would stop still runs", gone.PID)
	}

	foreign := t.TempDir()
	thesis := rundirtest.Foreign(t, foreign)
	writeJSON(t, filepath.Join(foreign, "network", "state.json"), map[string]any{"pids": map[string]proc.ID{"orderer0": stuck}})
	signalled := false
	stopProcess = func(proc.ID, string, time.Duration) (proc.Outcome, error) { signalled = true; return proc.Gone, nil }
	rundirtest.Refused(t, "StopRecorded", StopRecorded(foreign, nil), thesis)
	if signalled {
		t.Error("StopRecorded stopped a process a folder no stack made records")
	}
}
