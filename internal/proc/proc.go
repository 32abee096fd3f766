// Package proc starts, watches and stops the long-running native processes
// Votechain runs (Fabric nodes, chaincode services, redis-server, gateway,
// batcher, explorer). Processes are detached into their own process group so
// they outlive the command that started them, are found again by PID, and are
// checked against their executable so a reused PID is never signalled.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Spec describes one long-running process.
type Spec struct {
	Name string   // "orderer0", "peer.Commission", "redis", "gateway"
	Bin  string   // absolute path of the executable
	Args []string // arguments after the executable
	Env  []string // added to a clean environment
	Port int      // the process is ready when Addr:Port accepts connections (0: once started)
	Addr string   // the address it listens on; empty for 127.0.0.1
	Dir  string   // working directory; empty for the caller's
	// Netns is the Linux network namespace to run it in (`ip netns exec`,
	// which execs the executable in place, so the PID is the process's
	// own); empty for the caller's. The caller must reach Addr from its own
	// namespace (a test's bridge does that).
	Netns string
	// Priority is the CPU priority of the process and every thread it
	// makes; the zero value runs it at the caller's. The ledger side runs
	// at a lower one so that, on a shared machine, intake wins the cores
	// under a surge and the ledger drains in the time left
	// (docs/operations.md#cpu-priority-intake-first).
	Priority Priority
}

// ListenAddr is where the process is ready: Addr (127.0.0.1 if empty) and Port.
func (p Spec) ListenAddr() string {
	addr := p.Addr
	if addr == "" {
		addr = "127.0.0.1"
	}
	return net.JoinHostPort(addr, strconv.Itoa(p.Port))
}

// command is the command line that starts p.
func (p Spec) command() *exec.Cmd {
	if p.Netns == "" {
		return exec.Command(p.Bin, p.Args...)
	}
	return exec.Command("ip", append([]string{"netns", "exec", p.Netns, p.Bin}, p.Args...)...)
}

