package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/test-network/localnet"
)

// stopProcess is proc.Stop; tests replace it with one that fails.
var stopProcess = proc.Stop

// StopRecorded stops, by their recorded IDs alone, every process whose data
// a wipe of the run folder dir deletes (WipeRunDir): the system's
// application processes (stack.json), its network's nodes
// (network/state.json), and those of each system or network in a folder
// directly under dir but OthersInRunDir (the benchmark's scale-out stack in
// scaleout/, its extra networks). It opens no system, so neither the port
// plan nor the version that made the folder matters. Each process with a
// start time is stopped as Down stops it (proc.Stop: a PID now held by a
// later process is left alone); one recorded without (a bare PID, from an
// older version) whose PID is held cannot be told from a later process and
// is left running. It returns nil when none of them runs any more;
// otherwise an error naming each one left running, where it is recorded
// and how to stop it, having changed no record. A folder no stack made is
// refused (CheckRunDir) before anything is signalled; a record it cannot
// read is an error.
func StopRecorded(dir string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := CheckRunDir(dir); err != nil {
		return err
	}
	files, err := processRecords(dir)
	if err != nil {
		return err
	}
	var left []string
	for _, file := range files {
		ids, err := readProcessRecord(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		for _, name := range slices.Sorted(maps.Keys(ids)) {
			if err := stopByID(name, ids[name], log); err != nil {
				left = append(left, fmt.Sprintf("%s, recorded in %s: %v", name, file, err))
			}
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("processes that the run folder %s records still run, so nothing in it was deleted; stop them and run this again:\n  %s",
			dir, strings.Join(left, "\n  "))
	}
	return nil
}

// processRecords lists the files that may record processes of the run
// folder dir (see StopRecorded); some may not exist.
func processRecords(dir string) ([]string, error) {
	const network = "network"
	files := []string{filepath.Join(dir, "stack.json"), filepath.Join(dir, network, "state.json")}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == network || slices.Contains(OthersInRunDir, e.Name()) {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		files = append(files, filepath.Join(sub, "stack.json"), filepath.Join(sub, network, "state.json"), filepath.Join(sub, "state.json"))
	}
	return files, nil
}

// readProcessRecord reads the IDs a stack's stack.json or a network's
// state.json (localnet.RecordedPIDs) records, by process name.
func readProcessRecord(file string) (map[string]proc.ID, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var ids map[string]proc.ID
	if filepath.Base(file) == "stack.json" {
		err = json.Unmarshal(data, &ids)
	} else {
		ids, err = localnet.RecordedPIDs(data)
	}
	if err != nil {
		return nil, fmt.Errorf("%s is damaged (%v), so the processes it records cannot be stopped: stop them by hand, then delete it", file, err)
	}
	return ids, nil
}

// stopByID stops the recorded process id (see StopRecorded), or says why
// it is left running and how to stop it.
func stopByID(name string, id proc.ID, log *slog.Logger) error {
	if id.PID <= 0 {
		return nil
	}
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", id.PID)) // for messages; the ID is the check
	if id.Start == 0 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", id.PID)); err != nil {
			return nil // gone
		}
		return fmt.Errorf("PID %d is held (by %s), and the record, a bare PID from an older version, cannot tell the system's process from a later one: "+
			"stop it with `kill %d` if it is the system's, else delete the record", id.PID, exe, id.PID)
	}
	_ = proc.Signal(id, exe, syscall.SIGCONT) // a paused node (localnet Pause) would see SIGTERM only once continued
	out, err := stopProcess(id, exe, 20*time.Second)
	if err != nil {
		return fmt.Errorf("%v: stop it with `kill -KILL %d`", err, id.PID)
	}
	localnet.LogStop(log, name, id, out)
	return nil
}
