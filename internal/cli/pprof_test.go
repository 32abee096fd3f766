package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/testport"
)

// TestServePprof: the profiling endpoints answer at the logged address once
// ServePprof returns; a port already taken is an error at once (exit 1, not
// a usage error's 2) naming --pprof and the address, saying the port is in
// use and the fix (another port, port 0, or no --pprof), and nothing is
// served or logged as listening.
func TestServePprof(t *testing.T) {
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	srv, err := ServePprof("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	addr := loggedAddr(logged.String())
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatalf("GET /debug/pprof/cmdline at the logged address %q: %v", addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /debug/pprof/cmdline: %d; want 200", resp.StatusCode)
	}

	taken, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", testport.Ports(t, 1)[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	logged.Reset()
	srv2, err := ServePprof(taken.Addr().String(), log)
	if err == nil {
		srv2.Close()
	}
	wantPortInUse(t, err, "--pprof", taken.Addr().String(), "leave it empty for no profiling")
	if strings.Contains(logged.String(), "listening") {
		t.Errorf("a taken port logged %q; want nothing said to listen", logged.String())
	}
}

// TestServePprofLoopbackOnly: an address whose host is not a loopback one
// (every address of the machine, a routable IP, another name) is refused as
// a usage error naming --pprof, the address and the fix, before anything
// listens or is logged as listening; loopback hosts pass the check, and
// 127.0.0.1 and localhost serve.
func TestServePprofLoopbackOnly(t *testing.T) {
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "10.0.0.4:0", "[fe80::1%eth0]:0", "example.org:0", "[::ffff:10.0.0.4]:0"} {
		srv, err := ServePprof(addr, log)
		if err == nil {
			srv.Close()
		}
		if want := `--pprof "` + addr + `": not a loopback address`; !errors.Is(err, ErrUsage) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "give 127.0.0.1:PORT") {
			t.Errorf("--pprof %s: %v; want a usage error beginning %q and naming the fix", addr, err, want)
		}
	}
	if logged.Len() != 0 {
		t.Errorf("refused addresses logged %q; want nothing", logged.String())
	}
	for _, addr := range []string{"127.0.0.1:0", "127.0.0.2:6060", "[::1]:6060", "[::ffff:127.0.0.1]:6060", "localhost:6060"} {
		if err := checkPprofAddr(addr); err != nil {
			t.Errorf("--pprof %s: %v; want a loopback address accepted", addr, err)
		}
	}
	ports := testport.Ports(t, 2)
	for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("localhost:%d", ports[1])} {
		srv, err := ServePprof(addr, log)
		if err != nil {
			t.Errorf("--pprof %s: %v; want it served", addr, err)
			continue
		}
		srv.Close()
	}
}