// cleanEnv is the caller's environment without Fabric settings, so a stray
// CORE_* or ORDERER_* variable in the operator's shell cannot change a node.
func CleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CORE_") || strings.HasPrefix(kv, "ORDERER_") ||
			strings.HasPrefix(kv, "FABRIC_") || strings.HasPrefix(kv, "CHAINCODE_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// Start launches p detached (own process group, so it outlives the command
// that started it), appending its output to logPath, and waits until its port
// accepts connections. It returns the PID.
func Start(ctx context.Context, p Spec, logPath string) (int, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return 0, err
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("%s: open log: %w", p.Name, err)
	}
	defer logFile.Close()
	cmd := p.command()
	cmd.Env = CleanEnv(p.Env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = p.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := startAt(cmd, p.Priority); err != nil {
		return 0, fmt.Errorf("start %s: %w", p.Name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps the child if this process lives on (tests)
	if p.Port == 0 {
		return cmd.Process.Pid, nil
	}

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	addr := p.ListenAddr()
	for {
		select {
		case err := <-exited:
			return 0, fmt.Errorf("%s exited during start-up (%v); last lines of %s:\n%s", p.Name, err, logPath, Tail(logPath, 15))
		case <-ctx.Done():
			_ = Stop(cmd.Process.Pid, p.Bin, time.Second)
			return 0, fmt.Errorf("%s did not listen on %s within 30 s; last lines of %s:\n%s", p.Name, addr, logPath, Tail(logPath, 15))
		case <-time.After(50 * time.Millisecond):
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return cmd.Process.Pid, nil
		}
	}
}

// startAt starts cmd from an OS thread of its own whose priority is
// lowered to prio first, so the child and every thread it ever makes
// inherit it from birth (Linux keeps niceness and scheduling policy per
// thread; changing a started process would miss threads made from those
// not yet changed). The thread is discarded afterwards, as an
// unprivileged one cannot raise it again.
func startAt(cmd *exec.Cmd, prio Priority) error {
	if prio == (Priority{}) {
		return cmd.Start()
	}
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine.
		runtime.LockOSThread()
		if err := prio.applyToThread(); err != nil {
			done <- err
			return
		}
		done <- cmd.Start()
	}()
	return <-done
}

// Alive reports whether pid is a running instance of bin. Checking the
// executable guards against a PID reused by an unrelated process. It reads
// /proc/PID/exe, not the command line, which some servers (redis-server)
// rewrite; a binary replaced on disk since the start still counts.
func Alive(pid int, bin string) bool {
	if pid <= 0 {
		return false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false // gone, or a zombie
	}
	want, err := filepath.EvalSymlinks(bin)
	if err != nil {
		want = bin
	}
	return strings.TrimSuffix(exe, " (deleted)") == want
}

// Stop sends SIGTERM to pid (if it is still bin), waits up to grace, then
// sends SIGKILL and waits for it to go.
//
// A pid that runs an executable of bin's name from another folder is left
// alone and reported: the binaries were moved or swapped (a new build or
// version put in their folder's place) while it ran, so it is most likely
// this system's process, but a reused PID cannot be ruled out, and saying
// "stopped" would leave it running unseen.
func Stop(pid int, bin string, grace time.Duration) error {
	if !Alive(pid, bin) {
		if exe, ok := runsMoved(pid, bin); ok {
			return fmt.Errorf("process %d runs %s, not %s: its binaries were moved or swapped since it started, so it was left running; if it is this system's, stop it with `kill %d` and run this again", pid, exe, bin, pid)
		}
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if waitGone(pid, bin, grace) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if waitGone(pid, bin, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("process %d (%s) did not stop", pid, filepath.Base(bin))
}

// runsMoved reports whether pid runs an executable named as bin's but at
// another path, and that path.
func runsMoved(pid int, bin string) (string, bool) {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return "", false
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	return exe, filepath.Base(exe) == filepath.Base(bin)
}

// Kill sends SIGKILL to pid if it is still bin, and waits for it to go.
func Kill(pid int, bin string) error {
	if !Alive(pid, bin) {
		return fmt.Errorf("process %d (%s) is not running", pid, filepath.Base(bin))
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if !waitGone(pid, bin, 5*time.Second) {
		return fmt.Errorf("process %d (%s) survived SIGKILL", pid, filepath.Base(bin))
	}
	return nil
}

// waitGone waits up to d for pid to have finished exiting (see exited).
func waitGone(pid int, bin string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if exited(pid, bin) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return exited(pid, bin)
}

// exited reports whether pid, once bin, has finished exiting: it is gone,
// a zombie, or the PID now runs another executable. It is stricter than
// !Alive: a dying process loses its /proc/PID/exe link when its memory is
// released, before the kernel closes its files, so for a moment it is not
// Alive yet still holds its listening ports. A caller that restarts the
// process on the same port right after Kill must wait for this.
func exited(pid int, bin string) bool {
	if Alive(pid, bin) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // reaped
	}
	// The state follows the command name, which is in parentheses and may
	// itself hold spaces or parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return true
	}
	switch stat[i+2] {
	case 'Z', 'X': // files closed, waiting to be reaped
		return true
	}
	if _, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
		return true // the PID was reused by another executable
	}
	return false // still tearing down
}

// PortFree reports whether nothing listens on 127.0.0.1:port.
func PortFree(port int) bool { return AddrFree("127.0.0.1", port) }

// AddrFree reports whether nothing listens on addr:port. An address that
// is not this namespace's (another host's, or a network namespace's behind
// a bridge) cannot be checked from here and counts as free: a process that
// then cannot bind it says so in its log.
func AddrFree(addr string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		return true
	}
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// Tail returns the last n lines of a file, indented, for error messages.
func Tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "    (no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// Run executes a short-lived Fabric command and returns its combined output,
// with the output in the error when it fails.
func Run(ctx context.Context, env []string, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = CleanEnv(env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return out, fmt.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args[:min(len(args), 3)], " "), err, indent(out))
		}
		return out, fmt.Errorf("%s: %w", filepath.Base(bin), err)
	}
	return out, nil
}

func indent(out []byte) string {
	s := strings.TrimRight(string(out), "\n")
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
