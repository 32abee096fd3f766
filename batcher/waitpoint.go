package batcher

import "time"

// A waitPoint is a decision to wait rather than act, told to
// Config.observe (a hook for this package's tests) just before the waiter
// blocks: a lane's not to cut, a commit attempt's not to give its
// transaction up, a cast wait's to hold its batch for the clock, a batch's
// to wait for the election record's read in flight or for a process slot.
// A test that has set up a condition awaits the waiter's decision on it
// instead of sleeping while a wrong action could show.
//
// The decision stands until wake or until one of events is closed,
// whichever comes first; what a waiter receives by value (a lane's reads
// and its finished batches, a transaction's commit status) is not among
// events.
type waitPoint struct {
	kind    string            // "lane", "attempt", "cast", "record" or "slots"
	id      string            // the lane's partition, the batch's id ("" for record and slots)
	wake    time.Time         // when the waiter decides again at the latest (zero: on an event only)
	events  []<-chan struct{} // closed by the events it decides again on
	pending int               // a lane's votes read and not cut
}
