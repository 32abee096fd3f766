// Package dedup accepts votes into the durable Redis queue exactly once per
// nullifier: "one lock, two checks".
//
// One atomic Lua script (script.lua) per call marks the nullifier voted on
// the partition's roll (its "0" turned into the vote's id: the eligibility
// check, the exact duplicate check and the claim in one step; see
// votequeue) and appends the vote to the partition's stream and intake log,
// and Redis (AOF, appendfsync always) has it on disk before the call
// returns. A nullifier already marked voted is a duplicate, answered from
// Redis alone, before or after its vote reached the ledger, and after any
// restart. The intake sets no Bloom bits: the roll's mark is the exact
// record, which bits set beside it only repeated. A partition has a Bloom
// filter only once Rebuild loaded the ledger's nullifiers into it (after a
// Redis lost its data); there, a nullifier still "0" on the roll that finds
// every bit set was maybe seen (its roll loaded again after the rebuild, or
// a false positive): the exact check asks the ledger whether the nullifier
// is used, and a second call accepts the vote or records the nullifier as
// voted and answers duplicate. Against setting the bits at intake (k
// positions as arguments and a BITFIELD a call; BenchmarkVoteLoopback/log-on,
// 10 states, old and new alternating three times, machine loaded: load
// average 15-19), per vote:
//
//	offered   Redis µs                          gateway µs
//	 5,000/s  26.3/29.3/26.5 -> 20.3/20.3/19.3  40.8/49.9/43.1 -> 42.4/43.1/44.3
//	10,000/s  24.7/24.7/24.2 -> 16.0/17.3/15.8  40.3/40.8/38.9 -> 37.9/39.5/37.8
//
// and the gateway's allocations 5.3-5.5 -> 4.3-4.5 KB a vote; the 202's
// latency did not change (p99 67-150 ms either way on that machine).
//
// A vote passes the script only what its accept path needs: its compact
// entry (votequeue.AppendLogEntry, which holds the raw vote id and
// nullifier the script takes out of it), its request id and its Bloom
// positions (one argument, read only where a filter exists); a refusal,
// rare, derives the review entry's fields from the entry. Answers come back flat, three values a vote. Against nine
// arguments a vote and a table per answer before (BenchmarkVoteLife, 10
// states, 20,000 votes, old and new alternating, machine loaded): Redis CPU
// at intake 51/50/51.5/45.5 -> 46/47/47/46.5 µs a vote with 8 callers
// (calls of a few votes), 22/20/20/20.5 -> 19/19.5/16.5/20 with 64; the
// script's own time (EVALSHA usec) 16.1/14.3 -> 13.5/13.3 µs a vote with
// 64. What remains of a small call's cost is mostly Redis's fsync per call
// (appendfsync always): half of redis-server's CPU in a perf profile with 8
// callers was the kernel's fdatasync and socket writes.
//
// Concurrent votes are coalesced into micro-batches (one script call for the
// votes waiting), so Redis does one round trip and one fsync for many votes
// under load and no extra latency when idle. On a single server one lane
// batches the votes of every partition (the call has a section per
// partition), so at a given rate a call carries as many votes
// as with one partition; on a Redis Cluster, whose calls stay in one slot,
// each partition has its own lane. Batches are group-committed: while a call
// of the lane is in flight, the next batch keeps growing until that call
// ends or it holds Config.GroupBatch votes, so under load batches grow
// rather than calls multiply (up to Config.Workers calls at once). A batch
// under Config.GroupBatch with no call in flight then lingers, up to
// Config.Linger (4 ms) from its first vote's arrival, but only while the
// recent pace of arrivals (a moving average of the gaps, and the latest
// gap) says another vote comes before that: never at idle, where a lone
// vote, or the first after a pause, goes at once. Small calls cost Redis
// mostly their fsync and socket writes, and the gateway a round trip and
// goroutine wake-ups each. Against group commit alone
// (BenchmarkVoteLoopback/log-off, 10 states, old and new alternating, two
// rounds, machine loaded: load average 3), per vote, old -> new:
//
//	offered   votes/call          Redis µs         gateway µs
//	 1,000/s  1.8/1.2 -> 2.5/2.2    98/120 -> 87/86  124/135 -> 127/125
//	 5,000/s  5.4/4.7 -> 11.5/11.9  40/44 -> 30/30   52/57 -> 49/47
//	10,000/s  18/13 -> 25/26        23/24 -> 21/22   35/37 -> 36/38
//
//	offered   202 p50 ms           202 p99 ms
//	 1,000/s  1.7/0.7 -> 2.7/2.3   16/16 -> 68/18
//	 5,000/s  1.6/1.3 -> 3.1/3.1   22/17 -> 19/23
//	10,000/s  4.5/3.3 -> 4.7/5.5   15/12 -> 19/25
//
// When the machine is overloaded (load average 10+), calls carry ~27 votes
// either way. A 4 ms linger against 2 ms (BenchmarkVoteLoopback/log-on, 10
// states, alternating, machine loaded: load average 4-6), per vote:
//
//	offered   votes/call         Redis µs                     gateway µs
//	 5,000/s  11/11/12 -> 19/19/20  22.3/22.3/23.5 -> 18.8/18.8/17.8  45.5/44.7/47.8 -> 44.6/42.9/42.3
//	10,000/s  23/23 -> 29/29        14.8/13.7 -> 13.3/13.2            33.3/32.0 -> 32.0/33.1
//
//	offered   202 p50 ms                202 p99 ms
//	 5,000/s  2.9/2.8/3.1 -> 4.2/4.1/4.2  21/26/52 -> 21/23/60
//	10,000/s  3.9/3.6 -> 4.6/3.7          22/17 -> 20/20
//
// and at 1,000/s (load average 7-16) 3.7/3.8 -> 5.1/3.8 votes a call, 202
// p50 3.5/4.2 -> 4.4/3.0 ms, p99 278/166 -> 120/49 ms: the load's noise.
// The 202 waits ~1.3 ms longer at the median where lingering pays; its tail
// is the machine's.
//
// On a Redis Cluster (Config.Replicas > 0) a call also waits for the
// replicas: the script and WAIT run on one connection to the master of the
// partition's slot, and the vote counts as accepted only once that many
// replicas acknowledged it, so a master's death and its replica's promotion
// lose no accepted vote. A call goes ahead only while the master has the
// replicas online; while it has not, or the slot has no reachable master
// (mid-failover), the call waits and tries again, up to
// Config.FailoverWait, as long as nothing can have been written. A call
// on a Cluster runs so (WAIT 0 with Config.Replicas 0) even without
// replicas: the master's own client sends the script once, where the
// cluster client would send it again after a dropped connection (the
// script, run twice, answers duplicate for the votes it accepted).
//
// Key names and the stream entry encoding are those of package votequeue.
package dedup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
)

