package batcher

import (
	"time"

	"github.com/votechain/votechain/ballot"
)

// A waitPoint is a decision to wait rather than act, told to
// Config.observe (a hook for this package's tests) once any timer for wake
// is set, just before the waiter blocks: a lane's not to cut, a commit
// attempt's not to give its transaction up, a cast wait's to hold its batch
// for the clock, a batch's to wait for the election record's read in
// flight or for a process slot. Each call that may wait tells the hook when
// it returns (returned), whether it waited or not. A test that has set up a
// condition awaits the waiter's decision on it instead of sleeping while a
// wrong action could show.
//
// The waiter decides again, or returns, at the first of: wake, by the
// clock (its timer is set for wake itself, Clock.TimerAt, so a clock moved while
// the waiter decided does not make it late); one of events closing (they
// include the end of the waiter's context); or an input
// that events do not carry and the hook does not see: a read handed to a
// lane or one of its batches finishing, an attempt's commit status. So a
// decision seen with wake after the clock's time, none of events closed and
// the waiter not returned says that the waiter decided on what the test set
// up, and will not decide again on its own, only if the test knows that
// none of those inputs is coming; and what it holds (pending) is what the
// waiter decided on, which such an input changes before a new decision is
// told.
type waitPoint struct {
	kind     string            // "lane", "attempt", "cast", "record" or "slots"
	id       string            // the batch's ID; a lane's partition for "lane", and for "slots" before its batch is cut
	wake     time.Time         // when the waiter decides again at the latest (zero: on an event only)
	events   []<-chan struct{} // closed by the events it decides again on; nil ones never close
	pending  int               // a lane's votes read and not cut
	returned bool              // the call kind id has returned, waited or not: none of its decisions stands (only kind and id are set)
}

// waitID is batch's ID to name its waits to Config.observe, or "" when no hook
// is set: without one, no wait formats it.
func (b *Batcher) waitID(batch ballot.Batch) string {
	if b.cfg.observe == nil {
		return ""
	}
	return batch.ID()
}
