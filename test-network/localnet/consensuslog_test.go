package localnet_test

import (
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/test-network/nettest"
)

// censorshipDetected is a peer's log line for a block source it gave up on:
// headers from other orderers showed a block the source had not sent within
// network.BlockCensorshipTimeout.
const censorshipDetected = "Block censorship detected"

// censorships counts the times peer gave up on its block source since the mark.
func censorships(t *testing.T, m *nettest.LogMark, peer string) int {
	t.Helper()
	count := 0
	for _, line := range m.After(t, peer) {
		if strings.Contains(line, censorshipDetected) {
			count++
		}
	}
	return count
}

// minSlack and maxSlack are the least and the most pipelineSlack: beyond
// maxSlack, a bound would hide a view change (network.BFTViewChangeTimeout).
const (
	minSlack = 3 * time.Second
	maxSlack = network.BFTViewChangeTimeout
)

// pipelineSlack is what a fault's bound allows beyond the protocol's
// timeouts: the leader cutting a block, the consensus phases, the peer's
// validation and commit and the client hearing of it, each slower on a
// loaded machine. It is twice the longest gap between commits the same
// load saw on the same machine before the fault, within [minSlack, maxSlack].
func pipelineSlack(before time.Duration) time.Duration {
	return min(max(minSlack, 2*before), maxSlack)
}

// baselineCommits is how many commits baseline watches, within
// baselineWithin.
const (
	baselineCommits = 40
	baselineWithin  = 30 * time.Second
)

// baseline lets the flowing load commit baselineCommits more transactions
// (waiting up to baselineWithin, 30 s) and returns the longest gap between its commits
// meanwhile: what the commit pipeline takes under this load on this
// machine before a fault. It stops the load and fails t if they do not come.
func (l *load) baseline(t *testing.T) time.Duration {
	t.Helper()
	from := time.Now()
	deadline := from.Add(baselineWithin)
	for l.committedSince(from) < baselineCommits {
		if time.Now().After(deadline) {
			committed := l.committedSince(from)
			res := l.stop()
			t.Fatalf("%d load commits in the %s before the fault, want %d (%v)", committed, baselineWithin, baselineCommits, res.err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.res.maxGapIn(from, time.Now())
}

// recoveryCommits is how many commits awaitNewView wants after it saw a
// new view, and recoveryCommitsWithin the time they may take: what
// baseline allows for as many before the fault (15 s).
const (
	recoveryCommits       = 20
	recoveryCommitsWithin = baselineWithin * recoveryCommits / baselineCommits
)

// awaitNewView waits, until deadline, until one of the orderers has started
// a view above view (their logs since the mark, read as they grow) and the
// load has committed recoveryCommits transactions since that was seen. It
// reports whether that happened in time.
func awaitNewView(t *testing.T, m *nettest.LogMark, l *load, orderers []string, view int, deadline time.Time) bool {
	t.Helper()
	var seen time.Time
	read := map[string]int{} // lines of each orderer's log already looked at
	for {
		if seen.IsZero() {
			for _, name := range orderers {
				lines := m.After(t, name)
				if v, ok := nettest.HighestView(lines[read[name]:]); ok && v > view {
					seen = time.Now()
				}
				read[name] = len(lines)
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
// the orderers' consensus did since the mark (nettest.ConsensusEvents) and
// when the peer gave up on a block source: the reasons for a slow recovery.
func logConsensusOnFailure(t *testing.T, m *nettest.LogMark, orderers []string, peer string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		m.LogConsensusEvents(t, orderers, 80)
		for _, line := range m.After(t, peer) {
			if strings.Contains(line, censorshipDetected) || strings.Contains(line, "Censorship suspicion") {
				t.Logf("%s: %.300s", peer, line)
			}
		}
	})
}
