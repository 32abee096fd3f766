// Package logmonitor is the intake log's monitor: omission detection. For
// each state it takes the last head anchored on the ledger, reads the log's
// entries up to it (from the gateway's API or Redis), checks that they give
// the head's root, so nothing served can differ from what was signed, and
// finds every entry on the ledger: in a committed batch (read from the
// batch's own transaction), counted or rejected with the ledger's reason.
// An entry the ledger does not hold is pending until its cast time plus a
// deadline and MISSING after it: the signed, anchored head is the evidence
// that it was accepted (ballot.EntryStanding).
//
// It also says where an acceptance receipt's vote stands on the ledger
// (Standing); checks that heads seen before (Check's seen: the heads a
// monitor verified before, as the explorer and verify --log --log-state
// keep them) are consistent with the log, their roots the log's at their
// sizes, a finding saying whether it proves a fork (InconsistentError's
// Evidence); and checks that one signed head's log extends another's by a
// consistency proof (Extends: the explorer between the anchored heads it
// saw in turn, verify --acceptance --gateway between a receipt's head and
// the anchored one, a mismatch there being a fork).
//
// A Monitor remembers what it verified (per state: the frontier of the
// log's tree up to the last head, the roots of the heads it verified, the
// entries not yet counted, the batches read and where they put each vote
// whose entry is not counted yet), so a check costs what is new since the
// last one, and a counted vote costs it no memory: the new entries, read
// and hashed once; the new batches, each transaction read once (or not at
// all when the caller already decoded it and handed its votes over with
// Committed, as the explorer's follower does), the batch records listed
// from the page the last listing ended in (the whole list only before an
// entry would be called MISSING); and the entries not yet counted.
// Entries once verified and counted, and batches once read, are never read
// again: the ledger is append-only and a new head's root is computed from
// the remembered frontier and the new entries, which is the proof that the
// new head extends the old; only a head seen before whose root the monitor
// did not remember is checked by reading its log again. Only a check that
// finds the log inconsistent, a new election, or a new process starts a
// state from scratch.
package logmonitor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/votechain/votechain/ballot"
)

// Log serves a state's log entries (encoded votes): the gateway's API
// (Gateway) or Redis (*intakelog.Log).
type Log interface {
	Entries(ctx context.Context, state string, start, end uint64) ([][]byte, error)
}

// Ledger is what the monitor reads of the ledger (*fabricclient.Ballot).
type Ledger interface {
	Election(ctx context.Context) (*ballot.Election, error)
	LogKeys(ctx context.Context) (ballot.LogKeys, error)
	LogHead(ctx context.Context, state string) (ballot.AnchoredHead, error)
	// BatchesFrom calls fn for the records of state's committed batches in
	// sequence order from bookmark ("": the first) and returns a bookmark
	// to resume from: where the last page it read began.
	BatchesFrom(ctx context.Context, state, bookmark string, fn func(ballot.BatchRecord) error) (resume string, err error)
	CommittedBatch(ctx context.Context, txID, state string, seq uint64) (ballot.Batch, error)
}

// ErrInconsistent marks a log that does not match a signed head: entries
// served that do not give the anchored root, or a head seen before whose
// root is not the log's at its size (a rewritten log).
var ErrInconsistent = errors.New("logmonitor: the log is inconsistent with a signed head")

// ErrForeignHead marks an anchored head, its signature verified, that is
// not a head of the state's log in the ledger's election: it names another
// election or state (VerifyAnchored says which, and what may have put it
// there). Either way the state's log cannot be checked against its anchor:
// a failure, as a head that does not verify is, not a read to try again.
var ErrForeignHead = errors.New("logmonitor: the anchored head is not of this election's log")

// ErrRecordMismatch marks a batch record on the ledger that does not
// describe the votes its transaction carried (recordMatches): not as many
// as it counts, or not giving its root. The chaincode writes a batch's
// record in the transaction that commits its votes, from those votes, so
// the record or transaction served is not one the ledger's rules write,
// and no vote of the batch can be placed by it: a failure, which reading
// again does not clear, not a read to try again.
var ErrRecordMismatch = errors.New("logmonitor: a batch record does not describe its transaction's votes")

// Evidence is what shows a log inconsistent with a signed head
// (InconsistentError.Evidence): whether it proves a fork whatever the log
// serves.
type Evidence int

