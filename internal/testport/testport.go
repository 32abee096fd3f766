// Package testport reserves 127.0.0.1 ports for tests: the port range of
// a test network (Base) and the few ports of a server a test starts
// itself, such as a redis-server (Ports).
//
// Every reserved port lies in 10000-31399, below Linux's ephemeral range
// (32768-60999), where any outgoing connection may take a port between the
// check that it is free and a server's bind, or while a killed server is
// down before its restart. A reservation is a lock file (flock) per block
// of ports, in one folder for every checkout and user on the machine
// ($TMPDIR/votechain-test-ports, mode 1777; lock files 0666, opened
// read-only, so a run as root leaves none another user cannot take), held
// until the test ends: no other test, of this checkout or another, is
// given the same ports meanwhile, so a test may stop a server and start it
// again on its ports.
//
// The thousands from 10000 to 31000 each start with a network's range of
// 400 ports (Base); from 400 to 999 above each of 10000 to 30000 lie the
// blocks of server ports (Ports), 10 ports each.
package testport

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

const (
	firstBase   = 10000 // the first network range's base
	bases       = 22    // network ranges, one per thousand: 10000 to 31000
	baseWidth   = 400   // ports of a network range (network.Ports' span)
	serverBases = 21    // thousands holding server blocks: 10000 to 30000
	blockWidth  = 10    // ports of a server block
	blocks      = (1000 - baseWidth) / blockWidth
)

// Base reserves a network's port range of 400 ports, base to base+399,
// whose ports are all free now, and returns its base: 10000, 11000, ...
// or 31000, never one of avoid (such as the default base `make up`
// uses). It fails t when every range is taken.
func Base(t testing.TB, avoid ...int) int {
	t.Helper()
	start := rand.IntN(bases)
	for k := range bases {
		base := firstBase + 1000*((start+k)%bases)
		if !slices.Contains(avoid, base) && reserve(t, base, baseWidth) {
			return base
		}
	}
	t.Fatalf("no free port range for a test network in %d-%d", firstBase, firstBase+1000*(bases-1)+baseWidth-1)
	return 0
}

// Ports reserves n consecutive ports (1 to 10), all free now, for a
// server the test starts itself, and returns them. They stay the test's
// until it ends, even while nothing listens on them. It fails t when every
// block is taken.
func Ports(t testing.TB, n int) []int {
	t.Helper()
	if n < 1 || n > blockWidth {
		t.Fatalf("testport: %d ports asked, 1 to %d can be", n, blockWidth)
	}
	start := rand.IntN(serverBases * blocks)
	for k := range serverBases * blocks {
		i := (start + k) % (serverBases * blocks)
		first := firstBase + 1000*(i/blocks) + baseWidth + blockWidth*(i%blocks)
		if reserve(t, first, n) {
			ports := make([]int, n)
			for j := range ports {
				ports[j] = first + j
			}
			return ports
		}
	}
	t.Fatalf("testport: no free block of %d ports left in %d-%d", n, firstBase+baseWidth, firstBase+1000*(serverBases-1)+999)
	return nil
}

// reserve takes the lock of the block starting at first, unless another
// test holds it or one of its first width ports is busy, until t ends.
func reserve(t testing.TB, first, width int) bool {
	t.Helper()
	dir := lockDir(t)
	f, err := openLock(filepath.Join(dir, fmt.Sprint(first)))
	if errors.Is(err, fs.ErrPermission) {
		t.Fatalf("testport: %v: a run as another user (root?) left %s unusable for this one: as root, chmod 1777 it and 0666 its files, or remove it", err, dir)
	}
	if err != nil {
		t.Fatalf("testport: %v", err)
	}
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil || !free(first, width) {
		f.Close()
		return false
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
	return true
}

// lockDir returns the folder of the lock files, $TMPDIR/votechain-test-ports
// (scripts/test-lock.sh keeps its lock there too), made if missing. Every
// user's tests share it, so it is world-writable and sticky like /tmp
// (1777), set explicitly (the umask would strip bits); a folder of another
// mode (as older versions made it) is given that mode by its owner or
// root, and left as it is for others.
func lockDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "votechain-test-ports")
	if err := os.Mkdir(dir, 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
		t.Fatalf("testport: %v", err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("testport: %v", err)
	}
	const mode = os.ModeSticky | 0o777
	if info.Mode()&(mode|os.ModeSetuid|os.ModeSetgid) != mode {
		if err := os.Chmod(dir, mode); err != nil && !errors.Is(err, fs.ErrPermission) {
			t.Fatalf("testport: %v", err)
		}
	}
	return dir
}

// openLock opens the lock file at path read-only, which is all flock
// needs, so a lock file another user made serves this one as long as it
// may read it (older versions made them 0644). A missing one it makes
// first (makeLock). One of another mode than 0666 (such as 0600, left by
// older versions that crashed between making it and its chmod) is given
// 0666 when its owner or root opens it, as a best effort (for other users,
// or on a read-only file system, it stays as it is). A symbolic link at
// path is refused, not followed: in a folder anyone may write, it could
// point a root run's chmod at any file.
func openLock(path string) (*os.File, error) {
	// Not O_CREATE: fs.protected_regular refuses that on another user's file in a sticky folder.
	open := func() (*os.File, error) { return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0) }
	f, err := open()
	if errors.Is(err, fs.ErrNotExist) {
		if err := makeLock(path); err != nil {
			return nil, err
		}
		f, err = open()
	}
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("testport: lock file %s is a symbolic link; remove it (a lock file is a plain file)", path)
	}
	if err != nil {
		return nil, err
	}
	if info, err := f.Stat(); err == nil && info.Mode().IsRegular() && info.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0o666 {
		_ = f.Chmod(0o666) // best effort: the file serves as long as it may be read
	}
	return f, nil
}

// makeLock makes the lock file at path readable and writable by all
// (0666, set explicitly past the umask), unless it exists: made under a
// temporary name in the same folder, given its mode there and then linked
// to path, so no one finds path with another mode (a file another user
// made 0600 under path could not be opened until its maker chmodded it).
// The temporary name is removed again. A TMPDIR on a file system without
// hard links fails with the link's error.
func makeLock(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o666)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err // fs.ErrExist: another test made it meanwhile
	}
	return nil
}

// free reports whether the width ports from first can be listened on.
func free(first, width int) bool {
	for port := first; port < first+width; port++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}
