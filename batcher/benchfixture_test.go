package batcher

import (
	"bytes"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var updateBenchFixtures = flag.Bool("update-bench-fixtures", false, "rewrite bench/measure/testdata/batcher-metrics-{before,after}.txt from newMetrics")

// TestBenchFixtures: bench/measure/testdata/batcher-metrics-before.txt and
// -after.txt, which the bench's tests read as a batcher's /metrics around
// a window of known observations, are what newMetrics serves through
// promhttp around that window, so they carry the metrics' current help
// texts and buckets. After a change to the metrics, rewrite them with
// `go test ./batcher -run TestBenchFixtures -update-bench-fixtures` (and
// see what the bench's tests then say).
//
// Before the window two votes went through in one batch; in it, 1,000
// votes queued 2–10 ms, buffered 50–150 ms and 300–500 ms from 202 to
// acknowledgement, evenly (998 counted, 2 duplicates); 20 batches of 50
// votes, each 6 ms in the journal, 0.5 ms sharing, 180–370 ms committing
// (10 ms apart) after 40 ms endorsing, and 8 ms settling; 10 transactions
// of 2 batches endorsed in 40 ms each; one retry.
func TestBenchFixtures(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	m.lanes.Set(10)
	vote := func(queue, buffer, latency float64) {
		m.stage.queue.Observe(queue)
		m.stage.buffer.Observe(buffer)
		m.voteLatency.Observe(latency)
	}
	batch := func(votes int, commit float64) {
		m.batchVotes.Observe(float64(votes))
		m.stage.commit.Observe(commit)
		m.latency.Observe(0.04 + commit)
		m.batches.WithLabelValues("CA").Inc()
	}

	for range 2 {
		vote(0.004, 0.1, 0.35)
	}
	m.stage.journal.Observe(0.005)
	m.stage.endorse.Observe(0.05)
	m.txBatches.Observe(1)
	batch(2, 0.2)
	m.stage.settle.Observe(0.01)
	m.votes.WithLabelValues("counted").Add(2)
	benchFixture(t, reg, "batcher-metrics-before.txt")

	for i := range 1000 {
		f := float64(i) / 1000
		vote(0.002+0.008*f, 0.05+0.1*f, 0.3+0.2*f)
	}
	for j := range 20 {
		m.stage.journal.Observe(0.006)
		m.stage.share.Observe(0.0005)
		if j%2 == 1 { // a transaction of this batch and the one before
			m.stage.endorse.Observe(0.04)
			m.txBatches.Observe(2)
		}
		batch(50, 0.18+0.01*float64(j))
		m.stage.settle.Observe(0.008)
	}
	m.votes.WithLabelValues("counted").Add(998)
	m.votes.WithLabelValues("duplicate").Add(2)
	m.retries.WithLabelValues("timeout").Inc()
	benchFixture(t, reg, "batcher-metrics-after.txt")
}

// benchFixture compares what reg serves through promhttp (the text
// format) with the bench's fixture name, or writes it there with
// -update-bench-fixtures.
func benchFixture(t *testing.T, reg *prometheus.Registry, name string) {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	path := filepath.Join("..", "bench", "measure", "testdata", name)
	if *updateBenchFixtures {
		if err := os.WriteFile(path, rec.Body.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rec.Body.Bytes(), want) {
		t.Errorf("%s is not what newMetrics serves now around its window: rewrite it with go test ./batcher -run TestBenchFixtures -update-bench-fixtures\nserved:\n%s", path, rec.Body)
	}
}
