package batcher

import (
	"context"
	"sync"
	"time"
)

// slots counts what the process has in flight (batches, or votes when
// lanes cut on ticks: Batcher.slotCost), up to a limit, and tells waiting
// lanes when some frees. A taker may pass the limit by what it takes, once:
// a full batch is never starved by small ones.
type slots struct {
	mu      sync.Mutex
	used    int
	limit   int
	freed   chan struct{}   // closed at the next release
	observe func(waitPoint) // Config.observe: told when acquire waits, and when it returns
}

// newSlots returns slots up to limit; observe is Config.observe.
func newSlots(limit int, observe func(waitPoint)) *slots {
	return &slots{limit: limit, freed: make(chan struct{}), observe: observe}
}

// free reports whether there is room below the limit now.
func (s *slots) free() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used < s.limit
}

// tryAcquire takes n if there is room below the limit.
func (s *slots) tryAcquire(n int) bool {
	ok, _ := s.take(n)
	return ok
}

// take takes n if there is room below the limit; if not, it returns the
// channel closed at the next release (checked under the same lock, so no
// release is missed).
func (s *slots) take(n int) (ok bool, freed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used >= s.limit {
		return false, s.freed
	}
	s.used += n
	return true, nil
}

// acquire waits for room and takes n, until ctx ends; id (a batch's ID,
// waitID, or a lane's partition for a batch not yet cut) names the wait to
// observe.
func (s *slots) acquire(ctx context.Context, n int, id string) error {
	if s.observe != nil {
		defer s.observe(waitPoint{kind: "slots", id: id, returned: true})
	}
	for {
		ok, freed := s.take(n)
		if ok {
			return nil
		}
		if s.observe != nil {
			s.observe(waitPoint{kind: "slots", id: id, events: []<-chan struct{}{freed, ctx.Done()}})
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release frees n taken and wakes every waiter.
func (s *slots) release(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used -= n
	close(s.freed)
	s.freed = make(chan struct{})
}

// released is closed when a slot is next released.
func (s *slots) released() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.freed
}

// chainHeight follows the ledger's committed block numbers and wakes waiters
// on every new block.
type chainHeight struct {
	mu      sync.Mutex
	height  uint64 // last block number seen + 1
	changed chan struct{}
}

func newChainHeight() *chainHeight { return &chainHeight{changed: make(chan struct{})} }

// get returns the height and a channel closed when it next grows.
func (h *chainHeight) get() (uint64, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.height, h.changed
}

// saw records a committed block.
func (h *chainHeight) saw(block uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if block+1 <= h.height {
		return
	}
	h.height = block + 1
	close(h.changed)
	h.changed = make(chan struct{})
}

// progress follows the process's own commits, per gateway whose peer
// answered their commit status (gatewayOf): when the last one happened and
// the latest acceptance time among committed transactions, and wakes
// waiters on every commit.
type progress struct {
	mu      sync.Mutex
	by      map[int]progressMark
	changed chan struct{}
}

// progressMark is one gateway's progress.
type progressMark struct {
	last     time.Time // when a transaction last committed
	accepted time.Time // the latest acceptance of a committed transaction
}

func newProgress() *progress {
	return &progress{by: map[int]progressMark{}, changed: make(chan struct{})}
}

// get returns the last commit answered by gateway, the latest acceptance
// among the transactions it answered, and a channel closed at the process's
// next commit (through any gateway).
func (p *progress) get(gateway int) (last, accepted time.Time, changed <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.by[gateway]
	return m.last, m.accepted, p.changed
}

// committed records that a transaction accepted at accepted committed at
// at, its status answered by gateway.
func (p *progress) committed(gateway int, accepted, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.by[gateway]
	if at.After(m.last) {
		m.last = at
	}
	if accepted.After(m.accepted) {
		m.accepted = accepted
	}
	p.by[gateway] = m
	close(p.changed)
	p.changed = make(chan struct{})
}
