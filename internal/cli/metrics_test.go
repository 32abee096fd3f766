package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/votechain/votechain/internal/testport"
)

// ServeMetrics serves the registry's metrics and /healthz on its own
// listener, open when it returns, and logs the address it listens on (port
// 0: the free port picked); an address in use is an error at once, naming
// the flag and the address, saying the port is in use and giving the fix
// (another port), and nothing is logged as listening.
func TestServeMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "things_total", Help: "things counted"})
	reg.MustRegister(c)
	c.Add(3)
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	addr := fmt.Sprintf("127.0.0.1:%d", testport.Ports(t, 1)[0])
	srv, err := ServeMetrics("--metrics", addr, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	if at := loggedAddr(logged.String()); at != addr {
		t.Errorf("--metrics %s logged %q; want it named", addr, logged.String())
	}
	for path, want := range map[string]string{"/metrics": "things_total 3", "/healthz": "ok"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s at the logged address %q: %v", path, addr, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d %q; want 200 with %q", path, resp.StatusCode, body, want)
		}
	}
	logged.Reset()
	srv2, err := ServeMetrics("--metrics", addr, reg, log)
	if err == nil {
		srv2.Close()
	}
	wantPortInUse(t, err, "--metrics", addr, "")
	if strings.Contains(logged.String(), "listening") {
		t.Errorf("a taken port logged %q; want nothing said to listen", logged.String())
	}

	srv0, err := ServeMetrics("--metrics", "127.0.0.1:0", reg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer srv0.Shutdown(context.Background())
	picked := loggedAddr(logged.String())
	resp, err := http.Get("http://" + picked + "/healthz")
	if err != nil || strings.HasSuffix(picked, ":0") {
		t.Fatalf("--metrics 127.0.0.1:0 logged %q; GET /healthz there: %v; want the port picked, serving", logged.String(), err)
	}
	resp.Body.Close()
}

// loggedAddr is the address a server's "listening" log line (text
// handler, its last attribute addr=) names.
func loggedAddr(logged string) string {
	_, addr, _ := strings.Cut(logged, "addr=")
	return strings.TrimSpace(addr)
}
