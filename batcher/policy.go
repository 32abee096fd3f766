package batcher

import (
	"slices"
	"time"

	"github.com/votechain/votechain/network"
)

// The policies below are pure: they take the time and the state they judge
// as arguments and do no I/O, so they are tested directly.

// cutPolicy decides when a lane cuts a batch: group commit. A lane with
// nothing in flight cuts whatever it holds at once (low latency at low
// load); while its transactions are in flight the next batch grows, and it
// is cut when a slot frees. A lane opens a further transaction beside those
// in flight only for a batch of at least fill votes, or one whose oldest vote
// has waited maxWait (a stuck transaction must not hold its lane's votes).
//
// Across lanes the process applies the same policy once more (sharer): a
// cut batch's first submission waits for other lanes' batches to share its
// transaction (CommitBatches) while the process's shared transactions are
// in flight, so at low load the ledger's per-transaction cost is paid once
// for several lanes' small batches.
//
// With a tick (lanes that share transactions), a lane below fill votes cuts
// on the clock's multiples of tick instead, in flight or not: every lane's
// small batch is cut at the same instants, so the sharer gathers them into
// one transaction (sharePolicy) and a vote waits at most one tick in its
// lane, rather than behind its lane's transaction and then the sharer's.
// A lane whose last read emptied its stream (no backlog) cuts on the tick
// even above fill, up to a full batch: lanes read once per tick
// (nextRead), so at high rates a large state's tick batch would otherwise
// be cut on its own a tenth of a tick early, in a transaction of its own.
type cutPolicy struct {
	maxVotes int           // most votes in one batch
	fill     int           // votes worth one more transaction beside the lane's in flight
	depth    int           // most in flight per lane (as laneState.inflight counts)
	maxWait  time.Duration // longest a vote waits behind its lane's transactions in flight
	tick     time.Duration // if > 0: cut small batches on the clock's multiples of tick
	eager    bool          // with tick: read again at once after every read (nextRead), as without ticks
}

// laneState is what the cut policy judges.
type laneState struct {
	pending  int       // votes read and not yet cut
	oldest   time.Time // when the oldest of them was read
	inflight int       // the lane's batches in flight (each Batcher.slotCost: votes when cut on ticks)
	slotFree bool      // the process has an in-flight slot free
	drained  bool      // the lane's last read emptied its stream (no backlog)
	// cutTick, with ticks and a cadence: the latest tick at or before now
	// on which the process's lanes cut (cadencePolicy); zero: every tick.
	cutTick time.Time
}

// decide returns how many pending votes to cut now. When it is zero, wake is
// the time to decide again (zero: only when votes arrive or a slot frees).
func (p cutPolicy) decide(now time.Time, s laneState) (cut int, wake time.Time) {
	if s.pending == 0 || s.inflight >= p.depth || !s.slotFree {
		return 0, time.Time{}
	}
	n := min(s.pending, p.maxVotes)
	filled := s.pending >= p.fill
	if p.tick > 0 && s.drained && s.pending < p.maxVotes {
		filled = false // no backlog: it goes with the other lanes' batches on the tick
	}
	if filled || (s.inflight == 0 && p.tick <= 0) {
		return n, time.Time{}
	}
	due := s.oldest.Add(p.maxWait)
	if p.tick > 0 {
		due = nextTick(s.oldest, p.tick)
		if !now.Before(due) && !s.cutTick.IsZero() && !s.cutTick.After(s.oldest) {
			return 0, nextTick(now, p.tick) // the ticks since its oldest vote were skipped
		}
	}
	if !now.Before(due) {
		return n, time.Time{}
	}
	return 0, due
}

