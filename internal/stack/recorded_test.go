package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/proc/proctest"
	"github.com/votechain/votechain/internal/rundir/rundirtest"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestStopRecordedRefusesWhatWillNotStop: a recorded process that does not
// stop (proc.Stop failing, as for one the caller may not signal) is named
// with its record and the command that stops it, beside those stopped; a
// folder no stack made is refused and its recorded process left alone.
func TestStopRecordedRefusesWhatWillNotStop(t *testing.T) {
	dir, bin := t.TempDir(), t.TempDir()
	stuck, gone := proctest.Sleeper(t, bin, "batcher"), proctest.Sleeper(t, bin, "peer")
	failing := func(id proc.ID, bin string, steps ...proc.StopStep) (proc.Outcome, error) {
		if id == stuck {
			return proc.Stopped, fmt.Errorf("process %d (%s) did not stop", id.PID, filepath.Base(bin))
		}
		return proc.StopSteps(id, bin, steps...)
	}
	writeJSON(t, filepath.Join(dir, "stack.json"), map[string]proc.ID{"batcher0": stuck})
	writeJSON(t, filepath.Join(dir, "network", "state.json"), map[string]any{"pids": map[string]proc.ID{"peer0.Commission": gone}})

	err := stopRecordedWith(failing, dir, nil)
	if err == nil {
		t.Fatal("StopRecorded = nil with a process left running")
	}
	want := fmt.Sprintf("batcher0, recorded in %s: process %d (batcher) did not stop: stop it with `kill -KILL %d`",
		filepath.Join(dir, "stack.json"), stuck.PID, stuck.PID)
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "peer0") {
		t.Errorf("StopRecorded = %q, want it to name only %q", err, want)
	}
	if proc.Running(gone, "") {
		t.Errorf("the peer (PID %d) that would stop still runs", gone.PID)
	}

	foreign := t.TempDir()
	thesis := rundirtest.Foreign(t, foreign)
	writeJSON(t, filepath.Join(foreign, "network", "state.json"), map[string]any{"pids": map[string]proc.ID{"orderer0": stuck}})
	signalled := false
	noting := func(proc.ID, string, ...proc.StopStep) (proc.Outcome, error) { signalled = true; return proc.Gone, nil }
	rundirtest.Refused(t, "StopRecorded", stopRecordedWith(noting, foreign, nil), thesis)
	if signalled {
		t.Error("StopRecorded stopped a process a folder no stack made records")
	}
}

// TestStopRecordedStopsLatestStartedFirst: the processes of every record of
// a run folder stop in reverse start order across the records (the
// application's, its network's, a scale-out stack's), whatever record or
// name holds them. The IDs' start times are made up, so nothing is
// signalled: the stand-in for proc.Stop notes each name.
func TestStopRecordedStopsLatestStartedFirst(t *testing.T) {
	dir := t.TempDir()
	at := func(start uint64) proc.ID { return proc.ID{PID: os.Getpid(), Start: start} }
	writeJSON(t, filepath.Join(dir, "stack.json"), map[string]proc.ID{"redis": at(300), "batcher0": at(400), "gateway0": at(500), "explorer": at(410)})
	writeJSON(t, filepath.Join(dir, "network", "state.json"), map[string]any{"pids": map[string]proc.ID{
		"orderer0": at(100), "orderer1": at(110), "peer0.Commission": at(200), "chaincode.Commission": at(250)}})
	writeJSON(t, filepath.Join(dir, "scaleout", "stack.json"), map[string]proc.ID{"gateway1": at(600)})
	var mu sync.Mutex // StopRecorded stops the gateways of a record together
	var stopped []string
	noting := func(id proc.ID, _ string, _ ...proc.StopStep) (proc.Outcome, error) {
		mu.Lock()
		defer mu.Unlock()
		stopped = append(stopped, fmt.Sprint(id.Start))
		return proc.Gone, nil
	}
	if err := stopRecordedWith(noting, dir, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"600", "500", "410", "400", "300", "250", "200", "110", "100"}
	if !slices.Equal(stopped, want) {
		t.Errorf("stopped the processes started at %v; want %v", stopped, want)
	}
}

