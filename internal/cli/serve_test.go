package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/votechain/votechain/internal/testport"
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
// the host; another failure asks for another address.
func TestListenError(t *testing.T) {
	inUse := &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	notHere := errors.New("listen tcp 10.9.9.9:80: bind: cannot assign requested address")
	for _, c := range []struct {
		err  error
		addr string
		want string
	}{
		{inUse, "[::1]:9100", "--x [::1]:9100: listen tcp: bind: address already in use: another process listens on that port: give --x another port ([::1]:0 picks a free one, logged)"},
		{inUse, "localhost:9100", "--x localhost:9100: listen tcp: bind: address already in use: another process listens on that port: give --x another port (localhost:0 picks a free one, logged)"},
		{notHere, "10.9.9.9:80", "--x 10.9.9.9:80: " + notHere.Error() + ": give --x another address"},
	} {
		if got := listenError("--x", c.addr, c.err); got.Error() != c.want || !errors.Is(got, c.err) {
			t.Errorf("listenError(%q, %v) = %q; want %q, wrapping the error", c.addr, c.err, got, c.want)
		}
	}
}

// TestListen: Listen listens on a free port; on a port in use it returns
// no listener and listenError's error, wrapping EADDRINUSE, with the fix
// and nothing after it (a caller appends its own way out).
func TestListen(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testport.Ports(t, 1)[0])
	ln, err := Listen("--x", addr)
	if err != nil {
		t.Fatalf("Listen on %s, a free port: %v; want a listener", addr, err)
	}
	defer ln.Close()
	if ln.Addr().String() != addr {
		t.Errorf("Listen on %s listens on %s", addr, ln.Addr())
	}
	again, err := Listen("--x", addr)
	if again != nil {
		again.Close()
		t.Errorf("Listen on %s, a port in use: a listener; want none", addr)
	}
	wantPortInUse(t, err, "--x", addr, "")
}

// TestServeOwnCloseFreesThePort: once the server serveOwn returned is
// closed or shut down, its port is free: another listener takes it at
// once, however soon after the start the server is closed. Before, the
// listener was the serving goroutine's until its Serve had registered it
// with the server: a Close that came first left it open until that
// goroutine ran, and a listener on the port then failed with EADDRINUSE.
func TestServeOwnCloseFreesThePort(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testport.Ports(t, 1)[0])
	log := slog.New(slog.DiscardHandler)
	stops := map[string]func(*http.Server) error{
		"Close":    (*http.Server).Close,
		"Shutdown": func(srv *http.Server) error { return srv.Shutdown(context.Background()) },
	}
	for name, stop := range stops {
		for i := range 200 {
			srv, _, err := serveOwn("--x", addr, "", http.NotFoundHandler(), log)
			if err != nil {
				t.Fatalf("serveOwn on %s after %d starts and %ss: %v", addr, i, name, err)
			}
			if err := stop(srv); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatalf("listen on %s after %s returned (start %d): %v; want the port free", addr, name, i, err)
			}
			ln.Close()
		}
	}
}