const (
	// EntriesDiffer: the entries the log serves do not give a signed
	// head's root (the anchored head's, or one they gave before), or are
	// fewer than it says, or are not votes. Either the log was rewritten
	// after the head was signed (a fork) or the log's server serves bad
	// entries for it; the entries cannot tell which.
	EntriesDiffer Evidence = iota
	// HeadsDiffer: the head seen before and the anchored head, both signed
	// by keys registered for the election, are of one size with different
	// roots. The two heads prove a fork by themselves.
	HeadsDiffer
	// PrefixDiffers: the log's entries, which give the anchored head's
	// root, give another root at the size of the smaller head seen before,
	// signed by a key registered for the election. Entries that give a
	// signed root are that head's log, so this proves a fork whatever
	// served them.
	PrefixDiffers
	// SeenNotSigned: the head seen before, which the log does not give, is
	// not a head of the election's state signed by a registered key (a
	// damaged record of heads, or one of another election): nothing is
	// proven of the log.
	SeenNotSigned
)

// InconsistentError is the error Check returns for a state's log found
// inconsistent with a signed head: errors.Is(err, ErrInconsistent) holds,
// and Error is the finding's. Evidence says what shows it.
type InconsistentError struct {
	State string
	// Anchored is the state's anchored head, its signature verified; Seen
	// the head seen before that Check was given for the state (zero: none).
	Anchored ballot.AnchoredHead
	Seen     ballot.TreeHead
	Evidence Evidence
	Err      error // the finding, wrapping ErrInconsistent
}

func (e *InconsistentError) Error() string { return e.Err.Error() }
func (e *InconsistentError) Unwrap() error { return e.Err }

// evidenced marks a finding (wrapping ErrInconsistent) with what shows it;
// a finding unmarked is EntriesDiffer.
type evidenced struct {
	evidence Evidence
	err      error
}

func (e evidenced) Error() string { return e.err.Error() }
func (e evidenced) Unwrap() error { return e.err }

// Entry is one log entry and where it stands.
type Entry struct {
	State    string      `json:"state"`
	Index    uint64      `json:"index"`
	Vote     ballot.Vote `json:"vote"`
	Standing string      `json:"standing"`         // ballot.Standing*
	Reason   string      `json:"reason,omitempty"` // the ledger's reason for a rejected vote
}

// StateReport is the monitor's finding for one state.
type StateReport struct {
	State  string               `json:"state"`
	Head   *ballot.AnchoredHead `json:"head,omitempty"` // nil: nothing anchored yet
	Counts map[string]int       `json:"counts"`         // by standing
	// Entries lists every entry not counted: every rejected and MISSING
	// one, and the pending ones in index order (the oldest first) up to
	// the Monitor's PendingListed.
	Entries []Entry `json:"entries"`
	// PendingUnlisted counts the pending entries past PendingListed.
	PendingUnlisted int `json:"pending_unlisted,omitempty"`
	// Unlogged counts the votes the ledger counted that the state's log
	// does not hold (no gateway accepted them: a batcher's, or a ledger
	// client's, own), found once the log holds entries cast Deadline after
	// them (in a finalised election, all); UnloggedVotes lists the
	// maxUnloggedListed cast earliest.
	Unlogged      int            `json:"unlogged,omitempty"`
	UnloggedVotes []UnloggedVote `json:"unlogged_votes,omitempty"`
	// SeenAhead: the head seen before that Check was given for the state
	// is larger than the anchored head (or none is anchored), so it was
	// not checked: a head beyond the log as anchored cannot be. A check
	// once the anchored head reaches its size checks it; the caller keeps
	// it till then. On one ledger an anchored head never shrinks
	// (ballot.LogAnchor.Check), so when the head seen before was read
	// anchored (as the explorer's and verify --log's are) the peer read
	// now is behind the one it was read from, or lost blocks.
	SeenAhead bool `json:"seen_ahead,omitempty"`
	// Batched are the totals of the batches the report is of: every batch
	// of the state the monitor has read and placed, and none other (with
	// AsFinalised, or in a finalised election, every one judged). Zero for
	// a state with no anchored head before the election is finalised,
	// whose batches are not read.
	Batched ballot.BatchTotals `json:"batched"`
}

// maxUnloggedListed bounds the unlogged votes a report lists per state.
const maxUnloggedListed = 20

// Report is the monitor's finding for the election.
type Report struct {
	Election string        `json:"election"`
	States   []StateReport `json:"states"`
}

