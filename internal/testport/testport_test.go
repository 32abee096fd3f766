package testport

import (
	"fmt"
	"os"
	"path/filepath"
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
			if lockable(t, first) {
				t.Fatalf("block %d given but not locked", first)
			}
			firsts = append(firsts, first)
		}
	})
	for _, first := range firsts {
		if !lockable(t, first) {
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
		if lockable(t, base) {
			t.Fatalf("base %d given but not locked", base)
		}
	})
	if !lockable(t, base) {
		t.Errorf("base %d still locked after its test ended", base)
	}
}

// lockable reports whether another holder could take the lock of the block
// or range starting at first now (flock locks conflict between open files,
// even in one process).
func lockable(t *testing.T, first int) bool {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "votechain-test-ports", fmt.Sprint(first)), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}
