// Package proc starts, watches and stops the long-running native processes
// Votechain runs (Fabric nodes, chaincode services, redis-server, gateway,
// batcher, explorer). Processes are detached into their own process group so
// they outlive the command that started them, and are found again by their
// ID, a PID and its start time, so a reused PID is never signalled.
package proc

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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
	// Ready, if set, is an HTTP path on Addr:Port (the gateway's "/readyz")
	// that must answer GET with 200 before the process counts as started:
	// a process may accept connections before it can do its work (the
	// gateway answers 503 starting until it has read the election record),
	// and a port that accepts connections says only that. Empty: accepting
	// connections is ready.
	Ready string
	// StartWithin is how long Start waits for the process to be ready;
	// 0 is DefaultStartWithin.
	StartWithin time.Duration
	// StopWithin is how long Start, giving up on a process that did not
	// become ready, waits after its SIGTERM before SIGKILL; 0 is 1 s. A
	// process that may already serve while not ready (a gateway answering
	// 503) needs its own graceful shutdown's time.
	StopWithin time.Duration
	Dir        string // working directory; empty for the caller's
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

// DefaultStartWithin is how long Start waits for a process to be ready
// unless its Spec says otherwise (StartWithin).
const DefaultStartWithin = 30 * time.Second

// startWithin is p.StartWithin, or DefaultStartWithin if unset.
func (p Spec) startWithin() time.Duration {
	if p.StartWithin > 0 {
		return p.StartWithin
	}
	return DefaultStartWithin
}

// readiness says what Start waits for, for its errors: "listen on ADDR"
// or "answer GET PATH 200 on ADDR".
func (p Spec) readiness() string {
	if p.Ready != "" {
		return fmt.Sprintf("answer GET %s 200 on %s", p.Ready, p.ListenAddr())
	}
	return "listen on " + p.ListenAddr()
}

// ready reports whether p is ready: its port accepts connections and, if
// p.Ready is set, that path answers GET with 200 within readyTry. If not,
// seen says what the check found, for Start's error: "no connection", "no
// answer: ERROR", or "answer STATUS [CODE]" (CODE: the error code of a
// JSON body in the gateway API's shape, {"error":{"code":CODE}}).
func (p Spec) ready(ctx context.Context) (ok bool, seen string) {
	addr := p.ListenAddr()
	if !accepts(addr) {
		return false, "no connection"
	}
	if p.Ready == "" {
		return true, ""
	}
	ctx, cancel := context.WithTimeout(ctx, readyTry)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+p.Ready, nil)
	if err != nil {
		return false, "no request: " + err.Error()
	}
	resp, err := readyClient.Do(req)
	if err != nil {
		return false, "no answer: " + err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return true, ""
	}
	seen = "answer " + strconv.Itoa(resp.StatusCode)
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&body) == nil && body.Error.Code != "" {
		seen += " " + body.Error.Code
	}
	return false, seen
}

// readyTry bounds one readiness request: a process may have bound its
// port before it answers (a connection waits in the kernel's queue
// meanwhile), or answer slowly (the gateway, started, answers 503
// starting at once, then, serving its API, only once its Redis ping has
// answered). It is longer than the gateway's own readiness check (its Redis ping, 2 s
// at most): a request given up cancels that check, and every try would
// start it again from nothing; HAProxy's check waits 2.5 s.
const readyTry = 3 * time.Second