// Missing returns the MISSING entries of every state.
func (r Report) Missing() []Entry {
	var out []Entry
	for _, s := range r.States {
		for _, e := range s.Entries {
			if e.Standing == ballot.StandingMissing {
				out = append(out, e)
			}
		}
	}
	return out
}

// Monitor checks logs against the ledger. Its zero value (with Log and
// Ledger set) is ready; it is safe for concurrent use (checks run one at a
// time).
type Monitor struct {
	Log    Log
	Ledger Ledger
	// Deadline is how long after its cast time an accepted vote may take to
	// reach the ledger before it counts as MISSING.
	Deadline time.Duration
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// AsFinalised judges every entry and vote by the rule of a finalised
	// election whatever the ledger's status: an entry not on the ledger is
	// MISSING and a counted vote the log does not hold is unlogged at
	// once, with no Deadline. Only for a caller that knows each log is
	// complete up to its anchored head, as votechain finalise does once
	// the gateways stopped accepting and their heads cover every entry:
	// it then finds what a monitor will find once the election is
	// finalised.
	AsFinalised bool
	// PendingListed bounds the pending entries a StateReport lists, the
	// oldest first (0: all). Behind a backlog most entries are pending
	// for a while; their count says how many, and the list need not.
	PendingListed int
	// Progressed, if set, is told as a check goes how many log entries and
	// ledger votes it has read so far (the check's read: after each page of
	// entries and each batch placed), so that one large state shows its
	// progress: a first check of a long log reads every entry and batch,
	// and takes a while. How many there are to read is not known before
	// the ledger's batches are listed, so there is no total.
	Progressed func(read uint64)

	mu       sync.Mutex
	election string                // of the memos
	memos    map[string]*stateMemo // by state
	read     uint64                // the check's entries and votes read (Progressed)

	// fed are the batches handed over with Committed and not placed yet,
	// by state and sequence number; fedVotes counts their leaves.
	fedMu    sync.Mutex
	fed      map[string]map[uint64]fedBatch
	fedVotes int
}

// fedBatch is a batch handed over with Committed.
type fedBatch struct {
	txID   string
	leaves [][32]byte
	castAt []int64
}

// maxFedVotes bounds the votes of batches handed over with Committed and
// not placed yet (40 B each: a leaf and a cast time): should no check take them (e.g. the ledger's
// election cannot be read), later batches are read from the ledger instead.
const maxFedVotes = 4 << 20

// stateMemo is what a Monitor verified of one state's log and ledger.
type stateMemo struct {
	// tree is the log up to the last verified head, each entry checked
	// against it, as a frontier (the root of its whole log, O(log n));
	// roots are its roots at the sizes of the heads verified or seen.
	tree  ballot.LogFrontier
	roots map[uint64][32]byte
	// open are the entries not counted yet (pending, MISSING or rejected),
	// in index order; counted counts the others.
	open    []openEntry
	counted int
	// read are the batches whose transactions were read (batch records are
	// written once), and placed where their votes are, but for the votes
	// whose entries are counted (forgotten then); batched are their
	// totals.
	read    map[uint64]bool
	batched ballot.BatchTotals
	placed  *Placed
	// newestCast is the latest cast time of the entries read (Unix ms);
	// unlogged counts the votes judged unlogged, unloggedVotes lists the
	// earliest cast.
	newestCast    int64
	unlogged      int
	unloggedVotes []UnloggedVote
	// resume is where the next listing of the state's batch records
	// starts (Ledger.BatchesFrom): the page the last one ended in.
	resume string
}

func newStateMemo() *stateMemo {
	return &stateMemo{read: map[uint64]bool{}, placed: NewPlaced()}
}

// openEntry is an entry not counted yet. Behind a backlog there are
// millions, most of them pending and never listed, so it keeps what its
// standing needs (48 bytes); its vote, read again from the log when the
// entry is first listed, is kept from then on (the listed are the oldest
// pending and the few rejected or MISSING, listed at every check).
type openEntry struct {
	index  uint64
	leaf   [32]byte
	castAt int64
	vote   *ballot.Vote // nil until listed
}

func (m *Monitor) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

