package stack

import (
	"cmp"
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

	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/test-network/localnet"
)

// StopRecorded stops, by their recorded IDs alone, every process whose data
// a wipe of the run folder dir deletes (WipeRunDir): the system's
// application processes (stack.json), its network's nodes
// (network/state.json), and those of each system or network in a folder
// directly under dir but OthersInRunDir (the benchmark's scale-out stack in
// scaleout/, its extra networks). It opens no system, so neither the port
// plan nor the version that made the folder matters. It reads every record
// first (a record it cannot read is an error before anything is signalled),
// then stops the processes in reverse start order (stopOrder), across all
// records, so what depends on another process (a gateway on Redis and the
// peers, a chaincode server's peer, a peer on the orderers) stops before it
// (one restarted since stops as started then), grouped as Down groups them
// (stopGroups): the gateways of a record together, in the place of the
// latest started of them, so what was started before any of them (the
// batchers, Redis, a peer restarted between two gateways' starts) stops once
// all of them stopped, and the record's HAProxy always before them; every
// other process alone, as is one recorded as a bare PID; each group only
// once every stop of the one before has ended (stopInGroups). Each process
// with a start time is stopped as Down stops it (stopSteps: HAProxy softly,
// a gateway within its recorded --shutdown-timeout; a PID now held by a
// later process is left alone), taking at most its SIGKILL's wait and 5 s
// (proc.StopSteps): 25 s (appStopGrace's 20 and 5) for most, a gateway's
// grace and 5 s, HAProxy's hard-stop-after and 12 s (haproxyStopMargin, 5 s
// after SIGTERM, 5 s after SIGKILL); a record's gateways the longest of
// theirs. One recorded without (a bare PID, from an older version) whose PID
// is held cannot be told from a later process and is left running. It
// returns nil when none of them runs any more; otherwise an error naming
// each one left running, where it is recorded and how to stop it, having
// changed no record. A folder no stack made is refused (CheckRunDir) before
// anything is signalled.
func StopRecorded(dir string, log *slog.Logger) error {
	return stopRecordedWith(proc.StopSteps, dir, log)
}

// stopRecordedWith is StopRecorded stopping each process with stop
// (proc.StopSteps, or a test's stand-in).
func stopRecordedWith(stop stopFunc, dir string, log *slog.Logger) error {
	all, err := recordedInRunDir(dir)
	if err != nil {
		return err
	}
	return stopRecorded(stop, dir, all, log)
}

// StopRecordedNetwork is StopRecorded for the folder dir of a network alone
// (vcnet's --dir): it refuses a folder no network made
// (localnet.CheckRunDir), then stops the processes its state.json records.
func StopRecordedNetwork(dir string, log *slog.Logger) error {
	if err := localnet.CheckRunDir(dir); err != nil {
		return err
	}
	all, err := readRecords([]string{network.Layout{Dir: dir}.State()})
	if err != nil {
		return err
	}
	return stopRecorded(proc.StopSteps, dir, all, log)
}

// WipeUnopened is down --wipe of a run folder dir whose system New refuses
// (rundir.ErrUnreadable: a damaged or older record): StopRecorded, then,
// if every recorded process is gone, WipeRunDir.
func WipeUnopened(dir string, log *slog.Logger) error {
	if err := StopRecorded(dir, log); err != nil {
		return err
	}
	return WipeRunDir(dir)
}

// RecordedRunning names the processes the records of the run folder dir
// (those StopRecorded reads) name that still run, with where each is
// recorded; one recorded as a bare PID (an older version's) whose PID is
// held counts, as it cannot be told from a later process. It signals
// nothing, and refuses a folder no stack made (CheckRunDir).
func RecordedRunning(dir string) ([]string, error) {
	all, err := recordedInRunDir(dir)
	if err != nil {
		return nil, err
	}
	return running(all), nil
}

// ServicesRunning is RecordedRunning for the application processes of the
// system in the run folder dir alone (its stack.json: Redis, batchers,
// gateways, HAProxy, explorer, monitoring), not its network's: none for a
// folder without stack.json.
func ServicesRunning(dir string) ([]string, error) {
	all, err := readRecords([]string{filepath.Join(dir, "stack.json")})
	if err != nil {
		return nil, err
	}
	return running(all), nil
}

