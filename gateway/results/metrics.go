package results

import "github.com/prometheus/client_golang/prometheus"

// votesDesc is the votes_counted gauge: counted votes per contest and
// choice, nationally, as of the cache's current results.
var votesDesc = prometheus.NewDesc("votes_counted",
	"Votes counted on the ledger per contest and choice, nationally (from the results cache; absent while it loads).",
	[]string{"contest", "choice"}, nil)

// Describe implements prometheus.Collector.
func (c *Cache) Describe(ch chan<- *prometheus.Desc) { ch <- votesDesc }

// Collect implements prometheus.Collector: one votes_counted series per
// contest and choice of the current snapshot (every choice of the
// election's contests, zero included).
func (c *Cache) Collect(ch chan<- prometheus.Metric) {
	snap := c.snap.Load()
	if snap == nil {
		return
	}
	for contest, counts := range snap.national {
		for choice, n := range counts {
			ch <- prometheus.MustNewConstMetric(votesDesc, prometheus.GaugeValue, float64(n), contest, choice)
		}
	}
}