// Check audits every state's log up to its anchored head, which must
// be well formed and verify with the registered keys (else an error wrapping
// ballot.ErrBadHead, ballot.ErrUnknownLogKey or ballot.ErrBadSignature) and be a head of the
// ledger's election and of its state (else ErrForeignHead; VerifyAnchored),
// and each batch record it reads must describe its transaction's votes
// (else ErrRecordMismatch); each is a failure. seen are heads
// the caller saw before (by state; may be nil): each no larger than its
// state's anchored head must be consistent with the log, or Check fails
// with ErrInconsistent, always as an *InconsistentError saying what shows
// it; a larger one is not checked, and its StateReport says so
// (SeenAhead). In a finalised
// election (or with AsFinalised) every entry not on the ledger is MISSING
// and every counted vote the log does not hold is unlogged. It reads only
// what is new since the Monitor's last check (see the package doc).
func (m *Monitor) Check(ctx context.Context, seen map[string]ballot.TreeHead) (Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, err := m.Ledger.Election(ctx)
	if err != nil {
		return Report{}, err
	}
	keys, err := m.Ledger.LogKeys(ctx)
	if err != nil {
		return Report{}, err
	}
	if m.memos == nil || m.election != e.ID {
		m.election, m.memos = e.ID, map[string]*stateMemo{}
	}
	rep := Report{Election: e.ID}
	m.read = 0
	for _, st := range e.States {
		sr, err := m.checkState(ctx, e.States, st, keys, seen[st], m.AsFinalised || e.Status == ballot.StatusFinalised)
		if errors.Is(err, ErrInconsistent) {
			delete(m.memos, st) // the next check starts the state from scratch
			err = inconsistency(st, sr.Head, seen[st], err)
		}
		if err != nil {
			return rep, err
		}
		rep.States = append(rep.States, sr)
	}
	return rep, nil
}

// progressed adds n entries or votes read to the check's read and tells
// Progressed.
func (m *Monitor) progressed(n int) {
	m.read += uint64(n)
	if m.Progressed != nil {
		m.Progressed(m.read)
	}
}

// inconsistency is the InconsistentError of state's finding err (wrapping
// ErrInconsistent), anchored its anchored head (nil: none read) and seen
// the head seen before.
func inconsistency(state string, anchored *ballot.AnchoredHead, seen ballot.TreeHead, err error) *InconsistentError {
	e := &InconsistentError{State: state, Seen: seen, Evidence: EntriesDiffer, Err: err}
	if anchored != nil {
		e.Anchored = *anchored
	}
	var ev evidenced
	if errors.As(err, &ev) {
		e.Evidence = ev.evidence
	}
	return e
}

// VerifyAnchored checks h, the head the ledger holds anchored for state,
// whose election's id is election, as Check does before it judges the log
// by it: h must verify with keys (else an error wrapping ballot.ErrBadHead,
// ballot.ErrUnknownLogKey or ballot.ErrBadSignature: the chaincode anchors
// only heads that do) and be a head of state's log in election (else
// ErrForeignHead, the error saying which it names and what may have put it
// there). Any error is a failure: the log cannot be checked against h.
func VerifyAnchored(h ballot.TreeHead, keys ballot.LogKeys, election, state string) error {
	if err := h.Verify(keys); err != nil {
		return err
	}
	var why string
	switch {
	case h.Election != election:
		why = "a head of another election: either a chaincode older than today's set the election up again after the head was anchored " +
			"(today's refuses a set-up once a head is anchored, ballot.CheckSetUpAnchored; the explorer's audit flags such a set-up), " +
			"or the peer read serves another ledger's head; either way"
	case h.State != state:
		why = "a head of another state: the ledger keeps each state's head under that state (ballot.LogHeadKey) and the chaincode anchors none of another state there, " +
			"so the peer read serves a record the ledger's rules do not write, and"
	default:
		return nil
	}
	return fmt.Errorf("%w: it names election %q, state %q; the ledger's election is %q: %s this ledger's %s log cannot be checked against its anchor, a failure",
		ErrForeignHead, h.Election, h.State, election, why, state)
}

