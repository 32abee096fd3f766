package results

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/votechain/votechain/ballot"
)

// fakeLedger replays a fixed list of events after a position, like the
// peer's event service, and answers results for blocks below height.
type fakeLedger struct {
	mu      sync.Mutex
	events  []ballot.BatchCommitted
	height  uint64
	results ballot.Results
	served  int // events delivered
}

func (f *fakeLedger) Results(context.Context) (ballot.Results, error) { return f.results, nil }
func (f *fakeLedger) Height(context.Context) (uint64, error)          { return f.height, nil }

func (f *fakeLedger) BatchEvents(ctx context.Context, from ballot.Position) (<-chan ballot.BatchCommitted, <-chan error, error) {
	out := make(chan ballot.BatchCommitted)
	f.mu.Lock()
	events := f.events
	f.mu.Unlock()
	go func() {
		defer close(out)
		skipping := from.TxID != ""
		for _, ev := range events {
			if ev.At.Block < from.Block {
				continue
			}
			if skipping && ev.At.Block == from.Block {
				if ev.At.TxID == from.TxID {
					skipping = false
				}
				continue
			}
			select {
			case out <- ev:
				f.mu.Lock()
				f.served++
				f.mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
		<-ctx.Done()
	}()
	return out, make(chan error), nil
}

// replay appends events for the next BatchEvents and resets the count of
// events delivered; delivered reads that count. Both lock, as BatchEvents's
// goroutine counts under the lock and may outlive the cache that read it.
func (f *fakeLedger) replay(evs ...ballot.BatchCommitted) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, evs...)
	f.served = 0
}

func (f *fakeLedger) delivered() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served
}

// testContests are a race and a yes/no question.
var testContests = []ballot.Contest{
	{ID: "race", Title: "Race", Kind: ballot.ContestRace, Choices: []string{"a", "b"}},
	{ID: "q", Title: "Question", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}},
}

func event(block uint64, tx, state string, tally ballot.Tally) ballot.BatchCommitted {
	return ballot.BatchCommitted{
		Events: []ballot.BatchEvent{{State: state, Counted: int(tally.Total()), Rejected: []int{}, Tallies: tally}},
		At:     ballot.Position{Block: block, TxID: tx},
	}
}

