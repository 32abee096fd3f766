package measure

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// Machine is the computer a run measured, read at run time: every figure
// of a report holds for this machine only.
type Machine struct {
	Host      string  `json:"host"`
	CPUs      int     `json:"cpus"`
	CPUModel  string  `json:"cpu_model"`
	MemoryGB  float64 `json:"memory_gb"`
	Kernel    string  `json:"kernel"`
	GoVersion string  `json:"go_version"`
	LoadStart string  `json:"loadavg_start"`
	LoadEnd   string  `json:"loadavg_end"`
	// HugePages is the kernel's transparent huge page mode for anonymous
	// memory (always, madvise or never; empty where the kernel has none):
	// with madvise, Go programs (the Fabric nodes among them) get 4 KiB
	// pages only, and on a VM whose page faults are dear that shows in
	// the CPU of every process that grows its heap (docs/ledger.md).
	HugePages string `json:"transparent_hugepages,omitempty"`
	// YardstickStart and YardstickEnd are MeasureYardstick before the run
	// brought anything up and after its last phase (nil: not measured).
	YardstickStart *Yardstick `json:"yardstick_start,omitempty"`
	YardstickEnd   *Yardstick `json:"yardstick_end,omitempty"`
	// PageFaultStart and PageFaultEnd are MeasurePageFaultCost at the same
	// moments (nil: not measured).
	PageFaultStart *PageFaultCost `json:"page_fault_start,omitempty"`
	PageFaultEnd   *PageFaultCost `json:"page_fault_end,omitempty"`
}

// Describe reads this machine from /proc: cores (those the Go runtime may
// use), CPU model, memory, kernel, and the load average now as LoadStart.
func Describe() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadStart: LoadAvg()}
	m.Host, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile(hugePageMode); err == nil {
		m.HugePages = ParseHugePageMode(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				m.MemoryGB = kb / (1 << 20)
			}
		}
	}
	return m
}

// hugePageMode is where Linux shows its transparent huge page mode.
const hugePageMode = "/sys/kernel/mm/transparent_hugepage/enabled"

// ParseHugePageMode is the selected mode of a transparent huge page
// setting as Linux shows it ("always [madvise] never" is madvise), or ""
// if none is selected.
func ParseHugePageMode(s string) string {
	for _, f := range strings.Fields(s) {
		if m, ok := strings.CutPrefix(f, "["); ok {
			if m, ok := strings.CutSuffix(m, "]"); ok {
				return m
			}
		}
	}
	return ""
}

// Cores says how many cores in words: "1 core", "2 cores".
func (m Machine) Cores() string {
	if m.CPUs == 1 {
		return "1 core"
	}
	return fmt.Sprintf("%d cores", m.CPUs)
}

// LoadAvg is the first three fields of /proc/loadavg ("?" if unreadable).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// DirSize is the total size of the regular files under dir.
func DirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

// FreeBytes is the space an unprivileged process may still write on the
// file system that holds path (statfs's available blocks).
func FreeBytes(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", path, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}
