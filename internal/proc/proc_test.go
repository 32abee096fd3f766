package proc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/votechain/votechain/internal/cli/clitest"
)

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatal(err)
	}
	p, _ = filepath.EvalSymlinks(p)
	return p
}

// listenShared listens on 127.0.0.1:port with SO_REUSEPORT, as the port
// clitest.ReservePort holds allows: only a child of the test can take such
// a port. A port merely found free and released could be taken by any
// process (an outgoing connection's ephemeral port, another test's server)
// before the child binds it: the child would fail to start, or Start would
// find someone else's listener.
func listenShared(port string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) }); cerr != nil {
			return cerr
		}
		return err
	}}
	return lc.Listen(context.Background(), "tcp", "127.0.0.1:"+port)
}

// startForTest starts p as Start does, failing the test if it does not
// start, and has t.Cleanup kill it and wait for it to go, should the test
// end before it does. After the test's own stop that is a no-op: Kill
// checks the start time, so a reused PID is left alone.
func startForTest(t *testing.T, p Spec, logPath string) ID {
	t.Helper()
	id, err := Start(context.Background(), p, logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Kill(id, p.Bin) })
	return id
}

func TestStartAliveStop(t *testing.T) {
	sleep := lookPath(t, "sleep")
	id := startForTest(t, Spec{Name: "sleeper", Bin: sleep, Args: []string{"30"}}, filepath.Join(t.TempDir(), "sleep.log"))
	if id.Start == 0 || !Running(id, sleep) || !Alive(id.PID, sleep) {
		t.Fatalf("started process %+v not running", id)
	}
	if Alive(id.PID, lookPath(t, "sh")) {
		t.Fatal("Alive accepted the wrong executable (a reused PID would be signalled)")
	}
	if out, err := Stop(id, sleep, 2*time.Second); err != nil || out != Stopped {
		t.Fatalf("Stop: %v, %v; want stopped", out, err)
	}
	if Running(id, sleep) {
		t.Fatal("running after Stop")
	}
	if out, err := Stop(id, sleep, 2*time.Second); err != nil || out != Gone {
		t.Fatalf("Stop again: %v, %v; want already gone", out, err)
	}
	if err := Kill(id, sleep); err == nil {
		t.Fatal("Kill of a stopped process reported success")
	}
}

func TestKill(t *testing.T) {
	sleep := lookPath(t, "sleep")
	id := startForTest(t, Spec{Name: "sleeper", Bin: sleep, Args: []string{"30"}}, filepath.Join(t.TempDir(), "l"))
	if err := Kill(id, sleep); err != nil || Running(id, sleep) {
		t.Fatalf("Kill: %v, running %v", err, Running(id, sleep))
	}
}

func TestStartReportsEarlyExitWithLogTail(t *testing.T) {
	port := clitest.ReservePort(t) // nothing can listen there: only the exit ends Start
	_, err := Start(context.Background(), Spec{Name: "broken", Bin: lookPath(t, "sh"), Args: []string{"-c", "echo bad config here; exit 3"}, Port: port},
		filepath.Join(t.TempDir(), "broken.log"))
	if err == nil || !strings.Contains(err.Error(), "broken exited during start-up") || !strings.Contains(err.Error(), "bad config here") {
		t.Fatalf("error %v; want the process named and its log tail", err)
	}
}

// init keeps the main goroutine on the process's first thread, its thread
// group's leader, for leaderExits.
func init() { runtime.LockOSThread() }

