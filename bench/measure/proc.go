// Per-process counters from /proc: CPU time (user + system, plus waited-for
// children), minor page faults, resident memory and its peak, bytes written
// to storage; and the machine's busy time and disk writes.

package measure

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ticksPerSecond is USER_HZ, which Linux fixes at 100 for /proc.
const ticksPerSecond = 100

// ProcUsage is one process's counters at one moment.
type ProcUsage struct {
	CPU         time.Duration // user + system time since the process started
	MinorFaults int64         // page faults served without I/O since it started (minflt)
	RSSBytes    int64         // VmRSS
	HWMBytes    int64         // VmHWM: peak resident set
	// WriteBytes is what the process (and its children it waited for)
	// sent to storage since it started: write_bytes of /proc/PID/io, the
	// page-cache pages it dirtied, counted when dirtied. HasIO is false
	// when /proc/PID/io could not be read (another user's process).
	WriteBytes int64
	HasIO      bool
}

// ParseStat returns the CPU time from the contents of /proc/PID/stat: user +
// system time of the process and of its children it has waited for (so
// Redis's AOF-rewrite child counts as Redis once it ends).
func ParseStat(data []byte) (time.Duration, error) {
	cpu, _, err := parseStat(data)
	return cpu, err
}

// parseStat reads CPU time and minor faults (minflt, field 10: pages the
// kernel had to supply, see PageFaultCost) from /proc/PID/stat. The
// command name (field 2) may hold spaces and parentheses: fields are counted
// after its closing parenthesis.
func parseStat(data []byte) (time.Duration, int64, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("measure: stat without a command name")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); minflt is field 10, utime, stime, cutime,
	// cstime are fields 14-17.
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("measure: stat has %d fields", len(f)+2)
	}
	var ticks int64
	for _, s := range f[11:15] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("measure: stat time %q", s)
		}
		ticks += n
	}
	faults, err := strconv.ParseInt(f[7], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("measure: stat minflt %q", f[7])
	}
	return time.Duration(ticks) * time.Second / ticksPerSecond, faults, nil
}

// ParseStatus returns VmRSS and VmHWM in bytes from /proc/PID/status.
func ParseStatus(data []byte) (rss, hwm int64) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		kb, _ := strconv.ParseInt(f[0], 10, 64)
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// ParseIO returns write_bytes from the contents of /proc/PID/io.
func ParseIO(data []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "write_bytes:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("measure: io write_bytes %q", v)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("measure: io without write_bytes")
}

// ReadProc returns the counters of process pid.
func ReadProc(pid int) (ProcUsage, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return ProcUsage{}, fmt.Errorf("measure: %w", err)
	}
	cpu, faults, err := parseStat(stat)
	if err != nil {
		return ProcUsage{}, err
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return ProcUsage{}, fmt.Errorf("measure: %w", err)
	}
	rss, hwm := ParseStatus(status)
	u := ProcUsage{CPU: cpu, MinorFaults: faults, RSSBytes: rss, HWMBytes: hwm}
	if io, err := os.ReadFile(filepath.Join(dir, "io")); err == nil {
		u.WriteBytes, err = ParseIO(io)
		u.HasIO = err == nil
	}
	return u, nil
}

// ParseMachine returns the busy and total CPU time of all cores from the
// first line of /proc/stat (busy = total - idle - iowait).
func ParseMachine(data []byte) (busy, total time.Duration, err error) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("measure: /proc/stat starts with %q", line)
	}
	var sum, idle int64
	for i, s := range f[1:] {
		if i >= 8 { // guest times are already inside user and nice
			break
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("measure: /proc/stat field %q", s)
		}
		sum += n
		if i == 3 || i == 4 {
			idle += n
		}
	}
	tick := time.Second / ticksPerSecond
	return time.Duration(sum-idle) * tick, time.Duration(sum) * tick, nil
}

// ParseDiskStats returns the bytes written to the devices of disks since
// boot from the contents of /proc/diskstats (sectors written, field 10, of
// 512 bytes whatever the device's sector size).
func ParseDiskStats(data []byte, disks map[string]bool) int64 {
	var sectors int64
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || !disks[f[2]] {
			continue
		}
		n, _ := strconv.ParseInt(f[9], 10, 64)
		sectors += n
	}
	return sectors * 512
}

// wholeDisks are the block devices backed by a device of their own
// (/sys/block/NAME/device exists): vda, sda, nvme0n1, not loop devices,
// device-mapper or partitions, whose writes a disk of the list carries too.
func wholeDisks() map[string]bool {
	disks := map[string]bool{}
	entries, _ := os.ReadDir("/sys/block")
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join("/sys/block", e.Name(), "device")); err == nil {
			disks[e.Name()] = true
		}
	}
	return disks
}

// Snapshot is every watched process's counters, and the machine's, at one
// moment.
type Snapshot struct {
	At        time.Time
	Procs     map[string]ProcUsage // by process name; a process that is gone is absent
	Busy      time.Duration        // machine busy time over all cores
	MachineAt time.Duration        // machine total time over all cores
	DiskBytes int64                // written to the machine's disks since boot (ParseDiskStats)
}

// Take reads every process of pids (name -> PID) and the machine.
func Take(pids map[string]int) Snapshot {
	s := Snapshot{At: time.Now(), Procs: map[string]ProcUsage{}}
	for name, pid := range pids {
		if u, err := ReadProc(pid); err == nil {
			s.Procs[name] = u
		}
	}
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		s.Busy, s.MachineAt, _ = ParseMachine(data)
	}
	if data, err := os.ReadFile("/proc/diskstats"); err == nil {
		s.DiskBytes = ParseDiskStats(data, wholeDisks())
	}
	return s
}

// CPUShare is each process's CPU use between two snapshots, in cores (1.0 =
// one core busy all the time).
func CPUShare(from, to Snapshot) map[string]float64 {
	wall := to.At.Sub(from.At).Seconds()
	out := map[string]float64{}
	if wall <= 0 {
		return out
	}
	for name, b := range to.Procs {
		if a, ok := from.Procs[name]; ok {
			out[name] = (b.CPU - a.CPU).Seconds() / wall
		}
	}
	return out
}

// MachineBusy is the busy share of all cores between two snapshots (0..1).
func MachineBusy(from, to Snapshot) float64 {
	total := (to.MachineAt - from.MachineAt).Seconds()
	if total <= 0 {
		return 0
	}
	return (to.Busy - from.Busy).Seconds() / total
}