func (m *Monitor) checkState(ctx context.Context, states []string, state string, keys ballot.LogKeys, seen ballot.TreeHead, final bool) (StateReport, error) {
	sr := StateReport{State: state, Counts: map[string]int{}}
	anchored, err := m.Ledger.LogHead(ctx, state)
	if errors.Is(err, ballot.ErrNotFound) {
		sr.SeenAhead = seen.Size > 0
		return sr, m.checkHeadless(ctx, states, state, &sr, final)
	}
	if err != nil {
		return sr, err
	}
	sr.Head = &anchored
	h := anchored.Head
	sr.SeenAhead = seen.Size > h.Size
	if err := VerifyAnchored(h, keys, m.election, state); err != nil {
		return sr, fmt.Errorf("the anchored %s head: %w", state, err)
	}
	seenSigned := seen.Size > 0 && seen.Election == h.Election && seen.State == state && seen.Verify(keys) == nil
	if seenSigned && seen.Size == h.Size && seen.Root != h.Root {
		return sr, evidenced{HeadsDiffer, fmt.Errorf("%w: the %s head of size %d signed at %d has root %.16s…, the anchored head of that size signed at %d has %.16s… (rewritten)",
			ErrInconsistent, state, seen.Size, seen.Timestamp, seen.Root, h.Timestamp, h.Root)}
	}
	memo := m.memos[state]
	if memo == nil || h.Size < memo.tree.Size() { // an anchored head never shrinks: start afresh
		memo = newStateMemo()
		m.memos[state] = memo
	}
	if err := m.extend(ctx, memo, state, h, seen.Size); err != nil {
		return sr, err
	}
	if seen.Size > 0 {
		if err := m.consistent(ctx, memo, state, seen, seenSigned); err != nil {
			return sr, err
		}
	}
	if err := m.place(ctx, memo, state, memo.resume); err != nil {
		return sr, err
	}
	now := m.now()
	if memo.resume != "" && m.missing(memo, now, final) {
		// A batch recorded before the listing resumed (committed out of
		// sequence order) was not read: an entry is MISSING only once
		// the whole list was.
		if err := m.place(ctx, memo, state, ""); err != nil {
			return sr, err
		}
	}
	m.dropFed(states, state, memo)
	open := memo.open[:0]
	var listed []int // of open
	for _, o := range memo.open {
		p, ok := memo.placed.Of(o.leaf)
		standing := ballot.EntryStanding(ok, p.Status, o.castAt, now, m.Deadline, final)
		if standing == ballot.StandingCounted {
			memo.counted++
			memo.placed.forget(o.leaf) // the entry is never matched again
			continue
		}
		open = append(open, o)
		sr.Counts[standing]++
		if standing == ballot.StandingPending && m.PendingListed > 0 && sr.Counts[standing] > m.PendingListed {
			sr.PendingUnlisted++
			continue
		}
		listed = append(listed, len(open)-1)
		sr.Entries = append(sr.Entries, Entry{State: state, Index: o.index, Standing: standing, Reason: p.Reason})
	}
	clear(memo.open[len(open):]) // the votes of the counted
	if cap(open) >= 1<<16 && len(open) < cap(open)/4 {
		open = slices.Clone(open) // a drained backlog's room
	}
	memo.open = open
	if err := m.readVotes(ctx, state, open, listed); err != nil {
		return sr, err
	}
	for i, k := range listed {
		sr.Entries[i].Vote = *open[k].vote
	}
	if memo.counted > 0 {
		sr.Counts[ballot.StandingCounted] = memo.counted
	}
	m.judgeUnlogged(memo, final)
	sr.Unlogged, sr.UnloggedVotes, sr.Batched = memo.unlogged, slices.Clone(memo.unloggedVotes), memo.batched
	return sr, nil
}

// checkHeadless checks a state for which no gateway anchored a head: as
// far as the logs show, no vote of it was accepted. In a finalised election
// every vote the ledger counts for it is therefore unlogged (votes injected
// into a state nobody voted in through a gateway); before that, its first
// votes may still be waiting for their gateway's first head, and nothing
// is judged or read.
func (m *Monitor) checkHeadless(ctx context.Context, states []string, state string, sr *StateReport, final bool) error {
	if !final {
		return nil
	}
	memo := m.memos[state]
	if memo == nil {
		memo = newStateMemo()
		m.memos[state] = memo
	}
	if err := m.place(ctx, memo, state, memo.resume); err != nil {
		return err
	}
	m.dropFed(states, state, memo)
	m.judgeUnlogged(memo, final)
	sr.Unlogged, sr.UnloggedVotes, sr.Batched = memo.unlogged, slices.Clone(memo.unloggedVotes), memo.batched
	return nil
}

