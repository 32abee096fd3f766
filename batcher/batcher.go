// Package batcher moves accepted votes from the per-partition Redis streams
// onto the ledger in Merkle-rooted batches and acknowledges a vote only after
// its batch is committed VALID.
//
// Each partition (state) has one lane, owned by one batcher process at a time
// through a fenced Redis lease; lanes spread evenly over the live processes
// and move to a survivor when their owner dies. The processes sharing a
// Redis must serve the same partitions: each publishes its list with its
// liveness (registryKey), and Run refuses to join live ones serving another.
//
// A lane batches by group commit (see cutPolicy): batches grow while its
// transactions are in flight, so they are small at low load and large (up
// to BatchSize) under backlog, with at most Depth batches in flight per lane
// (lanes that cut on ticks: Depth full batches' votes) and MaxInflight
// transactions per process. Each batch is journaled in
// Redis before it is submitted: its number, root and stream ids, its votes
// staying in the stream until it is settled. The batches the process's lanes cut share
// transactions (group commit across lanes, see sharer): one transaction
// carries the batches of several states (CommitBatches), each still
// journaled, acknowledged and fenced by its own lane, so the ledger's
// per-transaction cost is paid once for many small batches at low load. A
// lane that shares cuts a batch below Fill votes on the clock's multiples
// of Tick, the same instants for every lane, and the sharer sends each
// tick's batches in one transaction (such a lane reads its stream about
// once per tick, just before it: cutPolicy.nextRead), and while the
// ledger is behind the lanes skip ticks together so that the shared
// transaction grows (cadencePolicy); without sharing (or with a negative
// Tick) a lane cuts at once with nothing in flight and otherwise when a
// transaction of its own commits. A retry goes alone. A transaction that
// will never commit (its orderer died) is recognised from blocks committed after it that hold a
// transaction accepted later, or from this process's commits stalling for a
// bound set by the recent commit latencies (see recoveryPolicy), and,
// unless the ledger shows it in a block after all (then only its commit
// status is late: Batcher.attempt), is submitted again under the same batch
// id; the chaincode treats a committed id as a no-op. After a crash the next owner resubmits journaled batches
// the same way, then reads the stream from its start: Ack deletes the
// entries it settles, so the stream holds every vote read but never
// journaled (lanes read with XREAD, which leaves no trace in Redis).
//
// Each lane publishes its lag, the age of its oldest vote not yet committed,
// as a metric and in Redis (votequeue.LagKey) for the gateway's queue-age
// metric.
package batcher

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
)