// cadencePolicy decides, once per tick for all of a process's lanes that
// cut on ticks, whether they cut on it: the lanes skip ticks so that a
// shared transaction grows towards full votes (the ledger's CPU per vote
// falls with the votes per transaction, and every tick that cuts makes a
// block), within maxGap. They cut on a tick when
//
//   - with behind > 0, no shared transaction of the process has been in
//     flight for behind (the ledger keeps up), or
//   - one more tick's votes would take the transaction past full (the
//     sharer would split it), or
//   - a tick brings fewer than a quarter of full votes (at low rates a
//     skipped tick costs its votes a tick of latency and saves little),
//     unless the ledger lags (below), or
//   - maxGap has passed since the last tick that cut.
//
// The ledger lags when, with lag > 0, the oldest shared transaction of the
// process has been in flight for lag or longer: then a low rate no longer
// forces a cut, and the lanes skip ticks at any rate (tick-sized
// transactions are what keep a lagging ledger behind: make bench run 38,
// 2,000–2,500 votes/s, 400–500 votes a transaction, 202→commit 4.1–5.4 s
// p50). The default, 1 s, is well above a transaction's time in flight
// while the ledger keeps up (202→commit ~0.4 s p50 at the referendum's
// rate). While it lags the bound stays maxGap, not a longer one: the
// lanes' wait adds to a vote's 202→commit, which then already holds a
// second or more of the ledger's against make bench's 2 s bound, and three
// 200 ms ticks at 2,000–2,500 votes/s already make transactions of
// 1,200–1,500 votes, within the ceiling's best range (~500–2,000 votes a
// transaction: DefaultConfig), at a third of the transactions and blocks a
// second. The rule lasts as long as the lag: once the ledger catches up the
// lanes cut on every tick again.
//
// The votes a tick brings are the recent mean of the votes the lanes read
// per tick, not what they hold at the tick: the lanes' reads just before a
// tick may not all have returned when it is decided. Every lane follows the
// same decision, so their batches still go together in one transaction.
type cadencePolicy struct {
	tick   time.Duration
	full   int           // votes of a full shared transaction
	behind time.Duration // a shared transaction in flight this long: the ledger is behind (<= 0: always taken as behind)
	lag    time.Duration // a shared transaction in flight this long: the ledger lags, skip ticks at any rate (<= 0: never)
	maxGap time.Duration // longest between ticks that cut
}

// cadenceState is what the cadence policy judges at a tick.
type cadenceState struct {
	since   int       // ticks since the last tick that cut (>= 1)
	perTick float64   // votes the lanes read per tick, recently
	flying  time.Time // when the oldest shared transaction in flight was sent (zero: none)
}

// cuts reports whether the lanes cut on the tick at t.
func (p cadencePolicy) cuts(t time.Time, s cadenceState) bool {
	since := max(s.since, 1)
	inFlight := func(d time.Duration) bool { return !s.flying.IsZero() && t.Sub(s.flying) >= d }
	switch {
	case p.behind > 0 && !inFlight(p.behind):
		return true // the ledger keeps up
	case s.perTick*float64(since+1) > float64(p.full):
		return true // one more tick would take it past full
	case s.perTick < float64(p.full)/4 && !(p.lag > 0 && inFlight(p.lag)):
		return true // low rate, the ledger not lagging: latency first
	}
	return time.Duration(since)*p.tick >= p.maxGap
}

// meanWeight is the weight of the latest tick's votes in the recent mean
// of the votes read per tick (an exponential moving average).
const meanWeight = 0.25

// nextTick is the first multiple of tick (since the Unix epoch) after t.
func nextTick(t time.Time, tick time.Duration) time.Time {
	return t.Truncate(tick).Add(tick)
}

// sharePolicy decides when the sharer sends the batches queued for a shared
// transaction while lanes cut on ticks (cutPolicy.tick): a lane announces
// each batch it cuts before journaling it, so the sharer sends once every
// batch announced has been queued (the tick's batches together), once the
// first queued has lingered (a lane slow to journal), or once a full
// transaction's worth is queued, with at most depth shared transactions in
// flight. It does not send on a commit: that would split a tick's batches
// over two transactions.
type sharePolicy struct {
	fill   int           // votes that go at once (a full transaction)
	depth  int           // most shared transactions in flight
	linger time.Duration // longest the first queued batch waits for the others announced
}

