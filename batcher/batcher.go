// Package batcher moves accepted votes from the per-partition Redis streams
// onto the ledger in Merkle-rooted batches and acknowledges a vote only after
// its batch is committed VALID.
//
// Each partition (state) has one lane, owned by one batcher process at a time
// through a fenced Redis lease; lanes spread evenly over the live processes
// and move to a survivor when their owner dies. A lane cuts a batch at
// BatchSize votes or BatchTimeout, journals it in Redis, and keeps up to Depth
// batches in flight so Fabric's block latency does not cap throughput. After a
// crash the next owner resubmits journaled batches under the same ids (the
// chaincode treats a committed id as a no-op) and reclaims entries that were
// read but never journaled.
package batcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
)

// Ledger commits batches; *fabricclient.Ballot is the real one.
type Ledger interface {
	CommitBatch(ctx context.Context, b ballot.Batch) (ballot.Committed, error)
	BlockOfTx(ctx context.Context, txID string) (uint64, error)
}

// Config tunes the batcher. Zero values take the defaults in DefaultConfig.
type Config struct {
	Partitions    []string      // partitions to serve (the election's states)
	BatchSize     int           // cut a batch at this many votes
	BatchTimeout  time.Duration // ... or when its oldest vote waited this long
	Depth         int           // batches in flight per lane
	MaxInflight   int           // batches in flight per process, over all lanes
	CommitTimeout time.Duration // one submission attempt, endorsement to commit status
	LeaseTTL      time.Duration // a dead process's lanes move after this long
	Owner         string        // this process's name in leases and consumer groups
}

// DefaultConfig is what measurements of CommitBatch on one machine favour:
// ~500 votes per transaction with ~16 transactions in flight (larger
// transactions saturate the peers' commit stage).
var DefaultConfig = Config{
	BatchSize: 500, BatchTimeout: 200 * time.Millisecond, Depth: 4, MaxInflight: 16,
	CommitTimeout: 60 * time.Second, LeaseTTL: 5 * time.Second,
}

func (c *Config) applyDefaults() error {
	d := DefaultConfig
	if c.BatchSize <= 0 {
		c.BatchSize = d.BatchSize
	}
	if c.BatchTimeout <= 0 {
		c.BatchTimeout = d.BatchTimeout
	}
	if c.Depth <= 0 {
		c.Depth = d.Depth
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = d.MaxInflight
	}
	if c.CommitTimeout <= 0 {
		c.CommitTimeout = d.CommitTimeout
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = d.LeaseTTL
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
	inflight chan struct{} // process-wide in-flight slots

	mu    sync.Mutex
	lanes map[string]*ownedLane
}

type ownedLane struct {
	lease  string
	cancel context.CancelFunc
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
	return &Batcher{
		cfg: cfg, rdb: rdb, ledger: ledger, log: log.With("batcher", cfg.Owner), metrics: newMetrics(reg),
		owner: cfg.Owner, inflight: make(chan struct{}, cfg.MaxInflight), lanes: map[string]*ownedLane{},
	}, nil
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

// Run balances lanes until ctx ends, then drains: lanes stop reading, batches
// in flight commit and are acknowledged, and leases are released.
func (b *Batcher) Run(ctx context.Context) error {
	// Lease bookkeeping outlives ctx: leases are renewed while lanes drain.
	bg := context.WithoutCancel(ctx)
	lanesCtx, stopLanes := context.WithCancel(bg)
	defer stopLanes()
	tick := time.NewTicker(b.cfg.LeaseTTL / 4)
	defer tick.Stop()
	b.log.Info("batcher started", "partitions", len(b.cfg.Partitions), "batch_size", b.cfg.BatchSize,
		"batch_timeout", b.cfg.BatchTimeout.String(), "depth", b.cfg.Depth, "max_inflight", b.cfg.MaxInflight)
	for {
		draining := ctx.Err() != nil
		if draining {
			stopLanes()
		}
		b.balance(bg, lanesCtx, draining)
		if draining && len(b.Lanes()) == 0 {
			err := leaveRegistry(bg, b.rdb, b.owner)
			b.log.Info("batcher stopped")
			return err
		}
		<-tick.C
	}
}

// balance renews held leases, stops lanes whose lease was lost, and takes or
// gives up lanes to reach this process's fair share.
func (b *Batcher) balance(ctx, lanesCtx context.Context, draining bool) {
	now := time.Now()
	live, err := heartbeat(ctx, b.rdb, b.owner, now, b.cfg.LeaseTTL)
	if err != nil {
		b.log.Warn("heartbeat failed", "err", err)
		b.metrics.retries.WithLabelValues("redis").Inc()
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
			b.log.Warn("lease lost", "partition", p)
			ol.cancel()
		}
		if n, err := b.rdb.XLen(ctx, votequeue.StreamKey(p)).Result(); err == nil {
			b.metrics.lag.WithLabelValues(p).Set(float64(n))
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

// startLane runs a lane for p until its context ends or it fails.
func (b *Batcher) startLane(ctx context.Context, p, lease string) {
	laneCtx, cancel := context.WithCancel(ctx)
	ol := &ownedLane{lease: lease, cancel: cancel, done: make(chan struct{})}
	b.lanes[p] = ol
	b.log.Info("lane acquired", "partition", p, "lease", lease)
	go func() {
		defer close(ol.done)
		defer cancel()
		if err := b.newLane(p, lease).run(laneCtx); err != nil {
			b.log.Warn("lane stopped", "partition", p, "err", err)
		}
	}()
}