// Config tunes the batcher. Zero values take the defaults of DefaultConfig.
type Config struct {
	Partitions []string      // partitions to serve (the election's states)
	BatchSize  int           // most votes in one batch
	Fill       int           // votes worth one more transaction beside a lane's in flight (0: BatchSize/4)
	MaxWait    time.Duration // longest a vote waits behind its lane's transactions in flight
	Depth      int           // batches in flight per lane (with Tick: votes of Depth full batches)
	// ShareVotes bounds the votes of a transaction shared by several lanes'
	// batches (0: two and a half batches' worth, 5×BatchSize/2 within the
	// chaincode's limit; negative: lanes never share transactions).
	ShareVotes int
	// Tick: when lanes share transactions, a lane's batch below Fill votes
	// is cut on the clock's multiples of Tick, so all lanes' small batches
	// share one transaction per tick (0: the default; negative: lanes cut
	// when their transactions commit, as without sharing).
	Tick time.Duration
	// MaxGap: lanes that cut on ticks skip ticks above a quarter of
	// ShareVotes votes a tick, or while the ledger lags (LedgerLag), so that
	// their shared transaction grows towards ShareVotes votes, but never
	// cut further apart than this (0: the default; negative: they cut on
	// every tick). See cadencePolicy.
	MaxGap time.Duration
	// Behind: with a positive duration, lanes skip ticks only while a
	// shared transaction has been in flight this long (the ledger is
	// behind); 0: the default, negative: whenever the rate (or LedgerLag)
	// allows.
	Behind time.Duration
	// LedgerLag: while a shared transaction has been in flight this long (the
	// ledger lags), lanes skip ticks at any rate, not only above a quarter
	// of ShareVotes votes a tick, still within MaxGap (0: the default, 1 s;
	// negative: never).
	LedgerLag     time.Duration
	MaxInflight   int           // transactions in flight per process, over all lanes
	CommitTimeout time.Duration // the longest wait for one transaction's commit
	// Failover is how long ordering may stall replacing a failed orderer
	// while every transaction it accepted can still be ordered
	// (network.Consensus.Failover; 0 under Raft): a stall of commits shorter
	// than this never makes a transaction count as lost, since submitting it
	// again would only queue a duplicate behind the original; > 0 also
	// means every orderer holds every transaction (SmartBFT), so being
	// overtaken is evidence only by a wider margin (recoveryPolicy).
	Failover    time.Duration
	LeaseTTL    time.Duration // a dead process's lanes move after this long
	LagInterval time.Duration // how often lanes publish their lag
	// DrainTimeout bounds a graceful stop: until then the batches in flight
	// when Run's context ended are committed, their failures retried as
	// before; the transactions still in flight that long after are given up
	// on, their batches left in the journal for the lanes' next owner (which
	// finds them on the ledger or submits them again), counted, and Run
	// returns, logging the stop at warn. Default 15 s, under the 20 s a
	// supervisor such as `make down` waits before SIGKILL.
	DrainTimeout time.Duration
	// Replicas is how many replicas must acknowledge a batch's journal entry
	// (WAIT) before it is submitted; 0 (a single server): none. On a Redis
	// Cluster 1: a journal entry (and the batch sequence number before it)
	// lost with a failed master would let its sequence number be reused.
	Replicas       int
	ReplicaTimeout time.Duration // longest wait for the replicas (default 1 s)
	Owner          string        // this process's name in leases
	Clock          Clock         // nil: the system clock
	// Election is the ID of the election served, as read at start: the cast
	// wait judges votes by no election record of another ID (castRules).
	// Empty: by any.
	Election string

	// observe, when set (by this package's tests), is told of each decision
	// to wait rather than act and of the return of each call that may wait,
	// whether it waited or not (waitPoint). It
	// is called concurrently from many goroutines (lanes, commit attempts,
	// cast and slot waits), with no lock of the batcher held, after the
	// waiter has set any timer for its wake-up and just before it blocks.
	// It must return promptly: meanwhile the waiter waits on nothing, and
	// a lane stalls (its cuts, and its reader, which hands reads over to
	// it). A waitPoint's events may hold nil channels, which never close.
	observe func(waitPoint)
}

// DefaultConfig returns the defaults, which follow the ledger ceiling measured on Fabric 3.1.1 (best at
// ~500–2,000 votes per transaction with ~16 transactions in flight): batches
// of up to 1,000 votes, a further batch for a lane from 250 votes, 16
// transactions in flight per process; below 250 votes the lanes cut every
// 200 ms, together (chosen when it was the orderers' BatchTimeout, now
// 100 ms: network.BatchTimeout; BenchmarkDrainCost at
// 1,000 votes/s against lanes that waited for their transactions to commit:
// ~5 shared transactions a second, 0.96x the ledger CPU per vote; ticks of
// 150 ms cost 1.09x and 100 ms ~1.12x). Shared transactions of up to two
// full batches (ShareVotes 2,000) instead of one took 6,250 votes/s to one
// transaction per tick instead of two (BenchmarkDrainCost: 0.90–0.95x the
// ledger CPU per vote of 1,000), and under backlog to the ceiling's 2,000
// votes per transaction.
// The ledger's extra CPU per vote at sustained rates follows its blocks per
// second more than its votes per transaction: ticks of 400 ms at 6,250
// votes/s cut blocks from ~4 to ~2.9 a second and the ledger CPU per vote to
// 0.90–0.91x of 200 ms ticks, but 202→commit p95 was 722/1,021 against
// 737/576 ms (same runs), so the tick stays at 200 ms, and lanes skip ticks
// (cadencePolicy) only above a quarter of ShareVotes a tick (3,125 votes/s),
// at most MaxGap 600 ms apart: at 5,000 votes/s, BenchmarkDrainCost's paced
// runs (loaded machine, 2026-12-01, 3 alternating rounds) took ~2.55 blocks
// a second instead of 2.9–3.7 and 0.92x the ledger CPU per vote (medians),
// with 202→commit p95 1,044 against 1,181 ms; skipping only while a shared
// transaction had been in flight a tick (Behind 200 ms) saved less (0.95x,
// 1,190–1,389 votes a transaction against 1,562–1,786), so Behind is off by
// default. Below a quarter of ShareVotes a tick the lanes skip ticks only
// while the ledger lags, a shared transaction in flight for LedgerLag (1 s, where
// the referendum's 202→commit is ~0.4 s p50), within the same MaxGap: in
// make bench run 38, before this rule, they cut every tick at 2,000–2,500
// votes/s (a tick's 400–500 votes a transaction, 44–55 a lane's batch)
// while 202→commit grew to 4.1–5.4 s p50 (see cadencePolicy).
// A shared transaction holds up to two and a half full batches
// (ShareVotes 2,500), so that two ticks' votes at 5,000 votes/s (~2,000)
// go in one transaction without a split, while a backlog's full batches
// still go two to a transaction. Two ticks' votes in one transaction at
// 7,000 votes/s (ShareVotes 3,000 or 4,000) measured 1.01x the ledger CPU per
// vote (median of nine alternating pairs) with a worse 202→commit: see
// docs/architecture.md.
func DefaultConfig() Config {
	return Config{
		BatchSize: 1000, MaxWait: time.Second, Depth: 8, MaxInflight: 16, Tick: 200 * time.Millisecond, MaxGap: 600 * time.Millisecond, Behind: -1, LedgerLag: time.Second,
		CommitTimeout: 60 * time.Second, LeaseTTL: 5 * time.Second, LagInterval: 250 * time.Millisecond,
		ReplicaTimeout: time.Second, DrainTimeout: 15 * time.Second,
	}
}

