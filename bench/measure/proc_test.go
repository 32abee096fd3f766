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
