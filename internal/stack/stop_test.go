package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/proc/proctest"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/test-network/nettest"
)

// writeJSON writes v as JSON to path, creating its folder.
func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDownByStartTime: stack.json records each application process's
// start time beside its PID. With the binaries' folder moved (a new build
// put in its place) while the system ran, status shows the gateway running
// and down stops it; a recorded batcher PID now held by a process started
// at another time (the start time faked in stack.json) shows as stopped,
// (and says why), and down leaves that process alone, says so at warn, and forgets it.
// A stack.json of bare PIDs (before start times were kept) still reads.
func TestDownByStartTime(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	gateway, other := proctest.Sleeper(t, bin, "gateway"), proctest.Sleeper(t, bin, "batcher")
	reused := proc.ID{PID: other.PID, Start: other.Start - 1}
	record := func(pids any) { writeJSON(t, filepath.Join(dir, "stack.json"), pids) }
	var logs bytes.Buffer
	cfg := Config{Dir: dir, PortBase: nettest.PortBase(t), BinDir: bin, FabricBin: dir, Builder: dir, Election: dir, Batchers: 1,
		Log: slog.New(slog.NewTextHandler(&logs, nil))}

	record(map[string]int{"gateway": gateway.PID, "batcher0": other.PID})
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("a stack.json of bare PIDs: %v", err)
	}
	if s.pids["gateway"] != (proc.ID{PID: gateway.PID}) {
		t.Fatalf("bare PIDs read as %+v", s.pids)
	}

	record(map[string]proc.ID{"gateway": gateway, "batcher0": reused})
	if err := os.Rename(bin, bin+"-old"); err != nil {
		t.Fatal(err)
	}
	if s, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	running, notes := map[string]bool{}, map[string]string{}
	for _, st := range s.Status() {
		running[st.Name], notes[st.Name] = st.Running, st.Note
	}
	if !running["gateway"] || running["batcher0"] {
		t.Errorf("status: gateway running %v, batcher0 running %v; want true (its binary moved), false (its PID reused)", running["gateway"], running["batcher0"])
	}
	if want := fmt.Sprintf("exited; PID %d now belongs to a later process", other.PID); notes["batcher0"] != want || notes["gateway"] != "" {
		t.Errorf("status notes: batcher0 %q, gateway %q; want %q and none", notes["batcher0"], notes["gateway"], want)
	}
	if err := s.Down(false); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(5 * time.Second); proc.Running(gateway, "") && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	if proc.Running(gateway, "") {
		t.Error("the gateway, its binary moved, still runs after down")
	}
	if !proc.Running(other, "") {
		t.Error("down signalled the process holding the batcher's reused PID")
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "process=batcher0") || !strings.Contains(logs.String(), "left alone") {
		t.Errorf("down did not report the reused PID at warn:\n%s", logs.String())
	}
	saved, err := os.ReadFile(filepath.Join(dir, "stack.json"))
	if err != nil || strings.TrimSpace(string(saved)) != "{}" {
		t.Errorf("stack.json after down: %s, %v; want no process", saved, err)
	}
}

// TestDownStopsTheNetworkWhenAnAppWontStop: the gateway, recorded by bare
// PID, runs a binary that has since moved, so down must leave it running
// and fail; it still stops the network's orderer, and though asked to wipe
// it keeps the run folder with the gateway in stack.json for the next down.
func TestDownStopsTheNetworkWhenAnAppWontStop(t *testing.T) {
	dir := t.TempDir()
	bin, fabric := filepath.Join(dir, "bin"), filepath.Join(dir, "fabric")
	gateway, orderer := proctest.Sleeper(t, bin, "gateway"), proctest.Sleeper(t, fabric, "orderer")
	writeJSON(t, filepath.Join(dir, "stack.json"), map[string]int{"gateway": gateway.PID})
	base := nettest.PortBase(t)
	writeJSON(t, filepath.Join(dir, "network", "state.json"), map[string]any{"port_base": base, "consensus": "bft", "pids": map[string]proc.ID{"orderer0": orderer}})
	if err := os.Rename(bin, bin+"-old"); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Dir: dir, PortBase: base, BinDir: bin, FabricBin: fabric, Builder: dir, Election: dir, Batchers: 1})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Down(true)
	if err == nil || !strings.Contains(err.Error(), "left running") || !strings.HasPrefix(err.Error(), "stop gateway: ") {
		t.Fatalf("down with a gateway that will not stop: %v; want its error, naming it", err)
	}
	for end := time.Now().Add(5 * time.Second); proc.Running(orderer, "") && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	if proc.Running(orderer, "") {
		t.Error("the network's orderer still runs: down gave up at the gateway")
	}
	if !proc.Running(gateway, "") {
		t.Error("down stopped a process whose binary it could not confirm")
	}
	saved, err := os.ReadFile(filepath.Join(dir, "stack.json"))
	if err != nil || !strings.Contains(string(saved), `"gateway"`) {
		t.Errorf("stack.json after a failed down: %s, %v; want the gateway still recorded", saved, err)
	}
}

