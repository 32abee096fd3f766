package proc

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/cli/clitest"
)

// TestReadySaysWhatItFound: a readiness check that fails says what it
// found, for Start's error: the status and, from a body in the gateway
// API's error shape, its code; no code from another body; no connection on
// a port nothing listens on (reserved, so that no other program takes it
// meanwhile).
func TestReadySaysWhatItFound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/starting":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"starting","message":"the gateway is starting"}}`))
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not json"))
		}
	}))
	defer srv.Close()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	closedPort := clitest.ReservePort(t) // refuses connections, and no other program can listen there
	for _, c := range []struct {
		port int
		path string
		ok   bool
		seen string
	}{
		{p, "/ok", true, ""},
		{p, "/starting", false, "answer 503 starting"},
		{p, "/other", false, "answer 503"},
		{closedPort, "/ok", false, "no connection"},
	} {
		ok, seen := Spec{Port: c.port, Ready: c.path}.ready(context.Background())
		if ok != c.ok || seen != c.seen {
			t.Errorf("port %d, GET %s: ready %t, seen %q; want %t, %q", c.port, c.path, ok, seen, c.ok, c.seen)
		}
	}
}

// TestStartNamesTheLastAnswer: Start's error for a process never ready
// names what its last readiness check found (serveLate's bare 503).
func TestStartNamesTheLastAnswer(t *testing.T) {
	p := lateServer(t, 0, time.Hour)
	p.StartWithin = 5 * time.Second // time for a loaded machine to start it
	id, err := Start(context.Background(), p, filepath.Join(t.TempDir(), "late.log"))
	if err == nil {
		_ = Kill(id, p.Bin)
		t.Fatal("Start reported ready a process that answered only 503")
	}
	if want := "within 5s (last check: answer 503);"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q; want %q", err, want)
	}
}
