package batcher

import (
	"strconv"
	"strings"
	"sync"
)

// streamID is a Redis stream entry id, ms-seq.
type streamID struct{ ms, seq uint64 }

// parseStreamID parses "ms-seq"; ok is false for anything else.
func parseStreamID(s string) (id streamID, ok bool) {
	ms, seq, found := strings.Cut(s, "-")
	var err1, err2 error
	id.ms, err1 = strconv.ParseUint(ms, 10, 64)
	id.seq, err2 = strconv.ParseUint(seq, 10, 64)
	return id, found && err1 == nil && err2 == nil
}

func (a streamID) less(b streamID) bool { return a.ms < b.ms || a.ms == b.ms && a.seq < b.seq }

func (a streamID) String() string {
	return strconv.FormatUint(a.ms, 10) + "-" + strconv.FormatUint(a.seq, 10)
}

// next is the smallest id above a.
func (a streamID) next() streamID {
	if a.seq == ^uint64(0) {
		return streamID{a.ms + 1, 0}
	}
	return streamID{a.ms, a.seq + 1}
}

// floor tracks, for a lane that reads its stream in order from the start,
// the lowest stream id it may still have to settle: every entry below it
// was read by the lane and settled (acknowledged, or moved to the dead
// letters). Ack trims below it with one XTRIM MINID instead of naming each
// entry. A floor lower than the truth only costs XDELs; it is never
// higher: held rises only once what it passed is counted in batches.
type floor struct {
	mu      sync.Mutex
	held    streamID            // the lowest id read and not in a batch, or above the last read
	batches map[uint64]streamID // batch seq -> lowest id of a journaled batch not yet settled
}

// batch counts a journaled batch's entries as unsettled until settled.
func (f *floor) batch(seq uint64, ids []string) {
	lo, ok := lowest(ids)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.batches == nil {
		f.batches = map[uint64]streamID{}
	}
	if !ok {
		lo = streamID{} // unparsable: trim nothing until it settles
	}
	f.batches[seq] = lo
}

// hold sets the lowest id read and not in a batch: the first pending
// entry's, or, with none pending, the one above the last read (after).
// The batches cut from what was held must be counted (batch) first.
func (f *floor) hold(first, after string) {
	var id streamID
	var ok bool
	if first != "" {
		id, ok = parseStreamID(first)
	} else if after != "" {
		id, ok = parseStreamID(after)
		id = id.next()
	}
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held.less(id) {
		f.held = id
	}
}

// settling returns the floor for settling batch seq: the lowest of what is
// held and of the other batches; "" when nothing may be trimmed.
func (f *floor) settling(seq uint64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	lo := f.held
	for s, id := range f.batches {
		if s != seq && id.less(lo) {
			lo = id
		}
	}
	if lo == (streamID{}) {
		return ""
	}
	return lo.String()
}

// settled forgets batch seq once its entries are deleted.
func (f *floor) settled(seq uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.batches, seq)
}

// lowest is the lowest of ids; ok is false if any is unparsable or none.
func lowest(ids []string) (lo streamID, ok bool) {
	for i, s := range ids {
		id, valid := parseStreamID(s)
		if !valid {
			return streamID{}, false
		}
		if i == 0 || id.less(lo) {
			lo = id
		}
	}
	return lo, len(ids) > 0
}