// readyClient asks readiness paths directly (no proxy from the
// environment) without keeping connections: the
// process's first requests are Start's only.
var readyClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

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
// that started it), appending its output to logPath, and waits until it is
// ready: its port accepts connections and, if p.Ready is set, that path
// answers GET with 200 (each try bounded by 1 s). It returns the process's
// ID, for the caller to record and find it again by (Running, Stop).
//
// A port that already accepts connections before the start is refused
// (another process's listener would pass for p's while p fails on its
// bind), and so is a process that has exited by the time it is ready.
// A start that is not ready within p.StartWithin (30 s if unset) is
// stopped and reported so, with the last lines of its log; one whose ctx
// ends first is stopped and reported as cancelled (the error wraps ctx's).
func Start(ctx context.Context, p Spec, logPath string) (ID, error) {
	if p.Port != 0 && accepts(p.ListenAddr()) {
		return ID{}, fmt.Errorf("start %s: %s already accepts connections, from another process: stop it or choose another port base", p.Name, p.ListenAddr())
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return ID{}, err
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return ID{}, fmt.Errorf("%s: open log: %w", p.Name, err)
	}
	defer logFile.Close()
	cmd := p.command()
	cmd.Env = CleanEnv(p.Env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = p.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := startAt(cmd, p.Priority); err != nil {
		return ID{}, fmt.Errorf("start %s: %w", p.Name, err)
	}
	// Read before anything reaps the child: until then its /proc entry
	// stays, a zombie's at worst.
	id, err := Identify(cmd.Process.Pid)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return ID{}, fmt.Errorf("start %s: %w", p.Name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps the child if this process lives on (tests)
	if p.Port == 0 {
		return id, nil
	}

	within := p.startWithin()
	timeout, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	exitedErr := func(err error) error {
		return fmt.Errorf("%s exited during start-up (%v); last lines of %s:\n%s", p.Name, err, logPath, Tail(logPath, 15))
	}
	lastSeen := "nothing yet" // what the last readiness check found
	for {
		select {
		case err := <-exited:
			return ID{}, exitedErr(err)
		case <-timeout.Done():
			_, _ = Stop(id, p.Bin, cmp.Or(p.StopWithin, time.Second))
			if ctx.Err() != nil {
				return ID{}, fmt.Errorf("start of %s cancelled before it could %s (stopped): %w", p.Name, p.readiness(), context.Cause(ctx))
			}
			return ID{}, fmt.Errorf("%s did not %s within %v (last check: %s); last lines of %s:\n%s", p.Name, p.readiness(), within, lastSeen, logPath, Tail(logPath, 15))
		case <-time.After(50 * time.Millisecond):
		}
		ok, seen := p.ready(timeout)
		if !ok {
			if timeout.Err() == nil { // not a check cut by the deadline
				lastSeen = seen
			}
			continue
		}
		if !Running(id, p.Bin) { // exited between the check above and the answer
			select {
			case err := <-exited:
				return ID{}, exitedErr(err)
			case <-time.After(time.Second):
				return ID{}, exitedErr(errors.New("no exit status"))
			}
		}
		return id, nil
	}
}

// accepts reports whether a TCP connection to addr is accepted.
func accepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
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

// Alive reports whether pid is a running instance of bin: the check for a
// recorded process without a start time (ID.Start 0). Checking the
// executable guards against a PID reused by an unrelated process. It reads
// /proc/PID/exe, not the command line, which some servers (redis-server)
// rewrite; a binary deleted or replaced on disk since the start still
// counts, one moved (its folder renamed) does not.
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

// Running reports whether the recorded process id still runs: it was
// recorded in this boot of the machine, its PID has the recorded start time
// and is not a zombie, whatever executable it runs now (a binary replaced,
// moved or deleted since the start still counts). An ID without a start
// time falls back to Alive(id.PID, bin).
func Running(id ID, bin string) bool {
	if id.Start == 0 {
		return Alive(id.PID, bin)
	}
	if id.earlierBoot() {
		return false
	}
	st, err := readStat(id.PID)
	return err == nil && st.start == id.Start && !st.dead()
}

// reused reports whether the recorded process id, which does not run, has
// its PID held by another process now: one started after it, or in a later
// boot of the machine. Records without a start time cannot tell.
func reused(id ID) bool {
	if id.Start == 0 || id.PID <= 0 {
		return false
	}
	st, err := readStat(id.PID)
	return err == nil && (st.start != id.Start || id.earlierBoot())
}

// Why says, for a status line, why the recorded process id does not run:
// "" if it runs (Running) or none was recorded (PID 0); otherwise that it
// ran before the machine last booted, that it exited and its PID now
// belongs to a later process (left alone), or that it exited.
func Why(id ID, bin string) string {
	switch {
	case id.PID <= 0 || Running(id, bin):
		return ""
	case id.earlierBoot():
		return "started before the machine's last boot"
	case reused(id):
		return fmt.Sprintf("exited; PID %d now belongs to a later process", id.PID)
	}
	return "exited"
}

// Outcome is what Stop found.
type Outcome int

const (
	// Stopped: the process ran, and was stopped.
	Stopped Outcome = iota
	// Gone: the process had already exited.
	Gone
	// Reused: the process had already exited, and its PID now belongs to
	// a process started after it, which was left alone.
	Reused
)

func (o Outcome) String() string {
	switch o {
	case Stopped:
		return "stopped"
	case Gone:
		return "already gone"
	case Reused:
		return "already gone; its PID now belongs to a later process, left alone"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Stop sends SIGTERM to the recorded process id if it still runs
// (Running), waits up to grace, then sends SIGKILL and waits for it to go.
// It says whether it stopped it, found it gone, or found its PID reused.
//
// For an ID without a start time (a record from an earlier version) the
// executable is the check: a pid that runs an executable of bin's name
// from another folder is left alone and reported as an error. The binaries
// were moved or swapped while it ran, so it is most likely this system's
// process, but a reused PID cannot be ruled out, and saying "stopped"
// would leave it running unseen.
func Stop(id ID, bin string, grace time.Duration) (Outcome, error) {
	return StopSteps(id, bin, StopStep{Signal: syscall.SIGTERM, Wait: grace})
}

// StopStep is one request to stop: a signal, and how long to wait for the
// process to go before the next step.
type StopStep struct {
	Signal syscall.Signal
	Wait   time.Duration
}

// StopSteps is Stop asking with each step's signal in turn (HAProxy: its
// soft stop, then its hard stop), each while the process still runs and
// waiting up to the step's Wait for it to go, then SIGKILL.
func StopSteps(id ID, bin string, steps ...StopStep) (Outcome, error) {
	if !Running(id, bin) {
		if killed, err := finishExit(id, bin); killed || err != nil {
			return Stopped, err
		}
		if id.Start == 0 {
			if exe, ok := runsMoved(id.PID, bin); ok {
				return Gone, fmt.Errorf("process %d runs %s, not %s: its binaries were moved or swapped since it started, so it was left running; if it is this system's, stop it with `kill %d` and run this again", id.PID, exe, bin, id.PID)
			}
			return Gone, nil
		}
		if reused(id) {
			return Reused, nil
		}
		return Gone, nil
	}
	for i, step := range steps {
		if err := Signal(id, bin, step.Signal); errors.Is(err, ErrNotRunning) {
			killed, err := finishExit(id, bin)
			if i == 0 && !killed && err == nil {
				return Gone, nil
			}
			return Stopped, err
		}
		if waitGone(id, bin, step.Wait) {
			return Stopped, nil
		}
	}
	_ = Signal(id, bin, syscall.SIGKILL)
	if killed, err := finishExit(id, bin); killed || err != nil {
		return Stopped, err
	}
	if waitGone(id, bin, 5*time.Second) {
		return Stopped, nil
	}
	return Stopped, fmt.Errorf("process %d (%s) did not stop", id.PID, filepath.Base(bin))
}

// finishExit ends the process id if its leader thread has exited (a
// zombie, which Signal takes as not running) while its other threads still
// run and hold its files: SIGKILL to its thread group (a zombie's PID
// cannot be reused before it is reaped), then up to 5 s for them to go.
// It reports whether it sent the signal.
func finishExit(id ID, bin string) (killed bool, err error) {
	st, err := readStat(id.PID)
	if err != nil || !st.dead() || id.Start != 0 && st.start != id.Start || !threadsLeft(id.PID) {
		return false, nil
	}
	_ = syscall.Kill(id.PID, syscall.SIGKILL)
	if !waitGone(id, bin, 5*time.Second) {
		return true, fmt.Errorf("process %d (%s) did not finish exiting: its leader thread has exited, other threads still run", id.PID, filepath.Base(bin))
	}
	return true, nil
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

// Kill sends SIGKILL to the recorded process id if it still runs
// (Running), and waits for it to go.
func Kill(id ID, bin string) error {
	if err := Signal(id, bin, syscall.SIGKILL); err != nil {
		return fmt.Errorf("process %d (%s) is not running", id.PID, filepath.Base(bin))
	}
	if !waitGone(id, bin, 5*time.Second) {
		return fmt.Errorf("process %d (%s) survived SIGKILL", id.PID, filepath.Base(bin))
	}
	return nil
}

// waitGone waits up to d for id to have finished exiting (see exited).
func waitGone(id ID, bin string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if exited(id, bin) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return exited(id, bin)
}

// exited reports whether the recorded process id has finished exiting: it
// is gone, a zombie whose threads have all gone (threadsLeft), or its PID
// belongs to another process. Such a zombie has closed its files, its
// listening ports among them: a caller that restarts
// the process on the same port right after Kill must wait for this.
//
// Without a start time it is stricter than !Alive: a dying process loses
// its /proc/PID/exe link when its memory is released, before the kernel
// closes its files, so for a moment it is not Alive yet still holds its
// ports.
func exited(id ID, bin string) bool {
	if id.Start != 0 {
		if Running(id, bin) {
			return false
		}
		st, err := readStat(id.PID)
		return err != nil || st.start != id.Start || id.earlierBoot() || !(st.dead() && threadsLeft(id.PID))
	}
	if Alive(id.PID, bin) {
		return false
	}
	st, err := readStat(id.PID)
	if err != nil || st.dead() && !threadsLeft(id.PID) {
		return true // reaped, or its files closed, waiting to be reaped
	}
	if st.dead() {
		return false // its leader a zombie, other threads still exiting: its files still open
	}
	if _, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", id.PID)); err == nil {
		return true // the PID was reused by another executable
	}
	return false // still tearing down
}

// threadsLeft reports whether process pid has threads besides its leader:
// a multi-threaded process's leader is a zombie as soon as it has exited,
// while the others still tear down and the files they share, listening
// sockets among them, stay open until the last has gone.
func threadsLeft(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	return err == nil && len(tasks) > 1
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

// PortRelease is how long AddrFreeSoon waits for a taken port: a port
// whose process just exited can stay taken a moment while the kernel
// closes its connections (seen on a loaded machine: a network brought up
// on the ports of one stopped 0.7 s before found one still taken).
const PortRelease = 5 * time.Second

// AddrFreeSoon reports whether addr:port is free, or comes free within
// PortRelease.
func AddrFreeSoon(addr string, port int) bool {
	deadline := time.Now().Add(PortRelease)
	for !AddrFree(addr, port) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
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
