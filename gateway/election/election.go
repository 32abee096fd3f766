// Package election gives the gateway the election record (states,
// contests and their choices, voting window, status): a cache over whatever source holds it
// (the ledger in production, a JSON file in development).
package election

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/votechain/votechain/ballot"
)

// Source fetches the current election record. The Fabric adapter implements
// it by querying the chaincode; File implements it for development.
type Source interface {
	Election(ctx context.Context) (*ballot.Election, error)
}

// File is a Source reading a JSON-encoded ballot.Election from a file on
// every call (the Cache keeps calls rare).
type File struct {
	Path string
}

// Election reads, decodes and validates the file.
func (f File) Election(context.Context) (*ballot.Election, error) {
	data, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, fmt.Errorf("election: %w", err)
	}
	var e ballot.Election
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("election: decode %s: %w", f.Path, err)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("election: %s: %w", f.Path, err)
	}
	return &e, nil
}

// Template reads an election template (config/election.json's shape: id,
// name, states, contests; the window, roll root and status are set when the
// election is set up). It is decoded strictly and checked as the record it
// becomes would be.
func Template(path string) (ballot.Election, error) {
	var e ballot.Election
	data, err := os.ReadFile(path)
	if err != nil {
		return e, fmt.Errorf("election template: %w", err)
	}
	if err := ballot.DecodeStrict(data, &e); err != nil {
		return e, fmt.Errorf("election template %s: %w", path, err)
	}
	check := e
	check.OpensAt, check.ClosesAt = time.Unix(0, 0), time.Unix(1, 0)
	check.RollRoot, check.Status = strings.Repeat("0", 64), ballot.StatusConfigured
	if err := check.Validate(); err != nil {
		return e, fmt.Errorf("election template %s: %w", path, err)
	}
	return e, nil
}

// ErrStale is returned (wrapped) by Cache.Election when the last good
// record is older than the cache's bound: the gateway then refuses votes
// rather than honour a record the ledger may have moved past (an early
// close).
var ErrStale = errors.New("election record is stale")

// Cache serves the record from memory and refreshes it from its source at
// most once per TTL. When a refresh fails it keeps serving the last good
// record, and logs the failure, for as long as that record is younger than
// maxAge; after that it returns ErrStale until a refresh succeeds. So a
// record served is never older than maxAge, and a close on the ledger is
// honoured within maxAge (within the TTL while the source answers). With no
// good record yet it returns the source's error. Records returned are
// shared: callers must not modify them. It logs two conditions once per
// spell, as a warn when the spell begins and an info with its length when
// it ends: refreshes failing (from the first failure to the next refresh
// that succeeds) and the record stale (votes are refused from the first
// ErrStale to the next record stored).
//
// Callers never wait for the source while they have a record younger than
// maxAge: a record past half its TTL is still served while one background
// call refreshes it (bounded by the record's remaining life, at least a
// TTL), so a close is honoured within a TTL plus the source's answer time,
// and never later than maxAge. Only no record, or one maxAge old, makes
// callers wait, for one call at a time; the record is read without a lock
// otherwise. (Callers used to wait from the TTL on: with the ledger's peers
// busy a query took over a second, and every vote waited on it, a stall of
// the whole intake; docs/bench-history.md, "The ramp's stall found".)
type Cache struct {
	src    Source
	ttl    time.Duration
	maxAge time.Duration
	log    *slog.Logger
	now    func() time.Time

	snap       atomic.Pointer[snapshot] // the record served
	refreshing atomic.Bool              // a background refresh is in flight

	mu      sync.Mutex // serialises waited-for refreshes, stores and the spells
	tried   time.Time  // the last refresh attempt
	failing spell      // refreshes have failed since the last one that succeeded
	stale   spell      // Election has returned ErrStale since the last store
}

// spell is a condition a log tells once while it lasts: warn began (with
// what begin is given) when it begins, info ended with how long it lasted
// (attribute forKey) when it ends. The caller serialises calls.
type spell struct {
	began, ended, forKey string
	since                time.Time // zero: no spell
}

// begin starts a spell at now, logging args with the warn, unless one
// lasts.
func (s *spell) begin(log *slog.Logger, now time.Time, args ...any) {
	if !s.since.IsZero() {
		return
	}
	s.since = now
	log.Warn(s.began, args...)
}