// leaderExits listens on port (reserved by clitest.ReservePort), prints
// "listening", and ends its leader thread alone (exit(2), not
// exit_group): the process lives on in its other threads, which hold the
// listener, with its leader a zombie. It exits after 30 s.
func leaderExits(port string) {
	time.AfterFunc(30*time.Second, func() { os.Exit(4) })
	l, err := listenShared(port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	fmt.Println("listening")
	syscall.RawSyscall(syscall.SYS_EXIT, 0, 0, 0)
}

// TestMain lets the test binary act as a slow server: with PROC_TEST_LISTEN
// set it waits a moment, listens on that port (reserved by clitest.ReservePort) and
// sleeps. With PROC_TEST_READY set it is a server like the gateway
// (serveLate).
func TestMain(m *testing.M) {
	if port := os.Getenv("PROC_TEST_READY"); port != "" {
		serveLate(port, os.Getenv("PROC_TEST_SERVE_AFTER"), os.Getenv("PROC_TEST_READY_AFTER"))
		return
	}
	if port := os.Getenv("PROC_TEST_LEADER_EXITS"); port != "" {
		leaderExits(port)
		return
	}
	if port := os.Getenv("PROC_TEST_LISTEN"); port != "" {
		time.Sleep(300 * time.Millisecond)
		l, err := listenShared(port)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		defer l.Close()
		time.Sleep(30 * time.Second)
		return
	}
	os.Exit(m.Run())
}

// serveLateLifetime bounds serveLate's process, which would otherwise serve
// until stopped: should Start fail to stop it, or go test be killed, it
// exits of itself rather than hold its port for ever.
const serveLateLifetime = 2 * time.Minute

// serveLate listens on port at once (reserved by clitest.ReservePort) and
// prints "listening"; it serves only after serveAfter (connections wait in
// the kernel's queue, as for any process bound before it serves); then, as
// the gateway answers 503 starting until it has read the election record,
// /ready answers 503 until readyAfter from the start, 200 after. Each
// duration is Go's syntax. It exits after serveLateLifetime.
func serveLate(port, serveAfter, readyAfter string) {
	began := time.Now()
	time.AfterFunc(serveLateLifetime, func() { os.Exit(4) })
	serveWait, err1 := time.ParseDuration(serveAfter)
	readyWait, err2 := time.ParseDuration(readyAfter)
	l, err3 := listenShared(port)
	if err := errors.Join(err1, err2, err3); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	fmt.Println("listening")
	time.Sleep(serveWait)
	_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ready" || time.Since(began) < readyWait {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
}

// lateServer is a Spec of serveLate on a reserved port, ready on /ready.
func lateServer(t *testing.T, serveAfter, readyAfter time.Duration) Spec {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	port := clitest.ReservePort(t)
	return Spec{Name: "late", Bin: self, Port: port, Ready: "/ready",
		Env: []string{fmt.Sprint("PROC_TEST_READY=", port), "PROC_TEST_SERVE_AFTER=" + serveAfter.String(), "PROC_TEST_READY_AFTER=" + readyAfter.String()}}
}

// TestStartWaitsForReady: a process that binds its port at once but
// serves only later, and then answers 503 a while (the gateway from its
// start to its first read of the election record), counts as started only
// once its Ready path answers 200, not when its port first accepts.
func TestStartWaitsForReady(t *testing.T) {
	p := lateServer(t, 700*time.Millisecond, 1500*time.Millisecond)
	startForTest(t, p, filepath.Join(t.TempDir(), "late.log"))
	resp, err := http.Get("http://" + p.ListenAddr() + p.Ready)
	if err != nil {
		t.Fatalf("Start returned before the process served: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Start returned while %s answered %d", p.Ready, resp.StatusCode)
	}
}

// TestStartReportsNeverReady: a process that serves but never answers 200
// on its Ready path is stopped once StartWithin has passed, and reported
// as not ready, with its log (the line it prints once bound).
//
// The test lasts StartWithin when it passes, so StartWithin is short; a
// machine too starved to start the process and log within it gets one more
// try with a minute (each with a log of its own), which must then hold the
// line.
func TestStartReportsNeverReady(t *testing.T) {
	p := lateServer(t, 0, time.Hour)
	for _, within := range []time.Duration{5 * time.Second, time.Minute} {
		p.StartWithin = within
		log := filepath.Join(t.TempDir(), "late.log")
		id, err := Start(context.Background(), p, log)
		if err == nil {
			_ = Kill(id, p.Bin)
			t.Fatal("Start reported ready a process that answered only 503")
		}
		want := fmt.Sprintf("late did not answer GET /ready 200 on %s within %v", p.ListenAddr(), within)
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q; want %q and the log's tail", err, want)
		}
		for deadline := time.Now().Add(2 * time.Second); accepts(p.ListenAddr()); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) { // a server left running would listen until its lifetime ends
				t.Fatal("the process that was not ready still listens: Start did not stop it")
			}
		}
		if strings.Contains(err.Error(), "listening") {
			return
		}
		t.Logf("error %q lacks the log's line \"listening\" after %v: a machine too slow for the process to log it, or no log's tail", err, within)
	}
	t.Fatal("Start's error lacks the log's tail, its line \"listening\"")
}

