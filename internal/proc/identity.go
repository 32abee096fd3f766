package proc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// ID identifies one process across commands: its PID, its start time, in
// clock ticks after the machine's boot (field 22 of /proc/PID/stat), and
// that boot (/proc/sys/kernel/random/boot_id). Within one boot the kernel
// gives a PID again only to a process started later, so the three never
// name another process, whatever executable either runs, nor across a
// reboot that a record in a kept folder survived. A Start of 0 is a record
// made before start times were kept: it is checked by its executable
// instead (Alive); an empty Boot, one made before boots were kept: its
// start time alone is checked.
type ID struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start,omitempty"`
	Boot  string `json:"boot,omitempty"`
}

// UnmarshalJSON reads an ID, or a bare PID as the records made before start
// times were kept hold it (Start 0).
func (id *ID) UnmarshalJSON(data []byte) error {
	if pid, err := strconv.Atoi(string(bytes.TrimSpace(data))); err == nil {
		*id = ID{PID: pid}
		return nil
	}
	type plain ID // without this method
	return json.Unmarshal(data, (*plain)(id))
}

// Identify reads the ID of the process pid.
func Identify(pid int) (ID, error) {
	st, err := readStat(pid)
	if err != nil {
		return ID{}, err
	}
	return ID{PID: pid, Start: st.start, Boot: bootID()}, nil
}

// bootFile names this boot of the machine: a random UUID the kernel draws
// at every boot.
const bootFile = "/proc/sys/kernel/random/boot_id"

// bootID is this boot's id, or "" if the kernel does not say.
func bootID() string {
	data, err := os.ReadFile(bootFile)
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(data))
}

// earlierBoot reports whether id was recorded in an earlier boot of the
// machine than this one.
func (id ID) earlierBoot() bool {
	if id.Boot == "" {
		return false
	}
	now := bootID()
	return now != "" && now != id.Boot
}

// procStat is what Votechain reads of /proc/PID/stat.
type procStat struct {
	state byte   // field 3: R, S, D, Z (zombie), X (dead), ...
	start uint64 // field 22: start time, clock ticks after boot
}

// dead reports whether the process has exited and closed its files: a
// zombie waiting to be reaped, or being reaped.
func (s procStat) dead() bool { return s.state == 'Z' || s.state == 'X' }

// readStat reads pid's state and start time.
func readStat(pid int) (procStat, error) {
	if pid <= 0 {
		return procStat{}, fmt.Errorf("no process %d", pid)
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The fields after the command name, which is in parentheses and may
	// itself hold spaces or parentheses: state (3) first, start time (22)
	// the 20th.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := bytes.Fields(data[i+1:])
	if len(fields) < 20 || len(fields[0]) != 1 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields after the command name", pid, len(fields))
	}
	start, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: start time: %w", pid, err)
	}
	return procStat{state: fields[0][0], start: start}, nil
}

// ErrNotRunning is Signal's error for a process that no longer runs.
var ErrNotRunning = errors.New("not running")

// Signal sends sig to the recorded process id if it still runs (Running),
// through a pidfd opened before the check, so that a PID reused between
// the check and the signal cannot receive it. It returns ErrNotRunning if
// the process does not run.
func Signal(id ID, bin string, sig syscall.Signal) error {
	return signalVia(unix.PidfdOpen, id, bin, sig)
}

// signalVia is Signal opening the pidfd with pidfdOpen (unix.PidfdOpen, or
// a test's stand-in that refuses the call).
func signalVia(pidfdOpen func(pid, flags int) (int, error), id ID, bin string, sig syscall.Signal) error {
	fd, err := pidfdOpen(id.PID, 0)
	if errors.Is(err, unix.ESRCH) {
		return ErrNotRunning
	}
	if err != nil {
		// No pidfd (a kernel before 5.3: ENOSYS; a seccomp profile that
		// refuses the call: EPERM; no descriptor left: EMFILE): check,
		// then kill, as before pidfds.
		if !Running(id, bin) {
			return ErrNotRunning
		}
		return syscall.Kill(id.PID, sig)
	}
	defer unix.Close(fd)
	if !Running(id, bin) {
		return ErrNotRunning
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}