func (c *Config) applyDefaults() error {
	d := DefaultConfig()
	c.BatchSize = cmp.Or(max(c.BatchSize, 0), d.BatchSize)
	c.Fill = cmp.Or(max(c.Fill, 0), max(c.BatchSize/4, 1))
	c.MaxWait = cmp.Or(max(c.MaxWait, 0), d.MaxWait)
	if c.ShareVotes == 0 {
		c.ShareVotes = min(5*c.BatchSize/2, ballot.MaxBatchVotes)
	}
	if c.Tick == 0 {
		c.Tick = d.Tick
	}
	if c.ShareVotes < 0 {
		c.Tick = -1
	}
	if c.MaxGap == 0 {
		c.MaxGap = d.MaxGap
	}
	if c.Behind == 0 {
		c.Behind = d.Behind
	}
	if c.LedgerLag == 0 {
		c.LedgerLag = d.LedgerLag
	}
	c.Depth = cmp.Or(max(c.Depth, 0), d.Depth)
	c.MaxInflight = cmp.Or(max(c.MaxInflight, 0), d.MaxInflight)
	c.CommitTimeout = cmp.Or(max(c.CommitTimeout, 0), d.CommitTimeout)
	c.LeaseTTL = cmp.Or(max(c.LeaseTTL, 0), d.LeaseTTL)
	c.LagInterval = cmp.Or(max(c.LagInterval, 0), d.LagInterval)
	c.ReplicaTimeout = cmp.Or(max(c.ReplicaTimeout, 0), d.ReplicaTimeout)
	c.DrainTimeout = cmp.Or(max(c.DrainTimeout, 0), d.DrainTimeout)
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Owner == "" {
		host, _ := os.Hostname()
		c.Owner = fmt.Sprintf("%s-%d-%08x", host, os.Getpid(), rand.Uint32())
	}
	if len(c.Partitions) == 0 {
		return errors.New("batcher: no partitions to serve")
	}
	if c.BatchSize > ballot.MaxBatchVotes {
		return fmt.Errorf("batcher: batch size %d above the chaincode's limit of %d", c.BatchSize, ballot.MaxBatchVotes)
	}
	if c.ShareVotes > ballot.MaxBatchVotes {
		return fmt.Errorf("batcher: share votes %d above the chaincode's limit of %d", c.ShareVotes, ballot.MaxBatchVotes)
	}
	if c.Fill > c.BatchSize {
		return fmt.Errorf("batcher: fill %d above the batch size %d", c.Fill, c.BatchSize)
	}
	if c.CommitTimeout <= c.Failover {
		return fmt.Errorf("batcher: commit timeout %v not above the ordering failover %v: a commit wait would end, and its batch be submitted again, while ordering may still be replacing a failed orderer", c.CommitTimeout, c.Failover)
	}
	return nil
}

