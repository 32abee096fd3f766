// Package scripts holds the tests of the shell scripts in this folder.
package scripts

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLockExclusiveWaiterIsNotStarved runs test-lock.sh shared holders that
// overlap without a gap (one arriving every 300 ms, each holding the lock for
// 1 s, as make tests from several checkouts can), and an exclusive run (make
// test-heavy, make bench) asking after the first. The exclusive run must get
// the lock while shared holders still arrive, and hold it alone. With flock
// alone it would wait until the arrivals stop (here after 100, about 30 s).
func TestLockExclusiveWaiterIsNotStarved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := append(os.Environ(), "TMPDIR="+dir)
	in := filepath.Join(dir, "in")     // one file per shared holder holding the lock
	done := filepath.Join(dir, "done") // the exclusive run's
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lock := func(mode, script string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "bash", "test-lock.sh", mode, "sh", "-c", script)
		cmd.Env = env
		return cmd
	}

	const most = 100
	arrivals := make(chan int, 1)
	finished := make(chan struct{})
	t.Cleanup(func() { cancel(); <-finished }) // a test ended early stops the arrivals before it completes
	go func() {
		defer close(finished)
		var shared []*exec.Cmd
		n := 0
		for ; n < most && ctx.Err() == nil; n++ {
			if _, err := os.Stat(done); err == nil {
				break
			}
			cmd := lock("shared", `touch "$0/$$"; sleep 1; rm "$0/$$"`)
			cmd.Args = append(cmd.Args, in)
			if err := cmd.Start(); err != nil {
				t.Error(err)
				break
			}
			shared = append(shared, cmd)
			time.Sleep(300 * time.Millisecond)
		}
		for _, cmd := range shared {
			if err := cmd.Wait(); err != nil {
				t.Errorf("a shared holder: %v", err)
			}
		}
		arrivals <- n
	}()

	waitUntil(t, "a shared holder to hold the lock", func() bool { held, _ := os.ReadDir(in); return len(held) > 0 })
	excl := lock("exclusive", `ls "$0" | grep -q . && { echo "shared holders beside the exclusive run: $(ls "$0")"; exit 1; }; touch "$1"`)
	excl.Args = append(excl.Args, in, done)
	out, err := excl.CombinedOutput()
	if err != nil {
		t.Errorf("the exclusive run: %v\n%s", err, out)
	} else if !strings.Contains(string(out), "test-lock: waiting (exclusive)") {
		t.Errorf("the exclusive run did not say it waited:\n%s", out)
	}
	n := <-arrivals
	t.Logf("%d shared arrivals; the exclusive run said:\n%s", n, out)
	if n >= most {
		t.Errorf("the exclusive run got the lock only once the %d shared arrivals stopped: starved", n)
	}
}

// TestLockPassesTheStatusOn: test-lock.sh exits with its command's status,
// so `make bench` fails with an interrupted benchrun (130, 143) or one that
// ended early (1).
func TestLockPassesTheStatusOn(t *testing.T) {
	t.Parallel()
	env := append(os.Environ(), "TMPDIR="+t.TempDir()) // its own lock: never waits for the machine's
	for _, code := range []int{0, 1, 130, 143} {
		cmd := exec.Command("bash", "test-lock.sh", "exclusive", "sh", "-c", fmt.Sprintf("exit %d", code))
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if got := cmd.ProcessState.ExitCode(); got != code {
			t.Errorf("a command exiting %d: test-lock.sh exited %d (%v)\n%s", code, got, err, out)
		}
	}
}

// TestLockNoticeSaysWhoHoldsIt: notice (make test-unit, make test-race)
// runs its command at once while an exclusive holder (a bench) holds the
// lock, and says so naming the holder's command line; with the lock free
// it says nothing. It passes the command's status on.
func TestLockNoticeSaysWhoHoldsIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := append(os.Environ(), "TMPDIR="+dir)
	notice := func() (string, int) {
		cmd := exec.Command("bash", "test-lock.sh", "notice", "sh", "-c", "echo ran; exit 3")
		cmd.Env = env
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	if out, code := notice(); out != "ran\n" || code != 3 {
		t.Fatalf("lock free: said %q, exit %d; want only the command's output and its status 3", out, code)
	}

	held, release := filepath.Join(dir, "held"), filepath.Join(dir, "release")
	holder := exec.Command("bash", "test-lock.sh", "exclusive", "sh", "-c", `touch "$0"; while [ ! -e "$1" ]; do sleep 0.1; done`, held, release)
	holder.Env = env
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		os.WriteFile(release, nil, 0o644)
		holder.Wait()
	}()
	waitUntil(t, "the exclusive holder to get the lock", func() bool { _, err := os.Stat(held); return err == nil })
	began := time.Now()
	out, code := notice()
	if code != 3 || !strings.HasSuffix(out, "ran\n") {
		t.Fatalf("lock held: exit %d, said %q; want the command run, status 3", code, out)
	}
	if !strings.Contains(out, "test-lock: this run takes no lock and does not wait, but") || !strings.Contains(out, "test-lock.sh exclusive sh -c") {
		t.Errorf("lock held: said %q; want the notice naming the holder", out)
	}
	if d := time.Since(began); d > 20*time.Second {
		t.Errorf("notice took %v beside the holder: it waited", d)
	}
}

