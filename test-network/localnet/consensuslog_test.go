package localnet_test

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/test-network/localnet"
)

// logMark is where the logs of some of a network's processes ended at one
// moment (a fault's start): what each logged before and after it can be
// read apart.
type logMark struct {
	n  *localnet.Network
	at map[string]int64 // log size by process name
}

// markLogs marks the logs of the processes names of n as they are now.
func markLogs(t *testing.T, n *localnet.Network, names ...string) logMark {
	t.Helper()
	m := logMark{n: n, at: map[string]int64{}}
	for _, name := range names {
		info, err := os.Stat(n.Layout().Log(name))
		if err != nil {
			t.Fatal(err)
		}
		m.at[name] = info.Size()
	}
	return m
}

// before is what process name logged before the mark, line by line.
func (m logMark) before(t *testing.T, name string) []string {
	t.Helper()
	return m.lines(t, name, 0, m.at[name])
}

// after is what process name logged since the mark, line by line.
func (m logMark) after(t *testing.T, name string) []string {
	t.Helper()
	return m.lines(t, name, m.at[name], -1)
}

// lines reads name's log from byte from to byte to (-1: its end), with
// Fabric's terminal colours removed.
func (m logMark) lines(t *testing.T, name string, from, to int64) []string {
	t.Helper()
	f, err := os.Open(m.n.Layout().Log(name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if to < 0 {
		info, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		to = info.Size()
	}
	data, err := io.ReadAll(io.NewSectionReader(f, from, max(to-from, 0)))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(colour.ReplaceAllString(string(data), ""), "\n")
}

// colour is a terminal colour code, as Fabric writes them into its logs.
var colour = regexp.MustCompile("\x1b\\[[0-9;]*m")

// startedView is SmartBFT's log line for a view an orderer starts: the
// first view, and each a view change completes. A view change that timed
// out starts none, but the next one's number is one higher.
var startedView = regexp.MustCompile(`Starting view with number (\d+)`)

// highestView is the highest view number any of lines started, or -1.
func highestView(lines []string) int {
	view := -1
	for _, line := range lines {
		if m := startedView.FindStringSubmatch(line); m != nil {
			v, _ := strconv.Atoi(m[1])
			view = max(view, v)
		}
	}
	return view
}

// views are the SmartBFT view the orderers were in at the mark and the
// highest view any of them started since (the same when none started one).
func (m logMark) views(t *testing.T, orderers []string) (atMark, since int) {
	t.Helper()
	atMark, since = -1, -1
	for _, name := range orderers {
		atMark = max(atMark, highestView(m.before(t, name)))
		since = max(since, highestView(m.after(t, name)))
	}
	return atMark, max(since, atMark)
}

// viewChangeTime is the longest k consecutive SmartBFT view changes can
// take: each one that does not complete in time is given up and the next
// started, and SmartBFT waits ViewChangeTimeout times the number of the
// attempt (1, 2, … k; internal/bft/viewchanger.go, checkIfTimeout, reset
// once a view starts).
func viewChangeTime(k int) time.Duration {
	return network.BFTViewChangeTimeout * time.Duration(k*(k+1)/2)
}

// censorshipDetected is a peer's log line for a block source it gave up on:
// headers from other orderers showed a block the source had not sent within
// network.BlockCensorshipTimeout.
const censorshipDetected = "Block censorship detected"

// censorships counts the times peer gave up on its block source since the mark.
func (m logMark) censorships(t *testing.T, peer string) int {
	t.Helper()
	count := 0
	for _, line := range m.after(t, peer) {
		if strings.Contains(line, censorshipDetected) {
			count++
		}
	}
	return count
}

// minSlack is the least pipelineSlack.
const minSlack = 3 * time.Second

// pipelineSlack is what a fault's bound allows beyond the protocol's
// timeouts: the leader cutting a block, the consensus phases, the peer's
// validation and commit and the client hearing of it, each slower on a
// loaded machine. It is twice the longest gap between commits the same
// load saw on the same machine before the fault, and at least minSlack.
func pipelineSlack(before time.Duration) time.Duration {
	return max(minSlack, 2*before)
}

// baselineCommits is how many commits baseline watches.
const baselineCommits = 40

// baseline lets the flowing load commit baselineCommits more transactions
// (waiting up to 30 s) and returns the longest gap between its commits
// meanwhile: what the commit pipeline takes under this load on this
// machine before a fault. It stops the load and fails t if they do not come.
func (l *load) baseline(t *testing.T) time.Duration {
	t.Helper()
	from := time.Now()
	deadline := from.Add(30 * time.Second)
	for l.committedSince(from) < baselineCommits {
		if time.Now().After(deadline) {
			committed := l.committedSince(from)
			res := l.stop()
			t.Fatalf("%d load commits in the 30 s before the fault, want %d (%v)", committed, baselineCommits, res.err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.res.maxGapIn(from, time.Now())
}

// recoveryCommits is how many commits awaitNewView wants after it saw a new view.
const recoveryCommits = 20

// awaitNewView waits, until deadline, until one of the orderers has started
// a view above view (their logs since the mark) and the load has committed
// recoveryCommits transactions since that was seen. It reports whether
// that happened in time.
func (m logMark) awaitNewView(t *testing.T, l *load, orderers []string, view int, deadline time.Time) bool {
	t.Helper()
	var seen time.Time
	for {
		if seen.IsZero() {
			for _, name := range orderers {
				if highestView(m.after(t, name)) > view {
					seen = time.Now()
				}
			}
		} else if l.committedSince(seen) >= recoveryCommits {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// logConsensusOnFailure registers a cleanup that, if t failed, logs what
// the orderers' consensus did since the mark (consensusEvents) and when the
// peer gave up on a block source: the reasons for a slow recovery.
func (m logMark) logConsensusOnFailure(t *testing.T, orderers []string, peer string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, name := range orderers {
			for _, line := range consensusEvents(m.after(t, name), 80) {
				t.Logf("%s: %s", name, line)
			}
		}
		for _, line := range m.after(t, peer) {
			if strings.Contains(line, censorshipDetected) || strings.Contains(line, "Censorship suspicion") {
				t.Logf("%s: %s", peer, line)
			}
		}
	})
}

// consensusEvent is what consensusEvents keeps of an orderer's consensus
// lines: warnings and errors, and messages about views, roles, leaders,
// heartbeats, complaints, syncs and timeouts (not the channel name, which
// is "election").
var consensusEvent = regexp.MustCompile(`(?i)view|role|leader|heartbeat|complain|sync|timeout`)

// consensusEvents picks from an orderer's log lines, up to limit, those of
// its consensus (orderer.consensus.*, not .egress, whose failed sends to a
// silent orderer repeat several times a second) that are warnings, errors
// or consensusEvent, without the stale-message warnings each view change
// brings ("got message from"). A run of lines from one function (a
// forward or complaint per pending request) shows as its first line and
// how many followed.
func consensusEvents(lines []string, limit int) []string {
	var out []string
	lastFunc, repeats := "", 0
	flush := func() {
		if repeats > 0 {
			out = append(out, fmt.Sprintf("… and %d more from %s", repeats, lastFunc))
		}
		repeats = 0
	}
	for _, line := range lines {
		if !strings.Contains(line, "[orderer.consensus.") || strings.Contains(line, ".egress]") || strings.Contains(line, "got message from") {
			continue
		}
		_, rest, _ := strings.Cut(line, "] ")
		fn, msg, _ := strings.Cut(rest, " -> ")
		msg, _, _ = strings.Cut(msg, " channel=")
		if !strings.Contains(line, " WARN ") && !strings.Contains(line, " ERRO ") && !consensusEvent.MatchString(msg) {
			continue
		}
		if fn == lastFunc {
			repeats++
			continue
		}
		flush()
		if len(out) >= limit {
			out = append(out, "… more in the log")
			return out
		}
		lastFunc = fn
		out = append(out, line)
	}
	flush()
	return out
}

// ordererNamesExcept are the network's orderers other than victim.
func ordererNamesExcept(victim string) []string {
	var names []string
	for i := range network.OrdererCount {
		if name := network.OrdererProcess(i); name != victim {
			names = append(names, name)
		}
	}
	return names
}
