package follow

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/votechain/votechain/explorer/audit"
)

// Metrics are the follower's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	height     prometheus.Gauge
	blockTime  prometheus.Gauge
	blocks     prometheus.Counter
	txs        prometheus.Counter
	votes      prometheus.Counter
	issues     *prometheus.GaugeVec
	reconnects prometheus.Counter
}

// NewMetrics registers the follower's metrics with reg. issues are the
// verification failures already in the index, by kind, so that the gauge
// counts every failure the index holds, across restarts; every kind of
// audit.Kinds has its series from the start, 0 if issues has none.
func NewMetrics(reg prometheus.Registerer, indexed uint64, issues map[string]int64) *Metrics {
	m := &Metrics{
		height: prometheus.NewGauge(prometheus.GaugeOpts{Name: "explorer_indexed_height",
			Help: "Blocks indexed (the number of the next block to index)."}),
		blockTime: prometheus.NewGauge(prometheus.GaugeOpts{Name: "explorer_last_block_timestamp_seconds",
			Help: "Unix time in seconds of the latest transaction in the last indexed block."}),
		blocks: prometheus.NewCounter(prometheus.CounterOpts{Name: "explorer_blocks_indexed_total",
			Help: "Blocks indexed by this process."}),
		txs: prometheus.NewCounter(prometheus.CounterOpts{Name: "explorer_transactions_indexed_total",
			Help: "Transactions indexed by this process."}),
		votes: prometheus.NewCounter(prometheus.CounterOpts{Name: "explorer_votes_indexed_total",
			Help: "Votes of committed batches indexed by this process."}),
		issues: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "explorer_verification_failures",
			Help: "Verification failures in the index, by kind: one series from start for each issue kind the auditor reports (the kinds docs/ledger.md's table of checks lists: hash chain, data hash, genesis block, orderers' signatures, endorsements, callers, clients' signatures, replays, approvals of chaincode definitions, undecodable transactions and batches, batch root, tallies, record, event, roll, intake log keys and anchors); 0 on an honest ledger."}, []string{"kind"}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "explorer_block_stream_reconnects_total",
			Help: "Times the block stream failed and was reopened."}),
	}
	reg.MustRegister(m.height, m.blockTime, m.blocks, m.txs, m.votes, m.issues, m.reconnects)
	m.height.Set(float64(indexed))
	for _, k := range audit.Kinds() {
		m.issues.WithLabelValues(k).Set(float64(issues[k]))
	}
	return m
}

func (m *Metrics) saved(r audit.Report) {
	if m == nil {
		return
	}
	m.height.Set(float64(r.Block.Number + 1))
	if !r.Block.Time.IsZero() {
		m.blockTime.Set(float64(r.Block.Time.UnixMilli()) / 1000)
	}
	m.blocks.Inc()
	m.txs.Add(float64(len(r.Block.Txs)))
	m.votes.Add(float64(r.Votes()))
	for _, is := range r.Issues {
		m.issues.WithLabelValues(is.Kind).Inc()
	}
}

func (m *Metrics) reconnect() {
	if m != nil {
		m.reconnects.Inc()
	}
}
