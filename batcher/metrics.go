package batcher

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// latencyBuckets are the upper bounds, in seconds, of the batcher's latency
// histograms (batcher_stage_seconds from 1 ms, batcher_vote_latency_seconds
// from 10 ms, batcher_commit_latency_seconds from 50 ms:
// latencyBucketsFrom). They are finest where the targets are:
// 50 ms apart (x1.09-1.2) from 0.25 to 0.6 s, so a p95 estimated from them
// tells 450 from 550 ms against the referendum's 500 ms, and 250 ms apart
// (x1.14-1.25) from 1 to 2 s, around the sustained phase's 2 s; x1.2-1.67
// elsewhere, x2 at the ends, up to 60 s so an overloaded phase's tail is
// not clamped at the last bound. 39 bounds (34 from 10 ms), where the
// exponential ones before had 24 each (x1.5 from 1 ms to 11.2 s; x1.4 from
// 10 ms to 23 s).
var latencyBuckets = []float64{
	0.001, 0.002, 0.003, 0.005, 0.0075,
	0.01, 0.015, 0.02, 0.03, 0.05, 0.075,
	0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8,
	1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 7.5,
	10, 15, 20, 30, 60,
}

// latencyBucketsFrom returns the latencyBuckets from the bound lowest on
// (a copy).
func latencyBucketsFrom(lowest float64) []float64 {
	i, _ := slices.BinarySearch(latencyBuckets, lowest)
	return slices.Clone(latencyBuckets[i:])
}

// metrics are the batcher's Prometheus series.
type metrics struct {
	batches     *prometheus.CounterVec // by partition
	votes       *prometheus.CounterVec // by outcome: counted, duplicate
	latency     prometheus.Histogram   // from first submission to committed, per batch
	batchVotes  prometheus.Histogram   // votes per committed batch
	inflight    prometheus.Gauge
	buffered    *prometheus.GaugeVec   // votes read but not yet cut into a batch, by partition
	backlog     *prometheus.GaugeVec   // entries in the stream not yet acknowledged, by partition
	lag         *prometheus.GaugeVec   // age of the oldest entry not yet acknowledged, by partition
	retries     *prometheus.CounterVec // by cause
	lostChecks  *prometheus.CounterVec // by result: withdrawn, confirmed, error
	lanes       prometheus.Gauge
	otherLists  prometheus.Gauge // live batchers serving another partition list
	stage       stageObservers
	voteLatency prometheus.Histogram // per vote, from its 202 to its acknowledgement
	txBatches   prometheus.Histogram // batches per transaction submitted
	// castWaits and castWaitTime count the batches held until the
	// batcher's clock passed their votes' cast_at, and the time held
	// (awaitCastAt); castHeld is the batches held now.
	castWaits    prometheus.Counter
	castWaitTime prometheus.Counter
	castHeld     prometheus.Gauge
}