// NullifierLedger answers the exact duplicate check: whether a nullifier is
// already recorded on the ledger for a state. The Fabric adapter implements it.
type NullifierLedger interface {
	NullifierUsed(ctx context.Context, state, nullifierHex string) (bool, error)
}

// ErrLedger wraps failures of the exact check against the ledger, so callers
// can tell them from Redis failures.
var ErrLedger = errors.New("ledger unavailable")

// ErrNotReplicated means the votes of a call could not be confirmed on
// Config.Replicas replicas: the master had fewer online, or stored the votes
// but fewer replicas acknowledged them within Config.ReplicaTimeout (they
// may survive a failover or not). They are not acknowledged as accepted (a
// re-sent vote then finds itself a duplicate if it was kept).
var ErrNotReplicated = votequeue.ErrNotReplicated

// ErrClosed means a vote was refused unstored: Accept was called after
// Close or Abort, or Abort came while the vote waited for its call.
var ErrClosed = errors.New("dedup: closed")

// ErrAborted means Abort came while the vote's Redis call ran: it may or
// may not be stored, and is not acknowledged (a re-sent vote then finds
// itself a duplicate if it was kept).
var ErrAborted = errors.New("dedup: aborted during the vote's call")

// ErrBusy means a vote found its lane's queue full (Workers batches of
// MaxBatch votes waiting for Redis) and no room in it within the longest
// intake call (CallTimeout on a single server without replicas, else one
// that waits out a failover: see Config.MaxAcceptTime): it was not stored.
var ErrBusy = errors.New("dedup: too many votes waiting for Redis")

// Outcome is what happened to an attempt.
type Outcome uint8

const (
	Accepted    Outcome = iota + 1 // stored in the queue, durably
	NotEligible                    // nullifier not on the partition's roll
	Duplicate                      // nullifier pending or on the ledger
)

