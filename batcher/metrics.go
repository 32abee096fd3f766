package batcher

import "github.com/prometheus/client_golang/prometheus"

// metrics are the batcher's Prometheus series.
type metrics struct {
	batches    *prometheus.CounterVec // by partition
	votes      *prometheus.CounterVec // by outcome: counted, duplicate
	latency    prometheus.Histogram   // from first submission to committed, per batch
	batchVotes prometheus.Histogram   // votes per committed batch
	inflight   prometheus.Gauge
	buffered   *prometheus.GaugeVec   // votes read but not yet cut into a batch, by partition
	backlog    *prometheus.GaugeVec   // entries in the stream not yet acknowledged, by partition
	lag        *prometheus.GaugeVec   // age of the oldest entry not yet acknowledged, by partition
	retries    *prometheus.CounterVec // by cause
	lanes      prometheus.Gauge
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
			Name: "batcher_commit_latency_seconds", Help: "Time from a batch's first submission to its commit, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.05, 1.6, 14),
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "batcher_inflight_batches", Help: "Batches submitted and not yet committed.",
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
			Name: "batcher_lane_lag_seconds", Help: "Age of the partition's oldest vote not yet committed (0 when none is pending).",
		}, []string{"partition"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "batcher_retries_total", Help: "Retried operations, by cause.",
		}, []string{"cause"}),
		lanes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "batcher_lanes_owned", Help: "Partitions whose lane this process holds.",
		}),
	}
	reg.MustRegister(m.batches, m.votes, m.latency, m.batchVotes, m.inflight, m.buffered, m.backlog, m.lag, m.retries, m.lanes)
	return m
}
