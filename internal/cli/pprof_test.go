package cli

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestServePprof: the profiling endpoints answer at the logged address once
// ServePprof returns; a port already taken is an error at once naming
// --pprof and the address, and nothing is served or logged as listening.
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

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	logged.Reset()
	srv2, err := ServePprof(taken.Addr().String(), log)
	if err == nil {
		srv2.Close()
	}
	if want := "--pprof " + taken.Addr().String() + ": "; err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "give --pprof a free port") {
		t.Errorf("a taken port: %v; want an error beginning %q and saying how to fix it", err, want)
	}
	if strings.Contains(logged.String(), "listening") {
		t.Errorf("a taken port logged %q; want nothing said to listen", logged.String())
	}
}
