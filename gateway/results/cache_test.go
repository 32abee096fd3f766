package results

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
	go func() {
		defer close(out)
		skipping := from.TxID != ""
		for _, ev := range f.events {
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

func event(block uint64, tx, state string, tally ballot.Tally) ballot.BatchCommitted {
	return ballot.BatchCommitted{
		Event: ballot.BatchEvent{State: state, Counted: int(tally.Total()), Rejected: []int{}, Tallies: tally},
		At:    ballot.Position{Block: block, TxID: tx},
	}
}

func runUntil(t *testing.T, c *Cache, ok func(View) bool) View {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
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
		National: ballot.Tally{"a": 5}, States: map[string]ballot.StateResult{"CA": {State: "CA", Batches: 1, Counted: 5, Tallies: ballot.Tally{"a": 5}}}}
	ledger := &fakeLedger{height: 10, results: base, events: []ballot.BatchCommitted{
		event(9, "old", "CA", ballot.Tally{"a": 5}), // already in the loaded results
		event(10, "t1", "CA", ballot.Tally{"b": 2}),
		event(10, "t2", "TX", ballot.Tally{"a": 1}),
		event(12, "t3", "CA", ballot.Tally{"a": 3}),
	}}
	path := filepath.Join(t.TempDir(), "results.json")
	c := New(ledger, path, []string{"CA", "TX", "NY"}, nil)
	v := runUntil(t, c, func(v View) bool { return v.Counted == 11 })
	if !v.National.Equal(ballot.Tally{"a": 9, "b": 2}) || v.States["TX"].Counted != 1 || v.AsOfBlock != 13 {
		t.Fatalf("after events: %+v", v)
	}
	if ny := v.States["NY"]; ny.Counted != 0 || ny.State != "NY" {
		t.Fatalf("a state without votes must be served as zero: %+v", ny)
	}

	// A restart resumes from the persisted checkpoint: the three events are
	// not applied again, and one that arrives later is.
	ledger.events = append(ledger.events, event(13, "t4", "NY", ballot.Tally{"b": 4}))
	ledger.served = 0
	restarted := New(ledger, path, []string{"CA", "TX", "NY"}, nil)
	v = runUntil(t, restarted, func(v View) bool { return v.Counted == 15 })
	if ledger.served != 1 {
		t.Fatalf("restart replayed %d events, want only the new one", ledger.served)
	}
	if !v.National.Equal(ballot.Tally{"a": 9, "b": 6}) {
		t.Fatalf("after restart: %+v", v.National)
	}
}

func TestResponsesCarryETagsAndRefuseUnknownStates(t *testing.T) {
	c := New(&fakeLedger{height: 1, results: ballot.Results{ElectionID: "e1"}}, filepath.Join(t.TempDir(), "r.json"), []string{"CA"}, nil)
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
	if _, err := c.State("CA"); err != nil {
		t.Errorf("known state: %v", err)
	}
	if _, err := c.State("ZZ"); err != ErrUnknownState {
		t.Errorf("unknown state: %v, want ErrUnknownState", err)
	}
}

func TestDamagedCheckpointIsReportedWithTheFix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := New(&fakeLedger{}, path, nil, nil).load(context.Background())
	if err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("damaged checkpoint: %v", err)
	}
}