func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case NotEligible:
		return "not_eligible"
	case Duplicate:
		return "duplicate"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Attempt is one vote to accept. Vote must be complete and valid (the caller
// sets ID and CastAt); RequestID only goes into review entries.
type Attempt struct {
	Vote      ballot.Vote
	RequestID string
}

// Result is the answer for one attempt.
type Result struct {
	Outcome  Outcome
	Attempts int64  // for Duplicate: duplicate attempts so far, this one included
	EntryID  string // for Accepted: the stream entry id
	// LogIndex is, for Accepted, the vote's index in its state's intake log
	// (votequeue.LogKey), or -1 when the log is off.
	LogIndex int64
	// BloomMaybe is true when the Bloom filter answered "maybe seen" and the
	// ledger was asked.
	BloomMaybe bool
}

// Config tunes a Deduper. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// ExpectedVoters and FalsePositiveRate size the Bloom filter of a
	// partition whose roll load did not size it (see Params).
	ExpectedVoters    uint64
	FalsePositiveRate float64
	// MaxBatch bounds the votes in one script call.
	MaxBatch int
	// Workers is the number of concurrent script calls per lane (one lane
	// for all partitions on a single server, one per partition on a Redis
	// Cluster).
	Workers int
	// GroupBatch is the size at which a batch starts its call while
	// another call of its partition is in flight or it lingers; a smaller
	// one waits for that call to end, gathering more votes meanwhile.
	GroupBatch int
	// Linger is the longest a batch waits for more votes, counted from its
	// first vote's arrival, once no call of its lane is in flight: only
	// while the recent arrivals say another vote will come within it
	// (under load), never at idle. Negative: no lingering.
	Linger time.Duration
	// ReviewMaxLen caps each review stream (approximately), so a flood of
	// refused attempts cannot fill Redis.
	ReviewMaxLen int64
	// CallTimeout bounds one Redis call.
	CallTimeout time.Duration
	// Replicas is how many replicas must acknowledge a call's writes
	// (WAIT) before its votes count as accepted; 0 (a single server): none.
	Replicas int
	// ReplicaTimeout bounds the wait for the replicas' acknowledgement.
	ReplicaTimeout time.Duration
	// FailoverWait bounds how long a call waits for its slot's master to be
	// reachable with its replicas online (a failover, a replica resyncing)
	// before it fails. Only on a Redis Cluster or with Replicas > 0.
	FailoverWait time.Duration
	// LedgerTimeout bounds the exact check's question to the ledger
	// (NullifierLedger) of a vote whose Bloom filter answered maybe seen;
	// past it the vote fails with ErrLedger.
	LedgerTimeout time.Duration
	// NoLog turns the intake log off: accepted votes are not appended to
	// their state's log (for measuring its cost; see votequeue.LogKey).
	NoLog bool
	// Logged, if set, is told of every vote appended to a log: its state,
	// index and leaf hash (ballot.Vote.Leaf; intakelog.Log.Observe), so the
	// log's follower need not read back what this process wrote. It must
	// not block.
	Logged func(state string, index int64, leaf [32]byte)
}

// DefaultConfig returns the values used for zero fields of Config.
func DefaultConfig() Config {
	return Config{
		ExpectedVoters:    1_000_000,
		FalsePositiveRate: 0.0001,
		MaxBatch:          256,
		Workers:           4,
		GroupBatch:        32,
		Linger:            4 * time.Millisecond,
		ReviewMaxLen:      1_000_000,
		CallTimeout:       2 * time.Second,
		ReplicaTimeout:    time.Second,
		FailoverWait:      10 * time.Second,
		LedgerTimeout:     5 * time.Second,
	}
}

// MaxAcceptTime is the longest a Deduper with settings c (zero fields at
// their defaults) takes over an Accept, over a Redis Cluster if cluster
// (its calls wait out failovers even with Replicas 0). One Redis intake
// call takes at most CallTimeout on a single server without replicas,
// else FailoverWait, failoverRetryPause, then a last try of CallTimeout +
// ReplicaTimeout (callBound). An Accept may fetch its state's shape
// (CallTimeout, once per state), wait for room in its lane's queue (a
// call, then ErrBusy), wait there (queuedWait: the calls in flight, those
// of the full batches queued ahead of it, Linger) for its own call, which
// ignores ctx once queued, and on a Bloom maybe-seen ask the ledger
// (LedgerTimeout) and make one more call: CallTimeout + Linger +
// LedgerTimeout + 5 calls, 72.504 s at the defaults over a Cluster or with
// replicas, 17.004 s on a single server without.
func (c Config) MaxAcceptTime(cluster bool) time.Duration {
	c = c.withDefaults()
	call := c.callBound(cluster)
	return c.CallTimeout + call + c.queuedWait(call) + c.LedgerTimeout + call
}

// callBound is the longest one intake call takes: CallTimeout on a single
// server without replicas, else the tries within FailoverWait and a last
// one of CallTimeout + ReplicaTimeout (runReplicated).
func (c Config) callBound(cluster bool) time.Duration {
	if cluster || c.Replicas > 0 {
		return c.FailoverWait + failoverRetryPause + c.CallTimeout + c.ReplicaTimeout
	}
	return c.CallTimeout
}

