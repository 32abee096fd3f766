package loadgen

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// flow counts an attack's requests as they go out and end, for the stall
// watch: atomics, cheap enough for every request, sampled a few times a
// second. Counting a request never allocates: a failure's error is kept as
// it is and worded only when sampled. A nil *flow counts nothing: an
// attack without progress output has no stall watch to feed.
type flow struct {
	answered atomic.Int64 // requests answered, with any status
	failed   atomic.Int64 // requests ended without an answer (timeouts, refused or broken connections)
	inFlight atomic.Int64 // requests sent and not yet ended
	mu       sync.Mutex
	lastErr  error // the last failure's error, worded by sample
}

// sent records a request going out.
func (f *flow) sent() {
	if f != nil {
		f.inFlight.Add(1)
	}
}

// ended records the end of a request sent: its outcome and its error, if any.
func (f *flow) ended(o outcome, err error) {
	if f == nil {
		return
	}
	if o == transportError {
		if err != nil {
			f.mu.Lock()
			f.lastErr = err
			f.mu.Unlock()
		}
		f.failed.Add(1)
	} else {
		f.answered.Add(1)
	}
	f.inFlight.Add(-1)
}

// sample reads the counters at the time at, and words the last failure's
// error.
func (f *flow) sample(at time.Time) stallSample {
	s := stallSample{at: at, answered: f.answered.Load(), failed: f.failed.Load(), inFlight: f.inFlight.Load()}
	f.mu.Lock()
	err := f.lastErr
	f.mu.Unlock()
	if err != nil {
		s.lastErr = err.Error()
	}
	return s
}

// stallSample is an attack's counters at one time.
type stallSample struct {
	at       time.Time
	answered int64  // requests answered so far, with any status
	failed   int64  // requests ended without an answer so far
	inFlight int64  // requests sent and not yet ended
	lastErr  string // the last failure's error ("" if none)
}

// stallEvent is what a sample showed of the gateway's answers.
type stallEvent struct {
	kind     stallKind
	waited   time.Duration // how long no answer came: so far (stopped, unrecovered), in all (recovered)
	inFlight int64         // requests waiting at the time (stopped)
	failed   int64         // requests ended without an answer since the wait began
	lastErr  string        // the last of those failures' error (stopped)
}

// stallKind is what a stallEvent tells.
type stallKind int

const (
	stallStopped     stallKind = iota // the gateway stopped answering
	stallRecovered                    // it answers again
	stallUnrecovered                  // the attack ended before it answered again
)

// stallWatch tells, from samples of an attack's counters in time order,
// when the gateway stopped answering and when it answered again: once per
// stall, however many requests it holds or fails. It has stopped when a
// request has waited after (or more) with no answer of any status coming
// meanwhile: one still in flight, or one that ended without an answer. Any
// answer ends the stall; the requests still in flight then wait afresh.
// The times are the samples', so they are as fine as the sampling.
type stallWatch struct {
	after    time.Duration
	answered int64     // the last sample's
	failed   int64     // the last sample's
	since    time.Time // since when a request has waited; zero: none waits
	base     int64     // failed when the wait began
	stalled  bool      // the stop was told, the recovery not yet
}

// observe takes the next sample and returns the event it shows, if any.
func (w *stallWatch) observe(s stallSample) (stallEvent, bool) {
	answered, failedBefore := s.answered > w.answered, w.failed
	w.answered, w.failed = s.answered, s.failed
	if answered {
		var e stallEvent
		told := w.stalled
		if told {
			e = stallEvent{kind: stallRecovered, waited: s.at.Sub(w.since), failed: s.failed - w.base}
		}
		w.stalled, w.since, w.base = false, time.Time{}, s.failed
		if s.inFlight > 0 {
			w.since = s.at
		}
		return e, told
	}
	if w.since.IsZero() {
		if s.inFlight <= 0 && s.failed == failedBefore {
			return stallEvent{}, false // nothing sent waits
		}
		w.since, w.base = s.at, failedBefore
	}
	if w.stalled || s.at.Sub(w.since) < w.after {
		return stallEvent{}, false
	}
	w.stalled = true
	return stallEvent{kind: stallStopped, waited: s.at.Sub(w.since), inFlight: s.inFlight, failed: s.failed - w.base, lastErr: s.lastErr}, true
}

// end takes the attack's last sample, once every request has ended, and
// returns the event it shows: a recovery, or, while the gateway has not
// answered since it stopped (a stop this sample finds included), that it
// did not answer again before the end.
func (w *stallWatch) end(s stallSample) (stallEvent, bool) {
	e, ok := w.observe(s)
	if !w.stalled {
		return e, ok
	}
	return stallEvent{kind: stallUnrecovered, waited: s.at.Sub(w.since), failed: s.failed - w.base}, true
}

// message words the event for the progress output, naming the gateway by
// url (the endpoint the votes go to).
func (e stallEvent) message(url string) string {
	waited := e.waited.Round(100 * time.Millisecond)
	unanswered := ""
	if e.failed > 0 {
		unanswered = fmt.Sprintf(" (%d requests ended unanswered)", e.failed)
	}
	switch e.kind {
	case stallRecovered:
		return fmt.Sprintf("the gateway at %s answers again, after %s without an answer%s", url, waited, unanswered)
	case stallUnrecovered:
		return fmt.Sprintf("the gateway at %s had still not answered when the phase ended: no answer for %s%s", url, waited, unanswered)
	}
	msg := fmt.Sprintf("the gateway at %s stopped answering: no answer for %s, %d requests waiting", url, waited, e.inFlight)
	if e.failed > 0 {
		msg += fmt.Sprintf(", %d ended unanswered (the last: %s)", e.failed, e.lastErr)
	}
	return msg + "; check that it still runs and what its log says, its /readyz (its queue, Redis) and the machine's load; the run goes on"
}
