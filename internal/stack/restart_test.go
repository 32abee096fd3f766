package stack

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/test-network/nettest"
)

// asBatcherEnv names the folder the stand-in batcher writes into. The test
// binary runs as a stand-in batcher (TestMain) when it is run as bin/batcher:
// with --help (which cli.CommandFlags runs in an empty environment) it lists
// its flags as flag.PrintDefaults does; else it writes the BATCHER_*
// variables it got to <folder>/<pid>, listens on its --metrics address and
// exits on SIGTERM.
const asBatcherEnv = "STACK_TEST_AS_BATCHER"

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "batcher" {
		os.Exit(fakeBatcher(os.Getenv(asBatcherEnv), os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeBatcher(dir string, args []string) int {
	fs := flag.NewFlagSet("batcher", flag.ContinueOnError)
	fs.Duration("ledger-lag", time.Second, "lag")
	metrics := fs.String("metrics", "127.0.0.1:0", "listen address")
	fs.String("profile", "", "profile")
	fs.String("redis-addr", "", "redis")
	fs.String("redis-password-file", "", "password")
	fs.String("aof-password-file", "", "password")
	if err := fs.Parse(args); err != nil {
		return 0 // --help: the listing is on stderr
	}
	var got []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BATCHER_") {
			got = append(got, kv)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(os.Getpid())), []byte(strings.Join(got, "\n")), 0o644); err != nil {
		return 3
	}
	l, err := net.Listen("tcp", *metrics)
	if err != nil {
		return 3
	}
	defer l.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
	}
	return 0
}

// fakeBatcherStack is a stack whose bin/batcher is this test binary, run
// as the stand-in batcher; it returns the stack and the folder the
// stand-ins write their environment into. Its port range is reserved for
// t (nettest.PortBase).
func fakeBatcherStack(t *testing.T) (*Stack, string) {
	t.Helper()
	dir := t.TempDir()
	bin, envDir := filepath.Join(dir, "bin"), filepath.Join(dir, "env")
	for _, d := range []string{bin, envDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "batcher"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(asBatcherEnv, envDir)
	// The stand-in listens on its metrics port: a range no other test holds
	// (a fixed one met a test network's port in CI).
	s, err := New(Config{Dir: dir, PortBase: nettest.PortBase(t), BinDir: bin, FabricBin: dir, Builder: dir, Election: dir, Batchers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if id, ok := s.pids["batcher0"]; ok {
			_, _ = proc.Stop(id, filepath.Join(bin, "batcher"), 5*time.Second)
		}
	})
	return s, envDir
}

// TestRestartBatchers: each restart stops the running batcher and starts
// a new one (another PID, recorded in stack.json and running in Status,
// which the A/B's CPU book follows) whose environment has
// the given settings, over this process's own (BATCHER_LEDGER_LAG=5s here
// becomes -1s); a restart with none leaves it with this process's. An
// entry for a flag the stack passes, or not BATCHER_…, is refused before
// anything stops.
func TestRestartBatchers(t *testing.T) {
	s, envDir := fakeBatcherStack(t)
	t.Setenv("BATCHER_LEDGER_LAG", "5s")
	ctx := context.Background()
	envOf := func(id proc.ID) []string {
		data, err := os.ReadFile(filepath.Join(envDir, fmt.Sprint(id.PID)))
		if err != nil {
			t.Fatalf("the batcher with PID %d wrote no environment: %v", id.PID, err)
		}
		return strings.Split(string(data), "\n")
	}
	var seen []int
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"BATCHER_LEDGER_LAG=-1s"}, "BATCHER_LEDGER_LAG=-1s"},
		{nil, "BATCHER_LEDGER_LAG=5s"},
		{[]string{"BATCHER_LEDGER_LAG=-1s"}, "BATCHER_LEDGER_LAG=-1s"},
	} {
		before, had := s.pids["batcher0"]
		if err := s.RestartBatchers(ctx, tc.env...); err != nil {
			t.Fatal(err)
		}
		id := s.pids["batcher0"]
		if got := envOf(id); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("restarted with %v: the batcher's BATCHER_* %v; want %s alone", tc.env, got, tc.want)
		}
		if had && proc.Running(before, "") {
			t.Errorf("the batcher before the restart (PID %d) still runs", before.PID)
		}
		if slices.Contains(seen, id.PID) {
			t.Errorf("PID %d again: no new batcher", id.PID)
		}
		seen = append(seen, id.PID)
		status := s.Status()
		if i := slices.IndexFunc(status, func(st ServiceStatus) bool { return st.Name == "batcher0" }); i < 0 || status[i].PID != id.PID || !status[i].Running {
			t.Errorf("Status after the restart: %+v; want batcher0 running with PID %d", status, id.PID)
		}
		saved, err := os.ReadFile(filepath.Join(s.cfg.Dir, "stack.json"))
		if err != nil || !strings.Contains(string(saved), fmt.Sprintf(`"pid": %d`, id.PID)) {
			t.Errorf("stack.json after the restart: %s, %v; want PID %d", saved, err, id.PID)
		}
	}
	running := s.pids["batcher0"]
	for _, bad := range []string{"BATCHER_METRICS=127.0.0.1:1", "LEDGER_LAG=1s", "BATCHER_LEDGER_LAG"} {
		if err := s.RestartBatchers(ctx, bad); err == nil {
			t.Errorf("restart with %s: no error", bad)
		}
		if s.pids["batcher0"] != running || !proc.Running(running, "") {
			t.Errorf("a refused restart (%s) touched the batcher", bad)
		}
	}
}