// judgeUnlogged finds the counted votes whose entries are not in the log:
// after the matching, a counted vote still placed has no entry read; the
// log is read in order of acceptance, so once it holds entries cast
// Deadline after the vote (the gateways' clocks may differ a little), the
// vote's entry is not coming. In a finalised election every entry has been
// read. They are counted and forgotten.
func (m *Monitor) judgeUnlogged(memo *stateMemo, final bool) {
	if memo.newestCast == 0 && !final {
		return
	}
	cutoff := memo.newestCast - m.Deadline.Milliseconds()
	if final {
		cutoff = math.MaxInt64
	}
	listed := len(memo.unloggedVotes)
	memo.unlogged += memo.placed.forgetUnlogged(cutoff, func(v UnloggedVote) {
		memo.unloggedVotes = append(memo.unloggedVotes, v)
	})
	if len(memo.unloggedVotes) > listed { // the earliest cast are listed
		slices.SortFunc(memo.unloggedVotes, func(a, b UnloggedVote) int {
			return cmp.Or(cmp.Compare(a.CastAt, b.CastAt), cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.Index, b.Index))
		})
		memo.unloggedVotes = slices.Clone(memo.unloggedVotes[:min(len(memo.unloggedVotes), maxUnloggedListed)])
	}
}

// readVotes reads again from the log the votes of the entries open[k] (k
// in listed, ascending) that have none yet, a range of entries for each
// run of them at most voteGap apart, and checks each against its verified
// leaf.
func (m *Monitor) readVotes(ctx context.Context, state string, open []openEntry, listed []int) error {
	for i := 0; i < len(listed); {
		if open[listed[i]].vote != nil {
			i++
			continue
		}
		j := i + 1 // the run is listed[i:j]
		for j < len(listed) && open[listed[j]].vote == nil && open[listed[j]].index-open[listed[j-1]].index <= voteGap {
			j++
		}
		first, last := open[listed[i]].index, open[listed[j-1]].index
		got, err := m.Log.Entries(ctx, state, first, last+1)
		if err != nil {
			return fmt.Errorf("read the %s log: %w", state, err)
		}
		for _, k := range listed[i:j] {
			o := &open[k]
			n := o.index - first
			if n >= uint64(len(got)) || ballot.EntryLeaf(got[n]) != o.leaf {
				return fmt.Errorf("%w: the %s log serves another entry %d than it served before", ErrInconsistent, state, o.index)
			}
			v, err := ballot.DecodeVote(got[n])
			if err != nil {
				return fmt.Errorf("%w: %s entry %d: %w", ErrInconsistent, state, o.index, err)
			}
			o.vote = &v
		}
		i = j
	}
	return nil
}

// voteGap is the widest gap between two listed entries whose votes one
// log read fetches together.
const voteGap = 64

