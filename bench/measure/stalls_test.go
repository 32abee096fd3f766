package measure

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestStallParsers(t *testing.T) {
	psi := "some avg10=0.00 avg60=0.00 avg300=0.00 total=1169436997\nfull avg10=1.50 avg60=0.00 avg300=0.00 total=1070771991\n"
	if got := psiTotal(psi, "some"); got != 1169436997 {
		t.Errorf("some total = %v, want 1169436997", got)
	}
	if got := psiTotal(psi, "full"); got != 1070771991 {
		t.Errorf("full total = %v, want 1070771991", got)
	}
	if got := psiTotal("some avg10=0.00 total=5\n", "full"); got != 0 {
		t.Errorf("a missing line's total = %v, want 0", got)
	}
	vm := "nr_free_pages 4\nallocstall_dma 0\nallocstall_normal 2732\nallocstall_movable 3563310\npgscan_direct 9\ncompact_stall 3587\ncompact_fail 7\noom_kill 2\n"
	if r, c, o := vmstatStalls(vm); r != 2732+3563310 || c != 3587 || o != 2 {
		t.Errorf("vmstatStalls = %d, %d, %d; want %d, 3587, 2", r, c, o, 2732+3563310)
	}
	stat := "cpu  977764 534234 513249 2334580 19917 0 65537 5052 0 0\ncpu0 488882 267117 256624 1167290 9958 0 32768 2526 0 0\n"
	if got := stealTicks(stat); got != 5052 {
		t.Errorf("stealTicks = %d, want 5052 (the machine's line, not a CPU's)", got)
	}
	if got := stealTicks("cpu  1 2 3 4\n"); got != 0 {
		t.Errorf("stealTicks of a kernel without the field = %d, want 0", got)
	}
}

// TestStallsSeeCPUContention: twice as many busy threads as cores make
// runnable tasks wait, which the kernel's CPU pressure counts (on a kernel
// with pressure stall information; without it every figure stays zero).
func TestStallsSeeCPUContention(t *testing.T) {
	_, err := os.Stat("/proc/pressure/cpu")
	psi := err == nil
	threads := 2 * runtime.NumCPU()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
	before := ReadStalls()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for !stop.Load() {
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	s := ReadStalls().Since(before)
	if psi && s.CPUSomeMs <= 0 {
		t.Errorf("CPU pressure over 300 ms of %d busy threads on %d cores = %v ms, want > 0", threads, runtime.NumCPU(), s.CPUSomeMs)
	}
	if !psi && (s.CPUSomeMs != 0 || s.MemSomeMs != 0 || s.MemFullMs != 0 || s.IOSomeMs != 0) {
		t.Errorf("without /proc/pressure the pressure stalls are %+v, want zero", s)
	}
	if s.MemFullMs < 0 || s.MemSomeMs < s.MemFullMs-1 {
		t.Errorf("memory stalls some %v ms, full %v ms: full cannot exceed some", s.MemSomeMs, s.MemFullMs)
	}
}
