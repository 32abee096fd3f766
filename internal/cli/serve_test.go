package cli

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// wantPortInUse fails t unless err is the error of a listener for flag on
// addr, a 127.0.0.1 port in use: not a usage error (exit 1), beginning with
// flag and addr, wrapping EADDRINUSE, and saying that another process
// listens there and the fix, another port (127.0.0.1:0 for a free one),
// then orElse when not "".
func wantPortInUse(t *testing.T, err error, flag, addr, orElse string) {
	t.Helper()
	fix := "another process listens on that port: give " + flag + " another port (127.0.0.1:0 picks a free one, logged)"
	if orElse != "" {
		fix += ", or " + orElse
	}
	if err == nil || errors.Is(err, ErrUsage) || !errors.Is(err, syscall.EADDRINUSE) || !strings.HasPrefix(err.Error(), flag+" "+addr+": ") || !strings.HasSuffix(err.Error(), ": "+fix) {
		t.Errorf("%s on a port in use: %v; want an error (not a usage error: exit 1) beginning %q and ending %q", flag, err, flag+" "+addr+": ", fix)
	}
}

// TestListenError: a port in use says so and gives another port, keeping
// the host; another failure asks for another address; orElse ends both.
func TestListenError(t *testing.T) {
	inUse := &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	notHere := errors.New("listen tcp 10.9.9.9:80: bind: cannot assign requested address")
	for _, c := range []struct {
		err    error
		addr   string
		orElse string
		want   string
	}{
		{inUse, "[::1]:9100", "", "--x [::1]:9100: listen tcp: bind: address already in use: another process listens on that port: give --x another port ([::1]:0 picks a free one, logged)"},
		{inUse, "localhost:9100", "leave it empty", "--x localhost:9100: listen tcp: bind: address already in use: another process listens on that port: give --x another port (localhost:0 picks a free one, logged), or leave it empty"},
		{notHere, "10.9.9.9:80", "", "--x 10.9.9.9:80: " + notHere.Error() + ": give --x another address"},
		{notHere, "10.9.9.9:80", "leave it empty", "--x 10.9.9.9:80: " + notHere.Error() + ": give --x another address, or leave it empty"},
	} {
		if got := listenError("--x", c.addr, c.orElse, c.err); got.Error() != c.want || !errors.Is(got, c.err) {
			t.Errorf("listenError(%q, %q, %v) = %q; want %q, wrapping the error", c.addr, c.orElse, c.err, got, c.want)
		}
	}
}