// end ends the spell that lasts, if any, at now, logging its length.
func (s *spell) end(log *slog.Logger, now time.Time) {
	if s.since.IsZero() {
		return
	}
	log.Info(s.ended, s.forKey, now.Sub(s.since).Round(time.Millisecond).String())
	s.since = time.Time{}
}

// snapshot is a record and when it was read from the source.
type snapshot struct {
	e       *ballot.Election
	fetched time.Time
}

// NewCache returns a cache over src refreshing every ttl and serving no
// record older than maxAge (raised to ttl if smaller); now is the clock
// (time.Now if nil).
func NewCache(src Source, ttl, maxAge time.Duration, log *slog.Logger, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{src: src, ttl: ttl, maxAge: max(maxAge, ttl), log: log, now: now,
		failing: spell{began: "election refresh failed", ended: "election refresh succeeded again", forKey: "failed_for"},
		stale: spell{began: "election record stale: votes are refused (503 election_unavailable) until the ledger answers",
			ended: "election record read from the ledger again; votes are taken again", forKey: "refused_for"}}
}

// Election returns the cached record while it is younger than maxAge
// (refreshing it in the background past half the TTL); an older one, or
// none, it refreshes first, returning an error wrapping ErrStale if the
// refresh fails.
func (c *Cache) Election(ctx context.Context) (*ballot.Election, error) {
	now := c.now()
	if s := c.snap.Load(); s != nil {
		if age := now.Sub(s.fetched); age < c.maxAge {
			if age >= c.ttl/2 {
				c.refreshAhead(ctx, now, max(c.maxAge-age, c.ttl))
			}
			return s.e, nil
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.snap.Load()
	if s != nil && (now.Sub(s.fetched) < c.maxAge || now.Sub(c.tried) < c.ttl) {
		return c.fresh(s, now)
	}
	c.tried = now
	e, err := c.src.Election(ctx)
	if err != nil {
		if s == nil {
			return nil, err
		}
		c.refreshFailed(err, s, now)
		return c.fresh(s, now)
	}
	c.failing.end(c.log, now)
	c.store(e, now)
	return e, nil
}

// refreshAhead starts a background refresh, bounded by limit, unless one is
// in flight or was tried within half a TTL.
func (c *Cache) refreshAhead(ctx context.Context, now time.Time, limit time.Duration) {
	if !c.refreshing.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	if now.Sub(c.tried) < c.ttl/2 {
		c.mu.Unlock()
		c.refreshing.Store(false)
		return
	}
	c.tried = now
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
	go func() {
		defer c.refreshing.Store(false)
		defer cancel()
		e, err := c.src.Election(ctx)
		c.mu.Lock()
		defer c.mu.Unlock()
		s := c.snap.Load()
		if s != nil && !now.After(s.fetched) {
			return // overtaken by a newer read, which has said how refreshes go
		}
		if err != nil {
			c.refreshFailed(err, s, c.now())
			return
		}
		c.failing.end(c.log, c.now())
		c.store(e, now)
	}()
}

// refreshFailed logs the start of a spell of failed refreshes (with err and
// the age of s, the record still held). The caller holds c.mu.
func (c *Cache) refreshFailed(err error, s *snapshot, now time.Time) {
	c.failing.begin(c.log, now, "err", err, "age", now.Sub(s.fetched).Round(time.Millisecond).String())
}

// store makes e, read at now, the record served, and logs the end of a
// stale spell. The caller holds c.mu.
func (c *Cache) store(e *ballot.Election, now time.Time) {
	c.snap.Store(&snapshot{e, now})
	c.stale.end(c.log, now)
}

// fresh returns the cached record if it is younger than the bound, and
// logs the start of a stale spell. The caller holds c.mu.
func (c *Cache) fresh(s *snapshot, now time.Time) (*ballot.Election, error) {
	if age := now.Sub(s.fetched); age >= c.maxAge {
		c.stale.begin(c.log, now, "age", age.Round(time.Millisecond).String(), "max_age", c.maxAge.String())
		return nil, fmt.Errorf("%w: last read from the ledger %s ago, bound %s", ErrStale, age.Round(time.Millisecond), c.maxAge)
	}
	return s.e, nil
}

// Source returns the underlying source, for readiness checks that must
// reach it.
func (c *Cache) Source() Source { return c.src }