// running names those of ps that still run (see RecordedRunning), with
// where each is recorded.
func running(ps []recordedProcess) []string {
	var names []string
	for _, p := range ps {
		if p.id.PID > 0 && (proc.Running(p.id, "") || p.id.Start == 0 && pidHeld(p.id.PID)) {
			names = append(names, fmt.Sprintf("%s (PID %d, recorded in %s)", p.name, p.id.PID, p.file))
		}
	}
	return names
}

// recordedInRunDir reads every process record of the run folder dir (see
// StopRecorded), after CheckRunDir.
func recordedInRunDir(dir string) ([]recordedProcess, error) {
	if err := CheckRunDir(dir); err != nil {
		return nil, err
	}
	files, err := processRecords(dir)
	if err != nil {
		return nil, err
	}
	return readRecords(files)
}

// readRecords reads the processes each of files records (a file that does
// not exist records none); a record it cannot read is an error.
func readRecords(files []string) ([]recordedProcess, error) {
	var all []recordedProcess
	for _, file := range files {
		ids, err := readProcessRecord(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, name := range slices.Sorted(maps.Keys(ids)) {
			all = append(all, recordedProcess{name: name, file: file, id: ids[name]})
		}
	}
	return all, nil
}

// stopRecorded stops the processes all of the run folder dir with stop as
// StopRecorded says.
func stopRecorded(stop stopFunc, dir string, all []recordedProcess, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var left []string
	stopInGroups(stopRecordedGroups(all), func(p recordedProcess) error { return stopByID(stop, p, log) }, func(p recordedProcess, err error) {
		if err != nil {
			left = append(left, fmt.Sprintf("%s, recorded in %s: %v", p.name, p.file, err))
		}
	})
	if len(left) > 0 {
		return fmt.Errorf("processes that the run folder %s records still run, so nothing in it was deleted; stop them and run this again:\n  %s",
			dir, strings.Join(left, "\n  "))
	}
	return nil
}

// stopRecordedGroups returns the processes all in the groups StopRecorded
// stops them in: stopOrder's order, grouped by stopGroups with the gateways
// of each record together, but for one recorded as a bare PID: stopOrder
// puts it last and it is never signalled, so it stays alone (a record of
// its own) and does not hold back the others of its record.
func stopRecordedGroups(all []recordedProcess) [][]recordedProcess {
	return stopGroups(stopOrder(all), func(p recordedProcess) string { return p.name }, func(p recordedProcess) string {
		if p.id.Start == 0 {
			return p.file + "\x00" + p.name
		}
		return p.file
	})
}

// recordedProcess is one process a record of a run folder names.
type recordedProcess struct {
	name, file string // its name in the record, and the record's file
	id         proc.ID
}

// stopOrder returns ps (not changed) in the order StopRecorded stops them
// (before stopGroups puts each record's gateways together):
// latest start time first, so each process stops before those started ahead
// of it, which it may depend on; those recorded without a start time (never
// signalled, see stopByID) last. Equal start times keep ps's order. Start
// times count clock ticks from a boot, so a record from an earlier boot
// sorts arbitrarily among the others; its process is gone, and stopping
// it signals nothing.
func stopOrder(ps []recordedProcess) []recordedProcess {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b recordedProcess) int {
		return cmp.Compare(b.id.Start, a.id.Start) // descending; 0 (none) last
	})
	return out
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
	others := OthersInRunDir()
	for _, e := range entries {
		if !e.IsDir() || e.Name() == network || slices.Contains(others, e.Name()) {
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

// stopByID stops the recorded process p (see StopRecorded) with stop as
// stopSteps says for its name and the folder of its record, or says why it
// is left running and how to stop it.
func stopByID(stop stopFunc, p recordedProcess, log *slog.Logger) error {
	id := p.id
	if id.PID <= 0 {
		return nil
	}
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", id.PID)) // for messages; the ID is the check
	if id.Start == 0 {
		if !pidHeld(id.PID) {
			return nil // gone
		}
		return fmt.Errorf("PID %d is held (by %s), and the record, a bare PID from an older version, cannot tell the system's process from a later one: "+
			"stop it with `kill %d` if it is the system's, else delete the record", id.PID, exe, id.PID)
	}
	_ = proc.Signal(id, exe, syscall.SIGCONT) // a paused node (localnet Pause) would see SIGTERM only once continued
	out, err := stop.service(id, exe, filepath.Dir(p.file), p.name)
	if err != nil {
		return fmt.Errorf("%v: stop it with `kill -KILL %d`", err, id.PID)
	}
	localnet.LogStop(log, p.name, id, out)
	return nil
}

// pidHeld reports whether some process, a zombie included, holds pid.
func pidHeld(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}
