package loadgen

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/votechain/votechain/bench/measure"
)

// VoteID is a vote id the gateway answered 202 with (16 bytes, 32 hex).
type VoteID [16]byte

// String is the id's hex form.
func (id VoteID) String() string { return hex.EncodeToString(id[:]) }

// ParseVoteID decodes a 32-hex vote id.
func ParseVoteID(s string) (VoteID, bool) {
	var id VoteID
	if len(s) != 32 {
		return id, false
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err == nil
}

// Timeline is the per-second record of a whole run, across phases.
type Timeline struct {
	Start     time.Time
	Sent      *measure.Series    // attempts sent, by send time
	Accepted  *measure.Series    // 202 answers, by answer time
	Answered  *measure.Series    // answers other than 503, by answer time
	Failed    *measure.Series    // 503s and transport errors, by answer time
	AcceptLat *measure.Quantiles // latency of 202 answers, by answer time
}

// NewTimeline starts a timeline at start.
func NewTimeline(start time.Time) *Timeline {
	return &Timeline{Start: start, Sent: measure.NewSeries(start), Accepted: measure.NewSeries(start),
		Answered: measure.NewSeries(start), Failed: measure.NewSeries(start), AcceptLat: measure.NewQuantiles(start)}
}

// Recorder records every answer of every phase: the timeline, and the vote
// ids answered 202 with how often each came back and the contest each was
// sent in. It is safe for concurrent use.
//
// A 202's id is appended to a list while the load runs and the list is
// counted by id only when asked (AcceptedIDs, AcceptedContests, once the
// phases are over): two map insertions per vote cost the load generator,
// on the machine it measures, ~15% of its CPU per request.
type Recorder struct {
	mu       sync.Mutex
	timeline *Timeline
	accepted []acceptedVote    // every 202 with a readable id, in answer order
	contests []string          // the contest ids sent, acceptedVote.contest indexes them
	index    map[string]uint32 // contest id -> its place in contests
	badIDs   int               // 202 answers without a readable vote id
	lost     int               // requests without an answer (timeouts, broken connections): outcome unknown
}

// acceptedVote is one 202: the vote id it gave and the contest sent (its
// place in Recorder.contests: the list, millions long in a bench run,
// holds no pointers for the collector to scan).
type acceptedVote struct {
	id      VoteID
	contest uint32
}

// NewRecorder returns a recorder whose timeline starts at start.
func NewRecorder(start time.Time) *Recorder {
	return &Recorder{timeline: NewTimeline(start), index: map[string]uint32{}}
}

// answer is one request's outcome as the runner saw it.
type answer struct {
	sent    time.Time     // when the request was sent
	latency time.Duration // from sent to the answer's end (or the error)
	readLag time.Duration // from the answer's arrival to its read (timeTo)
	code    int           // the status code; 0 for a transport error
	body    []byte        // the answer's body (its first bytes), valid during record
	contest string        // the contest of the request's vote
}

// timeTo sets the latency of an answer read at read, which the kernel
// received at arrived (zero if unknown): to its arrival, and the rest, the
// reader's own delay, as readLag. An arrival outside sent..read (a clock
// step, or no answer: err) is not used; the read's time is.
func (a *answer) timeTo(read, arrived time.Time, err error) {
	a.latency, a.readLag = read.Sub(a.sent), 0
	if err == nil && !arrived.IsZero() && !arrived.Before(a.sent) && !arrived.After(read) {
		a.readLag = read.Sub(arrived)
		a.latency -= a.readLag
	}
}

// end is when the answer (or the error) came.
func (a *answer) end() time.Time { return a.sent.Add(a.latency) }

// outcome classifies one answer.
type outcome int

const (
	accepted outcome = iota
	duplicate
	ineligible
	overloaded
	otherStatus
	transportError
	outcomes
)

func classify(a *answer) outcome {
	switch a.code {
	case http.StatusAccepted:
		return accepted
	case http.StatusConflict:
		return duplicate
	case http.StatusForbidden:
		return ineligible
	case http.StatusServiceUnavailable:
		return overloaded
	case 0:
		return transportError
	}
	return otherStatus
}

// record adds one answer and returns its outcome.
func (rc *Recorder) record(a *answer) outcome {
	o := classify(a)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	tl := rc.timeline
	tl.Sent.Add(a.sent, 1)
	end := a.end()
	switch o {
	case overloaded, transportError:
		tl.Failed.Add(end, 1)
		if o == transportError {
			rc.lost++
		}
	default:
		tl.Answered.Add(end, 1)
	}
	if o == accepted {
		tl.Accepted.Add(end, 1)
		tl.AcceptLat.Add(end, a.latency)
		if id, ok := voteIDOf(a.body); ok {
			rc.accepted = append(rc.accepted, acceptedVote{id, rc.contest(a.contest)})
		} else {
			rc.badIDs++
		}
	}
	return o
}

// acceptedPrefix is how the gateway's 202 body begins (httpapi's
// appendAccepted): the vote id comes first.
const acceptedPrefix = `{"vote_id":"`

// voteIDOf reads the vote id of a 202 body: directly when the body begins
// as the gateway writes it, through encoding/json otherwise.
func voteIDOf(body []byte) (VoteID, bool) {
	if rest, ok := bytes.CutPrefix(body, []byte(acceptedPrefix)); ok && len(rest) > 32 && rest[32] == '"' {
		var id VoteID
		if _, err := hex.Decode(id[:], rest[:32]); err == nil {
			return id, true
		}
	}
	var v struct {
		VoteID string `json:"vote_id"`
	}
	if json.Unmarshal(body, &v) != nil {
		return VoteID{}, false
	}
	return ParseVoteID(v.VoteID)
}

// contest is the place of contest in rc.contests, added if new; rc.mu is
// held.
func (rc *Recorder) contest(contest string) uint32 {
	if i, ok := rc.index[contest]; ok {
		return i
	}
	i := uint32(len(rc.contests))
	contest = strings.Clone(contest)
	rc.contests = append(rc.contests, contest)
	rc.index[contest] = i
	return i
}

// Timeline returns the run's timeline; read it only when no attack runs.
func (rc *Recorder) Timeline() *Timeline { return rc.timeline }

// AcceptedIDs returns the vote ids answered 202 with how often each was
// answered (always 1 for a correct gateway), and the number of 202 answers
// whose body held no readable vote id.
func (rc *Recorder) AcceptedIDs() (map[VoteID]int, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[VoteID]int, len(rc.accepted))
	for _, v := range rc.accepted {
		out[v.id]++
	}
	return out, rc.badIDs
}

// AcceptedContests returns the contest each vote id answered 202 was sent
// in (the last one's, for an id answered more than once).
func (rc *Recorder) AcceptedContests() map[VoteID]string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[VoteID]string, len(rc.accepted))
	for _, v := range rc.accepted {
		out[v.id] = rc.contests[v.contest]
	}
	return out
}

// Unanswered is how many requests got no answer (client timeouts, broken
// connections): the gateway may have stored such a vote without the client
// learning its id.
func (rc *Recorder) Unanswered() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.lost
}
