package benchenv

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// CPUTime is the CPU time, user and system, the calling process has used
// so far: a benchmark's CPU over a stretch is the difference of two calls.
func CPUTime(tb TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// CopyFile copies the file src to dst, replacing dst: a benchmark's large
// fixture (an index built once) copied from the cache it is kept in. An
// error wraps fs.ErrNotExist when src does not exist.
func CopyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	_, err = out.ReadFrom(in)
	return errors.Join(err, out.Close())
}