// extend reads the state's entries from the memo's size up to h, adds
// them to the memo (as open entries) and checks that the memo's leaves and
// theirs give h's root, remembering the root at size capture on the way
// (a head seen before, checked next). A mismatch is ErrInconsistent, after
// which the memo is spoilt (Check drops it).
func (m *Monitor) extend(ctx context.Context, memo *stateMemo, state string, h ballot.TreeHead, capture uint64) error {
	root, _ := ballot.ParseHash(h.Root)
	from := memo.tree.Size()
	err := m.eachPage(ctx, state, from, h.Size, func(start uint64, page [][]byte) error {
		votes, leaves, err := ballot.DecodeLogEntries(page)
		if err != nil {
			return fmt.Errorf("%w: %s: the entries from %d: %w", ErrInconsistent, state, start, err)
		}
		for i, v := range votes {
			memo.tree.Append(leaves[i])
			if memo.tree.Size() == capture {
				memo.remember(capture, memo.tree.Root())
			}
			memo.open = append(memo.open, openEntry{index: start + uint64(i), leaf: leaves[i], castAt: v.CastAt})
			memo.newestCast = max(memo.newestCast, v.CastAt)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if got := memo.tree.Root(); got != root {
		return fmt.Errorf("%w: %s: the %d entries give root %x, the head says %x", ErrInconsistent, state, h.Size, got, root)
	}
	memo.remember(h.Size, root)
	return nil
}

// eachPage reads the state's entries [from, to) from the log a page at a
// time, handing each to fn with the index of its first; a log that serves
// fewer is ErrInconsistent (a signed head says it holds them).
func (m *Monitor) eachPage(ctx context.Context, state string, from, to uint64, fn func(start uint64, page [][]byte) error) error {
	for start := from; start < to; {
		got, err := m.Log.Entries(ctx, state, start, min(start+1000, to))
		if err != nil {
			return fmt.Errorf("read the %s log: %w", state, err)
		}
		if len(got) == 0 {
			return fmt.Errorf("%w: the %s log serves %d entries, its anchored head says %d", ErrInconsistent, state, start, to)
		}
		got = got[:min(uint64(len(got)), to-start)]
		if err := fn(start, got); err != nil {
			return err
		}
		m.progressed(len(got))
		start += uint64(len(got))
	}
	return nil
}

// remember keeps the log's root at size (a head verified, or seen before),
// for checking heads seen before without reading the log again; past
// maxRoots it starts afresh (an older head is then checked by reading).
func (memo *stateMemo) remember(size uint64, root [32]byte) {
	if memo.roots == nil || len(memo.roots) >= maxRoots {
		memo.roots = map[uint64][32]byte{}
	}
	memo.roots[size] = root
}

// maxRoots bounds the roots a memo remembers (a head a check: at the
// explorer's 15 s, over four hours' worth).
const maxRoots = 1024

// Committed hands the monitor a batch of state that the caller decoded
// from the transaction txID that committed it: its votes and their leaf
// hashes (ballot.Leaves) in order. The next check places the batch's votes from
// them, where the ledger's record of batch seq names txID, rather than
// reading the transaction back from the ledger. It does not wait for a
// check in progress. The explorer's follower calls it for every batch it
// indexes.
func (m *Monitor) Committed(state string, seq uint64, txID string, votes []ballot.Vote, leaves [][32]byte) {
	m.fedMu.Lock()
	defer m.fedMu.Unlock()
	if m.fedVotes+len(leaves) > maxFedVotes {
		return
	}
	if m.fed == nil {
		m.fed = map[string]map[uint64]fedBatch{}
	}
	if m.fed[state] == nil {
		m.fed[state] = map[uint64]fedBatch{}
	}
	if prev, ok := m.fed[state][seq]; ok {
		m.fedVotes -= len(prev.leaves)
	}
	m.fed[state][seq] = fedBatch{txID: txID, leaves: leaves, castAt: castTimes(votes)}
	m.fedVotes += len(leaves)
}

// takeFed returns the batch handed over with Committed for the batch of
// rec, if it came from the transaction rec names and its votes match the
// record (recordMatches: as many, giving its root), and forgets it.
func (m *Monitor) takeFed(state string, rec ballot.BatchRecord) (fedBatch, bool) {
	m.fedMu.Lock()
	defer m.fedMu.Unlock()
	f, ok := m.fed[state][rec.Seq]
	if !ok {
		return fedBatch{}, false
	}
	delete(m.fed[state], rec.Seq)
	m.fedVotes -= len(f.leaves)
	return f, f.txID == rec.TxID && len(f.castAt) == len(f.leaves) && recordMatches(rec, f.leaves) == nil
}

// dropFed forgets the batches handed over for states that are not among
// states (the election's), and those of state that memo has placed.
func (m *Monitor) dropFed(states []string, state string, memo *stateMemo) {
	m.fedMu.Lock()
	defer m.fedMu.Unlock()
	for st, batches := range m.fed {
		for seq, f := range batches {
			if (st == state && memo.read[seq]) || !slices.Contains(states, st) {
				delete(batches, seq)
				m.fedVotes -= len(f.leaves)
			}
		}
		if len(batches) == 0 {
			delete(m.fed, st)
		}
	}
}

// missing reports whether an open entry of memo is MISSING as placed.
func (m *Monitor) missing(memo *stateMemo, now time.Time, final bool) bool {
	for _, o := range memo.open {
		p, ok := memo.placed.Of(o.leaf)
		if ballot.EntryStanding(ok, p.Status, o.castAt, now, m.Deadline, final) == ballot.StandingMissing {
			return true
		}
	}
	return false
}

// place records where the state's batches the memo has not read put each
// vote: from the leaves handed over with Committed, or else by reading the
// batch's transaction; a record its transaction's votes do not match
// fails the check with ErrRecordMismatch (placeBatch). It lists the state's batch records from bookmark
// (Ledger.BatchesFrom) and keeps where the next listing resumes, so that
// a check lists one page it saw before and the batches recorded since,
// not every batch of the election.
func (m *Monitor) place(ctx context.Context, memo *stateMemo, state, bookmark string) error {
	resume, err := m.Ledger.BatchesFrom(ctx, state, bookmark, func(rec ballot.BatchRecord) error {
		if memo.read[rec.Seq] {
			return nil
		}
		if f, ok := m.takeFed(state, rec); ok {
			memo.placed.add(rec, f.leaves, f.castAt)
		} else if err := placeBatch(ctx, m.Ledger, memo.placed, rec); err != nil {
			return fmt.Errorf("batch %s/%d: %w", state, rec.Seq, err)
		}
		memo.read[rec.Seq] = true
		memo.batched.Add(rec)
		m.progressed(rec.Votes)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read the %s batches: %w", state, err)
	}
	memo.resume = resume
	return nil
}

// consistent checks a head seen before against the log as the memo
// verified it: its root must be the log's at its size (a head beyond the
// log cannot be checked yet). A root not remembered (a head this monitor
// neither verified nor saw on its way) is found by reading the log again
// up to the memo's size, which must give the verified root. Another root
// is PrefixDiffers when h is signed (a head of the state signed by a key
// registered for the election), else SeenNotSigned.
func (m *Monitor) consistent(ctx context.Context, memo *stateMemo, state string, h ballot.TreeHead, signed bool) error {
	if h.Size > memo.tree.Size() {
		return nil
	}
	root, ok := memo.roots[h.Size]
	if !ok {
		var f ballot.LogFrontier
		err := m.eachPage(ctx, state, 0, memo.tree.Size(), func(_ uint64, page [][]byte) error {
			for _, e := range page {
				f.Append(ballot.EntryLeaf(e))
				if f.Size() == h.Size {
					root = f.Root()
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if f.Root() != memo.tree.Root() {
			return fmt.Errorf("%w: the %s log, read again, no longer gives the root of its %d entries verified before", ErrInconsistent, state, memo.tree.Size())
		}
	}
	if ballot.HashHex(root) != h.Root {
		evidence := SeenNotSigned
		if signed {
			evidence = PrefixDiffers
		}
		return evidenced{evidence, fmt.Errorf("%w: the %s head of size %d signed at %d has root %.16s…, the log has %.16s… there (rewritten)",
			ErrInconsistent, h.State, h.Size, h.Timestamp, h.Root, ballot.HashHex(root))}
	}
	memo.remember(h.Size, root)
	return nil
}

// Proofs serves consistency proofs between two sizes of a state's log
// (Gateway).
type Proofs interface {
	Consistency(ctx context.Context, state string, first, second uint64) ([][32]byte, error)
}

// ErrNoAnswer is in the chain of a Proofs' (or a Gateway's) error for a
// request the gateway did not answer: the connection refused or lost, the
// time up. An error of an answer (its status, a body that does not
// decode) is not one: the gateway answered. Gateway's requests are
// ErrNoAnswer as its Ask makes them (cli.AskGateway does); without an Ask
// their errors are http.Client's, as they are.
var ErrNoAnswer = errors.New("the gateway did not answer")

// Extends checks that the log of cur extends that of prev, a head seen
// before it, with a consistency proof from proofs (ballot's
// TreeHead.Extends); of two heads the smaller must be the larger's prefix.
// A proof that does not verify is ErrInconsistent; equal sizes need no
// proof, only equal roots.
func Extends(ctx context.Context, proofs Proofs, prev, cur ballot.TreeHead) error {
	if cur.Size < prev.Size {
		prev, cur = cur, prev
	}
	var proof [][32]byte
	if prev.Size > 0 && prev.Size < cur.Size {
		var err error
		if proof, err = proofs.Consistency(ctx, cur.State, prev.Size, cur.Size); err != nil {
			return fmt.Errorf("consistency proof of the %s log from %d to %d: %w", cur.State, prev.Size, cur.Size, err)
		}
	}
	if err := cur.Extends(prev, proof); err != nil {
		return fmt.Errorf("%w: %w", ErrInconsistent, err)
	}
	return nil
}

// Standing verifies an acceptance receipt with the ledger's registered keys
// and says where its vote stands on the ledger (placed: from Placements of
// its state), with the ledger's reason for a rejected vote.
func Standing(a ballot.Acceptance, keys ballot.LogKeys, placed *Placed, now time.Time, deadline time.Duration, final bool) (string, string, error) {
	if err := a.Verify(keys); err != nil {
		return "", "", err
	}
	leaf, _ := ballot.ParseHash(a.Leaf)
	p, ok := placed.Of(leaf)
	return ballot.EntryStanding(ok, p.Status, a.Vote.CastAt, now, deadline, final), p.Reason, nil
}