// TestLockServesEveryUser: test-lock.sh makes its folder 1777 and its
// lock files 0666 whatever the umask (here 077), and holds them open
// read-only, so a run as root leaves nothing another user's make test
// cannot take. Run as root with setpriv, it also runs the script as
// nobody on a folder left as older versions left it as root (0755, files
// 0644): it takes the lock (it failed: Permission denied).
func TestLockServesEveryUser(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command("bash", "-c", `umask 077; exec bash test-lock.sh shared sh -c 'grep "^flags:" /proc/$PPID/fdinfo/9'`)
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("test-lock.sh: %v\n%s", err, out)
	}
	flags, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(string(out), "flags:")), 8, 64)
	if err != nil || flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		t.Errorf("test-lock.sh held its lock open with %q; want read-only", out)
	}
	checkModes(t, dir, map[string]os.FileMode{"": os.ModeDir | os.ModeSticky | 0o777, "test-lanes.lock": 0o666, "test-lanes.gate": 0o666})

	setpriv, err := exec.LookPath("setpriv")
	if os.Geteuid() != 0 || err != nil {
		t.Skip("as another user: needs root and setpriv (util-linux)")
	}
	// Every folder on the way and the script readable by nobody.
	top := t.TempDir()
	if err := os.Chmod(filepath.Dir(top), 0o755); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("test-lock.sh")
	if err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(top, "votechain-test-ports")
	for _, err := range []error{
		os.Chmod(top, 0o755),
		os.WriteFile(filepath.Join(top, "test-lock.sh"), script, 0o644),
		os.Mkdir(old, 0o755),
		os.Chmod(old, 0o755),
		os.WriteFile(filepath.Join(old, "test-lanes.lock"), nil, 0o644),
		os.WriteFile(filepath.Join(old, "test-lanes.gate"), nil, 0o644),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	cmd = exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "bash", filepath.Join(top, "test-lock.sh"), "shared", "sh", "-c", "id -u")
	cmd.Env = append(os.Environ(), "TMPDIR="+top)
	out, err = cmd.CombinedOutput()
	if err != nil || string(out) != "65534\n" {
		t.Errorf("test-lock.sh as nobody on a folder root left 0755 with files 0644: %v\n%s\nwant it to run the command", err, out)
	}
}

// TestLockFilesAreMadeWithTheirMode: test-lock.sh makes its lock files
// 0666 at once whatever the umask (here 077), not with the umask's mode and
// a chmod after, in between which another user's run could not open them:
// with a chmod on PATH that changes nothing they are 0666 all the same.
// Lock files of another mode (0600, as a crash of older versions between
// the two could leave them) are given 0666 by their owner.
func TestLockFilesAreMadeWithTheirMode(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "chmod"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		old        os.FileMode // of the lock files found, 0 for none
	}{
		{"made with a chmod that changes nothing", bin + string(os.PathListSeparator) + os.Getenv("PATH"), 0},
		{"found 0600", os.Getenv("PATH"), 0o600},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.old != 0 {
				ports := filepath.Join(dir, "votechain-test-ports")
				if err := os.Mkdir(ports, 0o1777); err != nil {
					t.Fatal(err)
				}
				for _, name := range []string{"test-lanes.lock", "test-lanes.gate"} {
					if err := os.WriteFile(filepath.Join(ports, name), nil, c.old); err != nil {
						t.Fatal(err)
					}
					if err := os.Chmod(filepath.Join(ports, name), c.old); err != nil {
						t.Fatal(err)
					}
				}
			}
			cmd := exec.Command("bash", "-c", "umask 077; exec bash test-lock.sh shared true")
			cmd.Env = append(os.Environ(), "TMPDIR="+dir, "PATH="+c.path)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("test-lock.sh: %v\n%s", err, out)
			}
			checkModes(t, dir, map[string]os.FileMode{"test-lanes.lock": 0o666, "test-lanes.gate": 0o666})
		})
	}
}

// checkModes fails t for each name in dir/votechain-test-ports ("" for the
// folder itself) whose mode is not the one wanted.
func checkModes(t *testing.T, dir string, want map[string]os.FileMode) {
	t.Helper()
	for name, mode := range want {
		info, err := os.Stat(filepath.Join(dir, "votechain-test-ports", name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != mode {
			t.Errorf("votechain-test-ports/%s: mode %v; want %v", name, info.Mode(), mode)
		}
	}
}

// waitUntil polls cond every 50 ms and fails the test if it does not hold
// within 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30 s waiting for %s", what)
		}
	}
}

// TestLockFileSymlinkNotFollowed: a symbolic link planted as a lock file
// (the folder is writable by all) does not get its target chmodded by a
// run: here the target stays 0600.
func TestLockFileSymlinkNotFollowed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ports := filepath.Join(dir, "votechain-test-ports")
	if err := os.Mkdir(ports, 0o1777); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(ports, "test-lanes.gate")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "test-lock.sh", "shared", "true")
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	out, _ := cmd.CombinedOutput() // refused or not, the target must keep its mode
	if info, err := os.Stat(target); err != nil || info.Mode() != 0o600 {
		t.Errorf("the link's target: %v, %v; want mode 0600 kept\n%s", info.Mode(), err, out)
	}
}