// stageObservers time the steps of a vote's path through the batcher, one
// series of batcher_stage_seconds each: where the time from 202 to commit
// goes (see docs/operations.md).
type stageObservers struct {
	queue   prometheus.Observer // per vote: from its 202 (the stream entry's time) to the lane reading it
	buffer  prometheus.Observer // per vote: from being read to its batch's cut (waiting for a free slot)
	journal prometheus.Observer // per batch: from the cut to the journal entry written
	endorse prometheus.Observer // per submission: endorsement and handing the transaction to ordering
	commit  prometheus.Observer // per submission: from ordering accepted to the peer's commit status (block cutting, consensus, validation, commit)
	settle  prometheus.Observer // per batch: receipts written and votes acknowledged
	share   prometheus.Observer // per batch: queued for a shared transaction (waiting for other lanes' batches)
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "batcher_batches_committed_total", Help: "Batches committed VALID on the ledger.",
		}, []string{"partition"}),
		votes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "batcher_votes_committed_total", Help: "Votes in committed batches, by outcome (counted, or the reason the ledger rejected them: duplicate, unknown_contest, unknown_choice, outside_window, cast_after_tx, not_on_roll).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "batcher_commit_latency_seconds", Help: "Time in seconds from a batch's first submission to its commit, retries included.",
			// 30 bounds from 50 ms to 60 s; before, x1.6 from 50 ms to 22.5 s
			// (0.33, 0.52, 0.84 s around the 500 ms target).
			Buckets: latencyBucketsFrom(0.05),
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "batcher_inflight_batches", Help: "Batches journaled and not yet committed: being submitted, and those held before their first submission until this batcher's clock passes their votes' cast_at (batcher_cast_waits_total).",
		}),
		buffered: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "batcher_lane_buffered_votes", Help: "Votes read from the queue and waiting for a batch cut.",
		}, []string{"partition"}),
		batchVotes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "batcher_batch_votes", Help: "Votes per committed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		backlog: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "batcher_lane_lag_votes", Help: "Votes in the partition's stream not yet committed (stream length).",
		}, []string{"partition"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "batcher_lane_lag_seconds", Help: "Age in seconds of the partition's oldest vote not yet committed (0 when none is pending).",
		}, []string{"partition"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "batcher_retries_total", Help: "Retried operations, by cause.",
		}, []string{"cause"}),
		lostChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "batcher_lost_checks_total", Help: "Transactions the recovery policy judged lost, by what the ledger showed before giving up on them: withdrawn (in a block: the verdict withdrawn, the commit status awaited), confirmed (in no block: submitted again), error (the look-up failed: submitted again).",
		}, []string{"result"}),
		lanes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "batcher_lanes_owned", Help: "Partitions whose lane this process holds.",
		}),
		otherLists: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "batcher_partition_lists_differing", Help: "Live batchers sharing this one's Redis that serve another partition list (--partitions) than this one: not 0, lanes can go unserved.",
		}),
		castWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "batcher_cast_waits_total", Help: "Batches held before their first submission until this batcher's clock passed their votes' cast_at (a gateway's clock ahead of this batcher's).",
		}),
		castWaitTime: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "batcher_cast_wait_seconds_total", Help: "Time in seconds batches were held until this batcher's clock passed their votes' cast_at, summed over batches.",
		}),
		castHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "batcher_cast_held_batches", Help: "Batches held now, before their first submission, until this batcher's clock passes their votes' cast_at, or while it reads the election record for them (up to 5 s) (counted in batcher_inflight_batches too, though not submitted).",
		}),
	}
	stage := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "batcher_stage_seconds", Help: "Time in seconds spent in each stage of a vote's path through the batcher: queue, buffer (per vote); share, journal, endorse, commit, settle (per batch or submission).",
		Buckets: latencyBucketsFrom(0.001),
	}, []string{"stage"})
	m.stage = stageObservers{
		queue: stage.WithLabelValues("queue"), buffer: stage.WithLabelValues("buffer"), journal: stage.WithLabelValues("journal"),
		endorse: stage.WithLabelValues("endorse"), commit: stage.WithLabelValues("commit"), settle: stage.WithLabelValues("settle"),
		share: stage.WithLabelValues("share"),
	}
	m.voteLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "batcher_vote_latency_seconds", Help: "Time in seconds from a vote's 202 (its stream entry) to its acknowledgement after commit, receipts written.",
		Buckets: latencyBucketsFrom(0.01),
	})
	m.txBatches = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "batcher_tx_batches", Help: "Batches per transaction submitted (1: a batch alone; more: a transaction shared by several lanes).",
		Buckets: []float64{1, 2, 3, 4, 6, 8, 12, 16, 24, 32},
	})
	reg.MustRegister(m.batches, m.votes, m.latency, m.batchVotes, m.inflight, m.buffered, m.backlog, m.lag, m.retries, m.lostChecks, m.lanes, m.otherLists, stage, m.voteLatency, m.txBatches, m.castWaits, m.castWaitTime, m.castHeld)
	return m
}