// TestWipeKeepsOtherCommandsFolders: down with a wipe deletes the system's
// data, and keeps what other commands keep in the run folder (vcnet's
// bundles with their CA keys, the benchmark's system, the tests' folders).
func TestWipeKeepsOtherCommandsFolders(t *testing.T) {
	dir := t.TempDir()
	ours := []string{"election.secret", "stack.json", "roll/voters.csv", "logs/gateway.log", "secrets/redis/aof.password", "network/crypto/ca.key"}
	for _, name := range ours {
		writeJSON(t, filepath.Join(dir, name), map[string]any{})
	}
	for _, name := range OthersInRunDir() {
		writeJSON(t, filepath.Join(dir, name, "kept.json"), map[string]any{})
	}
	s, err := New(Config{Dir: dir, PortBase: nettest.PortBase(t), BinDir: dir, FabricBin: dir, Builder: dir, Election: dir, Batchers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Down(true); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if want := slices.Sorted(slices.Values(OthersInRunDir())); fmt.Sprint(left) != fmt.Sprint(want) {
		t.Errorf("after the wipe the run folder holds %v, want %v", left, want)
	}
	for _, name := range OthersInRunDir() {
		if _, err := os.Stat(filepath.Join(dir, name, "kept.json")); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestDownStopsHAProxySoftlyFirst: Down signals HAProxy first and with
// SIGUSR1, its soft stop (it finishes the requests in flight), waits for
// it to exit, and only then sends the gateways SIGTERM; HAProxy used to
// get SIGTERM, its hard stop, cutting votes in flight. Stand-ins record
// the signals they get, in order.
func TestDownStopsHAProxySoftlyFirst(t *testing.T) {
	dir := t.TempDir()
	got := filepath.Join(dir, "signals")
	s, err := New(Config{Dir: dir, PortBase: nettest.PortBase(t), BinDir: dir, FabricBin: dir, Builder: dir, Election: dir, Gateways: 2})
	if err != nil {
		t.Fatal(err)
	}
	s.pids["haproxy"], s.pids["gateway0"] = signalStandIn(t, got, "haproxy", true), signalStandIn(t, got, "gateway0", true)
	if err := s.Down(false); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(got)
	if want := "haproxy USR1\ngateway0 TERM\n"; string(data) != want {
		t.Errorf("signals received, in order:\n%s\nwant:\n%s", data, want)
	}
}

// TestStopRecordedStopsHAProxySoftlyThenHard: StopRecorded (the --fresh
// wipe's, a damaged record's) stops a recorded HAProxy as Down does: SIGUSR1
// first (it sent SIGTERM, the hard stop that cuts votes in flight), then,
// one still running haproxyStopMargin after its configuration's
// hard-stop-after (as one started from an older configuration without
// hard-stop-after waits for idle keep-alive connections), SIGTERM, long
// before the 20 s grace and SIGKILL; the gateway after it. The HAProxy
// stand-in notes SIGUSR1 and keeps running.
func TestStopRecordedStopsHAProxySoftlyThenHard(t *testing.T) {
	dir := t.TempDir()
	got := filepath.Join(dir, "signals")
	if err := os.MkdirAll(filepath.Dir(haproxyConfigFile(dir)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(haproxyConfigFile(dir), []byte("global\n    hard-stop-after 300ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gateway := signalStandIn(t, got, "gateway0", true)
	haproxy := signalStandIn(t, got, "haproxy", false) // started last: stopped first, as HAProxy always is
	writeJSON(t, filepath.Join(dir, "stack.json"), map[string]proc.ID{"haproxy": haproxy, "gateway0": gateway})
	began := time.Now()
	if err := StopRecorded(dir, nil); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	data, _ := os.ReadFile(got)
	if want := "haproxy USR1\nhaproxy TERM\ngateway0 TERM\n"; string(data) != want {
		t.Errorf("signals received, in order:\n%s\nwant:\n%s", data, want)
	}
	if soft := 300*time.Millisecond + haproxyStopMargin; took < soft || took > soft+5*time.Second {
		t.Errorf("StopRecorded took %s; want the soft-stop window %s and little more", took, soft)
	}
}

// TestHAProxySoftStop: the soft-stop bound stopping HAProxy waits for is
// its configuration's hard-stop-after as HAProxyConfig writes it; a
// configuration without one (an older version's) or none at all gets
// haproxyUnboundedSoftStop.
func TestHAProxySoftStop(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "haproxy.cfg")
	if d := haproxySoftStop(file); d != haproxyUnboundedSoftStop {
		t.Errorf("no configuration: %s, want %s", d, haproxyUnboundedSoftStop)
	}
	for cfg, want := range map[string]time.Duration{
		HAProxyConfig("127.0.0.1", 27380, []int{27360, 27361}, 1500*time.Millisecond, 15004*time.Millisecond): 18504 * time.Millisecond,
		"global\n    maxconn 4096\n\ndefaults\n    mode http\n":                                               haproxyUnboundedSoftStop,
	} {
		if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if d := haproxySoftStop(file); d != want {
			t.Errorf("haproxySoftStop = %s, want %s, of:\n%s", d, want, cfg)
		}
	}
}

// signalStandIn starts a shell that appends "NAME USR1" or "NAME TERM" to
// the file got for each signal it gets, exiting on SIGTERM, and on SIGUSR1
// if usr1Exits; it returns once the shell's traps are set.
func signalStandIn(t *testing.T, got, name string, usr1Exits bool) proc.ID {
	t.Helper()
	onUSR1 := ""
	if usr1Exits {
		onUSR1 = "; exit 0"
	}
	return shellStandIn(t, got, name, fmt.Sprintf(`trap "echo %[1]s USR1 >> %[2]s%[3]s" USR1; trap "echo %[1]s TERM >> %[2]s; exit 0" TERM`, name, got, onUSR1))
}

// slowGatewayStandIn starts a shell that, on SIGTERM, appends "NAME TERM"
// to the file got, then waits until got holds gateways such lines of
// gateways (or 5 s have passed), then appends "NAME exit" and exits: a
// gateway whose stop takes time, which ends at once when the other
// gateways are stopped with it. It returns once the shell's trap is set.
func slowGatewayStandIn(t *testing.T, got, name string, gateways int) proc.ID {
	t.Helper()
	return shellStandIn(t, got, name, fmt.Sprintf(`trap 'echo %[1]s TERM >> %[2]s; i=0; while [ "$(grep -c "^gateway[0-9]* TERM$" %[2]s)" -lt %[3]d ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; echo %[1]s exit >> %[2]s; exit 0' TERM`, name, got, gateways))
}

// shellStandIn starts the process name, a shell that runs traps (its
// signal handlers, which write to the file got) and then idles, its output
// in got's folder; it returns once the traps are set and the machine's
// clock has ticked past its start time, so that a process started after it
// has a later start (proc.ID.Start): StopRecorded orders by start time.
func shellStandIn(t *testing.T, got, name, traps string) proc.ID {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(got)
	ready := filepath.Join(dir, name+".ready")
	script := fmt.Sprintf(`%s; touch %s; while :; do sleep 0.05; done`, traps, ready)
	id, err := proc.Start(context.Background(), proc.Spec{Name: name, Bin: sh, Args: []string{"-c", script}}, filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Signal(id, "", syscall.SIGKILL) })
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil && bootTicks(t) > id.Start {
			return id
		}
	}
	t.Fatalf("the %s stand-in did not start (or the clock did not pass its start, %d ticks after boot, within 5 s)", name, id.Start)
	return id
}

// bootTicks is the clock ticks since boot (/proc/uptime, in hundredths of a
// second: USER_HZ, 100 on the architectures we run), the clock of a process's start
// time (proc.ID.Start).
func bootTicks(t *testing.T) uint64 {
	t.Helper()
	data, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	up, _, _ := strings.Cut(string(data), " ")
	secs, hundredths, _ := strings.Cut(up, ".")
	s, err1 := strconv.ParseUint(secs, 10, 64)
	h, err2 := strconv.ParseUint(hundredths, 10, 64)
	if err := errors.Join(err1, err2); err != nil || len(hundredths) != 2 {
		t.Fatalf("/proc/uptime %q: %v", data, err)
	}
	return s*100 + h
}

// TestDownStopsTheGatewaysTogether: Down signals every gateway before it
// waits for any, so stopping several takes the longest of their stops, not
// the sum (over a Redis Cluster each may take its --shutdown-timeout and
// 109.5 s); it stopped them one by one. It keeps the order around them:
// HAProxy first, softly, and stopped before the gateways get SIGTERM; the
// batcher only once both gateways exited. The gateway stand-ins take time to
// stop: each exits only once both got SIGTERM (or 5 s later). A gateway
// that will not stop is named in Down's error, each of them, and stays
// recorded; the processes that stopped, the other gateway and the batcher
// after it, are dropped from the record and not named.
func TestDownStopsTheGatewaysTogether(t *testing.T) {
	dir := t.TempDir()
	got := filepath.Join(dir, "signals")
	s, err := New(Config{Dir: dir, PortBase: nettest.PortBase(t), BinDir: dir, FabricBin: dir, Builder: dir, Election: dir, Gateways: 2, Batchers: 1})
	if err != nil {
		t.Fatal(err)
	}
	s.pids["haproxy"], s.pids["batcher0"] = signalStandIn(t, got, "haproxy", true), signalStandIn(t, got, "batcher0", true)
	s.pids["gateway0"], s.pids["gateway1"] = slowGatewayStandIn(t, got, "gateway0", 2), slowGatewayStandIn(t, got, "gateway1", 2)
	if err := s.Down(false); err != nil {
		t.Fatal(err)
	}
	checkGatewaysStoppedTogether(t, got)

	for _, c := range []struct {
		failing, stopped []string // the processes whose stop fails, and the others
	}{
		{[]string{"gateway0", "gateway1"}, nil},
		{[]string{"gateway0"}, []string{"batcher0", "gateway1"}},
	} {
		recorded, ids := map[string]proc.ID{}, map[proc.ID]string{}
		for i, name := range slices.Concat(c.failing, c.stopped) {
			recorded[name] = proc.ID{PID: i + 1, Start: uint64(i + 1)}
			ids[recorded[name]] = name
		}
		s.pids = maps.Clone(recorded)
		f := failingStops{names: ids, failing: c.failing}
		s.stop = f.stop
		f.check(t, "down", s.Down(false), func(name string) string { return "stop " + name + ":" })
		want := maps.Clone(recorded)
		maps.DeleteFunc(want, func(name string, _ proc.ID) bool { return !slices.Contains(c.failing, name) })
		if !maps.Equal(s.pids, want) {
			t.Errorf("after a failed stop of %v the record holds %v; want %v (those that failed, only they)", c.failing, s.pids, want)
		}
	}
}

// checkGatewaysStoppedTogether checks the file got of the stand-ins of
// HAProxy (signalStandIn), gateway0 and gateway1 (slowGatewayStandIn, 2)
// and batcher0 (signalStandIn): HAProxy's USR1, both gateways' TERM before
// either exits, then the batcher's TERM.
func checkGatewaysStoppedTogether(t *testing.T, got string) {
	t.Helper()
	data, _ := os.ReadFile(got)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 6 || lines[0] != "haproxy USR1" || lines[5] != "batcher0 TERM" ||
		!slices.Equal(slices.Sorted(slices.Values(lines[1:3])), []string{"gateway0 TERM", "gateway1 TERM"}) ||
		!slices.Equal(slices.Sorted(slices.Values(lines[3:5])), []string{"gateway0 exit", "gateway1 exit"}) {
		t.Errorf("signals received and exits, in order:\n%s\nwant HAProxy's USR1, both gateways' TERM before either exits, then the batcher's TERM", data)
	}
}

// failingStops stands in for proc.StopSteps over made-up IDs (names, the
// processes a stop is given, by ID; nothing is signalled): the stop of each
// of failing fails ("did not stop"), those of the others, which may run
// concurrently (the gateways together), are noted.
type failingStops struct {
	names   map[proc.ID]string
	failing []string
	mu      sync.Mutex
	stopped []string
}

func (f *failingStops) stop(id proc.ID, _ string, _ ...proc.StopStep) (proc.Outcome, error) {
	name := f.names[id]
	if slices.Contains(f.failing, name) {
		return proc.Stopped, errors.New("did not stop")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, name)
	return proc.Stopped, nil
}

// check checks err, what (Down, StopRecorded) returned stopping every
// process of f.names with f.stop: it names each of f.failing with its
// error, as named(name) introduces it, and no other; every other was
// stopped.
func (f *failingStops) check(t *testing.T, what string, err error, named func(name string) string) {
	t.Helper()
	var others []string
	for _, name := range f.names {
		failing := slices.Contains(f.failing, name)
		if !failing {
			others = append(others, name)
		}
		if got := err != nil && strings.Contains(err.Error(), named(name)); got != failing || failing && !strings.Contains(err.Error(), named(name)+" did not stop") {
			t.Errorf("%s with %v that will not stop: %v; named %s %v, want %v (each that failed, by its error, only they)", what, f.failing, err, name, got, failing)
		}
	}
	if slices.Sort(f.stopped); !slices.Equal(f.stopped, slices.Sorted(slices.Values(others))) {
		t.Errorf("%s with %v that will not stop stopped %v; want the others, %v", what, f.failing, f.stopped, slices.Sorted(slices.Values(others)))
	}
}

// TestStopRecordedStopsTheGatewaysTogether: StopRecorded (make down
// WIPE=1 of a folder whose records cannot be opened, benchrun --fresh)
// groups as Down does (TestDownStopsTheGatewaysTogether): it signals every
// gateway of a record before it waits for any, so it takes the longest of
// their stops, not the sum (it stopped them one at a time); HAProxy, the
// last started, first, softly, and stopped before the gateways get
// SIGTERM; the batcher, the first started, only once both gateways
// exited. The stand-ins run, started in that order. A gateway that will
// not stop is named in the error, each of them, the others stopped and not
// named, and the record left as it was (made-up start times: nothing is
// signalled).
func TestStopRecordedStopsTheGatewaysTogether(t *testing.T) {
	dir := t.TempDir()
	got := filepath.Join(dir, "signals")
	record := filepath.Join(dir, "stack.json")
	started := map[string]proc.ID{"batcher0": signalStandIn(t, got, "batcher0", true)}
	started["gateway0"] = slowGatewayStandIn(t, got, "gateway0", 2)
	started["gateway1"] = slowGatewayStandIn(t, got, "gateway1", 2)
	started["haproxy"] = signalStandIn(t, got, "haproxy", true)
	if b, g0, g1, h := started["batcher0"].Start, started["gateway0"].Start, started["gateway1"].Start, started["haproxy"].Start; !(b < min(g0, g1) && max(g0, g1) < h) {
		t.Fatalf("the stand-ins' start times %d, %d, %d, %d do not follow their start order (shellStandIn waits for the clock to pass each)", b, g0, g1, h)
	}
	writeJSON(t, record, started)
	if err := StopRecorded(dir, nil); err != nil {
		t.Fatal(err)
	}
	checkGatewaysStoppedTogether(t, got)

	for _, failing := range [][]string{{"gateway0", "gateway1"}, {"gateway1"}} {
		at, ids := map[string]proc.ID{}, map[proc.ID]string{} // started in stop order's reverse; never signalled
		for i, name := range []string{"batcher0", "gateway0", "gateway1", "haproxy"} {
			at[name] = proc.ID{PID: os.Getpid(), Start: uint64(i + 1)}
			ids[at[name]] = name
		}
		writeJSON(t, record, at)
		before, _ := os.ReadFile(record)
		f := failingStops{names: ids, failing: failing}
		f.check(t, "StopRecorded", stopRecordedWith(f.stop, dir, nil), func(name string) string { return name + ", recorded in " + record + ":" })
		if after, _ := os.ReadFile(record); !bytes.Equal(after, before) {
			t.Errorf("StopRecorded with %v that will not stop changed %s:\n%s\nwas:\n%s", failing, record, after, before)
		}
	}
}

// TestGatewayStopFollowsItsShutdownTimeout: a gateway startIfStopped starts
// records the --shutdown-timeout it runs with (GATEWAY_SHUTDOWN_TIMEOUT,
// else its --help default, a stand-in's 7s here), and Down and
// StopRecorded alike wait that and gatewayStopMargin after its SIGTERM
// before SIGKILL, never less than appStopGrace: 61.004 s for 7s over the
// stand-in's single Redis (the 17.004 s the gateway waits for votes being
// stored at the default Redis flags, the intake log's 30 s to anchor the
// last votes and 7 s), 149.504 s for 40s with GATEWAY_REDIS_REPLICAS=1
// (Accepts of up to 72.504 s, as over a Cluster), 124.504 s for a
// gateway whose record has its 15s but no longest Accept (one the previous
// version started: the Cluster's margin at the default flags), and
// appStopGrace for a gateway with no record (an older version's). Both
// waited appStopGrace, 20 s, whatever the timeout, killing a gateway still
// finishing its requests. A batcher keeps appStopGrace. The stand-in for
// proc.StopSteps notes each process's steps and signals nothing.
func TestGatewayStopFollowsItsShutdownTimeout(t *testing.T) {
	s, dir, bin := standInGatewayStack(t, 4)
	ctx, gateway := context.Background(), filepath.Join(bin, "gateway")
	start := func(name string) {
		t.Helper()
		if err := s.startIfStopped(ctx, []proc.Spec{{Name: name, Bin: gateway, Args: []string{"30"}}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = proc.Signal(s.pids[name], "", syscall.SIGKILL) })
	}
	start("gateway0")
	t.Setenv("GATEWAY_SHUTDOWN_TIMEOUT", "40s")
	t.Setenv("GATEWAY_REDIS_REPLICAS", "1")
	start("gateway1")
	s.pids["gateway2"] = proc.ID{PID: s.pids["gateway1"].PID, Start: 1} // started by an older version: no record; its PID long reused
	s.pids["gateway3"] = proc.ID{PID: s.pids["gateway1"].PID, Start: 3} // started by the previous version: no longest Accept
	if err := os.MkdirAll(filepath.Join(dir, "gateway3"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gatewayShutdownFile(dir, "gateway3"), []byte("15s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.pids["batcher0"] = proc.ID{PID: s.pids["gateway1"].PID, Start: 2}
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"gateway0": 61004 * time.Millisecond, "gateway1": 149504 * time.Millisecond, "gateway2": appStopGrace,
		"gateway3": 124504 * time.Millisecond, "batcher0": appStopGrace}

	waits := func(stopAll func(stopFunc) error) map[string]time.Duration {
		t.Helper()
		names := map[proc.ID]string{}
		for name, id := range s.pids {
			names[id] = name
		}
		got := map[string]time.Duration{}
		var mu sync.Mutex // Down stops the gateways together
		noting := func(id proc.ID, _ string, steps ...proc.StopStep) (proc.Outcome, error) {
			if len(steps) != 1 || steps[0].Signal != syscall.SIGTERM {
				t.Errorf("%s stopped with %v; want SIGTERM, then SIGKILL", names[id], steps)
			}
			mu.Lock()
			defer mu.Unlock()
			got[names[id]] = steps[len(steps)-1].Wait
			return proc.Gone, nil
		}
		if err := stopAll(noting); err != nil {
			t.Fatal(err)
		}
		return got
	}
	recorded := maps.Clone(s.pids)
	if got := waits(func(stop stopFunc) error { return stopRecordedWith(stop, dir, nil) }); !maps.Equal(got, want) {
		t.Errorf("StopRecorded waited %v; want %v", got, want)
	}
	s.pids = recorded
	if got := waits(func(stop stopFunc) error { s.stop = stop; return s.Down(false) }); !maps.Equal(got, want) {
		t.Errorf("Down waited %v; want %v", got, want)
	}
}

// TestGatewayStopMarginFollowsTheRecord: stopping a gateway waits its
// --shutdown-timeout and a margin of its recorded longest Accept
// (gatewayMaxAcceptFile), the intake log's 30 s and 7 s. At the default
// Redis flags the longest Accept over a single Redis without replicas is
// 17.004 s (2 s for its state's shape, a call of 2 s for room in its
// lane, 4 ms of linger, 5 s for the ledger's exact check and four calls
// of 2 s), over a Redis Cluster 72.504 s (calls of 13.1 s: the failover
// wait, 100 ms and a last try of 3 s). A gateway with no such record (an older
// version's, whose Redis flags are unknown) gets the Cluster's margin at
// the default flags, the largest. The margin followed shape.json's Redis
// at the default flags, whatever flags the gateway read.
func TestGatewayStopMarginFollowsTheRecord(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "gateway"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gatewayShutdownFile(dir, "gateway"), []byte("15s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "shape.json"), []byte(`{"gateways":1,"batchers":1,"redis":"single"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		maxAccept string // "": none
		want      time.Duration
	}{
		{"17.004s\n", 15*time.Second + 54004*time.Millisecond},
		{"72.504s\n", 15*time.Second + 109504*time.Millisecond},
		{"35.004s\n", 15*time.Second + 72004*time.Millisecond}, // GATEWAY_REDIS_TIMEOUT=5s on a single Redis
		{"", 15*time.Second + 109504*time.Millisecond},
		{"x", 15*time.Second + 109504*time.Millisecond},
	} {
		path := gatewayMaxAcceptFile(dir, "gateway")
		os.Remove(path)
		if c.maxAccept != "" {
			if err := os.WriteFile(path, []byte(c.maxAccept), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got := gatewayStopGrace(dir, "gateway"); got != c.want {
			t.Errorf("max-accept %q: a gateway with --shutdown-timeout 15s gets %v; want %v", c.maxAccept, got, c.want)
		}
	}
}

// standInGatewayStack is a stack of gateways gateways in a new run folder
// dir whose binaries, in the folder bin, are a stand-in gateway: with
// --help it prints a gateway's help, --shutdown-timeout defaulting to 7s;
// otherwise it sleeps for as many seconds as its argument. The caller's
// GATEWAY_SHUTDOWN_TIMEOUT and the GATEWAY_ variables of gatewayAcceptFlags
// (a shell's, CI's) are cleared for the test; its Redis is a single server.
func standInGatewayStack(t *testing.T, gateways int) (s *Stack, dir, bin string) {
	t.Helper()
	names := []string{"shutdown-timeout"}
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	gatewayAcceptFlags(fs, new(dedup.Config), new(bool))
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	for _, name := range names {
		env := cli.EnvName("GATEWAY", name)
		t.Setenv(env, "") // restored after the test
		if err := os.Unsetenv(env); err != nil {
			t.Fatal(err)
		}
	}
	dir, bin = t.TempDir(), t.TempDir()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	script := `#!/bin/sh
if [ "$1" = --help ]; then
	printf '  -listen string\n    \tlisten address (default "127.0.0.1:8080")\n  -shutdown-timeout duration\n    \tgrace period for requests in flight on SIGTERM (default 7s)\n'
	exit 0
fi
exec ` + sleep + ` "$@"
`
	if err := os.WriteFile(filepath.Join(bin, "gateway"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err = New(Config{Dir: dir, PortBase: nettest.PortBase(t), BinDir: bin, FabricBin: dir, Builder: dir, Election: dir, Gateways: gateways})
	if err != nil {
		t.Fatal(err)
	}
	return s, dir, bin
}

// TestWipeKeepsTheDeployFolder: the entries a wipe keeps name vcnet's
// bundles folder as rundir.DeployDir does, so moving that folder cannot
// make a wipe delete its CA keys.
func TestWipeKeepsTheDeployFolder(t *testing.T) {
	if !slices.Contains(OthersInRunDir(), filepath.Base(rundir.DeployDir)) || filepath.Dir(rundir.DeployDir) != rundir.SystemDir {
		t.Errorf("OthersInRunDir() = %v; want it to hold %s, the bundles' folder in %s", OthersInRunDir(), rundir.DeployDir, rundir.SystemDir)
	}
}