// queuedCalls is how many calls, each at most a call (callBound), a vote
// queued in its lane waits through, its own included. The calls in flight
// when it is queued end within one; the batches queued ahead of it, full
// (a batch that is not takes every vote queued while it gathers), start by
// then (the queue holds one batch per worker). If its own batch is under
// GroupBatch, it waits for those calls to end, a second call, then has its
// own: its wait can run through two calls before its own (not one: a
// worker gathering holds off every other batch, but not the calls started
// after the vote was queued; TestQueuedVoteWaitsTwoCalls).
const queuedCalls = 3

// queuedWait is the longest a vote waits in its lane once queued, to the
// end of its own call, with calls of at most call: queuedCalls calls and
// Linger.
func (c Config) queuedWait(call time.Duration) time.Duration {
	return max(c.Linger, 0) + queuedCalls*call
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.ExpectedVoters > 0 {
		d.ExpectedVoters = c.ExpectedVoters
	}
	if c.FalsePositiveRate > 0 {
		d.FalsePositiveRate = c.FalsePositiveRate
	}
	if c.MaxBatch > 0 {
		d.MaxBatch = c.MaxBatch
	}
	if c.Workers > 0 {
		d.Workers = c.Workers
	}
	if c.GroupBatch > 0 {
		d.GroupBatch = c.GroupBatch
	}
	if c.Linger != 0 {
		d.Linger = max(c.Linger, 0)
	}
	if c.ReviewMaxLen > 0 {
		d.ReviewMaxLen = c.ReviewMaxLen
	}
	if c.CallTimeout > 0 {
		d.CallTimeout = c.CallTimeout
	}
	d.Replicas = c.Replicas
	if c.ReplicaTimeout > 0 {
		d.ReplicaTimeout = c.ReplicaTimeout
	}
	if c.FailoverWait > 0 {
		d.FailoverWait = c.FailoverWait
	}
	if c.LedgerTimeout > 0 {
		d.LedgerTimeout = c.LedgerTimeout
	}
	d.NoLog, d.Logged = c.NoLog, c.Logged
	return d
}

// Deduper accepts votes. It is safe for concurrent use; Close stops its
// workers.
type Deduper struct {
	rdb    redis.UniversalClient
	ledger NullifierLedger
	cfg    Config
	log    *slog.Logger
	script *redis.Script

	// replicasOK maps a master's address to when it last had its replicas
	// online (Replicas > 0 only).
	replicasOK sync.Map

	mu     sync.Mutex // guards lanes and params
	lanes  map[string]*lane
	params map[string]shape

	// sendMu orders sends to lane queues before Close closes them.
	sendMu sync.RWMutex
	closed bool
	wg     sync.WaitGroup

	// stop ends with Abort: no call starts after it, and the Accepts
	// waiting for one return.
	stop  context.Context
	abort context.CancelFunc

	// roomWait bounds a vote's wait for room in a full lane queue: the
	// longest intake call over rdb (Config.callBound), so that a vote
	// rides out what a call does (a failover) before ErrBusy.
	roomWait time.Duration
}

// New returns a Deduper over rdb that asks ledger for exact checks.
func New(rdb redis.UniversalClient, ledger NullifierLedger, cfg Config, log *slog.Logger) *Deduper {
	stop, abort := context.WithCancel(context.Background())
	cfg = cfg.withDefaults()
	_, cluster := rdb.(*redis.ClusterClient)
	return &Deduper{
		roomWait: cfg.callBound(cluster),
		stop:     stop,
		abort:    abort,
		rdb:      rdb,
		ledger:   ledger,
		cfg:      cfg,
		log:      log,
		script:   redis.NewScript(scriptSource),
		lanes:    make(map[string]*lane),
		params:   make(map[string]shape),
	}
}

// Config returns the effective configuration.
func (d *Deduper) Config() Config { return d.cfg }

// MaxAcceptTime is the longest the Deduper takes over an Accept: its
// Config's MaxAcceptTime over its Redis (a Cluster or not).
func (d *Deduper) MaxAcceptTime() time.Duration {
	_, cluster := d.rdb.(*redis.ClusterClient)
	return d.cfg.MaxAcceptTime(cluster)
}