// TestStopOrder: latest start first; equal starts keep their order; those
// without a start time (bare PIDs) last, in their order.
func TestStopOrder(t *testing.T) {
	ps := []recordedProcess{
		{name: "bare-a"}, {name: "orderer0", id: proc.ID{Start: 10}}, {name: "gateway0", id: proc.ID{Start: 90}},
		{name: "bare-b"}, {name: "peer-x", id: proc.ID{Start: 40}}, {name: "peer-y", id: proc.ID{Start: 40}},
	}
	given := slices.Clone(ps)
	var got []string
	for _, p := range stopOrder(ps) {
		got = append(got, p.name)
	}
	if want := []string{"gateway0", "peer-x", "peer-y", "orderer0", "bare-a", "bare-b"}; !slices.Equal(got, want) {
		t.Errorf("stopOrder = %v; want %v", got, want)
	}
	if !slices.Equal(ps, given) {
		t.Error("stopOrder changed its argument")
	}
}

// TestStopGroups: StopRecorded stops the gateways of one record together,
// in the place of the latest started of them, so Redis and a batcher
// restarted after the first gateway still stop after every gateway, and
// that record's HAProxy before them wherever its start puts it; those of
// another record (a scale-out stack's) in a group of their own; one
// recorded as a bare PID (last, never signalled) alone, so it holds back no
// other gateway of its record; every other process alone, in stopOrder's
// order. Down groups its services as before: Prometheus, HAProxy, the
// explorer, the gateways together, the batchers, Redis's exporter, Redis.
func TestStopGroups(t *testing.T) {
	at := func(name, file string, start uint64) recordedProcess {
		return recordedProcess{name: name, file: file, id: proc.ID{PID: 1, Start: start}}
	}
	for _, c := range []struct {
		name string
		all  []recordedProcess
		want []string
	}{
		{"as started by make up", []recordedProcess{
			at("redis", "stack.json", 100), at("batcher0", "stack.json", 200), at("gateway0", "stack.json", 300),
			at("gateway1", "stack.json", 310), at("explorer", "stack.json", 320), at("haproxy", "stack.json", 330),
			at("gateway", "scaleout/stack.json", 400), at("peer0.Commission", "network/state.json", 50),
		}, []string{"gateway", "haproxy", "explorer", "gateway1+gateway0", "batcher0", "redis", "peer0.Commission"}},
		{"restarted in between", []recordedProcess{
			at("batcher0", "stack.json", 100), at("gateway0", "stack.json", 200), at("explorer", "stack.json", 300),
			at("haproxy", "stack.json", 400), at("prometheus", "stack.json", 450), at("redis", "stack.json", 500),
			at("batcher1", "stack.json", 550), at("gateway1", "stack.json", 600), at("gateway", "scaleout/stack.json", 350),
		}, []string{"haproxy", "gateway1+gateway0", "batcher1", "redis", "prometheus", "gateway", "explorer", "batcher0"}},
		{"a bare PID", []recordedProcess{
			at("batcher0", "stack.json", 100), at("gateway0", "stack.json", 200), at("gateway1", "stack.json", 0),
			at("gateway2", "stack.json", 210), at("haproxy", "stack.json", 300), at("redis", "stack.json", 0),
		}, []string{"haproxy", "gateway2+gateway0", "batcher0", "gateway1", "redis"}},
	} {
		if got := groupNames(stopRecordedGroups(c.all), func(p recordedProcess) string { return p.name }); !slices.Equal(got, c.want) {
			t.Errorf("%s: StopRecorded's groups = %v; want %v", c.name, got, c.want)
		}
	}

	dir := t.TempDir()
	s, err := New(Config{Dir: dir, PortBase: nettest.PortBase(t), BinDir: dir, FabricBin: dir, Builder: dir, Election: dir, Gateways: 3, Batchers: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range s.services() {
		s.pids[sp.Name] = proc.ID{PID: 1, Start: 1}
	}
	got := groupNames(s.recordedGroups(), func(sp proc.Spec) string { return sp.Name })
	if want := []string{"prometheus", "haproxy", "explorer", "gateway2+gateway1+gateway0", "batcher1", "batcher0", "redis-exporter", "redis"}; !slices.Equal(got, want) {
		t.Errorf("Down's groups = %v; want %v", got, want)
	}
}

// groupNames names the groups, each by its members' names joined by "+".
func groupNames[P any](groups [][]P, name func(P) string) []string {
	var got []string
	for _, g := range groups {
		var names []string
		for _, p := range g {
			names = append(names, name(p))
		}
		got = append(got, strings.Join(names, "+"))
	}
	return got
}
