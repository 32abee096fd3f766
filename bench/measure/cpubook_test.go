package measure

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/rundir"
)

// burn is the CPU time burnCPU spends.
const burn = 50 * time.Millisecond

// burnCPU spins until the kernel has booked d of CPU to this process.
func burnCPU(t *testing.T, d time.Duration) {
	t.Helper()
	pid := os.Getpid()
	start, err := ReadProc(pid)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for x := 0; ; x++ {
		if x%100_000 == 0 {
			u, err := ReadProc(pid)
			if err != nil {
				t.Fatal(err)
			}
			if u.CPU-start.CPU >= d {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %v of CPU in 30 s", u.CPU-start.CPU)
			}
		}
	}
}

// TestCPUBookSub: a sub-book's window, open inside its parent's, books the
// CPU spent in it to its own phase, and the parent's window (which spans
// it) books at least as much; the sub-book keeps the processes its parent
// watched when it was made, not those the parent watches later.
func TestCPUBookSub(t *testing.T) {
	pid := os.Getpid()
	book := NewCPUBook(map[string]int{"self": pid})
	book.Begin("ramp")
	sub := book.Sub()
	book.Watch("other", pid)
	sub.Begin("ramp-10000")
	burnCPU(t, burn)
	sub.End()
	book.End()
	inStep := sub.Seconds("ramp-10000", func(string) bool { return true })
	if inStep < burn.Seconds() {
		t.Errorf("the step booked %.3f s of CPU, want at least %.3f", inStep, burn.Seconds())
	}
	if inRamp := book.Seconds("ramp", func(n string) bool { return n == "self" }); inRamp < inStep {
		t.Errorf("the ramp booked %.3f s, less than its step's %.3f", inRamp, inStep)
	}
	if got := sub.Names(); len(got) != 1 || got[0] != "self" {
		t.Errorf("sub-book watches %v, want [self] (its parent's processes when it was made)", got)
	}
	if got := sub.Phases(); len(got) != 1 || got[0] != "ramp-10000" {
		t.Errorf("sub-book's phases %v, want [ramp-10000] (none of its parent's)", got)
	}
	if busy := sub.MachineBusy("ramp-10000"); busy <= 0 || busy > 1 {
		t.Errorf("machine busy in the step %.3f, want within (0, 1]", busy)
	}
}

// TestCPUBookWatchFollows: Watch under a name the book watches follows it
// to another PID from the next window on, as the A/B does for a restarted
// batcher: a window while the name's first process is gone books it
// nothing, the window after Watch books the new process's CPU, and the
// book keeps one row for the name.
func TestCPUBookWatchFollows(t *testing.T) {
	gone := exec.Command("sleep", "60")
	if err := gone.Start(); err != nil {
		t.Fatal(err)
	}
	book := NewCPUBook(map[string]int{"batcher0": gone.Process.Pid})
	if err := gone.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = gone.Wait() // killed: reaped, its PID no longer in /proc
	self := func(n string) bool { return n == "batcher0" }
	book.Begin("ab-2000-A1")
	burnCPU(t, burn)
	book.End()
	if got := book.Seconds("ab-2000-A1", self); got != 0 {
		t.Errorf("the window with the process gone booked %.3f s to it; want 0", got)
	}
	book.Watch("batcher0", os.Getpid())
	book.Begin("ab-2000-B1")
	burnCPU(t, burn)
	book.End()
	if got := book.Seconds("ab-2000-B1", self); got < burn.Seconds() {
		t.Errorf("the window after Watch booked %.3f s to the new process; want at least %.3f", got, burn.Seconds())
	}
	rows := book.Rows()
	if len(rows) != 1 || rows[0].Name != "batcher0" || rows[0].Cores["ab-2000-B1"] <= 0 || rows[0].Cores["ab-2000-A1"] != 0 {
		t.Errorf("rows %+v; want batcher0's alone, above 0 cores in B1 and 0 in A1", rows)
	}
}

// TestCPUBookWrites: a window in which this process writes a file and
// syncs it books at least those bytes to the process, and to the machine's
// disks when it has disks /sys/block lists with a device.
func TestCPUBookWrites(t *testing.T) {
	const size = 4 << 20
	f := testFile(t)
	book := NewCPUBook(map[string]int{"self": os.Getpid()})
	book.Begin("write")
	if _, err := f.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	book.End()
	wall := book.WallSeconds("write")
	self := func(n string) bool { return n == "self" }
	if got := book.WriteMBps("write", self) * wall * (1 << 20); got < size*0.99 {
		t.Errorf("booked %.0f bytes written, want at least %d", got, size)
	}
	if rows := book.Rows(); len(rows) != 1 || rows[0].WriteMBps["write"] != book.WriteMBps("write", self) {
		t.Errorf("rows %+v do not carry the phase's writes", rows)
	}
	if len(wholeDisks()) == 0 {
		t.Logf("no disk under /sys/block with a device: the machine's disk writes are not measured here")
		return
	}
	if got := book.DiskWriteMBps("write") * wall * (1 << 20); got < size*0.99 {
		t.Errorf("the disks booked %.0f bytes written, want at least %d", got, size)
	}
}

// testFile is a new file under the repository's git-ignored .run/test/
// folder (on the disk the tests run from, not a tmpfs /tmp), removed with
// its folder in t.Cleanup.
func testFile(t *testing.T) *os.File {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := rundir.FindModule(wd)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(root, ".run", "test", "measure")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(base, "writes-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		os.Remove(f.Name())
	})
	return f
}
