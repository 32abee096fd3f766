// Package election gives the gateway the election record (states,
// candidates, voting window, status): a cache over whatever source holds it
// (the ledger in production, a JSON file in development).
package election

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
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

// Cache serves the record from memory and refreshes it from its source at
// most once per TTL. When a refresh fails it keeps serving the last good
// record (the window is checked against the local clock, so the election
// still closes on time) and logs the failure; with no good record yet it
// returns the error. Records returned are shared: callers must not modify
// them.
type Cache struct {
	src Source
	ttl time.Duration
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	cur     *ballot.Election
	fetched time.Time
}

// NewCache returns a cache over src; now is the clock (time.Now if nil).
func NewCache(src Source, ttl time.Duration, log *slog.Logger, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{src: src, ttl: ttl, log: log, now: now}
}

// Election returns the cached record, refreshing it if it is older than the
// TTL.
func (c *Cache) Election(ctx context.Context) (*ballot.Election, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.cur != nil && now.Sub(c.fetched) < c.ttl {
		return c.cur, nil
	}
	e, err := c.src.Election(ctx)
	if err != nil {
		if c.cur == nil {
			return nil, err
		}
		c.log.Warn("election refresh failed; serving the cached record", "err", err, "age", now.Sub(c.fetched))
		// Try again after another TTL rather than on every request.
		c.fetched = now
		return c.cur, nil
	}
	c.cur, c.fetched = e, now
	return e, nil
}

// Source returns the underlying source, for readiness checks that must
// reach it.
func (c *Cache) Source() Source { return c.src }
