package suite

import (
	"context"
	"strings"
	"time"

	"github.com/votechain/votechain/bench/measure"
)

// stageScrape is every running batcher's /metrics at one moment, by
// process name.
type stageScrape struct {
	at      time.Time
	samples map[string][]measure.Sample
}

// scrapeBatchers reads the /metrics of the system's running batchers (on
// their metrics ports); one that cannot be read is noted and left out.
func (r *run) scrapeBatchers(ctx context.Context, phase string) stageScrape {
	s := stageScrape{at: time.Now(), samples: map[string][]measure.Sample{}}
	for _, p := range r.st.Status() {
		if !p.Running || !strings.HasPrefix(p.Name, "batcher") {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		samples, err := measure.ScrapeMetrics(sctx, "http://"+p.Addr+"/metrics")
		cancel()
		if err != nil {
			r.note("%s: %s's metrics not read, so left out of the stage breakdown: %v", phase, p.Name, err)
			continue
		}
		s.samples[p.Name] = samples
	}
	return s
}

// batcherStages scrapes the batchers again and returns where the time went
// since before (nil, noted, when it cannot tell).
func (r *run) batcherStages(ctx context.Context, phase string, before stageScrape) *measure.BatcherStages {
	after := r.scrapeBatchers(ctx, phase)
	s, err := measure.BatcherWindow(before.samples, after.samples)
	switch {
	case err != nil:
		r.note("%s: no stage breakdown: %v", phase, err)
		return nil
	case s.Batchers == 0:
		r.note("%s: no stage breakdown: no batcher's metrics read at both ends of the phase", phase)
		return nil
	}
	s.SpanS = after.at.Sub(before.at).Seconds()
	return &s
}
