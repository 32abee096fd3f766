// Package privatefile writes files only their owner may read (a roll of
// voters' credentials, Redis passwords) whole or not at all, and removes the
// temporary copies of them that a killed writer left behind.
package privatefile

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Write writes path with write, whole or not at all, as a file of mode 0600:
// into a temporary file beside path (named as TempPattern says, mode 0600,
// locked while written), buffered, fsynced, then renamed to path, replacing
// what was there (a file of another mode included). On any failure (write's
// error, a failed flush, sync or rename, a panic in write) the temporary
// file is removed and path is left as it was. Only a process killed
// outright (SIGKILL, a crash) leaves its temporary file: RemoveStale
// removes it at the next write.
func Write(path string, write func(io.Writer) error) error {
	f, err := createLocked(path, nil)
	if err != nil {
		return err
	}
	defer f.Close() // after the rename: the lock keeps RemoveStale off it until then
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriter(f)
	if err := write(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	renamed = true
	return nil
}

// createLocked creates Write's temporary file for path and locks it. A
// RemoveStale running beside it may take the file for a killed writer's in
// the moment between its creation and its lock, and remove it: a file found
// unlinked once locked is closed and another created (a few times at most).
// beforeLock, if not nil, runs between the two (the tests' way into that
// moment).
func createLocked(path string, beforeLock func(*os.File)) (*os.File, error) {
	for range 3 {
		f, err := os.CreateTemp(filepath.Dir(path), TempPattern(path))
		if err != nil {
			return nil, err
		}
		if beforeLock != nil {
			beforeLock(f)
		}
		var st syscall.Stat_t
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err == nil {
			err = syscall.Fstat(int(f.Fd()), &st)
		}
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, err
		}
		if st.Nlink > 0 {
			return f, nil
		}
		f.Close() // removed under us: its name may be another file's by now
	}
	return nil, errors.New("the temporary copy of " + path + " was removed as it was made, each time: another process removes " + TempPattern(path) + " files beside it")
}

// WriteData writes data to path as Write does.
func WriteData(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// TempPattern is the os.CreateTemp pattern of Write's temporary file for
// path: ".BASE.*.tmp" (BASE being path's last element), hidden, beside path;
// CreateTemp puts decimal digits for the *.
func TempPattern(path string) string { return "." + filepath.Base(path) + ".*.tmp" }

// isTemp reports whether name is exactly the name of one of Write's
// temporary files for base: ".BASE.DIGITS.tmp".
func isTemp(name, base string) bool {
	digits, ok := strings.CutPrefix(name, "."+base+".")
	if !ok {
		return false
	}
	digits, ok = strings.CutSuffix(digits, ".tmp")
	return ok && digits != "" && strings.Trim(digits, "0123456789") == ""
}

// RemoveStale removes the temporary files of path that Writes killed
// outright left beside it: only regular files named exactly as Write names
// them (".BASE.DIGITS.tmp"), and not one a Write still running holds locked.
// It logs each one removed on log (a warning naming it: it held what path
// holds), and each it could not remove (a nil log logs nothing); it
// returns the paths removed. A folder it cannot read (path's not made yet
// included) has none to remove.
func RemoveStale(path string, log *slog.Logger) []string {
	log = orDiscard(log)
	dir, base := filepath.Dir(path), filepath.Base(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTemp(e.Name(), base) {
			continue
		}
		name := filepath.Join(dir, e.Name())
		switch err := removeUnlocked(name); {
		case errors.Is(err, errLocked), errors.Is(err, os.ErrNotExist):
		case err != nil:
			log.Warn("a temporary copy of "+path+" that an earlier write left could not be removed: remove it by hand", "file", name, "err", err)
		default:
			log.Warn("removed a temporary copy of "+path+": an earlier write killed outright left it, or a write beside was just starting it and makes another", "file", name)
			removed = append(removed, name)
		}
	}
	return removed
}

// RemoveOlderCopy removes "PATH.tmp", the temporary copy Votechain's own
// writers of path used before this package (the roll in a run folder, the
// Redis password files), which an interrupted write left, and logs it on
// log (nil: logs nothing); it reports whether there was one. Only for paths
// Votechain has always written itself: a user's file of that name beside
// another output is not a copy.
func RemoveOlderCopy(path string, log *slog.Logger) bool {
	log = orDiscard(log)
	name := path + ".tmp"
	if st, err := os.Lstat(name); err != nil || !st.Mode().IsRegular() {
		return false
	}
	if err := os.Remove(name); err != nil {
		log.Warn("a temporary copy of "+path+" that an earlier version's write left could not be removed: remove it by hand", "file", name, "err", err)
		return false
	}
	log.Warn("removed the temporary copy of "+path+" an earlier version's interrupted write left", "file", name)
	return true
}

// errLocked says a temporary file is locked by the Write still writing it.
var errLocked = errors.New("being written")

// removeUnlocked removes name unless a Write holds it locked.
func removeUnlocked(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	} else if err != nil {
		return err
	}
	return os.Remove(name)
}

// orDiscard is log, or a logger that discards if log is nil.
func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}
