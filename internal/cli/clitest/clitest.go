// Package clitest helps tests of commands: what the variables of an
// environment do to the commands that read them (cli.CheckEnv), a
// command's body run on a command line, the command run as a process of
// its own, an address of a system that is not running, a port no other
// program can take, and an environment cleared of a caller's variables.
package clitest

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/votechain/votechain/internal/cli"
)

// CheckEnv sets env for the rest of t, checks it against readers
// (cli.CheckEnv), and fails t unless the overrides and the unread
// variables are overrides and unread, in that order. The variables under
// the readers' prefixes that the caller's environment holds are cleared
// first (ClearEnv), so that the result depends on env alone, not on what
// the shell running the tests exports (such as GATEWAY_LOG_LEVEL).
func CheckEnv(t testing.TB, readers []cli.EnvReader, env map[string]string, overrides, unread []string) {
	t.Helper()
	prefixes := make([]string, len(readers))
	for i, r := range readers {
		prefixes[i] = r.Prefix
	}
	ClearEnv(t, prefixes...)
	for k, v := range env {
		t.Setenv(k, v)
	}
	c, err := cli.CheckEnv(context.Background(), readers)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		what      string
		got, want []string
	}{{"overrides", c.Overrides, overrides}, {"unread", c.Unread, unread}} {
		if got, want := strings.Join(l.got, "\n"), strings.Join(l.want, "\n"); got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", l.what, got, want)
		}
	}
}

// ReservePort returns a 127.0.0.1 port that nothing listens on and no
// other program can bind until t ends: a socket bound to it with
// SO_REUSEPORT and never listening, closed by t.Cleanup. A connection to
// it is refused, as to a system that is down. Only a listener that also
// sets SO_REUSEPORT (a child of the test sharing the port) can take it; a
// port found free and released could be taken by anything the moment it
// is. Code under test that binds a port itself is best given port 0 and
// asked where it bound.
func ReservePort(t testing.TB) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*unix.SockaddrInet4).Port
}

// ReservedAddr is the 127.0.0.1 address of ReservePort: one that refuses
// connections, as a system not running does, and that no other program
// can start listening on before t ends.
func ReservedAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ReservePort(t)))
}

// ClearEnv unsets, for the rest of t, every variable of the environment
// named PREFIX_... for each of prefixes (such as "BATCHER"), so that what
// the caller's shell exports does not change what t sees; t.Cleanup
// restores them. Like t.Setenv it cannot be used in a parallel test.
func ClearEnv(t testing.TB, prefixes ...string) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(name, p+"_") }) {
			t.Setenv(name, "") // records the value for t.Cleanup to restore
			os.Unsetenv(name)
		}
	}
}

// Run runs a command's body, as cli.Main would, with os.Args set to the
// command line args (the command's name first) and what it writes to
// os.Stderr (its usage) discarded, and returns the body's error.
func Run(t testing.TB, body func(context.Context) error, args ...string) error {
	t.Helper()
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	return runWithStderr(devNull, body, args)
}

// RunStderr is Run keeping what the body writes to os.Stderr (its usage,
// --help's text), which it returns with the body's error.
func RunStderr(t testing.TB, body func(context.Context) error, args ...string) (stderr string, err error) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = runWithStderr(f, body, args)
	written, readErr := os.ReadFile(f.Name())
	if readErr != nil {
		t.Fatal(readErr)
	}
	return string(written), err
}

// runWithStderr runs body with os.Args set to args and os.Stderr to
// stderr, both restored after.
func runWithStderr(stderr *os.File, body func(context.Context) error, args []string) error {
	defer func(args []string, stderr *os.File) { os.Args, os.Stderr = args, stderr }(os.Args, os.Stderr)
	os.Args, os.Stderr = args, stderr
	return body(context.Background())
}

// asCommandEnv, set to 1 in the environment of a test binary, makes it run
// as the command it tests (MainIfAsked) instead of running its tests.
const asCommandEnv = "VOTECHAIN_TEST_AS_COMMAND"

// MainIfAsked, called first in a command's TestMain, runs the command's
// main instead of the tests when Exec started the test binary; main exits
// (cli.Main does), else MainIfAsked exits 0 after it.
func MainIfAsked(main func()) {
	if os.Getenv(asCommandEnv) == "1" {
		main()
		os.Exit(0)
	}
}

// Exec runs the command whose tests these are as a process of its own (the
// test binary, whose TestMain calls MainIfAsked) with the arguments args
// after its name, and returns its exit status and what it wrote to
// stdout and stderr: what only a process shows, such as the lines of a
// library's logger that writes to the stderr the process started with.
func Exec(t testing.TB, args ...string) (code int, output string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asCommandEnv+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// UsageCase is a command line's arguments and a fragment of the usage
// error they must give.
type UsageCase struct {
	Args []string
	Want string
}

// UsageErrors runs body (Run) on the command line args followed by each
// case's Args, and fails t unless each gives a usage error (cli.ErrUsage:
// status 2) containing the case's Want.
func UsageErrors(t testing.TB, body func(context.Context) error, args []string, cases []UsageCase) {
	t.Helper()
	for _, c := range cases {
		err := Run(t, body, append(slices.Clip(args), c.Args...)...)
		if !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), c.Want) {
			t.Errorf("%q: %v; want a usage error containing %q", c.Args, err, c.Want)
		}
	}
}
