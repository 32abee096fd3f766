package measure

import (
	"fmt"
	"slices"
	"sort"
)

// The batcher's series that say where a vote's 202→commit goes (see
// docs/operations.md's metrics table).
const (
	stageMetric      = "batcher_stage_seconds"        // histogram by stage
	voteMetric       = "batcher_vote_latency_seconds" // histogram, per vote
	batchVotesMetric = "batcher_batch_votes"          // histogram, per committed batch
	txBatchesMetric  = "batcher_tx_batches"           // histogram, per transaction submitted
	retriesMetric    = "batcher_retries_total"        // counter by cause
)

// stagePath is the batcher's stages in the order a vote goes through
// them, and what each is observed per.
var stagePath = []struct{ stage, per string }{
	{"queue", "vote"},          // 202 → read by its lane
	{"buffer", "vote"},         // read → its batch cut
	{"journal", "batch"},       // cut → journal entry written
	{"share", "batch"},         // waiting for other lanes' batches to share a transaction
	{"endorse", "transaction"}, // endorsement and handing to ordering, per submission
	{"commit", "batch"},        // ordering accepted → the peer's commit status
	{"settle", "batch"},        // receipts written, votes acknowledged
}

// StageTime is one histogram's observations in a window: how many, their
// mean, and their median and 95th percentile estimated from the buckets
// (Histogram.Quantile), in milliseconds.
type StageTime struct {
	Stage  string  `json:"stage"`
	Per    string  `json:"per,omitempty"` // what one observation is of: vote, batch, transaction
	Count  float64 `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50ms  float64 `json:"p50_ms"`
	P95ms  float64 `json:"p95_ms"`
}

// stageTime summarises h (observed in seconds).
func stageTime(stage, per string, h Histogram) StageTime {
	return StageTime{Stage: stage, Per: per, Count: h.Count, MeanMs: h.Mean() * 1000, P50ms: h.Quantile(0.5) * 1000, P95ms: h.Quantile(0.95) * 1000}
}

// BatcherStages is where the votes of a window spent their time in the
// batcher, from the batchers' own metrics: the increase of each series
// between a scrape at the window's start and one at its end, added up
// over the batchers scraped at both.
type BatcherStages struct {
	Batchers int `json:"batchers"` // scraped at both ends
	// SpanS is the time from the first scrape to the second (the caller's
	// to set: BatcherWindow does not know it).
	SpanS float64 `json:"span_s"`
	// Stages is batcher_stage_seconds per stage, in the order of a vote's
	// path (then any other stage the batchers expose, by name). Per-vote,
	// per-batch and per-transaction stages do not add up to a vote's path:
	// Vote is that.
	Stages []StageTime `json:"stages"`
	// Vote is batcher_vote_latency_seconds: per vote, from its 202 to its
	// acknowledgement once committed and its receipt written.
	Vote StageTime `json:"vote"`
	// Votes and Batches are the votes in batches committed (every
	// outcome) and those batches (batcher_batch_votes' sum and count).
	Votes   float64 `json:"votes"`
	Batches float64 `json:"batches"`
	// Transactions are those submitted (batcher_tx_batches' count, one
	// per submission: a resubmission after a retry counts again), carrying
	// BatchesSubmitted batches (its sum).
	Transactions     float64 `json:"transactions"`
	BatchesSubmitted float64 `json:"batches_submitted"`
	// VotesPerTx is Votes ÷ Transactions; BatchesPerTx BatchesSubmitted ÷
	// Transactions (0 without a transaction).
	VotesPerTx   float64 `json:"votes_per_tx"`
	BatchesPerTx float64 `json:"batches_per_tx"`
	// Retries is batcher_retries_total, every cause: with none,
	// Transactions are the transactions committed.
	Retries float64 `json:"retries"`
}

// BatcherWindow is the BatcherStages of a window from each batcher's
// /metrics scraped at its start (before) and its end (after), by process
// name; a process scraped at one end only is left out. A series absent at
// the start counts from 0 (client_golang shows a labelled series once it
// is first used). ErrReset if a batcher restarted in the window.
func BatcherWindow(before, after map[string][]Sample) (BatcherStages, error) {
	var out BatcherStages
	var stages map[string]Histogram
	var vote, batchVotes, txBatches Histogram
	for name, end := range after {
		start, ok := before[name]
		if !ok {
			continue
		}
		d, err := batcherDelta(start, end)
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		if stages == nil {
			stages = map[string]Histogram{}
		}
		for stage, h := range d.stages {
			if stages[stage], err = stages[stage].Add(h); err != nil {
				return out, fmt.Errorf("%s: %s stage %s: %w", name, stageMetric, stage, err)
			}
		}
		for _, a := range []struct {
			sum *Histogram
			d   Histogram
		}{{&vote, d.vote}, {&batchVotes, d.batchVotes}, {&txBatches, d.txBatches}} {
			if *a.sum, err = a.sum.Add(a.d); err != nil {
				return out, fmt.Errorf("%s: %w", name, err)
			}
		}
		out.Retries += d.retries
		out.Batchers++
	}
	for _, s := range stagePath {
		if h, ok := stages[s.stage]; ok {
			out.Stages = append(out.Stages, stageTime(s.stage, s.per, h))
			delete(stages, s.stage)
		}
	}
	others := make([]string, 0, len(stages))
	for stage := range stages {
		others = append(others, stage)
	}
	sort.Strings(others)
	for _, stage := range others {
		out.Stages = append(out.Stages, stageTime(stage, "", stages[stage]))
	}
	out.Vote = stageTime("vote", "vote", vote)
	out.Votes, out.Batches = batchVotes.Sum, batchVotes.Count
	out.Transactions, out.BatchesSubmitted = txBatches.Count, txBatches.Sum
	if out.Transactions > 0 {
		out.VotesPerTx, out.BatchesPerTx = out.Votes/out.Transactions, out.BatchesSubmitted/out.Transactions
	}
	return out, nil
}

// batcherScrapes is one batcher's series of interest between two scrapes.
type batcherScrapes struct {
	stages                      map[string]Histogram
	vote, batchVotes, txBatches Histogram
	retries                     float64
}

// batcherDelta is the increase of one batcher's series from start to end.
func batcherDelta(start, end []Sample) (batcherScrapes, error) {
	var d batcherScrapes
	from, err := batcherSeries(start)
	if err != nil {
		return d, err
	}
	to, err := batcherSeries(end)
	if err != nil {
		return d, err
	}
	d.stages = map[string]Histogram{}
	for stage, h := range to.stages {
		if d.stages[stage], err = h.Sub(from.stages[stage]); err != nil {
			return d, fmt.Errorf("%s stage %s: %w", stageMetric, stage, err)
		}
	}
	for _, s := range []struct {
		name     string
		d        *Histogram
		from, to Histogram
	}{{voteMetric, &d.vote, from.vote, to.vote}, {batchVotesMetric, &d.batchVotes, from.batchVotes, to.batchVotes}, {txBatchesMetric, &d.txBatches, from.txBatches, to.txBatches}} {
		if *s.d, err = s.to.Sub(s.from); err != nil {
			return d, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	if d.retries = to.retries - from.retries; d.retries < 0 {
		return d, fmt.Errorf("%s: %w", retriesMetric, ErrReset)
	}
	return d, nil
}

// batcherSeries picks one scrape's series of interest.
func batcherSeries(samples []Sample) (batcherScrapes, error) {
	var s batcherScrapes
	var err error
	if s.stages, err = Histograms(samples, stageMetric, "stage"); err != nil {
		return s, err
	}
	for _, h := range []struct {
		name string
		h    *Histogram
	}{{voteMetric, &s.vote}, {batchVotesMetric, &s.batchVotes}, {txBatchesMetric, &s.txBatches}} {
		all, err := Histograms(samples, h.name, "")
		if err != nil {
			return s, err
		}
		*h.h = all[""]
	}
	s.retries = sumSamples(samples, retriesMetric)
	return s, nil
}

// sumSamples adds up every series of name.
func sumSamples(samples []Sample, name string) float64 {
	sum := 0.0
	for _, s := range samples {
		if s.Name == name {
			sum += s.Value
		}
	}
	return sum
}

// Stage is the stage named name, if the batchers exposed it.
func (s BatcherStages) Stage(name string) (StageTime, bool) {
	i := slices.IndexFunc(s.Stages, func(t StageTime) bool { return t.Stage == name })
	if i < 0 {
		return StageTime{}, false
	}
	return s.Stages[i], true
}