// Accept runs the whole protocol for one vote. A nil error with Outcome
// Accepted means the vote is on disk in Redis. Any error means it may or may
// not be stored and must not be acknowledged as accepted; ErrClosed and
// ErrBusy mean it was not stored.
func (d *Deduper) Accept(ctx context.Context, a Attempt) (Result, error) {
	if d.stop.Err() != nil {
		return Result{}, ErrClosed
	}
	partition := a.Vote.State
	if _, err := d.shape(ctx, partition); err != nil {
		return Result{}, err
	}
	l, err := d.lane(d.laneKey(partition))
	if err != nil {
		return Result{}, err
	}
	res, err := l.submit(ctx, a)
	if err != nil || !res.BloomMaybe {
		return res, err
	}
	return d.exactCheck(ctx, a)
}

// exactCheck accepts a, whose Bloom filter answered maybe seen though its
// voter is not recorded as voted, or records it as a duplicate, as the
// ledger answers (within LedgerTimeout) whether its nullifier is used.
// Abort cuts it at once: before its call with ErrClosed, during it with
// ErrAborted (even with the call's command on the wire, which go-redis no
// longer cuts for its context).
func (d *Deduper) exactCheck(ctx context.Context, a Attempt) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(d.stop, cancel)()
	partition := a.Vote.State
	asked, cancelAsk := context.WithTimeout(ctx, d.cfg.LedgerTimeout)
	used, err := d.ledger.NullifierUsed(asked, partition, a.Vote.Nullifier)
	cancelAsk()
	if err != nil {
		if d.stop.Err() != nil {
			return Result{}, fmt.Errorf("%w: exact check of %s cut: %w", ErrClosed, partition, err)
		}
		return Result{}, fmt.Errorf("dedup: exact check of %s: %w: %w", partition, ErrLedger, err)
	}
	mode := "force"
	if used {
		mode = "dup"
	}
	if d.stop.Err() != nil { // no call starts after Abort
		return Result{}, fmt.Errorf("%w: exact check of %s cut before its call", ErrClosed, partition)
	}
	out, err := untilStop(d.stop, ErrAborted, func() ([]Result, error) {
		return d.call(ctx, mode, []*pending{{attempt: a}})
	})
	if err != nil {
		return Result{}, d.cut(err)
	}
	out[0].BloomMaybe = true
	return out[0], nil
}

// untilStop returns f's results, run in a goroutine of its own, or aborted
// as soon as stop ends before f returns (f runs on, its results dropped):
// for a rare Redis call that Abort must cut although go-redis, once a
// command is sent, waits for its answer or its deadline whatever its
// context. An Accept's intake call is cut without a goroutine (submit).
func untilStop[T any](stop context.Context, aborted error, f func() (T, error)) (T, error) {
	type answer struct {
		v   T
		err error
	}
	done := make(chan answer, 1)
	go func() {
		v, err := f()
		done <- answer{v, err}
	}()
	select {
	case a := <-done:
		return a.v, a.err
	case <-stop.Done():
	}
	select {
	case a := <-done: // answered as Abort came
		return a.v, a.err
	default:
		var zero T
		return zero, aborted
	}
}

// cut is err, a call's failure, marked ErrAborted if Abort came.
func (d *Deduper) cut(err error) error {
	if d.stop.Err() != nil {
		return fmt.Errorf("%w: %w", ErrAborted, err)
	}
	return err
}

// Abort ends the Deduper's work for a stop that has waited for its
// Accepts in flight as long as it could (Config.MaxAcceptTime): every
// later Accept, and every one still waiting for its state's shape, for
// room in its lane or for the ledger's exact check, fails with ErrClosed
// (not stored); one whose vote is queued or in a call (its exact check's
// too) returns at once with ErrAborted (it may or may not be stored). No
// call starts after it: a batch gathered then is dropped; a call in flight
// ends by its own timeouts (a try within CallTimeout + ReplicaTimeout, with
// no further try). Close must still be called; it does not wait for a
// state's shape fetch or an exact check's call that Abort cut on the wire:
// such a call ends within CallTimeout + ReplicaTimeout; an exact check's
// vote may be stored though its Accept answered ErrAborted (a cut shape
// fetch's Accept answers ErrClosed: nothing stored).
func (d *Deduper) Abort() { d.abort() }

// Close stops the batching workers after the calls in flight. A state's
// shape fetch or an exact check's call that Abort cut on the wire is not
// waited for (it ends within CallTimeout + ReplicaTimeout; the exact
// check's vote may be stored, and its Accept answered ErrAborted, which
// says so).
func (d *Deduper) Close() {
	d.sendMu.Lock()
	if !d.closed {
		d.closed = true
		d.mu.Lock()
		for _, l := range d.lanes {
			close(l.queue)
		}
		d.mu.Unlock()
	}
	d.sendMu.Unlock()
	d.wg.Wait()
	d.abort() // releases the stop context
}
