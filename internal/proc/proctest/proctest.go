// Package proctest gives tests stand-in processes: copies of sleep(1) under
// the names of the system's binaries, for code that starts, inspects and
// stops processes by name and start time (internal/stack, the test network).
package proctest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/votechain/votechain/internal/proc"
)

// CopySleep copies sleep(1) to dir/name (dir is created) and returns its path.
func CopySleep(t testing.TB, dir, name string) string {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// Sleeper starts CopySleep(dir, name) for 30 s, its output in dir/name.log,
// and returns its ID; the process is killed when the test ends.
func Sleeper(t testing.TB, dir, name string) proc.ID {
	t.Helper()
	bin := CopySleep(t, dir, name)
	id, err := proc.Start(context.Background(), proc.Spec{Name: name, Bin: bin, Args: []string{"30"}}, bin+".log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Signal(id, "", syscall.SIGKILL) })
	return id
}
