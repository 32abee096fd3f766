package measure

import (
	"cmp"
	"slices"
	"time"
)

// BlockPath is one block's way from the ordering service to a peer's
// ledger, the orderers' logs (OrdererBlocks) and the peer's (ParsePeerLog)
// joined on the block number. Times a log does not give are zero, and so
// is every duration that needs one.
type BlockPath struct {
	Number uint64
	Txs    int
	// Proposed is the earliest "Processed proposal" any orderer logged for
	// the block: the leader's, once it cut and verified the block; the
	// previous block's is PrevProposed.
	Proposed, PrevProposed time.Time
	// Decided is the earliest decision any orderer logged for the block.
	Decided time.Time
	// PrevCommitted is when the peer committed the block before this one.
	PrevCommitted time.Time
	Peer          PeerBlock
}

// BlockPaths joins a peer's blocks with the orderers' (one list per
// orderer) and returns the path of each block the peer committed, by
// block number.
func BlockPaths(peer []PeerBlock, orderers ...[]OrdererBlock) []BlockPath {
	proposed, decided := map[uint64]time.Time{}, map[uint64]time.Time{}
	earliest := func(m map[uint64]time.Time, n uint64, t time.Time) {
		if old, ok := m[n]; !t.IsZero() && (!ok || t.Before(old)) {
			m[n] = t
		}
	}
	for _, o := range orderers {
		for _, b := range o {
			earliest(proposed, b.Number, b.Proposed)
			earliest(decided, b.Number, b.Decided)
		}
	}
	committed := map[uint64]time.Time{}
	var paths []BlockPath
	for _, b := range peer {
		if b.Committed.IsZero() {
			continue
		}
		committed[b.Number] = b.Committed
		p := BlockPath{Number: b.Number, Txs: b.Txs, Proposed: proposed[b.Number], Decided: decided[b.Number], Peer: b}
		if b.Number > 0 {
			p.PrevProposed = proposed[b.Number-1]
		}
		paths = append(paths, p)
	}
	slices.SortFunc(paths, func(a, b BlockPath) int { return cmp.Compare(a.Number, b.Number) })
	for i := range paths {
		if n := paths[i].Number; n > 0 {
			paths[i].PrevCommitted = committed[n-1]
		}
	}
	return paths
}

// since is b − a, or zero when either is unknown.
func since(a, b time.Time) time.Duration {
	if a.IsZero() || b.IsZero() {
		return 0
	}
	return b.Sub(a)
}

// Cycle is the time from the previous block's proposal to this one's: the
// leader's round, its wait for requests (up to the batch timeout) and the
// previous block's consensus.
func (p BlockPath) Cycle() time.Duration { return since(p.PrevProposed, p.Proposed) }

// Consensus is the time from the proposal to the first decision: the
// followers' verification of the proposal, prepares and commits.
func (p BlockPath) Consensus() time.Duration { return since(p.Proposed, p.Decided) }

// Backlog is the part of the time from the decision to the peer's taking
// the block in which the peer was still committing earlier blocks (its
// committer takes one block at a time).
func (p BlockPath) Backlog() time.Duration {
	if p.Decided.IsZero() || p.Peer.Received.IsZero() || !p.PrevCommitted.After(p.Decided) {
		return 0
	}
	return later(p.PrevCommitted, p.Peer.Received, true).Sub(p.Decided)
}

// Transit is the rest of the time from the decision to the peer's taking
// the block: the orderer's write, the delivery to the peer and its checks
// of the block's signatures, the gossip buffer.
func (p BlockPath) Transit() time.Duration {
	return since(p.Decided, p.Peer.Received) - p.Backlog()
}

// Validate is the time from the peer's taking the block to the end of its
// validation.
func (p BlockPath) Validate() time.Duration { return since(p.Peer.Received, p.Peer.Validated) }

// Commit is the time from the end of validation to the ledger's commit
// (the commit as logged, plus the private data's retrieval before it).
func (p BlockPath) Commit() time.Duration { return since(p.Peer.Validated, p.Peer.Committed) }

// Newest is the time from the proposal to the peer's commit: the least a
// transaction in the block can have waited from its acceptance by ordering
// to its commit on this peer.
func (p BlockPath) Newest() time.Duration { return since(p.Proposed, p.Peer.Committed) }

// Oldest is the time from the previous block's proposal to the peer's
// commit: about the most a transaction in the block can have waited from
// its acceptance by ordering (just too late for the previous block) to
// its commit on this peer, when the requests waiting fit in one block.
func (p BlockPath) Oldest() time.Duration { return since(p.PrevProposed, p.Peer.Committed) }

// BlockPathSummary is a window's blocks (those the peer committed in it)
// summarised per stage of their path. Each Latency is over the blocks
// whose logs give that stage, one sample per block whatever its
// transactions.
type BlockPathSummary struct {
	Blocks int `json:"blocks"`
	Txs    int `json:"txs"`
	// PeerBusy is the share of the window the peer's committer spent
	// between taking a block and committing it.
	PeerBusy    float64 `json:"peer_busy"`
	Cycle       Latency `json:"cycle"`
	Consensus   Latency `json:"consensus"`
	Backlog     Latency `json:"backlog"`
	Transit     Latency `json:"transit"`
	Validate    Latency `json:"validate"`
	Commit      Latency `json:"commit"`
	StateCommit Latency `json:"state_commit"`
	Newest      Latency `json:"newest"`
	Oldest      Latency `json:"oldest"`
}

// SummarizeBlockPaths summarises the paths of the blocks the peer
// committed in [from, to).
func SummarizeBlockPaths(paths []BlockPath, from, to time.Time) BlockPathSummary {
	var s BlockPathSummary
	var cycle, consensus, backlog, transit, validate, commit, state, newest, oldest []time.Duration
	add := func(to *[]time.Duration, d time.Duration, known bool) {
		if known {
			*to = append(*to, d)
		}
	}
	var busy time.Duration
	for _, p := range paths {
		c := p.Peer.Committed
		if c.Before(from) || !c.Before(to) {
			continue
		}
		s.Blocks++
		s.Txs += p.Txs
		if !p.Peer.Received.IsZero() {
			busy += c.Sub(later(p.Peer.Received, from, false))
		}
		ordered, received := !p.Decided.IsZero(), !p.Peer.Received.IsZero()
		add(&cycle, p.Cycle(), !p.PrevProposed.IsZero() && !p.Proposed.IsZero())
		add(&consensus, p.Consensus(), ordered && !p.Proposed.IsZero())
		add(&backlog, p.Backlog(), ordered && received)
		add(&transit, p.Transit(), ordered && received)
		add(&validate, p.Validate(), received && !p.Peer.Validated.IsZero())
		add(&commit, p.Commit(), !p.Peer.Validated.IsZero())
		add(&state, p.Peer.StateCommit, true)
		add(&newest, p.Newest(), !p.Proposed.IsZero())
		add(&oldest, p.Oldest(), !p.PrevProposed.IsZero())
	}
	if to.After(from) {
		s.PeerBusy = busy.Seconds() / to.Sub(from).Seconds()
	}
	s.Cycle, s.Consensus, s.Backlog, s.Transit = Summarize(cycle), Summarize(consensus), Summarize(backlog), Summarize(transit)
	s.Validate, s.Commit, s.StateCommit = Summarize(validate), Summarize(commit), Summarize(state)
	s.Newest, s.Oldest = Summarize(newest), Summarize(oldest)
	return s
}