// Batcher runs the lanes this process owns.
type Batcher struct {
	cfg      Config
	rdb      redis.UniversalClient
	ledger   Ledger
	log      *slog.Logger
	metrics  *metrics
	owner    string
	member   string // this process in the registry: registryMember
	clock    Clock
	cut      cutPolicy
	share    *sharer  // nil: lanes never share transactions
	cadence  *cadence // nil: lanes that cut on ticks cut on every tick
	recovery recoveryPolicy
	inflight *slots       // process-wide in-flight slots (slotCost each batch)
	slotVote bool         // a batch takes a slot per vote, not one (lanes cut on ticks)
	height   *chainHeight // the ledger's committed blocks, for lost transactions
	progress *progress    // this process's commits, for lost transactions
	lookups  lookups      // the ledger look-ups confirming lost verdicts
	// castRules is the election record the cast wait judges votes by
	// (awaitCastAt), read from ledger if it offers it (ElectionSource).
	castRules castRules

	// commits is the context of the lanes' commits: it outlives Run's so
	// that a graceful stop drains what is in flight, and ends DrainTimeout
	// into the drain (cause errDrainTimeUp); draining is set once the drain
	// has begun, and abandoned counts the batches a lane left uncommitted
	// (in the journal) since. Before Run it is context.Background.
	commits   context.Context
	draining  atomic.Bool
	abandoned atomic.Int64

	// otherLists names the live batchers last seen serving other
	// partition lists (Run's goroutine only).
	otherLists string

	mu        sync.Mutex
	lanes     map[string]*ownedLane
	latencies latencyWindow
}

// errDrainTimeUp ends the commits still in flight DrainTimeout into a
// graceful stop.
var errDrainTimeUp = errors.New("drain time up")

type ownedLane struct {
	lane   *lane
	lease  string
	cancel context.CancelFunc // stops the lane and its batches' retries
	done   chan struct{}
}

// New prepares a batcher; Run starts it.
func New(cfg Config, rdb redis.UniversalClient, ledger Ledger, log *slog.Logger, reg prometheus.Registerer) (*Batcher, error) {
	if err := cfg.applyDefaults(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Batcher{
		cfg: cfg, rdb: rdb, ledger: ledger, log: log.With("batcher", cfg.Owner), metrics: newMetrics(reg),
		owner: cfg.Owner, member: registryMember(cfg.Owner, cfg.Partitions), clock: cfg.Clock,
		cut:      cutPolicy{maxVotes: cfg.BatchSize, fill: cfg.Fill, depth: cfg.Depth, maxWait: cfg.MaxWait},
		recovery: newRecoveryPolicy(cfg),
		inflight: newSlots(cfg.MaxInflight, cfg.observe), height: newChainHeight(), progress: newProgress(), lanes: map[string]*ownedLane{},
		commits: context.Background(),
	}
	b.castRules.clock, b.castRules.log, b.castRules.election, b.castRules.observe = b.clock, b.log, cfg.Election, cfg.observe
	if src, ok := ledger.(ElectionSource); ok {
		b.castRules.src = src
	}
	if cfg.ShareVotes > 0 {
		b.share = &sharer{b: b, policy: cutPolicy{maxVotes: cfg.ShareVotes, fill: min(cfg.Fill, cfg.ShareVotes), depth: cfg.MaxInflight, maxWait: cfg.MaxWait}}
		if cfg.Tick > 0 {
			// Lanes cut on ticks; the sharer bounds the transactions in
			// flight, and the batches beyond wait for one built and
			// journaled (up to Depth full batches' votes per lane,
			// 4×MaxInflight in all), so a freed transaction slot is filled
			// at once. The bounds count votes, not batches: a lane keeps
			// cutting its small batch on every tick however long its
			// transactions take to commit (1/Tick batches per second of
			// commit latency), and only a backlog's full batches meet them.
			b.cut.tick = cfg.Tick
			b.cut.depth = cfg.Depth * cfg.BatchSize
			b.share.ticked = &sharePolicy{fill: cfg.ShareVotes, depth: cfg.MaxInflight, linger: cfg.Tick / 4}
			b.inflight = newSlots(max(cfg.MaxInflight, min(len(cfg.Partitions)*cfg.Depth, 4*cfg.MaxInflight))*cfg.BatchSize, cfg.observe)
			b.slotVote = true
			if cfg.MaxGap > cfg.Tick {
				b.cadence = &cadence{
					policy: cadencePolicy{tick: cfg.Tick, full: cfg.ShareVotes, behind: cfg.Behind, lag: cfg.LedgerLag, maxGap: cfg.MaxGap},
					flying: b.share.oldestSent,
				}
			}
		}
	}
	return b, nil
}

// slotCost is what a batch of n votes takes of the in-flight bounds (the
// process's slots and its lane's depth): n when lanes cut on ticks, else 1.
func (b *Batcher) slotCost(n int) int {
	if b.slotVote {
		return n
	}
	return 1
}

// Owner is this process's name in leases.
func (b *Batcher) Owner() string { return b.owner }

// Lanes lists the partitions whose lanes this process holds.
func (b *Batcher) Lanes() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.lanes))
	for p := range b.lanes {
		out = append(out, p)
	}
	return out
}