func runUntil(t *testing.T, c *Cache, ok func(View) bool) View {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := c.All(); err == nil {
			var v View
			if err := json.Unmarshal(r.Body(), &v); err != nil {
				t.Fatal(err)
			}
			if ok(v) {
				return v
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("cache never reached the expected results")
	return View{}
}

func TestCacheLoadsThenAppliesEventsAndResumesWithoutDoubleCounting(t *testing.T) {
	base := ballot.Results{ElectionID: "e1", Status: ballot.StatusConfigured, Counted: 5,
		National: ballot.Tally{"race": {"a": 5}}, States: map[string]ballot.StateResult{"CA": {State: "CA", Batches: 1, Counted: 5, Tallies: ballot.Tally{"race": {"a": 5}}}}}
	ledger := &fakeLedger{height: 10, results: base, events: []ballot.BatchCommitted{
		event(9, "old", "CA", ballot.Tally{"race": {"a": 5}}), // already in the loaded results
		event(10, "t1", "CA", ballot.Tally{"race": {"b": 2}}),
		event(10, "t2", "TX", ballot.Tally{"race": {"a": 1}, "q": {"yes": 2}}),
		event(12, "t3", "CA", ballot.Tally{"race": {"a": 3}}),
	}}
	path := filepath.Join(t.TempDir(), "results.json")
	c := New(ledger, path, []string{"CA", "TX", "NY"}, testContests, nil)
	v := runUntil(t, c, func(v View) bool { return v.Counted == 13 })
	if !v.National.Equal(ballot.Tally{"race": {"a": 9, "b": 2}, "q": {"yes": 2}}) || v.States["TX"].Counted != 3 || v.AsOfBlock != 13 {
		t.Fatalf("after events: %+v", v)
	}
	if ny := v.States["NY"]; ny.Counted != 0 || ny.State != "NY" {
		t.Fatalf("a state without votes must be served as zero: %+v", ny)
	}

	// A restart resumes from the persisted checkpoint: the three events are
	// not applied again, and one that arrives later is.
	// The new transaction carries two states' batches (CommitBatches).
	t4 := event(13, "t4", "NY", ballot.Tally{"race": {"b": 4}})
	t4.Events = append(t4.Events, event(13, "t4", "TX", ballot.Tally{"race": {"a": 1}}).Events...)
	ledger.replay(t4)
	restarted := New(ledger, path, []string{"CA", "TX", "NY"}, testContests, nil)
	v = runUntil(t, restarted, func(v View) bool { return v.Counted == 18 })
	if n := ledger.delivered(); n != 1 {
		t.Fatalf("restart replayed %d events, want only the new one", n)
	}
	if v.States["TX"].Counted != 4 || v.States["NY"].Counted != 4 {
		t.Fatalf("after restart, both batches of t4 must count: %+v", v.States)
	}
	if !v.National.Equal(ballot.Tally{"race": {"a": 10, "b": 6}, "q": {"yes": 2}}) {
		t.Fatalf("after restart: %+v", v.National)
	}
}

func TestResponsesCarryETagsAndRefuseUnknownContestsAndStates(t *testing.T) {
	c := New(&fakeLedger{height: 1, results: ballot.Results{ElectionID: "e1"}}, filepath.Join(t.TempDir(), "r.json"), []string{"CA"}, testContests, nil)
	if _, err := c.All(); err != ErrLoading {
		t.Fatalf("before loading: %v, want ErrLoading", err)
	}
	if err := c.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	all, err := c.All()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	all.Write(rec, httptest.NewRequest("GET", "/api/v1/results", nil))
	etag := rec.Header().Get("ETag")
	if rec.Code != http.StatusOK || etag == "" || rec.Header().Get("Cache-Control") == "" {
		t.Fatalf("first GET: %d, etag %q, headers %v", rec.Code, etag, rec.Header())
	}
	for _, inm := range []string{etag, "W/" + etag, `"nope", ` + etag, "*"} {
		rec = httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/v1/results", nil)
		req.Header.Set("If-None-Match", inm)
		all.Write(rec, req)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d with %d bytes, want 304 and no body", inm, rec.Code, rec.Body.Len())
		}
	}
	rec = httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/results", nil)
	req.Header.Set("If-None-Match", `"stale"`)
	all.Write(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("stale ETag: %d, want 200", rec.Code)
	}
	if _, err := c.ContestState("q", "CA"); err != nil {
		t.Errorf("known contest and state: %v", err)
	}
	if _, err := c.ContestState("q", "ZZ"); err != ErrUnknownState {
		t.Errorf("unknown state: %v, want ErrUnknownState", err)
	}
	for _, get := range []func() (Response, error){func() (Response, error) { return c.Contest("zz") }, func() (Response, error) { return c.ContestState("zz", "CA") }} {
		if _, err := get(); err != ErrUnknownContest {
			t.Errorf("unknown contest: %v, want ErrUnknownContest", err)
		}
	}
}

// TestContestResultsAndMetric: each contest's results list every choice and
// state, and the votes_counted gauge follows the national counts.
func TestContestResultsAndMetric(t *testing.T) {
	tally := ballot.Tally{"race": {"a": 4}, "q": {"yes": 2, "no": 1}}
	r := ballot.Results{ElectionID: "e1", Status: ballot.StatusConfigured, Counted: 7, National: tally,
		States: map[string]ballot.StateResult{"CA": {State: "CA", Batches: 1, Counted: 7, Tallies: tally}}}
	c := New(&fakeLedger{height: 3, results: r}, filepath.Join(t.TempDir(), "r.json"), []string{"CA", "TX"}, testContests, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	if got := gathered(t, reg); len(got) != 0 {
		t.Fatalf("series %v before loading; want none", got)
	}
	if err := c.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Contest("q")
	if err != nil {
		t.Fatal(err)
	}
	var v ContestView
	if err := json.Unmarshal(resp.Body(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Contest.ID != "q" || v.Counted != 3 || v.AsOfBlock != 3 || v.National["yes"] != 2 || v.National["no"] != 1 ||
		v.States["CA"].Counted != 3 || v.States["CA"].Choices["no"] != 1 {
		t.Fatalf("contest q: %s", resp.Body())
	}
	if tx, ok := v.States["TX"]; !ok || tx.Counted != 0 || len(tx.Choices) != 2 {
		t.Fatalf("a state without votes must list every choice at zero: %s", resp.Body())
	}
	race, _ := c.Contest("race")
	if race.e.etag == resp.e.etag {
		t.Fatal("two contests' results share an ETag")
	}
	st, err := c.ContestState("race", "CA")
	var sv StateContestView
	if err != nil || json.Unmarshal(st.Body(), &sv) != nil || sv.Contest != "race" || sv.State != "CA" || sv.Counted != 4 || sv.Choices["b"] != 0 {
		t.Fatalf("race in CA: %s, %v", st.Body(), err)
	}
	want := map[string]float64{"race/a": 4, "race/b": 0, "q/yes": 2, "q/no": 1}
	if got := gathered(t, reg); !maps.Equal(got, want) {
		t.Fatalf("votes_counted %v; want %v", got, want)
	}
}

// gathered returns the votes_counted series as "contest/choice" → value.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "votes_counted" {
			t.Fatalf("unexpected metric %s", mf.GetName())
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got[labels["contest"]+"/"+labels["choice"]] = m.GetGauge().GetValue()
		}
	}
	return got
}

// flakyLedger fails its first fails height reads, as a peer that is
// still starting does.
type flakyLedger struct {
	*fakeLedger
	fails atomic.Int32
}

func (f *flakyLedger) Height(ctx context.Context) (uint64, error) {
	if f.fails.Add(-1) >= 0 {
		return 0, errors.New("peer unreachable")
	}
	return f.fakeLedger.Height(ctx)
}

// TestRunLoadsOnceTheLedgerAnswers: a ledger that cannot answer at first
// delays the results (the cache keeps trying, saying so), it does not end
// them for the gateway's life.
func TestRunLoadsOnceTheLedgerAnswers(t *testing.T) {
	ledger := &flakyLedger{fakeLedger: &fakeLedger{height: 3, results: ballot.Results{ElectionID: "e1", Counted: 7,
		National: ballot.Tally{"race": {"a": 7}}}}}
	ledger.fails.Store(2)
	var logs bytes.Buffer
	c := New(ledger, filepath.Join(t.TempDir(), "results.json"), []string{"CA"}, testContests, slog.New(slog.NewTextHandler(&logs, nil)))
	if v := runUntil(t, c, func(v View) bool { return v.Counted == 7 }); v.AsOfBlock != 3 {
		t.Errorf("results as of block %d, want 3", v.AsOfBlock)
	}
	if n := strings.Count(logs.String(), "results not loaded; trying again"); n != 2 {
		t.Errorf("%d retries logged, want 2:\n%s", n, logs.String())
	}
}

// TestDamagedCheckpointIsMovedAside: a checkpoint that is not JSON (a
// crash mid-write on a file system that lost it) does not stop the
// results: it is moved aside, as it was, with a warning naming both
// places, and the results are loaded from the ledger and checkpointed
// anew.
func TestDamagedCheckpointIsMovedAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.json")
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ledger := &fakeLedger{height: 3, results: ballot.Results{ElectionID: "e1", Counted: 7, National: ballot.Tally{"race": {"a": 7}}}}
	c := New(ledger, path, []string{"CA"}, testContests, slog.New(slog.NewTextHandler(&logs, nil)))
	if v := runUntil(t, c, func(v View) bool { return v.Counted == 7 }); v.AsOfBlock != 3 {
		t.Errorf("results as of block %d, want 3", v.AsOfBlock)
	}
	aside, err := filepath.Glob(path + ".damaged-*")
	if err != nil || len(aside) != 1 {
		t.Fatalf("damaged copies %v, %v; want one", aside, err)
	}
	if data, err := os.ReadFile(aside[0]); err != nil || string(data) != "{" {
		t.Errorf("damaged copy holds %q, %v; want the damaged checkpoint", data, err)
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"results checkpoint damaged") || !strings.Contains(logs.String(), aside[0]) {
		t.Errorf("no warning naming %s:\n%s", aside[0], logs.String())
	}
	var cp checkpoint
	if data, err := os.ReadFile(path); err != nil || json.Unmarshal(data, &cp) != nil || cp.At.Block != 3 || cp.Results.Counted != 7 {
		t.Errorf("new checkpoint %+v, %v; want the ledger's results at block 3", cp, err)
	}
}