// decide reports whether to send now, given the votes queued, when the
// first queued batch was queued, the batches announced and not yet queued,
// and the shared transactions in flight. When not, wake is the time to
// decide again (zero: only when a batch is queued or a transaction
// finishes).
func (p sharePolicy) decide(now time.Time, votes int, first time.Time, announced, inflight int) (send bool, wake time.Time) {
	if votes == 0 || inflight >= p.depth {
		return false, time.Time{}
	}
	due := first.Add(p.linger)
	if votes >= p.fill || announced <= 0 || !now.Before(due) {
		return true, time.Time{}
	}
	return false, due
}

// nextRead is when a lane that cuts on ticks reads its stream again after
// a read at now that returned got of the asked votes (zero: at once). A
// read that emptied the stream (got < asked) is followed by the next one a
// tenth of a tick before the next tick, so a lane reads about once per tick
// at any rate below a backlog rather than once per few votes the gateway
// enqueues (each read a Redis call and a wake-up of the lane): a vote
// waits for the tick anyway, and the reads' lead shifts its wait in the
// lane by a tenth of a tick, from [0, tick) to [tick/10, tick+tick/10). A
// full read (a backlog) and lanes without ticks read again at once.
func (p cutPolicy) nextRead(now time.Time, got, asked int) time.Time {
	if p.tick <= 0 || p.eager || got >= asked {
		return time.Time{}
	}
	at := nextTick(now, p.tick).Add(-p.tick / 10)
	if !at.After(now) {
		at = at.Add(p.tick)
	}
	return at
}

// readTime is when votes a lane asked for at asked (paced: at the instant
// nextRead set) and received at now count as read, for the tick they are
// cut on: a paced read answered before a tenth of a tick after the tick it
// was meant for counts as read when asked, so a read that the loaded
// machine delays past the tick is cut at once rather than a tick later. A
// read that blocked longer (no votes were waiting) counts at now.
func (p cutPolicy) readTime(asked, now time.Time, paced bool) time.Time {
	if paced && p.tick > 0 && now.Before(nextTick(asked, p.tick).Add(p.tick/10)) {
		return asked
	}
	return now
}

// room is how many more votes a lane may read: it stops at a full batch, so
// under backlog the queue, not the batcher's memory, holds the votes.
func (p cutPolicy) room(pending int) int { return max(0, p.maxVotes-pending) }

// recoveryPolicy decides when a submitted transaction will never commit (an
// orderer accepted it and died before cutting its block, or a peer's
// gateway lost it), so the batch is submitted again under the same id. It
// judges by evidence that ordering has moved past the transaction: blocks
// committed since, holding a transaction of this process accepted after it
// (orderers order what they accept first first). Blocks alone are no
// evidence: under backlog the orderers may hold many transactions accepted
// before it, cut a few per block. Without such evidence only a stall counts:
// no transaction of this process committed for a time bound after the
// transaction's acceptance or the last commit since (a commit of a
// transaction accepted before it shows the queue ahead of it moving; a slow
// drain keeps committing, a dead orderer does not). Where every orderer
// holds every transaction (SmartBFT), a dead orderer loses none: a stall
// shorter than the followers' time to replace it is no evidence at all, and
// a batch submitted again then only doubles the work after the failover
// (its duplicate is ordered behind the original and fails MVCC).
//
// Nor is acceptance order ordering order under SmartBFT: the peer's gateway
// returns once a quorum of orderers accepted a transaction, and a leader
// that got it late, or only through a follower's forward
// (network.BFTRequestForwardTimeout, 1 s), orders transactions accepted up
// to that much later first. So there being overtaken counts only by a
// transaction accepted settle plus the forward timeout later
// (newRecoveryPolicy): 1.5 s. Since no dead orderer loses a transaction
// there, a true loss is rare and finding it a second later costs little;
// a false one costs a duplicate transaction whenever the original is not
// yet in a block.
//
// The verdict is the policy's; it is acted on only once the ledger confirms
// it (Batcher.attempt): a transaction a block already holds is not lost,
// only its commit status is late (the peer's gateway may answer it after a
// later transaction's), and it is waited for, no longer judged by this
// policy.
type recoveryPolicy struct {
	blocks int           // blocks committed since acceptance without the transaction
	settle time.Duration // ... and at least this long since acceptance, and a commit accepted this much later
	floor  time.Duration // the time bound is never below this (nor below ordering's failover: Config.Failover)
	limit  time.Duration // nor above this (the configured commit timeout)
}

