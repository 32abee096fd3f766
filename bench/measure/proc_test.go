package measure

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCountsAfterTheCommandName(t *testing.T) {
	// comm with a space and a parenthesis; minflt 500; utime 150, stime 40, children 6 + 4 ticks.
	line := "1234 (redis-server (x) a) S 1 1234 1234 0 -1 4194560 500 0 0 0 150 40 6 4 20 0 4 0 100 1000000 200\n"
	d, err := ParseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if d != 2*time.Second {
		t.Fatalf("cpu %v, want 2s", d)
	}
	if _, n, err := parseStat([]byte(line)); err != nil || n != 500 {
		t.Fatalf("minflt %d (%v), want 500", n, err)
	}
	if _, err := ParseStat([]byte("garbage")); err == nil {
		t.Fatal("garbage parsed")
	}
}

func TestParseStatus(t *testing.T) {
	rss, hwm := ParseStatus([]byte("Name:\tpeer\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads: 9\n"))
	if rss != 1<<20 || hwm != 2<<20 {
		t.Fatalf("rss %d hwm %d", rss, hwm)
	}
}

func TestParseMachine(t *testing.T) {
	busy, total, err := ParseMachine([]byte("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if busy != 1500*time.Millisecond || total != 10*time.Second {
		t.Fatalf("busy %v total %v", busy, total)
	}
}

func TestShares(t *testing.T) {
	t0 := time.Unix(0, 0)
	a := Snapshot{At: t0, Procs: map[string]ProcUsage{"p": {CPU: time.Second}, "gone": {}}, Busy: 0, MachineAt: 0}
	b := Snapshot{At: t0.Add(2 * time.Second), Procs: map[string]ProcUsage{"p": {CPU: 2 * time.Second}}, Busy: 3 * time.Second, MachineAt: 4 * time.Second}
	if s := CPUShare(a, b); len(s) != 1 || s["p"] != 0.5 {
		t.Fatalf("%v", s)
	}
	if m := MachineBusy(a, b); m != 0.75 {
		t.Fatalf("machine %v", m)
	}
}

func TestReadSelf(t *testing.T) {
	u, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.HWMBytes <= 0 || u.RSSBytes <= 0 {
		t.Fatalf("%+v", u)
	}
}

func TestParseIO(t *testing.T) {
	n, err := ParseIO([]byte("rchar: 10\nwchar: 20\nsyscr: 1\nsyscw: 2\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n"))
	if err != nil || n != 8192 {
		t.Fatalf("write_bytes %d (%v), want 8192", n, err)
	}
	for _, bad := range []string{"rchar: 10\n", "write_bytes: many\n"} {
		if _, err := ParseIO([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestParseDiskStats: sectors written (field 10) of the listed disks only,
// in bytes: a partition's writes are its disk's already.
func TestParseDiskStats(t *testing.T) {
	stats := "   7       0 loop0 59 0 2170 5 372 556 1000 80 0 78 114 0 0 0 0\n" +
		" 253       0 vda 100 0 200 10 50 0 3000 40 0 60 70\n" +
		" 253       1 vda1 90 0 180 9 45 0 2900 30 0 50 60\n" +
		" 259       0 nvme0n1 1 0 2 3 4 0 1 5 0 6 7\n" +
		"short line\n"
	got := ParseDiskStats([]byte(stats), map[string]bool{"vda": true, "nvme0n1": true})
	if want := int64(3001 * 512); got != want {
		t.Fatalf("%d bytes, want %d", got, want)
	}
}
