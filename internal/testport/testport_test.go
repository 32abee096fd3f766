package testport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestPortsAreReservedBelowTheEphemeralRange: server ports come from the
// blocks 400-999 above each thousand from 10000 to 30000, consecutive,
// below Linux's ephemeral range; blocks reserved by the test are never
// given twice while it runs, and are given back when it ends.
func TestPortsAreReservedBelowTheEphemeralRange(t *testing.T) {
	var firsts []int
	t.Run("reserve", func(t *testing.T) {
		seen := map[int]bool{}
		for range 20 {
			ports := Ports(t, 2)
			first := ports[0]
			if len(ports) != 2 || ports[1] != first+1 {
				t.Fatalf("ports %v; want 2 consecutive", ports)
			}
			if first < 10400 || first > 30990 || first%1000 < 400 || (first%1000)%10 != 0 {
				t.Fatalf("ports %v; want a block 400-999 above a thousand from 10000 to 30000", ports)
			}
			if seen[first] {
				t.Fatalf("block %d given twice to one test", first)
			}
			seen[first] = true
			if lockable(t, first) || !lockedHere(t, first) {
				t.Fatalf("block %d given but not locked", first)
			}
			firsts = append(firsts, first)
		}
	})
	for _, first := range firsts {
		if lockedHere(t, first) {
			t.Errorf("block %d still locked after its test ended", first)
		}
	}
}

// TestBase: a network's range is a thousand from 10000 to 31000, not one
// the caller avoids, locked until the test ends.
func TestBase(t *testing.T) {
	var avoid []int
	for b := 10000; b <= 31000; b += 2000 {
		avoid = append(avoid, b)
	}
	var base int
	t.Run("reserve", func(t *testing.T) {
		base = Base(t, avoid...)
		if base < 11000 || base > 31000 || base%2000 != 1000 {
			t.Fatalf("base %d; want an odd thousand from 11000 to 31000, not one avoided", base)
		}
		if lockable(t, base) || !lockedHere(t, base) {
			t.Fatalf("base %d given but not locked", base)
		}
	})
	if lockedHere(t, base) {
		t.Errorf("base %d still locked after its test ended", base)
	}
}

// TestLocksServeEveryUser: the lock folder is made 1777 and lock files
// 0666 whatever the umask (here 077), so a run as root leaves them usable
// by every user; a folder made 0755 before (by older versions) is given
// 1777 by its owner; a lock file made 0444 before is taken all the same:
// lock files are held open read-only, as flock allows (a test run as root
// cannot be refused a write, so the open file's mode shows it); a lock file
// left 0600 (by a crash of older versions between its making and its
// chmod) is given 0666 by its owner.
func TestLocksServeEveryUser(t *testing.T) {
	t.Run("made", func(t *testing.T) {
		t.Setenv("TMPDIR", t.TempDir())
		defer syscall.Umask(syscall.Umask(0o077))
		first := Ports(t, 1)[0]
		if got, want := mode(t, filepath.Dir(lockFile(first))), os.ModeDir|os.ModeSticky|0o777; got != want {
			t.Errorf("lock folder made %v; want %v", got, want)
		}
		if got := mode(t, lockFile(first)); got != 0o666 {
			t.Errorf("lock file made %v; want %v", got, os.FileMode(0o666))
		}
		if got := heldModes(t, lockFile(first)); !slices.Equal(got, []int{syscall.O_RDONLY}) {
			t.Errorf("lock file held open with access modes %v; want one, read-only (%d)", got, syscall.O_RDONLY)
		}
	})
	t.Run("found", func(t *testing.T) {
		dir := leaveLocks(t, 0o755, 0o444)
		base := Base(t)
		if got := heldModes(t, lockFile(base)); !slices.Equal(got, []int{syscall.O_RDONLY}) {
			t.Errorf("lock file made 0444 before held open with access modes %v; want one, read-only (%d)", got, syscall.O_RDONLY)
		}
		if got, want := mode(t, dir), os.ModeDir|os.ModeSticky|0o777; got != want {
			t.Errorf("lock folder made 0755 before is %v; want %v", got, want)
		}
	})
	t.Run("repaired", func(t *testing.T) {
		leaveLocks(t, 0o755, 0o600)
		base := Base(t)
		if got := mode(t, lockFile(base)); got != 0o666 {
			t.Errorf("lock file left 0600 by its owner (this user) is %v once reserved; want %v", got, os.FileMode(0o666))
		}
	})
}