// newRecoveryPolicy is the recovery policy of a process configured cfg
// (its defaults applied): a transaction overtaken in 3 blocks by one
// accepted 0.5 s later (1.5 s under SmartBFT: cfg.Failover > 0), a stall
// bound from 2 s (or the failover) to the commit timeout.
func newRecoveryPolicy(cfg Config) recoveryPolicy {
	settle := 500 * time.Millisecond
	if cfg.Failover > 0 {
		settle += network.BFTRequestForwardTimeout
	}
	return recoveryPolicy{blocks: 3, settle: settle, floor: max(2*time.Second, cfg.Failover), limit: cfg.CommitTimeout}
}

// txWait is what the recovery policy judges of a transaction not yet committed.
type txWait struct {
	elapsed   time.Duration // since its acceptance by ordering
	stalled   time.Duration // since its acceptance or the process's last commit after it, whichever is later
	blocks    uint64        // blocks committed since its acceptance
	overtaken time.Duration // how much later than it the last transaction of the process to commit was accepted (<= 0: none later)
	// stalled and overtaken count only the commits whose status the
	// transaction's own gateway answered (gatewayOf): another peer's
	// gateway may report blocks seconds before this one's peer commits them.
}

// latencyStats summarises recent acceptance-to-commit times.
type latencyStats struct {
	typical time.Duration // median
	worst   time.Duration // maximum
}

// Without measurements yet: what a one-machine network shows at rest.
var defaultLatency = latencyStats{typical: 500 * time.Millisecond, worst: 2 * time.Second}

// lost reports whether a transaction will never commit; losses is how many
// times in a row its batch was already found lost. It is lost when the
// process's commits stalled for the bound, or when blocks committed since
// it hold a transaction accepted at least settle after it and settle and
// twice the typical latency have passed (the peer's block stream can trail
// the orderer by a block or two, and acceptance times are taken by the
// client). A false verdict costs one no-op transaction: the batch is
// committed once whatever happens.
func (p recoveryPolicy) lost(w txWait, lat latencyStats, losses int) bool {
	if w.stalled >= p.bound(lat, losses) {
		return true
	}
	return w.blocks >= uint64(p.blocks) && w.overtaken >= p.settle && w.elapsed >= max(p.settle, 2*lat.typical)
}

// bound is the longest stall of commits: four times the slowest recent
// commit, within [floor, limit], doubled for every loss in a row. When no
// block follows at all, ordering itself is stalled (a Raft election, a
// SmartBFT view change) and a transaction an orderer still holds may yet be
// ordered: resubmitting again and again would only queue duplicates.
func (p recoveryPolicy) bound(lat latencyStats, losses int) time.Duration {
	d := max(4*lat.worst, p.floor)
	for range losses {
		if d >= p.limit {
			break
		}
		d *= 2
	}
	return min(d, p.limit)
}

// latencyWindow keeps the last few acceptance-to-commit times.
type latencyWindow struct {
	samples []time.Duration
	next    int
}

const latencySamples = 64

func (w *latencyWindow) add(d time.Duration) {
	if len(w.samples) < latencySamples {
		w.samples = append(w.samples, d)
		return
	}
	w.samples[w.next] = d
	w.next = (w.next + 1) % latencySamples
}

func (w *latencyWindow) stats() latencyStats {
	if len(w.samples) == 0 {
		return defaultLatency
	}
	s := slices.Clone(w.samples)
	slices.Sort(s)
	return latencyStats{typical: s[len(s)/2], worst: s[len(s)-1]}
}

// backoff is the delay before retry attempt n (1-based): doubling from base,
// capped at limit.
func backoff(n int, base, limit time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}
