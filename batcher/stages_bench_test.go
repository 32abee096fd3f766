package batcher_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/votechain/votechain/test-network/localnet"
)

// reportStages reports the median and 95th percentile of each stage of the
// batcher (batcher_stage_seconds) and of a vote's whole path
// (batcher_vote_latency_seconds), from the histograms in reg, and the
// operations retried (batcher_retries_total, all causes: a retry or a lane
// restart in a paced run shows in its tail).
func reportStages(b *testing.B, reg *prometheus.Registry) {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	retries := 0.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var name string
			switch mf.GetName() {
			case "batcher_retries_total":
				retries += m.GetCounter().GetValue()
				continue
			case "batcher_stage_seconds":
				name = labelValue(m, "stage")
			case "batcher_vote_latency_seconds":
				name = "vote"
			default:
				continue
			}
			h := m.GetHistogram()
			b.ReportMetric(histogramQuantile(h, 0.5)*1000, name+"-p50-ms")
			b.ReportMetric(histogramQuantile(h, 0.95)*1000, name+"-p95-ms")
		}
	}
	b.ReportMetric(retries, "retries")
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// histogramQuantile interpolates the q-quantile within its bucket, as
// Prometheus's histogram_quantile does.
func histogramQuantile(h *dto.Histogram, q float64) float64 {
	total := float64(h.GetSampleCount())
	if total == 0 {
		return 0
	}
	rank, lower, below := q*total, 0.0, 0.0
	for _, bk := range h.GetBucket() {
		upper, count := bk.GetUpperBound(), float64(bk.GetCumulativeCount())
		if count >= rank {
			if count == below {
				return upper
			}
			return lower + (upper-lower)*(rank-below)/(count-below)
		}
		lower, below = upper, count
	}
	return lower
}

// fabricStages are the Fabric nodes' histograms that split the batcher's
// endorse and commit stages: their mean over a run, per observation.
var fabricStages = []struct{ metric, name string }{
	{"endorser_proposal_duration", "peer-endorse"},
	{"broadcast_enqueue_duration", "orderer-enqueue"},
	{"consensus_smartbft_pool_latency_of_elements", "bft-pool"},
	{"consensus_smartbft_view_latency_batch_processing", "bft-consensus"},
	{"gossip_state_commit_duration", "peer-block-commit"},
	{"ledger_block_processing_time", "peer-ledger-commit"},
}

// nodeMetrics scrapes the sums and counts of every histogram, summed over
// series and nodes, and the peers' ledger height.
type nodeMetrics map[string]float64

func scrapeNodes(b *testing.B, n *localnet.Network) nodeMetrics {
	out := nodeMetrics{}
	for _, np := range n.Ports().NetworkPorts() {
		if np.Role != "operations" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort("127.0.0.1", strconv.Itoa(np.Port))+"/metrics", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			b.Logf("scrape %s: %v", np.Process, err)
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") {
				continue
			}
			name, rest, _ := strings.Cut(line, "{")
			if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.Contains(name, " ") {
				v, err := strconv.ParseFloat(line[i+1:], 64)
				if err != nil {
					continue
				}
				if strings.HasSuffix(name, "_sum") || strings.HasSuffix(name, "_count") {
					out[name] += v
				}
				if name == "ledger_blockchain_height" && strings.HasPrefix(np.Process, "peer") && strings.Contains(rest, `channel="election"`) {
					out["peer_height"] = max(out["peer_height"], v)
				}
			}
		}
		resp.Body.Close()
		cancel()
	}
	return out
}

// reportFabricStages reports the mean of each of fabricStages between two
// scrapes, the batches (txs) and votes per block, and blocks per second.
func reportFabricStages(b *testing.B, from, to nodeMetrics, txs, votes, seconds float64) {
	for _, s := range fabricStages {
		count := to[s.metric+"_count"] - from[s.metric+"_count"]
		if count <= 0 {
			b.Logf("no %s observed", s.metric)
			continue
		}
		b.ReportMetric((to[s.metric+"_sum"]-from[s.metric+"_sum"])/count*1000, s.name+"-mean-ms")
	}
	if blocks := to["peer_height"] - from["peer_height"]; blocks > 0 {
		b.ReportMetric(txs/blocks, "tx/block")
		b.ReportMetric(votes/blocks, "votes/block")
		b.ReportMetric(blocks/seconds, "blocks/s")
	}
}