func TestStartWaitsForThePort(t *testing.T) {
	port := clitest.ReservePort(t)
	if PortFree(port) {
		t.Fatal("another process could listen on the reserved port")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	startForTest(t, Spec{Name: "late", Bin: self, Env: []string{fmt.Sprint("PROC_TEST_LISTEN=", port)}, Port: port},
		filepath.Join(t.TempDir(), "late.log"))
	// Only the child can listen on the reserved port.
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(port)))
	if err != nil {
		t.Fatalf("Start returned before the port was listening: %v", err)
	}
	c.Close()
}

// TestPortFree: a port a listener holds is busy, and once closed it is free
// again. Another process may take a port the moment it is closed, so a port
// reading busy after its close is tried again with another, three times.
func TestPortFree(t *testing.T) {
	for try := 1; ; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if PortFree(port) {
			t.Fatalf("port %d reported free while listening", port)
		}
		l.Close()
		if PortFree(port) {
			return
		}
		if try == 3 {
			t.Fatalf("three closed ports reported busy (the last %d)", port)
		}
		t.Logf("closed port %d reported busy: taken meanwhile?", port)
	}
}

// TestAddrFreeSoon: a port released within PortRelease reads free (after
// its release, not before); one held past it reads taken, after the wait.
func TestAddrFreeSoon(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	start := time.Now()
	time.AfterFunc(300*time.Millisecond, func() { l.Close() })
	if !AddrFreeSoon("127.0.0.1", port) {
		t.Fatalf("port %d, released after 300 ms, still read taken after %s", port, PortRelease)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond || waited > PortRelease {
		t.Fatalf("a port released after 300 ms read free after %s", waited)
	}
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	start = time.Now()
	if AddrFreeSoon("127.0.0.1", held.Addr().(*net.TCPAddr).Port) {
		t.Fatal("a port held throughout read free")
	}
	if waited := time.Since(start); waited < PortRelease {
		t.Fatalf("a held port read taken after %s, before PortRelease (%s)", waited, PortRelease)
	}
}

// threadSched is a thread's niceness and scheduling policy.
type threadSched struct{ nice, policy int }

// scheduling reads the niceness and policy of each thread of pid that is
// still there.
func scheduling(t *testing.T, pid int) map[string]threadSched {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	out := map[string]threadSched{}
	for _, f := range tasks {
		data, err := os.ReadFile(f)
		if os.IsNotExist(err) || errors.Is(err, syscall.ESRCH) {
			continue // the thread ended meanwhile
		}
		if err != nil {
			t.Fatal(err)
		}
		// Fields after the command name (in parentheses): state is field
		// 3, nice field 19, policy field 41.
		fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		var ts threadSched
		if _, err := fmt.Sscan(fields[16], &ts.nice); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := fmt.Sscan(fields[38], &ts.policy); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = ts
	}
	return out
}

// TestStartLowersEveryThreadOfTheProcessOnly: a process started at a
// priority has it on every thread, all made after the start (a Go server
// makes several), and the caller's thread keeps its own.
func TestStartLowersEveryThreadOfTheProcessOnly(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	runtime.LockOSThread() // the caller's own thread, read before and after
	defer runtime.UnlockOSThread()
	me := fmt.Sprintf("/proc/%d/task/%d/stat", os.Getpid(), syscall.Gettid())
	mine := scheduling(t, os.Getpid())[me]
	for _, tc := range []struct {
		prio Priority
		want threadSched
	}{
		{Priority{Nice: 7}, threadSched{nice: min(mine.nice+7, 19), policy: mine.policy}},
		{PriorityIdle(), threadSched{nice: mine.nice, policy: unix.SCHED_IDLE}},
	} {
		port := clitest.ReservePort(t)
		id := startForTest(t, Spec{Name: "lowered", Bin: self, Env: []string{fmt.Sprint("PROC_TEST_LISTEN=", port)}, Port: port, Priority: tc.prio},
			filepath.Join(t.TempDir(), "lowered.log"))
		threads := scheduling(t, id.PID)
		if len(threads) < 2 {
			t.Errorf("%s: want a multi-threaded child, got %d threads", tc.prio, len(threads))
		}
		for f, got := range threads {
			if got != tc.want {
				t.Errorf("%s: %s: niceness %d policy %d, want niceness %d policy %d", tc.prio, f, got.nice, got.policy, tc.want.nice, tc.want.policy)
			}
		}
		if err := Kill(id, self); err != nil {
			t.Error(err)
		}
		if now := scheduling(t, os.Getpid())[me]; now != mine {
			t.Errorf("%s: the caller's thread went from %+v to %+v", tc.prio, mine, now)
		}
	}
}

// TestParsePriority: the flag's forms, and String reads back.
func TestParsePriority(t *testing.T) {
	for in, want := range map[string]Priority{"idle": PriorityIdle(), "normal": PriorityNormal(), "nice:0": PriorityNormal(), "0": PriorityNormal(), "nice:10": {Nice: 10}, "19": {Nice: 19}} {
		got, err := ParsePriority(in)
		if err != nil || got != want {
			t.Errorf("ParsePriority(%q) = %+v, %v; want %+v", in, got, err, want)
			continue
		}
		if back, err := ParsePriority(got.String()); err != nil || back != got {
			t.Errorf("%q: String %q reads back as %+v, %v", in, got.String(), back, err)
		}
	}
	for _, bad := range []string{"", "nice:20", "-1", "nice:x", "IDLE", "batch"} {
		if p, err := ParsePriority(bad); err == nil {
			t.Errorf("ParsePriority(%q) = %+v, want an error", bad, p)
		}
	}
}

// TestExitedWaitsForTheEndOfTheProcess: a running process has not exited,
// a zombie (files closed) and a reaped one have, recorded with its start
// time or, as before start times were kept, without.
func TestExitedWaitsForTheEndOfTheProcess(t *testing.T) {
	sleep := lookPath(t, "sleep")
	cmd := exec.Command(sleep, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) // should the test fail before its own; after them, no-ops
	pid := cmd.Process.Pid
	id, err := Identify(pid)
	if err != nil {
		t.Fatal(err)
	}
	old := ID{PID: pid}
	if exited(id, sleep) || exited(old, sleep) {
		t.Fatal("a running process counted as exited")
	}
	if !exited(old, lookPath(t, "sh")) {
		t.Fatal("without a start time: a PID running another executable did not count as exited")
	}
	if !exited(ID{PID: pid, Start: id.Start + 1}, sleep) {
		t.Fatal("a PID started at another time did not count as exited")
	}
	_ = cmd.Process.Kill()
	// Not reaped yet: the child stays a zombie, whose files are closed.
	deadline := time.Now().Add(5 * time.Second)
	for !zombie(t, pid) {
		if time.Now().After(deadline) {
			t.Fatal("killed child never became a zombie")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !exited(id, sleep) || !exited(old, sleep) || Running(id, sleep) {
		t.Fatal("a zombie did not count as exited")
	}
	_ = cmd.Wait()
	if !exited(id, sleep) || !exited(old, sleep) {
		t.Fatal("a reaped process did not count as exited")
	}
}

func zombie(t *testing.T, pid int) bool {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(stat), ") Z ")
}

// exitedOrZombie reports whether pid has exited: reaped (its /proc entry
// gone), or a zombie. Unlike zombie it does not fail when a reaper races
// the read.
func exitedOrZombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err != nil || strings.Contains(string(stat), ") Z ")
}

// startCopy starts a copy of sleep at dir/v1/sleeper (as a system's
// binaries' folder) for 30 s, killed at the test's end (startForTest), and
// returns its ID, the copy's path and the
// name of the folder the test may move it to.
func startCopy(t *testing.T) (id ID, bin, old, moved string) {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(lookPath(t, "sleep"))
	if err != nil {
		t.Fatal(err)
	}
	old, moved = filepath.Join(dir, "v1"), filepath.Join(dir, "v1-old")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(old, "sleeper")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	id = startForTest(t, Spec{Name: "sleeper", Bin: bin, Args: []string{"30"}}, filepath.Join(dir, "log"))
	return id, bin, old, moved
}

// TestStopByStartTime: a recorded process is stopped though its binary
// was moved (its folder renamed: binaries swapped for a new build),
// deleted, or replaced since it started; a recorded PID that now belongs
// to a process started at another time (a reused PID: here the start time
// faked in the record) is left alone, and said so, however alike the
// executables. (Before start times were kept, the moved one was left
// running and the reused one, running the same executable, was killed.)
func TestStopByStartTime(t *testing.T) {
	for _, change := range []string{"moved", "deleted", "replaced"} {
		t.Run(change, func(t *testing.T) {
			id, bin, old, moved := startCopy(t)
			switch change {
			case "moved":
				if err := os.Rename(old, moved); err != nil {
					t.Fatal(err)
				}
			case "deleted":
				if err := os.Remove(bin); err != nil {
					t.Fatal(err)
				}
			case "replaced":
				if err := os.Remove(bin); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if !Running(id, bin) {
				t.Fatal("not running once its binary was " + change)
			}
			if out, err := Stop(id, bin, 2*time.Second); err != nil || out != Stopped {
				t.Fatalf("Stop: %v, %v; want stopped", out, err)
			}
			if !exitedOrZombie(id.PID) {
				t.Fatal("still running after Stop")
			}
		})
	}

	t.Run("PID reused", func(t *testing.T) {
		id, bin, _, _ := startCopy(t)
		recorded := ID{PID: id.PID, Start: id.Start - 1} // the recorded process started earlier: not this one
		if Running(recorded, bin) {
			t.Fatal("a PID started at another time counted as the recorded process")
		}
		if out, err := Stop(recorded, bin, time.Second); err != nil || out != Reused {
			t.Fatalf("Stop: %v, %v; want %v", out, err, Reused)
		}
		if err := Kill(recorded, bin); err == nil {
			t.Fatal("Kill of a reused PID reported success")
		}
		if err := Signal(recorded, bin, syscall.SIGTERM); !errors.Is(err, ErrNotRunning) {
			t.Fatalf("Signal to a reused PID: %v; want ErrNotRunning", err)
		}
		time.Sleep(100 * time.Millisecond)
		if !Running(id, bin) {
			t.Fatal("the process now holding the PID was signalled")
		}
		if got, want := Why(recorded, bin), fmt.Sprintf("exited; PID %d now belongs to a later process", id.PID); got != want {
			t.Fatalf("Why = %q; want %q", got, want)
		}
	})

	// A record kept across a reboot: the same PID and even the same start
	// tick name another process in a later boot.
	t.Run("earlier boot", func(t *testing.T) {
		id, bin, _, _ := startCopy(t)
		if id.Boot == "" || id.Boot != bootID() {
			t.Fatalf("Identify recorded boot %q; this boot is %q", id.Boot, bootID())
		}
		if Why(id, bin) != "" {
			t.Fatalf("Why of a running process = %q; want \"\"", Why(id, bin))
		}
		recorded := id
		recorded.Boot = "00000000-0000-4000-8000-000000000000"
		if Running(recorded, bin) {
			t.Fatal("a record of an earlier boot counted as running")
		}
		if got, want := Why(recorded, bin), "started before the machine's last boot"; got != want {
			t.Fatalf("Why = %q; want %q", got, want)
		}
		if out, err := Stop(recorded, bin, time.Second); err != nil || out != Reused {
			t.Fatalf("Stop: %v, %v; want %v", out, err, Reused)
		}
		if err := Signal(recorded, bin, syscall.SIGTERM); !errors.Is(err, ErrNotRunning) {
			t.Fatalf("Signal to a record of an earlier boot: %v; want ErrNotRunning", err)
		}
		time.Sleep(100 * time.Millisecond)
		if !Running(id, bin) {
			t.Fatal("the process now holding the PID was signalled")
		}
		if out, err := Stop(id, bin, 2*time.Second); err != nil || out != Stopped {
			t.Fatalf("Stop: %v, %v; want stopped", out, err)
		}
		if got := Why(id, bin); got != "exited" {
			t.Fatalf("Why of a stopped process = %q; want \"exited\"", got)
		}
	})
}

// TestStopReportsMovedBinariesOfAnOldRecord: recorded without a start
// time (by an earlier version), a process whose executable's folder was
// renamed while it ran is neither signalled nor reported stopped: Stop
// says what runs and how to stop it. By its new path it is stopped.
func TestStopReportsMovedBinariesOfAnOldRecord(t *testing.T) {
	started, bin, old, moved := startCopy(t)
	id := ID{PID: started.PID}
	if err := os.Rename(old, moved); err != nil {
		t.Fatal(err)
	}
	_, err := Stop(id, bin, time.Second)
	if err == nil || !strings.Contains(err.Error(), "left running") || !strings.Contains(err.Error(), fmt.Sprintf("kill %d", id.PID)) {
		t.Fatalf("Stop after the binaries moved: %v; want it reported, with the fix", err)
	}
	if !Alive(id.PID, filepath.Join(moved, "sleeper")) {
		t.Fatal("Stop signalled a process it did not recognise")
	}
	if out, err := Stop(id, filepath.Join(moved, "sleeper"), 2*time.Second); err != nil || out != Stopped || Alive(id.PID, filepath.Join(moved, "sleeper")) {
		t.Fatalf("Stop by its new path: %v, %v", out, err)
	}
	if out, err := Stop(id, bin, time.Second); err != nil || out != Gone {
		t.Fatalf("Stop of a process gone: %v, %v; want already gone", out, err)
	}
}

// TestIDJSON: an ID is written with its start time and boot (a record
// without a boot, as before boots were kept, reads back without one), and
// read back; a bare
// PID, as records before start times hold it, reads as an ID without one.
func TestIDJSON(t *testing.T) {
	in := map[string]ID{"redis": {PID: 41, Start: 123456789, Boot: "5e0a3c1e-8f5b-4f7e-9a51-6c1f0d2b7a90"}, "gateway": {PID: 42, Start: 7}}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]ID
	if err := json.Unmarshal(data, &back); err != nil || back["redis"] != in["redis"] || back["gateway"] != in["gateway"] {
		t.Fatalf("%s read back as %+v, %v", data, back, err)
	}
	var old map[string]ID
	if err := json.Unmarshal([]byte(`{"redis": 41, "gateway": 42}`), &old); err != nil || old["redis"] != (ID{PID: 41}) || old["gateway"] != (ID{PID: 42}) {
		t.Fatalf("a record of bare PIDs read as %+v, %v", old, err)
	}
	if err := json.Unmarshal([]byte(`{"redis": "x"}`), &old); err == nil {
		t.Fatal("a damaged record read without an error")
	}
}

// TestIdentifyReadsTheStartTime: the start time is field 22 of
// /proc/PID/stat, read after a command name with spaces and parentheses.
func TestIdentifyReadsTheStartTime(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(lookPath(t, "sleep"))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "a) b (c")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		t.Fatal(err)
	}
	var hz float64
	if _, err := fmt.Sscan(string(out), &hz); err != nil {
		t.Fatalf("CLK_TCK %q: %v", out, err)
	}
	// The start, in seconds after boot, lies between the uptime before
	// the process was started and after it was identified. (ps's etimes,
	// compared before, reads a process started within its own second as
	// a wrapped negative age on this kernel: a flaky reference.) Half a
	// second of slack covers the two clocks' rounding; a wrong field of
	// /proc/PID/stat is far off.
	before := uptime(t)
	cmd := exec.Command(bin, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	id, err := Identify(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	after := uptime(t)
	if got := float64(id.Start) / hz; got < before-0.5 || got > after+0.5 {
		t.Fatalf("start %d ticks = %.2f s after boot; it started between %.2f and %.2f s (/proc/uptime)", id.Start, got, before, after)
	}
	if _, err := Identify(1 << 30); err == nil {
		t.Fatal("Identify of a PID that cannot exist succeeded")
	}
}

// uptime is the seconds since boot (/proc/uptime).
func uptime(t *testing.T) float64 {
	t.Helper()
	data, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	var s float64
	if _, err := fmt.Sscan(string(data), &s); err != nil {
		t.Fatalf("/proc/uptime %q: %v", data, err)
	}
	return s
}

// TestSignalWithoutPidfds: where pidfd_open is refused (a seccomp profile's
// EPERM, EMFILE) Signal checks and kills as before pidfds instead of calling
// a running process gone; where the process is gone (ESRCH) it says so.
func TestSignalWithoutPidfds(t *testing.T) {
	refusing := func(errno syscall.Errno) func(int, int) (int, error) {
		return func(int, int) (int, error) { return -1, errno }
	}
	for _, errno := range []syscall.Errno{unix.EPERM, unix.EMFILE, unix.ENOSYS} {
		t.Run(errno.Error(), func(t *testing.T) {
			id, bin, _, _ := startCopy(t)
			if err := signalVia(refusing(errno), id, bin, syscall.SIGKILL); err != nil {
				t.Fatalf("Signal with pidfd_open refused (%v): %v", errno, err)
			}
			deadline := time.Now().Add(10 * time.Second) // generous: a loaded machine
			for Running(id, bin) && !exitedOrZombie(id.PID) {
				if time.Now().After(deadline) {
					t.Fatal("still running 10 s after SIGKILL")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	t.Run("gone", func(t *testing.T) {
		id, bin, _, _ := startCopy(t)
		if err := signalVia(refusing(unix.ESRCH), id, bin, syscall.SIGTERM); !errors.Is(err, ErrNotRunning) {
			t.Fatalf("Signal when pidfd_open says ESRCH: %v; want ErrNotRunning", err)
		}
	})
}

// TestStartRefusesAPortAnotherProcessListensOn: a listener already on the
// port (another process's) is not taken for the started process's own:
// Start fails, naming the address, and leaves nothing running, where it
// used to report the process ready at once.
func TestStartRefusesAPortAnotherProcessListensOn(t *testing.T) {
	foreign, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	port := foreign.Addr().(*net.TCPAddr).Port
	sleep := lookPath(t, "sleep")
	id, err := Start(context.Background(), Spec{Name: "server", Bin: sleep, Args: []string{"30"}, Port: port}, filepath.Join(t.TempDir(), "server.log"))
	if err == nil {
		_ = Kill(id, sleep)
		t.Fatal("Start reported the process ready on another process's listener")
	}
	if !strings.Contains(err.Error(), foreign.Addr().String()) || !strings.Contains(err.Error(), "already accepts connections") {
		t.Errorf("error %q does not say the address is taken", err)
	}
}

// TestStartReportsCancellation: a start cancelled (Ctrl-C) before the
// process listens is reported as cancelled, wrapping context.Canceled,
// not as a port that did not answer within 30 s.
func TestStartReportsCancellation(t *testing.T) {
	port := clitest.ReservePort(t) // nothing listens there
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	log := filepath.Join(t.TempDir(), "slow.log")
	began := time.Now()
	_, err := Start(ctx, Spec{Name: "slow", Bin: lookPath(t, "sleep"), Args: []string{"30"}, Port: port}, log)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "cancelled") || strings.Contains(err.Error(), "30 s") {
		t.Fatalf("error %v; want it reported as cancelled", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("a cancelled start took %v to return", took)
	}
}

// TestThreadsLeft: a process whose threads besides its leader still run
// (this test's, Go's runtime threads) has threads left, which keep its
// files open after its leader turns zombie; a single-threaded one (sleep)
// and a PID that runs nothing have none.
func TestThreadsLeft(t *testing.T) {
	if !threadsLeft(os.Getpid()) {
		t.Errorf("the test process (pid %d): no threads besides its leader; want some", os.Getpid())
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if threadsLeft(cmd.Process.Pid) {
		t.Errorf("sleep (pid %d): threads besides its leader; want none", cmd.Process.Pid)
	}
	if threadsLeft(1 << 30) {
		t.Error("a PID that runs nothing: threads left; want none")
	}
}

// TestNotExitedWhileThreadsLeft: a process whose leader thread has exited
// (a zombie) while its other threads still run and hold its listening
// socket has not exited, with a start time recorded or not: its port still
// answers. Stop and localnet's down took such a process as gone (a fresh
// make test saw the peers' ports answer right after down). Stop, though
// Signal finds it not running, ends its threads with SIGKILL.
func TestNotExitedWhileThreadsLeft(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	port := clitest.ReservePort(t)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), fmt.Sprint("PROC_TEST_LEADER_EXITS=", port))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "listening\n" {
		t.Fatalf("child said %q, %v; want listening", line, err)
	}
	pid := cmd.Process.Pid
	var st procStat
	for end := time.Now().Add(5 * time.Second); !st.dead(); time.Sleep(10 * time.Millisecond) {
		if st, err = readStat(pid); err != nil || time.Now().After(end) {
			t.Fatalf("leader of %d not a zombie within 5 s: %+v, %v", pid, st, err)
		}
	}
	for _, id := range []ID{{PID: pid}, {PID: pid, Start: st.start}} {
		if exited(id, self) {
			t.Errorf("%+v: exited with its leader a zombie and its threads running; want not", id)
		}
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err != nil {
		t.Errorf("port %d: %v; want the threads left still listening", port, err)
	} else {
		c.Close()
	}
	// Signal takes it as not running; Stop ends its threads all the same.
	if out, err := Stop(ID{PID: pid, Start: st.start}, self, time.Second); out != Stopped || err != nil {
		t.Errorf("Stop: %v, %v; want stopped", out, err)
	}
	if !exited(ID{PID: pid, Start: st.start}, self) {
		t.Errorf("%d: not exited after Stop", pid)
	}
}
