package measure

import (
	"fmt"
	"runtime"
	"sort"
	"syscall"
	"time"
)

// PageFaultCost is what supplying a page of fresh memory cost this machine
// at one moment: the CPU (user + system) a thread spent per minor page fault
// while it first touched anonymous memory it had just mapped. On bare metal
// a fault costs well under a microsecond; on a VM whose host takes the
// guest's freed memory back (free page reporting) every such page must
// first be supplied again by the host, and a fault costs tens of times more.
// A process that grows its heap, or gives memory back to the kernel and
// takes it again, pays that per page: the report sets each drive's page
// faults against it.
type PageFaultCost struct {
	At time.Time `json:"at"`
	// Faults is the minor faults one round of the probe took (about one
	// per 4 KiB page touched).
	Faults int64 `json:"faults"`
	// MicrosPerFault is the touching thread's CPU per fault, the median
	// of the probe's rounds.
	MicrosPerFault float64 `json:"cpu_us_per_fault"`
}

// rusageThread is getrusage's RUSAGE_THREAD: the calling thread only.
const rusageThread = 1

// MeasurePageFaultCost maps size bytes of fresh anonymous memory, writes one
// byte of each 4 KiB page, and unmaps it again, rounds times, on one locked
// OS thread; it reports that thread's CPU per minor fault (the median
// round). The memory is the kernel's, never the Go heap's: the process
// keeps none of it.
func MeasurePageFaultCost(size, rounds int) (PageFaultCost, error) {
	if size < 1<<20 || rounds < 1 {
		return PageFaultCost{}, fmt.Errorf("measure: page fault probe of %d bytes, %d rounds: want at least 1 MiB and 1 round", size, rounds)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	at := time.Now()
	var per []float64
	var faults int64
	for range rounds {
		var before, after syscall.Rusage
		if err := syscall.Getrusage(rusageThread, &before); err != nil {
			return PageFaultCost{}, fmt.Errorf("measure: getrusage: %w", err)
		}
		mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			return PageFaultCost{}, fmt.Errorf("measure: mmap %d bytes: %w", size, err)
		}
		touchPages(mem)
		err = syscall.Getrusage(rusageThread, &after)
		if uerr := syscall.Munmap(mem); uerr != nil && err == nil {
			err = uerr
		}
		if err != nil {
			return PageFaultCost{}, fmt.Errorf("measure: page fault probe: %w", err)
		}
		faults = after.Minflt - before.Minflt
		if faults <= 0 {
			return PageFaultCost{}, fmt.Errorf("measure: page fault probe touched %d bytes with no fault counted", size)
		}
		cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
		per = append(per, cpu.Seconds()*1e6/float64(faults))
	}
	sort.Float64s(per)
	return PageFaultCost{At: at, Faults: faults, MicrosPerFault: per[len(per)/2]}, nil
}

// madvNoHugePage is madvise's MADV_NOHUGEPAGE.
const madvNoHugePage = 14 + 1

// touchPages writes a byte to each 4 KiB page of mem, asking the kernel
// first for small pages (a host that backs anonymous memory with huge pages
// would otherwise fault once per 2 MiB). Each touch is a minor fault.
func touchPages(mem []byte) {
	_ = syscall.Madvise(mem, madvNoHugePage) // advice only: without it the faults are fewer, each larger
	for i := 0; i < len(mem); i += 4096 {
		mem[i] = 1
	}
}

// CPUSeconds is what n faults cost at c's rate, in CPU seconds.
func (c PageFaultCost) CPUSeconds(n int64) float64 { return float64(n) * c.MicrosPerFault / 1e6 }
