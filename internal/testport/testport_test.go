package testport

import (
	"fmt"
	"os"
	"path/filepath"
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

// lockable reports whether another holder could take the lock of the block
// or range starting at first now (flock locks conflict between open files,
// even in one process).
func lockable(t *testing.T, first int) bool {
	t.Helper()
	f, err := os.OpenFile(lockFile(first), os.O_CREATE|os.O_RDWR, 0o644)
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
