// Package redistest starts real redis-server processes for tests.
//
// Each server listens on a 127.0.0.1 port reserved for the test until it
// ends (testport.Ports: below the ephemeral range, so still free for a
// Restart after a Kill), keeps its data under the repository's git-ignored
// .run/test/redis/ folder and runs with the AOF on and appendfsync always,
// as production does, so a test can kill it with SIGKILL, restart it on
// the same folder and check that nothing acknowledged was lost. Servers
// are stopped by PID in t.Cleanup.
//
// Servers run with the system's ACL (redisserver.ACL): the default user is
// off, Client connects as the admin user and ClientAs as a component's
// user, so tests exercise each component's permissions.
//
// redis-server is a hard requirement: without it tests fail (never skip) and
// say how to install it.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/testport"
)

// InstallHint tells how to get the server binary.
const InstallHint = "redis-server not found on PATH: install it with `apt-get update && apt-get install -y redis-server` (Debian package; `make deps` does it for CI)"

// startTimeout bounds how long a server may take to answer PING after start
// (replaying a large AOF after a crash is the slow case).
const startTimeout = 30 * time.Second

// Server is one redis-server process owned by a test.
type Server struct {
	Addr string // host:port
	Dir  string // data folder, kept across Kill and Restart
	ACL  redisserver.ACL

	t       testing.TB
	port    int
	busPort int // cluster nodes only: the cluster bus port
	cmd     *exec.Cmd
	exit    chan struct{} // closed when cmd has been waited for
}

// Start launches a redis-server for t and registers its shutdown and the
// removal of its data folder (kept if the test failed) in t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := serverBin(t)
	dir := testDir(t)
	s := &Server{Dir: dir, ACL: redisserver.ACL{Dir: filepath.Join(dir, "acl")}, t: t}
	s.startOnReservedPorts(bin, false, func() error { return s.ACL.Ensure(nil, s.Addr) })
	return s
}

// startOnReservedPorts reserves the server's port (and a cluster node's
// bus port) for the rest of the test, below the ephemeral range
// (testport.Ports), so that a Restart after a Kill finds them free; then
// runs prepare and starts the server, registering its stop to run before
// the reservation ends. A program outside the tests may still bind a port
// of the range between the check and redis-server's bind: a start that
// fails tries other ports, up to 5 times in all.
func (s *Server) startOnReservedPorts(bin string, clusterNode bool, prepare func() error) {
	s.t.Helper()
	n := 1
	if clusterNode {
		n = 2
	}
	for attempt := 1; ; attempt++ {
		ports := testport.Ports(s.t, n)
		s.t.Cleanup(s.stop) // runs before the reservation's end (stop is idempotent)
		s.port, s.Addr = ports[0], net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
		if clusterNode {
			s.busPort = ports[1]
		}
		if prepare != nil {
			if err := prepare(); err != nil {
				s.t.Fatalf("redistest: %v", err)
			}
		}
		err := s.start(bin)
		if err == nil {
			return
		}
		if attempt == 5 {
			s.t.Fatalf("redistest: %v (log: %s)", err, redisserver.LogFile(s.Dir))
		}
	}
}

// serverBin is redis-server's path; t fails without it.
func serverBin(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(InstallHint)
	}
	return bin
}

// testDir makes t's data folder under .run/test/redis/, removed in
// t.Cleanup unless the test failed (registered first, so it runs after the
// servers' shutdown).
func testDir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	root, _, err := rundir.FindModule(wd)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	base := filepath.Join(root, ".run", "test", "redis")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	dir, err := os.MkdirTemp(base, sanitize(t.Name())+"-")
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		}
	})
	return dir
}

// Client returns a go-redis client for the server as the admin user (every
// command on every key), closed in t.Cleanup.
func (s *Server) Client() *redis.Client { return s.ClientAs(redisserver.UserAdmin) }

// ClientAs returns a client authenticated as an ACL user (redisserver.User*),
// closed in t.Cleanup.
func (s *Server) ClientAs(user string) *redis.Client {
	s.t.Helper()
	c := redis.NewClient(s.Options(user))
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Options are the client options of an ACL user.
func (s *Server) Options(user string) *redis.Options {
	s.t.Helper()
	pw, err := s.ACL.Password(user)
	if err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
	return &redis.Options{Addr: s.Addr, Username: user, Password: pw}
}

// Kill sends SIGKILL, as a crash would, and waits for the process to end.
func (s *Server) Kill() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exit
	s.cmd = nil
}

// Restart starts the server again on the same port and data folder, replaying
// its AOF, and waits until it answers. The server must have been killed.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("redistest: Restart of a running server; Kill it first")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		s.t.Fatal(InstallHint)
	}
	s.launch(bin)
}

// PID is the process id of the running server, 0 if none.
func (s *Server) PID() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Server) launch(bin string) {
	s.t.Helper()
	if err := s.start(bin); err != nil {
		s.t.Fatalf("redistest: %v (log: %s)", err, redisserver.LogFile(s.Dir))
	}
}

// start runs redis-server on s.port and waits until it answers.
func (s *Server) start(bin string) error {
	args := redisserver.Args("127.0.0.1", s.port, s.Dir, s.ACL.File())
	if s.busPort != 0 {
		args = redisserver.ClusterArgs("127.0.0.1", s.port, s.busPort, s.Dir, s.ACL)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.Dir
	// Die with the test binary even if it is killed before t.Cleanup runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exit := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exit) }()
	s.cmd, s.exit = cmd, exit
	if err := s.waitReady(); err != nil {
		s.stop()
		return err
	}
	return nil
}

// waitReady polls PING until the server answers PONG (not LOADING).
func (s *Server) waitReady() error {
	opts := s.Options(redisserver.UserAdmin)
	opts.MaxRetries, opts.DialTimeout = -1, time.Second
	c := redis.NewClient(opts)
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-s.exit:
			return errors.New("redis-server exited during start")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s not ready after %v: %w", s.Addr, startTimeout, err)
}

// stop ends the process by PID (SIGTERM, then SIGKILL after a grace period).
func (s *Server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exit:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.exit
	}
	s.cmd = nil
}

// sanitize makes a test name usable as a folder name prefix.
func sanitize(name string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, name)
	if len(name) > 60 {
		name = name[:60]
	}
	return name
}
