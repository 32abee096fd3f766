package measure

import (
	"os"
	"syscall"
	"testing"
)

// TestMeasurePageFaultCost: the probe counts about a fault per page it
// touched and a positive CPU cost each; bad sizes are refused.
func TestMeasurePageFaultCost(t *testing.T) {
	const size = 16 << 20
	c, err := MeasurePageFaultCost(size, 3)
	if err != nil {
		t.Fatal(err)
	}
	if pages := int64(size / 4096); c.Faults < pages/2 || c.Faults > 2*pages {
		t.Errorf("%d faults touching %d pages", c.Faults, pages)
	}
	if c.MicrosPerFault > 1e4 { // 10 ms a page: the probe counted something else
		t.Errorf("%.3f µs per fault", c.MicrosPerFault)
	}
	if got := (PageFaultCost{MicrosPerFault: 2}).CPUSeconds(1_000_000); got != 2 {
		t.Errorf("a million faults at 2 µs: %.3f s, want 2", got)
	}
	if _, err := MeasurePageFaultCost(4096, 1); err == nil {
		t.Error("a probe of one page was accepted")
	}
}

// TestReadProcCountsMinorFaults: touching fresh memory raises the process's
// minor fault count as /proc reads it.
func TestReadProcCountsMinorFaults(t *testing.T) {
	before, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	mem, err := syscall.Mmap(-1, 0, 8<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	touchPages(mem)
	after, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if got := after.MinorFaults - before.MinorFaults; got < 1024 {
		t.Errorf("touching 2,048 fresh pages raised minflt by %d", got)
	}
}

// TestCPUBookBooksPageFaults: faults taken inside a window are booked to its
// phase, per process and in the sum.
func TestCPUBookBooksPageFaults(t *testing.T) {
	book := NewCPUBook(map[string]int{"self": os.Getpid()})
	book.Begin("drive")
	mem, err := syscall.Mmap(-1, 0, 8<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	touchPages(mem)
	book.End()
	n := book.PageFaults("drive", func(string) bool { return true })
	if n < 1024 {
		t.Errorf("the window booked %d faults for 2,048 fresh pages", n)
	}
	if rows := book.Rows(); len(rows) != 1 || rows[0].PageFaults["drive"] != n {
		t.Errorf("rows %+v, want self with %d faults in drive", rows, n)
	}
	if book.PageFaults("drive", func(string) bool { return false }) != 0 {
		t.Error("faults booked to no process")
	}
}