// Run joins the live batchers sharing its Redis, balances lanes until ctx
// ends, then drains: lanes stop reading, batches in flight commit and are
// acknowledged, and leases are released. It refuses to start, with an
// ErrPartitionsDiffer naming the lists, while a live batcher serves another
// partition list (Config.Partitions); one that appears later (e.g. started
// while Redis had lost the registry) is logged as an error and counted in
// batcher_partition_lists_differing, and the lanes carry on.
func (b *Batcher) Run(ctx context.Context) error {
	if joined, err := b.join(ctx); !joined {
		return err
	}
	// Lease bookkeeping outlives ctx: leases are renewed while lanes drain.
	bg := context.WithoutCancel(ctx)
	lanesCtx, stopLanes := context.WithCancel(bg)
	defer stopLanes()
	// Leases expire on Redis's clock, so their upkeep runs on real time.
	tick := time.NewTicker(max(b.cfg.LeaseTTL/4, time.Millisecond))
	defer tick.Stop()
	// Blocks are followed until the last batch in flight has committed.
	watchCtx, stopWatching := context.WithCancel(bg)
	defer stopWatching()
	go b.followBlocks(watchCtx)
	go b.reportLag(lanesCtx)
	commits, cutDrain := context.WithCancelCause(bg)
	defer cutDrain(nil)
	b.commits = commits
	b.log.Info("batcher started", "partitions", len(b.cfg.Partitions), "batch_size", b.cfg.BatchSize,
		"fill", b.cfg.Fill, "max_wait", b.cfg.MaxWait.String(), "depth", b.cfg.Depth, "max_inflight", b.cfg.MaxInflight, "share_votes", b.cfg.ShareVotes, "tick", b.cfg.Tick.String(),
		"max_gap", b.cfg.MaxGap.String(), "behind", b.cfg.Behind.String(), "ledger_lag", b.cfg.LedgerLag.String(), "failover", b.cfg.Failover.String())
	var drainFrom time.Time
	for {
		draining := ctx.Err() != nil
		if draining && drainFrom.IsZero() {
			drainFrom = time.Now()
			b.log.Info("draining: lanes stop reading, their batches in flight commit, then leases are released", "lanes", len(b.Lanes()), "drain_timeout", b.cfg.DrainTimeout.String())
			stopLanes()
			b.draining.Store(true)
			time.AfterFunc(b.cfg.DrainTimeout, func() { cutDrain(errDrainTimeUp) })
		}
		b.balance(bg, lanesCtx, draining)
		if draining && len(b.Lanes()) == 0 {
			err := leaveRegistry(bg, b.rdb, b.member)
			drained := time.Since(drainFrom).Round(time.Millisecond).String()
			if n := b.abandoned.Load(); n > 0 {
				b.log.Warn("batcher stopped before its transactions in flight committed: their batches are left in the journal for the lanes' next owner", "drained_in", drained, "batches_left", n)
				return err
			}
			b.log.Info("batcher stopped", "drained_in", drained)
			return err
		}
		<-tick.C
	}
}

