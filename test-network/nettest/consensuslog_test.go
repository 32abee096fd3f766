package nettest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/network"
)

// Orderer log lines as Fabric writes them (colours already stripped).
const (
	viewStart  = "2026-12-07 12:00:01.000 UTC 0042 INFO [orderer.consensus.smartbft.consensus] Start -> Starting view with number 3, sequence 17, and decisions 0 channel=election"
	viewInform = "2026-12-07 12:00:01.100 UTC 0043 INFO [orderer.consensus.smartbft.consensus] processMsg -> Node 2 was informed of view 9, but the current view is 3 channel=election"
	forwarded  = "2026-12-07 12:00:02.000 UTC 0044 WARN [orderer.consensus.smartbft.consensus] onRequestTO -> Request {3f9a0c1d77e2b6a4 cli4} timeout expired, forwarding request to leader: 1 channel=election"
	egress     = "2026-12-07 12:00:02.100 UTC 0045 WARN [orderer.consensus.smartbft.egress] logSendFailure -> Failed sending view change to 1 channel=election"
	stale      = "2026-12-07 12:00:02.200 UTC 0046 WARN [orderer.consensus.smartbft.consensus] processMsg -> Node 2 got message from 1 of view 2, expected view 3 channel=election"
	delivered  = "2026-12-07 12:00:02.300 UTC 0047 INFO [orderer.consensus.smartbft.consensus] (*View).decide -> Delivering block 18 channel=election"
	complained = "2026-12-07 12:00:03.000 UTC 0048 WARN [orderer.consensus.smartbft.consensus] onLeaderFwdRequestTO -> Request {3f9a0c1d77e2b6a4 cli4} leader-forwarding timeout expired, complaining about leader: 1 channel=election"
	cluster    = "2026-12-07 12:00:03.100 UTC 0049 WARN [orderer.common.cluster] Step -> view change from 3 channel=election"
)

func TestHighestView(t *testing.T) {
	lines := []string{delivered, viewStart, viewInform, strings.Replace(viewStart, "number 3,", "number 12,", 1), strings.Replace(viewStart, "number 3,", "number 5,", 1)}
	if v, ok := HighestView(lines); !ok || v != 12 {
		t.Errorf("HighestView = %d, %v; want 12, true (not the view 9 a node was informed of)", v, ok)
	}
	// A line merely naming a view start is not one: the number must end in
	// SmartBFT's comma.
	if v, ok := HighestView([]string{delivered, viewInform, "Starting view with number 4"}); ok {
		t.Errorf("HighestView without a view start = %d, true; want false", v)
	}
}

func TestConsensusEvents(t *testing.T) {
	// The same warning for another request: only the ids differ.
	forwarded2 := strings.Replace(forwarded, "3f9a0c1d77e2b6a4", "0b41e97c5d20aa13", 1)
	lines := []string{viewStart, forwarded, forwarded2, egress, stale, forwarded, delivered, complained, cluster, viewInform}
	got := ConsensusEvents(lines, 10)
	want := []string{
		viewStart,
		forwarded, "… and 2 more from onRequestTO", // the egress and stale lines between are dropped, not a break in the run
		complained, // a warning; delivered is kept out: only its function, (*View).decide, names a view
		viewInform,
	}
	if !slices.Equal(got, want) {
		t.Errorf("ConsensusEvents =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	long := viewStart + strings.Repeat("é", 300)
	if got := ConsensusEvents([]string{long}, 1); len(got) != 1 || len(got[0]) > maxEventLine+len("…") || !strings.HasSuffix(got[0], "…") {
		t.Errorf("a long line kept as %d bytes, want at most %d and a cut mark", len(got[0]), maxEventLine)
	}
}

// Successive view starts and view messages of one function that differ in
// their numbers are each shown: the sequence of views is what a slow
// failover is read from.
func TestConsensusEventsKeepsViewSequence(t *testing.T) {
	view := func(n string) string { return strings.Replace(viewStart, "number 3,", "number "+n+",", 1) }
	inform := func(n string) string { return strings.Replace(viewInform, "view 9,", "view "+n+",", 1) }
	lines := []string{view("3"), view("4"), view("5"), inform("6"), inform("7"), inform("7")}
	want := []string{view("3"), view("4"), view("5"), inform("6"), inform("7"), "… and 1 more from processMsg"}
	if got := ConsensusEvents(lines, 10); !slices.Equal(got, want) {
		t.Errorf("ConsensusEvents =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The limit counts every line returned, the fold lines and the last one
// saying there are more included.
func TestConsensusEventsLimit(t *testing.T) {
	lines := []string{viewStart, forwarded, forwarded, complained, viewInform}
	all := ConsensusEvents(lines, 100) // viewStart, forwarded, its fold, complained, viewInform
	if len(all) != 5 {
		t.Fatalf("ConsensusEvents without a limit reached = %d lines, want 5:\n%s", len(all), strings.Join(all, "\n"))
	}
	for limit := 0; limit <= 6; limit++ {
		got := ConsensusEvents(lines, limit)
		switch {
		case len(got) > limit:
			t.Errorf("ConsensusEvents with limit %d = %d lines:\n%s", limit, len(got), strings.Join(got, "\n"))
		case limit >= len(all) && !slices.Equal(got, all):
			t.Errorf("ConsensusEvents with limit %d =\n%s\nwant all of\n%s", limit, strings.Join(got, "\n"), strings.Join(all, "\n"))
		case limit > 0 && limit < len(all) && (len(got) != limit || got[limit-1] != "… more in the log" || !slices.Equal(got[:limit-1], all[:limit-1])):
			t.Errorf("ConsensusEvents with limit %d =\n%s\nwant the first %d of all and \"… more in the log\"", limit, strings.Join(got, "\n"), limit-1)
		}
	}
}

// A log read in pieces: each After reads only what was appended, a last
// line not yet ended waits for its end, and colours are removed.
func TestLogTailIncremental(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orderer0.log")
	write := func(s string) {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	write("before the mark\n")
	tl := &logTail{path: path, at: 16, off: 16}
	write("\x1b[34mone\x1b[0m\ntw")
	if err := tl.read(); err != nil || !slices.Equal(tl.lines, []string{"one"}) {
		t.Fatalf("after the first append: %q, %v", tl.lines, err)
	}
	write("o\nthree\n")
	if err := tl.read(); err != nil || !slices.Equal(tl.lines, []string{"one", "two", "three"}) {
		t.Fatalf("after the second append: %q, %v", tl.lines, err)
	}
}

// Each view change that times out waits one timeout longer than the last.
func TestBFTViewChangeTime(t *testing.T) {
	for k, want := range map[int]time.Duration{0: 0, 1: 10 * time.Second, 2: 30 * time.Second, 3: 60 * time.Second} {
		if got := network.BFTViewChangeTime(k); got != want {
			t.Errorf("network.BFTViewChangeTime(%d) = %v, want %v", k, got, want)
		}
	}
}