// TestRestartBatchersStopsByStopSteps: RestartBatchers stops the running
// batcher through the stack's stop (s.stop.service, as Down does), asking
// it for that batcher, by its recorded ID and binary, with stopSteps's
// steps for it: SIGTERM, then SIGKILL appStopGrace later.
func TestRestartBatchersStopsByStopSteps(t *testing.T) {
	s, _ := fakeBatcherStack(t)
	ctx := context.Background()
	if err := s.RestartBatchers(ctx); err != nil { // none runs: it starts one
		t.Fatal(err)
	}
	running := s.pids["batcher0"]
	type stopCall struct {
		id    proc.ID
		bin   string
		steps []proc.StopStep
	}
	var calls []stopCall
	s.stop = func(id proc.ID, bin string, steps ...proc.StopStep) (proc.Outcome, error) {
		calls = append(calls, stopCall{id, bin, steps})
		return proc.StopSteps(id, bin, steps...) // stopped indeed, so that its port is free for the new one
	}
	if err := s.RestartBatchers(ctx); err != nil {
		t.Fatal(err)
	}
	want := []proc.StopStep{{Signal: syscall.SIGTERM, Wait: appStopGrace}}
	if !slices.Equal(stopSteps(s.cfg.Dir, "batcher0"), want) {
		t.Fatalf("stopSteps for batcher0: %v; want %v", stopSteps(s.cfg.Dir, "batcher0"), want)
	}
	bin := filepath.Join(s.cfg.BinDir, "batcher")
	if len(calls) != 1 || calls[0].id != running || calls[0].bin != bin || !slices.Equal(calls[0].steps, want) {
		t.Errorf("the restart asked stop %+v; want once, for batcher0 (%+v, %s) with %v", calls, running, bin, want)
	}
}

// TestCheckBatcherEnv: names of the batcher's flags (as its -h lists
// them) pass; a misspelt one is named in a usage error; a batcher that is
// not built is another error.
func TestCheckBatcherEnv(t *testing.T) {
	s, _ := fakeBatcherStack(t)
	ctx := context.Background()
	if err := CheckBatcherEnv(ctx, s.cfg.BinDir, []string{"BATCHER_LEDGER_LAG=-1s", "BATCHER_METRICS=x"}); err != nil {
		t.Errorf("flags of the batcher: %v", err)
	}
	err := CheckBatcherEnv(ctx, s.cfg.BinDir, []string{"BATCHER_LEDGER_LAG=-1s", "BATCHER_LEDGERLAG=-1s"})
	if !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "BATCHER_LEDGERLAG:") || strings.Contains(err.Error(), "BATCHER_LEDGER_LAG,") {
		t.Errorf("a misspelt name: %v; want a usage error naming it alone", err)
	}
	if err := CheckBatcherEnv(ctx, t.TempDir(), []string{"BATCHER_LEDGER_LAG=-1s"}); err == nil || errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "make build") {
		t.Errorf("no batcher binary: %v; want an error (not a usage error) saying to run make build", err)
	}
}