// leaveLocks sets TMPDIR to a new folder and leaves in it a lock folder of
// mode dirMode holding the lock files of every network range, mode
// fileMode, as older versions could leave them; it returns the lock folder.
func leaveLocks(t *testing.T, dirMode, fileMode os.FileMode) string {
	t.Helper()
	t.Setenv("TMPDIR", t.TempDir())
	dir := filepath.Dir(lockFile(0))
	if err := os.Mkdir(dir, dirMode); err != nil {
		t.Fatal(err)
	}
	for b := firstBase; b < firstBase+1000*bases; b += 1000 {
		if err := os.WriteFile(lockFile(b), nil, fileMode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(lockFile(b), fileMode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestLockFileAppearsWithItsMode: a lock file made under a umask of 077
// is never seen under its name with another mode than 0666 (which another
// user could not open): its name gets one inotify event, its appearance
// (IN_CREATE or IN_MOVED_TO), and none after (no IN_ATTRIB of a chmod, no
// IN_DELETE or IN_MOVED_FROM of a file replaced); no temporary name is left
// behind; and a second maker that finds the name taken leaves that file as
// it is (no event for the name) and opens it.
func TestLockFileAppearsWithItsMode(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dir := lockDir(t)
	path := lockFile(firstBase)
	events := watch(t, dir)
	defer syscall.Umask(syscall.Umask(0o077))
	f, err := openLock(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got := mode(t, path); got != 0o666 {
		t.Errorf("lock file made %v; want %v", got, os.FileMode(0o666))
	}
	name := filepath.Base(path)
	if seen := events()[name]; len(seen) != 1 || seen[0]&(syscall.IN_CREATE|syscall.IN_MOVED_TO) == 0 {
		t.Errorf("lock file's inotify events %#x; want one, its appearance (IN_CREATE %#x or IN_MOVED_TO %#x), and none after (IN_ATTRIB %#x: its mode set while others could open it)", seen, syscall.IN_CREATE, syscall.IN_MOVED_TO, syscall.IN_ATTRIB)
	}

	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := makeLock(path); err != nil {
		t.Errorf("makeLock of an existing lock file: %v; want it left as it is", err)
	}
	f, err = openLock(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if after, err := f.Stat(); err != nil || !os.SameFile(before, after) || after.Mode() != 0o666 {
		t.Errorf("existing lock file opened as %v, %v; want the same file, mode %v", after, err, os.FileMode(0o666))
	}
	if seen := events()[name]; len(seen) != 0 {
		t.Errorf("lock file's inotify events while a second maker found it %#x; want none: the file left as it is", seen)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 1 {
		t.Errorf("lock folder holds %v (%v); want the lock file alone, no temporary name left", entries, err)
	}
}

// watch starts watching dir with inotify for names that appear, go or
// whose metadata changes; the function it returns gives the events queued
// since its last call, their masks by name in order. When the user's
// inotify instances or watches are used up it fails t naming the sysctl
// that raises them.
func watch(t *testing.T, dir string) func() map[string][]uint32 {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if errors.Is(err, syscall.EMFILE) {
		t.Fatalf("inotify_init1: %v: this user's inotify instances are used up (or this process's open files): raise them as root, e.g. sysctl fs.inotify.max_user_instances=1024", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	_, err = syscall.InotifyAddWatch(fd, dir, syscall.IN_CREATE|syscall.IN_MOVED_TO|syscall.IN_ATTRIB|syscall.IN_DELETE|syscall.IN_MOVED_FROM)
	if errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("inotify_add_watch %s: %v: this user's inotify watches are used up: raise them as root, e.g. sysctl fs.inotify.max_user_watches=524288", dir, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return func() map[string][]uint32 {
		events := map[string][]uint32{}
		buf := make([]byte, 64<<10)
		for {
			n, err := syscall.Read(fd, buf)
			if err == syscall.EAGAIN {
				return events
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+syscall.SizeofInotifyEvent <= n; {
				// struct inotify_event: int32 wd, uint32 mask, cookie, len; then len bytes of name
				mask := binary.NativeEndian.Uint32(buf[i+4:])
				size := int(binary.NativeEndian.Uint32(buf[i+12:]))
				i += syscall.SizeofInotifyEvent
				name := strings.TrimRight(string(buf[i:i+size]), "\x00")
				i += size
				if mask&syscall.IN_Q_OVERFLOW != 0 {
					t.Fatal("inotify queue overflowed")
				}
				events[name] = append(events[name], mask)
			}
		}
	}
}

// mode is the mode of the file at path.
func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode()
}

// heldModes lists the access modes (O_RDONLY, O_WRONLY or O_RDWR) of this
// process's open files on path, from /proc/self/fdinfo.
func heldModes(t *testing.T, path string) []int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var modes []int
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err != nil || target != path {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(info)) {
			if v, ok := strings.CutPrefix(line, "flags:"); ok {
				flags, err := strconv.ParseInt(strings.TrimSpace(v), 8, 64)
				if err != nil {
					t.Fatal(err)
				}
				modes = append(modes, int(flags)&syscall.O_ACCMODE)
			}
		}
	}
	return modes
}

// lockable reports whether another holder could take the lock of the block
// or range starting at first now (flock locks conflict between open files,
// even in one process).
func lockable(t *testing.T, first int) bool {
	t.Helper()
	f, err := os.Open(lockFile(first))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}

// lockedHere reports whether this process holds a flock on the lock file
// of the block or range starting at first, from /proc/locks. Unlike
// lockable after a release, it does not race another test binary that
// takes the block meanwhile: that one's lock has its own PID.
func lockedHere(t *testing.T, first int) bool {
	t.Helper()
	info, err := os.Stat(lockFile(first))
	if err != nil {
		t.Fatal(err)
	}
	inode := strconv.FormatUint(info.Sys().(*syscall.Stat_t).Ino, 10)
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(os.Getpid())
	// "3: FLOCK  ADVISORY  WRITE 5544 fe:00:5481676 0 EOF"; a waiter's
	// line has "->" after the number.
	for line := range strings.Lines(string(locks)) {
		f := strings.Fields(strings.Replace(line, "->", "", 1))
		if len(f) >= 6 && f[1] == "FLOCK" && f[4] == pid && strings.HasSuffix(f[5], ":"+inode) {
			return true
		}
	}
	return false
}

// lockFile is the lock file of the block or range starting at first.
func lockFile(first int) string {
	return filepath.Join(os.TempDir(), "votechain-test-ports", fmt.Sprint(first))
}

// TestLockSymlinkRefused: a symbolic link at a lock file's name (the folder
// is writable by all) is refused with advice, and its target, 0600 here,
// is not given the lock's mode.
func TestLockSymlinkRefused(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "10000")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if f, err := openLock(path); err == nil || !strings.Contains(err.Error(), "is a symbolic link; remove it") {
		if f != nil {
			f.Close()
		}
		t.Errorf("openLock on a symbolic link: %v; want it refused with advice", err)
	}
	if info, err := os.Stat(target); err != nil || info.Mode() != 0o600 {
		t.Errorf("the link's target: %v, %v; want mode 0600 kept", info.Mode(), err)
	}
}
