package election

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

// countingSource answers at once with its record or error, counting the
// calls; safe for the cache's background refreshes.
type countingSource struct {
	mu    sync.Mutex
	e     *ballot.Election
	err   error
	calls int
}

func (c *countingSource) Election(context.Context) (*ballot.Election, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return c.e, c.err
}

// set makes the source answer e and err from now on.
func (c *countingSource) set(e *ballot.Election, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.e, c.err = e, err
}

// count is the number of calls so far.
func (c *countingSource) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// settle waits until the cache has no background refresh in flight.
func settle(t *testing.T, c *Cache) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.refreshing.Load() {
		if time.Now().After(deadline) {
			t.Fatal("a background refresh never ended")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCacheRefreshesAndServesStale(t *testing.T) {
	now := time.Unix(1000, 0)
	src := &countingSource{e: &ballot.Election{ID: "a"}}
	c := NewCache(src, time.Minute, 5*time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
	for range 3 {
		if e, err := c.Election(context.Background()); err != nil || e.ID != "a" {
			t.Fatalf("%v, %v", e, err)
		}
	}
	if n := src.count(); n != 1 {
		t.Fatalf("%d source calls within the TTL; want 1", n)
	}
	now = now.Add(2 * time.Minute)
	src.set(nil, errors.New("peer down"))
	if e, err := c.Election(context.Background()); err != nil || e.ID != "a" {
		t.Fatalf("stale: %v, %v; want the last good record", e, err)
	}
	settle(t, c)
	empty := NewCache(src, time.Minute, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if _, err := empty.Election(context.Background()); err == nil {
		t.Fatal("no record and a failing source gave no error")
	}
}

func TestCacheStaleBound(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	src := &countingSource{e: &ballot.Election{ID: "a", Status: ballot.StatusConfigured}}
	c := NewCache(src, time.Second, 5*time.Second, slog.New(slog.DiscardHandler), clock)
	if _, err := c.Election(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A close on the source is served once the refresh begun after half a
	// TTL lands.
	src.set(&ballot.Election{ID: "a", Status: ballot.StatusClosed}, nil)
	advance(time.Second)
	if _, err := c.Election(context.Background()); err != nil {
		t.Fatal(err)
	}
	settle(t, c)
	if e, err := c.Election(context.Background()); err != nil || e.Status != ballot.StatusClosed {
		t.Fatalf("after a TTL: %+v, %v; want the closed record", e, err)
	}
	// The source fails: the last record serves until it is maxAge old, then
	// ErrStale, and a successful refresh ends it.
	src.set(nil, errors.New("peer down"))
	advance(4900 * time.Millisecond)
	if _, err := c.Election(context.Background()); err != nil {
		t.Fatalf("4.9 s old: %v; want the cached record", err)
	}
	settle(t, c)
	advance(100 * time.Millisecond)
	if _, err := c.Election(context.Background()); !errors.Is(err, ErrStale) {
		t.Fatalf("5 s old: %v; want ErrStale", err)
	}
	calls := src.count()
	advance(500 * time.Millisecond)
	if _, err := c.Election(context.Background()); !errors.Is(err, ErrStale) || src.count() != calls {
		t.Fatalf("within a TTL of the failed refresh: %v after %d calls (%d before); want ErrStale without a call", err, src.count(), calls)
	}
	src.set(&ballot.Election{ID: "a", Status: ballot.StatusClosed}, nil)
	advance(time.Second)
	if _, err := c.Election(context.Background()); err != nil {
		t.Fatalf("after the source recovered: %v", err)
	}
}

// gatedSource answers each call with the record sent on answer, counting
// the calls started.
type gatedSource struct {
	started chan struct{}
	answer  chan *ballot.Election
}

func (g gatedSource) Election(ctx context.Context) (*ballot.Election, error) {
	g.started <- struct{}{}
	select {
	case e := <-g.answer:
		return e, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestCacheRefreshesAhead: past half its TTL the record is still served
// without waiting for the source while one background call refreshes it,
// and the refreshed record is served once it lands.
func TestCacheRefreshesAhead(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	src := gatedSource{started: make(chan struct{}, 10), answer: make(chan *ballot.Election, 1)}
	c := NewCache(src, time.Second, 5*time.Second, slog.New(slog.DiscardHandler), clock)
	src.answer <- &ballot.Election{ID: "a"}
	if e, err := c.Election(context.Background()); err != nil || e.ID != "a" {
		t.Fatalf("first read: %v, %v", e, err)
	}
	<-src.started
	mu.Lock()
	now = now.Add(600 * time.Millisecond)
	mu.Unlock()
	for range 3 { // the source has no answer yet: these must not wait for it
		if e, err := c.Election(context.Background()); err != nil || e.ID != "a" {
			t.Fatalf("past half the TTL: %v, %v; want the cached record at once", e, err)
		}
	}
	select {
	case <-src.started:
	case <-time.After(10 * time.Second):
		t.Fatal("no background refresh started past half the TTL")
	}
	if n := len(src.started); n != 0 {
		t.Fatalf("%d more source calls while a refresh was in flight; want none", n)
	}
	src.answer <- &ballot.Election{ID: "b"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		e, err := c.Election(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if e.ID == "b" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background refresh never landed")
		}
		time.Sleep(time.Millisecond)
	}
	if n := len(src.started); n != 0 {
		t.Fatalf("%d source calls after the refresh; want none within its TTL", n)
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	e := ballot.Election{ID: "e1", Name: "E", States: []string{"CA"},
		Contests: []ballot.Contest{{ID: "race", Title: "Race", Kind: ballot.ContestRace, Choices: []string{"alice"}}},
		OpensAt:  time.Unix(0, 0).UTC(), ClosesAt: time.Unix(3600, 0).UTC(), RollRoot: strings.Repeat("a", 64), Status: ballot.StatusConfigured,
		Batchers: []string{"User1@commission.votechain.test"}}
	data, _ := json.Marshal(e)
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(good, data, 0o600)
	_ = os.WriteFile(bad, []byte(`{"id":"e1"}`), 0o600)
	got, err := File{Path: good}.Election(context.Background())
	if err != nil || got.ID != "e1" || !got.HasState("CA") {
		t.Fatalf("%+v, %v", got, err)
	}
	for _, p := range []string{bad, filepath.Join(dir, "missing.json")} {
		if _, err := (File{Path: p}).Election(context.Background()); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
}

// TestTemplate: the repository's templates read; one with a mistake (an
// unknown field, a contest without choices) is refused naming the file.
func TestTemplate(t *testing.T) {
	for path, contests := range map[string]int{"../../config/election.json": 1, "../../config/referendum.json": 3} {
		e, err := Template(path)
		if err != nil || len(e.Contests) != contests || len(e.States) == 0 {
			t.Errorf("%s: %d contests, %v; want %d", path, len(e.Contests), err, contests)
		}
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown.json":    `{"id":"e","name":"E","states":["CA"],"candidates":["a"],"contests":[{"id":"r","title":"R","kind":"race","choices":["a"]}]}`,
		"nochoices.json":  `{"id":"e","name":"E","states":["CA"],"contests":[{"id":"r","title":"R","kind":"race","choices":[]}]}`,
		"nocontests.json": `{"id":"e","name":"E","states":["CA"],"contests":[]}`,
	} {
		path := filepath.Join(dir, name)
		_ = os.WriteFile(path, []byte(body), 0o600)
		if _, err := Template(path); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v; want an error naming the file", name, err)
		}
	}
}

// BenchmarkCacheElection reads a fresh cached record from every core, as
// each vote does.
func BenchmarkCacheElection(b *testing.B) {
	c := NewCache(&countingSource{e: &ballot.Election{ID: "a"}}, time.Hour, time.Hour, slog.New(slog.DiscardHandler), nil)
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Election(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestCacheSlowSourceDoesNotStall: a source slower than the TTL does not
// make callers wait while the record is younger than maxAge (a refresh
// waited for from the TTL on held every vote of the gateway for as long as
// a busy peer took to answer); one background call is in flight, bounded
// by the record's remaining life, and once the record is maxAge old
// callers get ErrStale rather than an older record.
func TestCacheSlowSourceDoesNotStall(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	src := gatedSource{started: make(chan struct{}, 10), answer: make(chan *ballot.Election, 1)}
	c := NewCache(src, time.Second, 5*time.Second, slog.New(slog.DiscardHandler), clock)
	src.answer <- &ballot.Election{ID: "a"}
	if _, err := c.Election(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-src.started
	for _, d := range []time.Duration{600 * time.Millisecond, time.Second, 2 * time.Second, time.Second} { // ages 0.6, 1.6, 3.6, 4.6 s
		advance(d)
		got := make(chan error, 1)
		go func() {
			e, err := c.Election(context.Background())
			if err == nil && e.ID != "a" {
				err = errors.New("record " + e.ID)
			}
			got <- err
		}()
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("a slow source: %v; want the cached record", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a caller waited for a slow source while the record was younger than maxAge")
		}
	}
	select {
	case <-src.started:
	case <-time.After(10 * time.Second):
		t.Fatal("no background refresh started")
	}
	if n := len(src.started); n != 0 {
		t.Fatalf("%d more source calls while a refresh was in flight; want none", n)
	}
	advance(500 * time.Millisecond) // 5.1 s old
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Election(ctx); !errors.Is(err, ErrStale) {
		t.Fatalf("maxAge old, the source still silent: %v; want ErrStale", err)
	}
}

// recordingHandler keeps the message, level and attributes of each record
// logged through it; safe for the cache's background refreshes.
type recordingHandler struct {
	mu   sync.Mutex
	recs []string // "LEVEL msg key=value …"
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, line)
	return nil
}

// take returns the records logged since the last call whose message
// starts with prefix.
func (h *recordingHandler) take(prefix string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		if _, msg, _ := strings.Cut(r, " "); strings.HasPrefix(msg, prefix) {
			out = append(out, r)
		}
	}
	h.recs = nil
	return out
}

// loggedCache is a Cache with a TTL of 1 s and a max age of 5 s over a
// source the test sets, on a clock it advances, logging into a
// recordingHandler.
type loggedCache struct {
	t   *testing.T
	c   *Cache
	src *countingSource
	h   *recordingHandler

	mu  sync.Mutex
	now time.Time
}

func newLoggedCache(t *testing.T) *loggedCache {
	lc := &loggedCache{t: t, src: &countingSource{e: &ballot.Election{ID: "a"}}, h: &recordingHandler{}, now: time.Unix(1000, 0)}
	lc.c = NewCache(lc.src, time.Second, 5*time.Second, slog.New(lc.h), func() time.Time { lc.mu.Lock(); defer lc.mu.Unlock(); return lc.now })
	return lc
}

// advance moves the clock on by d.
func (lc *loggedCache) advance(d time.Duration) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.now = lc.now.Add(d)
}

// want asks for the record once, lets any background refresh end, and
// checks that the answer is ErrStale or not and that the records logged
// whose message starts with prefix are logs.
func (lc *loggedCache) want(step string, wantErr bool, prefix string, logs ...string) {
	t := lc.t
	t.Helper()
	_, err := lc.c.Election(context.Background())
	settle(t, lc.c)
	if got := errors.Is(err, ErrStale); got != wantErr {
		t.Errorf("%s: %v; want ErrStale %v", step, err, wantErr)
	}
	if got := lc.h.take(prefix); strings.Join(got, "\n") != strings.Join(logs, "\n") {
		t.Errorf("%s: logged %q; want %q", step, got, logs)
	}
}

// TestCacheLogsStaleSpells: the first request that finds the record
// maxAge old logs once that votes are refused (not again while it stays
// stale), the next record read logs once that they are taken again and
// for how long they were not, and a second spell logs again.
func TestCacheLogsStaleSpells(t *testing.T) {
	lc := newLoggedCache(t)
	const stale = "election record"
	lc.want("first read", false, stale)
	for spell := range 2 {
		lc.src.set(nil, errors.New("peer down"))
		lc.advance(4900 * time.Millisecond)
		lc.want("4.9 s old", false, stale)
		lc.advance(100 * time.Millisecond)
		lc.want("5 s old", true, stale,
			`WARN election record stale: votes are refused (503 election_unavailable) until the ledger answers age=5s max_age=5s`)
		lc.advance(time.Second)
		lc.want("6 s old", true, stale)
		lc.advance(time.Second)
		lc.want("7 s old", true, stale)
		lc.src.set(&ballot.Election{ID: "a"}, nil)
		lc.advance(time.Second)
		lc.want(fmt.Sprintf("spell %d: the ledger answers", spell), false, stale,
			`INFO election record read from the ledger again; votes are taken again refused_for=3s`)
	}
}

// TestCacheLogsRefreshFailureSpells: while the source fails, the first
// failed refresh logs a warn with the error and the record's age, and no
// later one (background or waited-for, before and after the record went
// stale) logs again; the next refresh that succeeds logs once, with how
// long refreshes failed. A second, short spell, background refreshes only,
// logs the same two lines again.
func TestCacheLogsRefreshFailureSpells(t *testing.T) {
	lc := newLoggedCache(t)
	const refresh = "election refresh"
	lc.want("first read", false, refresh)
	lc.src.set(nil, errors.New("peer down"))
	lc.advance(600 * time.Millisecond)
	lc.want("first failure (background)", false, refresh, `WARN election refresh failed err=peer down age=600ms`)
	for _, age := range []string{"1.2 s", "1.8 s", "2.4 s"} {
		lc.advance(600 * time.Millisecond)
		lc.want("failing in the background, "+age+" old", false, refresh)
	}
	lc.advance(3 * time.Second)
	lc.want("failing, waited for, 5.4 s old", true, refresh)
	lc.advance(time.Second)
	lc.want("failing, waited for, 6.4 s old", true, refresh)
	if n := lc.src.count(); n < 7 {
		t.Fatalf("%d calls of the source; want every refresh tried", n)
	}
	lc.src.set(&ballot.Election{ID: "a"}, nil)
	lc.advance(time.Second)
	lc.want("the ledger answers", false, refresh, `INFO election refresh succeeded again failed_for=6.8s`)

	lc.src.set(nil, errors.New("timeout"))
	lc.advance(600 * time.Millisecond)
	lc.want("second spell", false, refresh, `WARN election refresh failed err=timeout age=600ms`)
	lc.src.set(&ballot.Election{ID: "a"}, nil)
	lc.advance(600 * time.Millisecond)
	lc.want("second spell ends (background)", false, refresh, `INFO election refresh succeeded again failed_for=600ms`)
}