// TestWriteHeadersAreEveryAnswersOwn: the header values Write sets are
// shared between answers (built once), so a handler or middleware that
// adds to or sets them on one answer must not change the next one's;
// a 304 carries the ETag and Cache-Control but no Content-Type, and an
// empty If-None-Match is no match.
func TestWriteHeadersAreEveryAnswersOwn(t *testing.T) {
	c := New(&fakeLedger{height: 3, results: ballot.Results{ElectionID: "e1"}}, filepath.Join(t.TempDir(), "r.json"), []string{"CA"}, testContests, nil)
	if err := c.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	all, err := c.All()
	if err != nil {
		t.Fatal(err)
	}
	want := func(h http.Header, ctype string) {
		t.Helper()
		if got := h.Values("ETag"); len(got) != 1 || got[0] != all.e.etag {
			t.Errorf("ETag %q, want [%s]", got, all.e.etag)
		}
		if got := h.Values("Cache-Control"); len(got) != 1 || got[0] != "public, max-age=1" {
			t.Errorf("Cache-Control %q", got)
		}
		if got := h.Values("Content-Type"); (ctype == "" && len(got) != 0) || (ctype != "" && (len(got) != 1 || got[0] != ctype)) {
			t.Errorf("Content-Type %q, want %q", got, ctype)
		}
	}
	for range 2 {
		rec := httptest.NewRecorder()
		all.Write(rec, httptest.NewRequest("GET", "/api/v1/results", nil))
		want(rec.Header(), "application/json")
		// What a middleware may do to its answer's headers afterwards.
		rec.Header().Add("ETag", `"other"`)
		rec.Header().Add("Cache-Control", "no-store")
		rec.Header().Add("Content-Type", "text/plain")
		rec.Header()["Etag"] = append(rec.Header()["Etag"], `"third"`)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/results", nil)
	req.Header.Set("If-None-Match", all.e.etag)
	all.Write(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d, want 304", rec.Code)
	}
	want(rec.Header(), "")
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("GET", "/api/v1/results", nil)
	req.Header["If-None-Match"] = []string{""}
	all.Write(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("empty If-None-Match: %d, want 200", rec.Code)
	}
}

func TestZeroResponseWritesWithoutPanicking(t *testing.T) {
	rec := httptest.NewRecorder()
	Response{}.Write(rec, httptest.NewRequest(http.MethodGet, "/api/v1/results", nil))
	if rec.Code != http.StatusOK || len(rec.Header()["Etag"]) != 1 {
		t.Fatalf("zero Response: %d %v", rec.Code, rec.Header())
	}
}

// TestCheckPath: a checkpoint path whose folder exists or can be made
// passes, the folder made and left with nothing else in it; a path under a
// file, or naming a folder, is refused.
func TestCheckPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new", "results.json")
	if err := CheckPath(path); err != nil {
		t.Fatalf("CheckPath(%s): %v", path, err)
	}
	if entries, err := os.ReadDir(filepath.Dir(path)); err != nil || len(entries) != 0 {
		t.Errorf("after CheckPath the folder holds %v (%v); want it made and empty", entries, err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckPath(filepath.Join(file, "results.json")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a checkpoint under a file: %v; want not a directory", err)
	}
	if err := CheckPath(dir); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("a checkpoint path naming a folder: %v; want it refused", err)
	}
}