// join registers this process among the live batchers, retrying a failing
// Redis every quarter lease TTL; false if ctx ended first (nil error) or a
// live batcher serves another partition list (ErrPartitionsDiffer).
func (b *Batcher) join(ctx context.Context) (bool, error) {
	for {
		live, others, err := heartbeat(ctx, b.rdb, b.member, b.clock.Now(), b.cfg.LeaseTTL, true)
		switch {
		case err == nil && live > 0:
			return true, nil
		case err == nil:
			return false, fmt.Errorf("%w: %s", ErrPartitionsDiffer, differingLists(b.cfg.Partitions, others))
		}
		b.log.Warn("cannot join the live batchers yet", "err", err)
		b.metrics.retries.WithLabelValues("redis").Inc()
		select {
		case <-ctx.Done():
			return false, nil
		case <-time.After(max(b.cfg.LeaseTTL/4, time.Millisecond)):
		}
	}
}

// noteOtherLists reports the live batchers serving other partition lists
// than this one's: their number as batcher_partition_lists_differing, and
// an error logged when they change (info when none is left).
func (b *Batcher) noteOtherLists(others []peerList) {
	b.metrics.otherLists.Set(float64(len(others)))
	var names []string
	for _, o := range others {
		names = append(names, o.owner)
	}
	slices.Sort(names)
	seen := strings.Join(names, ",")
	if seen == b.otherLists {
		return
	}
	b.otherLists = seen
	if len(others) == 0 {
		b.log.Info("the live batchers' partition lists agree again")
		return
	}
	b.log.Error("live batchers serve other partition lists: lanes may go unserved", "err", differingLists(b.cfg.Partitions, others))
}

// balance renews held leases, stops lanes whose lease was lost, and takes or
// gives up lanes to reach this process's fair share.
func (b *Batcher) balance(ctx, lanesCtx context.Context, draining bool) {
	live, others, err := heartbeat(ctx, b.rdb, b.member, b.clock.Now(), b.cfg.LeaseTTL, false)
	if err != nil {
		b.log.Warn("heartbeat failed", "err", err)
		b.metrics.retries.WithLabelValues("redis").Inc()
	} else {
		b.noteOtherLists(others)
	}
	share := fairShare(len(b.cfg.Partitions), live)

	b.mu.Lock()
	defer b.mu.Unlock()
	for p, ol := range b.lanes {
		select {
		case <-ol.done:
			delete(b.lanes, p)
			if err := releaseLease(ctx, b.rdb, p, ol.lease); err != nil {
				b.log.Warn("release lease", "partition", p, "err", err)
			}
			continue
		default:
		}
		ok, err := renewLease(ctx, b.rdb, p, ol.lease, b.cfg.LeaseTTL)
		if err == nil && !ok {
			ol.lane.fence(errFenced) // logs and counts the loss, once
			ol.cancel()
		}
	}
	b.metrics.lanes.Set(float64(len(b.lanes)))
	if draining || err != nil {
		return
	}
	if len(b.lanes) > share {
		for p, ol := range b.lanes { // give one lane back per round; it drains first
			b.log.Info("handing lane over", "partition", p, "share", share, "live", live)
			ol.cancel()
			break
		}
		return
	}
	for _, i := range rand.Perm(len(b.cfg.Partitions)) {
		if len(b.lanes) >= share {
			return
		}
		p := b.cfg.Partitions[i]
		if _, held := b.lanes[p]; held {
			continue
		}
		lease, ok, err := acquireLease(ctx, b.rdb, p, b.owner, b.cfg.LeaseTTL)
		if err != nil || !ok {
			continue
		}
		b.startLane(lanesCtx, p, lease)
	}
}

// startLane runs a lane for p until its context ends or it fails. The
// retries of its batches in flight end with ol.cancel (the lane handed over,
// its lease lost) or the drain's time up (b.commits), not with ctx.
func (b *Batcher) startLane(ctx context.Context, p, lease string) {
	laneCtx, stopReading := context.WithCancel(ctx)
	batches, stopBatches := context.WithCancel(b.commits)
	cancel := func() { stopReading(); stopBatches() }
	ol := &ownedLane{lane: b.newLane(p, lease, batches), lease: lease, cancel: cancel, done: make(chan struct{})}
	b.lanes[p] = ol
	b.log.Info("lane acquired", "partition", p, "lease", lease)
	go func() {
		defer close(ol.done)
		defer cancel()
		if err := ol.lane.run(laneCtx); err != nil {
			b.log.Warn("lane stopped", "partition", p, "err", err)
		}
	}()
}
