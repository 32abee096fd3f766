package ballot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Election statuses. An election is open when it is StatusConfigured and the
// time is inside its window; CloseElection and FinaliseElection move it on.
const (
	StatusConfigured = "configured"
	StatusClosed     = "closed"
	StatusFinalised  = "finalised"
)

// Who may write the ledger's records: the clients of CommissionMSP, the
// election commission's MSP; of those, its admins (certificate OU
// AdminOU) configure the election, the roll and the intake log's keys,
// and the batchers the election record names (Election.MayCommit) commit
// batches.
const (
	CommissionMSP = "CommissionMSP"
	AdminOU       = "admin"
)

// maxElectionName bounds the free-text name stored on the ledger, and a
// contest's title.
const maxElectionName = 256

// maxContests bounds the contests of one election.
const maxContests = 64

// Contest kinds: a race between candidates, or a question answered by one
// of its choices (e.g. "yes"/"no"). The kind tells readers how to present
// the contest; the counting rule is the same for both.
const (
	ContestRace     = "race"
	ContestQuestion = "question"
)

// Contest is one question on the ballot. Every voter casts at most one
// vote per contest: a voter's nullifier is per contest (NullifierOf).
type Contest struct {
	ID      string   `json:"id"`      // 1..64 chars [A-Za-z0-9_-], e.g. "president" or "L2025-001"
	Title   string   `json:"title"`   // 1..256 bytes, for people
	Kind    string   `json:"kind"`    // ContestRace or ContestQuestion
	Choices []string `json:"choices"` // candidates or answers, 1..64 chars [A-Za-z0-9_-] each, none repeated
}

// Validate checks the contest's id, title, kind and choices.
func (c Contest) Validate() error {
	switch {
	case !ValidIdent(c.ID):
		return fmt.Errorf("ballot: contest id %q must be 1..64 characters of [A-Za-z0-9_-]", truncate(c.ID))
	case c.Title == "" || len(c.Title) > maxElectionName:
		return fmt.Errorf("ballot: contest %s: title must be 1..%d bytes, got %d", c.ID, maxElectionName, len(c.Title))
	case c.Kind != ContestRace && c.Kind != ContestQuestion:
		return fmt.Errorf("ballot: contest %s: kind %q must be %q or %q", c.ID, truncate(c.Kind), ContestRace, ContestQuestion)
	}
	return validList("contest "+c.ID, "choice", c.Choices, ValidIdent)
}

// HasChoice reports whether choice is one of the contest's choices.
func (c Contest) HasChoice(choice string) bool { return slices.Contains(c.Choices, choice) }

// Election is the election record stored under ElectionKey.
type Election struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	States   []string  `json:"states"`
	Contests []Contest `json:"contests"` // what the ballot asks, in ballot order
	OpensAt  time.Time `json:"opens_at"`
	ClosesAt time.Time `json:"closes_at"`
	RollRoot string    `json:"roll_root"` // hex Merkle root over the roll's nullifiers (sorted)
	Status   string    `json:"status"`    // "configured" | "closed" | "finalised"

	// RollEntries is the roll's size: its entries (distinct nullifiers,
	// one per voter and contest), the leaves under RollRoot. Stated with
	// the root, it fixes the tree's shape, so the seal (SealRoll) takes
	// no roll but the one the root was computed over: with the size
	// unbound, a roll of whole subtrees replaced by their node hashes has
	// the same root. nil is not stated (a record an earlier chaincode
	// wrote, whose seal is held to the root alone); 0 is the empty roll.
	// SetupElection requires it.
	RollEntries *int `json:"roll_entries,omitempty"`

	// Batchers are the certificate subject common names of the Commission
	// client identities allowed to commit batches (see MayCommit), e.g.
	// "User1@commission.votechain.test". Required: no other client may.
	Batchers []string `json:"batchers"`

	// ClosedAt is when CloseElection ran (transaction time); zero while
	// configured. Closing early ends the voting window at ClosedAt.
	ClosedAt time.Time `json:"closed_at,omitzero"`
	// FinalisedAt is when FinaliseElection ran; zero until then.
	FinalisedAt time.Time `json:"finalised_at,omitzero"`

	// FinaliseNeedsTotals records that this election's FinaliseElection
	// must carry the batch totals its caller's check judged
	// (FinaliseInput). The chaincode sets it whenever SetupElection
	// stores a record, whatever its argument says (SetupElection below), and every later write
	// keeps it; a template cannot clear it. An auditor flags a VALID
	// argument-less finalise of an election whose record before it has
	// it, and a VALID write of the record that drops it: only a chaincode
	// of an earlier version (a rollback) writes either, the first because
	// it accepts a finalise without totals, the second because it does not
	// know the mark. Records of earlier chaincode lack it, and their
	// argument-less finalise stays accepted.
	FinaliseNeedsTotals bool `json:"finalise_needs_totals,omitempty"`
}

// SetupElection returns the record the chaincode's SetupElection stores
// for the election arg its argument gives: the status configured if arg
// omits it, the window in UTC, and FinaliseNeedsTotals set whatever arg
// says (this chaincode refuses a finalise without batch totals, and the
// record says so for an auditor to hold the finalise to). It refuses an arg
// that is no new election (closed, finalised or another status), that
// states no roll size (RollEntries, ErrNoRollEntries) or whose record is
// not valid (Validate).
func SetupElection(arg Election) (Election, error) {
	e := arg
	if e.Status == "" {
		e.Status = StatusConfigured
	}
	if err := e.CheckNew(); err != nil {
		return Election{}, err
	}
	if e.RollEntries == nil {
		return Election{}, ErrNoRollEntries
	}
	e.OpensAt, e.ClosesAt = e.OpensAt.UTC(), e.ClosesAt.UTC()
	e.FinaliseNeedsTotals = true
	if err := e.Validate(); err != nil {
		return Election{}, err
	}
	return e, nil
}

// ErrNoRollEntries refuses a set-up whose record states no roll size.
var ErrNoRollEntries = errors.New(`ballot: the election states no "roll_entries": give the roll's number of entries (one per voter and contest; ` +
	"`roll load` prints it beside roll_root, 0 for the empty roll), which binds the roll root to the roll's size")

// SetRoll states the roll of entries in e: it sorts entries (SortRoll)
// and sets RollRoot to their root and RollEntries to their number.
// Entries must hold distinct valid nullifiers (RollChunk.Check).
func (e *Election) SetRoll(entries []RollEntry) {
	e.RollRoot, e.RollEntries = RollRoot(entries), new(len(entries))
}

// CheckNew checks that e is a new election as a set-up stores it: status
// configured (as written: SetupElection first gives an omitted status),
// neither closed_at nor finalised_at stamped. SetupElection holds its
// argument to it, the explorer's audit the record a set-up wrote.
func (e *Election) CheckNew() error {
	if e.Status != StatusConfigured || !e.ClosedAt.IsZero() || !e.FinalisedAt.IsZero() {
		return errors.New("ballot: a new election must be configured, not closed or finalised")
	}
	return nil
}

// SameElection reports whether e and o record the same election: every
// field alike, times as instants, lists (states, batchers, contests) in
// their recorded order (the same states in another order are another
// record, though electionsetup.TemplateDiff takes them as sets), whatever
// FinaliseNeedsTotals says (the chaincode's mark on the records it writes,
// no rule of the election). A record JSON cannot encode (a time past year
// 9999) is like no other.
func (e *Election) SameElection(o *Election) bool {
	a, errA := e.comparable()
	b, errB := o.comparable()
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// comparable encodes e for SameElection: times in UTC, the mark cleared.
func (e *Election) comparable() ([]byte, error) {
	c := *e
	c.FinaliseNeedsTotals = false
	for _, t := range []*time.Time{&c.OpensAt, &c.ClosesAt, &c.ClosedAt, &c.FinalisedAt} {
		*t = t.UTC()
	}
	return json.Marshal(c)
}

// CheckSetUpAnchored checks a set-up that stores e over the record old
// (nil: none is stored) against the intake logs' anchored heads, anchored
// being one of them (nil: none is anchored). The ledger keeps anchored
// heads per state, not per election (LogHeadKey), and anchors a state's
// next head only if it is of the election set up and extends the one
// anchored (LogAnchor.Check): an election set up again under a new id
// would find that head in place, another election's, under which none of
// its own could be anchored, and any other change would leave logs of
// votes accepted under rules no longer recorded. So once any head is
// anchored, as once a batch is committed, the election is frozen: a
// set-up is refused unless it stores old again (SameElection). The
// chaincode's SetupElection holds a set-up to it, and the explorer's
// audit every VALID one.
func CheckSetUpAnchored(old, e *Election, anchored *AnchoredHead) error {
	if anchored == nil || old != nil && old.SameElection(e) {
		return nil
	}
	return fmt.Errorf("ballot: a head of the %s intake log of election %s is anchored (size %d, transaction %s): the election can no longer be changed, "+
		"since the ledger keeps each state's anchored head whatever is set up and anchors only heads of the election set up that extend it; "+
		"keep the election as it is (setting up the same record again is allowed), or set the changed election up on a new ledger",
		truncate(anchored.Head.State), truncate(anchored.Head.Election), anchored.Head.Size, truncate(anchored.TxID))
}

// Validate checks that the record is complete and well-formed: identifiers
// in their character sets, no repeated states, contests or batchers, every
// contest valid, at least one batcher named, a non-empty window, a hex roll
// root, a roll size not negative if stated and a known status.
func (e *Election) Validate() error {
	switch {
	case !ValidIdent(e.ID):
		return fmt.Errorf("ballot: election id %q must be 1..64 characters of [A-Za-z0-9_-]", truncate(e.ID))
	case e.Name == "" || len(e.Name) > maxElectionName:
		return fmt.Errorf("ballot: election name must be 1..%d bytes, got %d", maxElectionName, len(e.Name))
	case e.OpensAt.IsZero() || e.ClosesAt.IsZero():
		return errors.New("ballot: election window needs both opens_at and closes_at")
	case !e.OpensAt.Before(e.ClosesAt):
		return fmt.Errorf("ballot: election opens_at %s is not before closes_at %s", e.OpensAt.Format(time.RFC3339), e.ClosesAt.Format(time.RFC3339))
	case !isLowerHex(e.RollRoot, 64):
		return fmt.Errorf("ballot: roll_root %q is not 64 lowercase hex characters", truncate(e.RollRoot))
	case e.RollEntries != nil && *e.RollEntries < 0:
		return fmt.Errorf("ballot: roll_entries %d is negative", *e.RollEntries)
	case len(e.Contests) == 0 || len(e.Contests) > maxContests:
		return fmt.Errorf("ballot: election must have 1..%d contests, has %d", maxContests, len(e.Contests))
	case len(e.Batchers) == 0:
		return errors.New(`ballot: election names no batchers: list the certificate common names of the Commission identities that may commit batches in "batchers", e.g. ["User1@commission.votechain.test"]`)
	case len(e.Batchers) > maxBatchers:
		return fmt.Errorf("ballot: election names %d batchers; at most %d", len(e.Batchers), maxBatchers)
	case e.Status != StatusConfigured && e.Status != StatusClosed && e.Status != StatusFinalised:
		return fmt.Errorf("ballot: unknown election status %q", truncate(e.Status))
	}
	if err := validList("election", "state", e.States, ValidState); err != nil {
		return err
	}
	if err := validList("election", "batcher", e.Batchers, validCommonName); err != nil {
		return err
	}
	ids := make([]string, len(e.Contests))
	for i, c := range e.Contests {
		if err := c.Validate(); err != nil {
			return err
		}
		ids[i] = c.ID
	}
	return validList("election", "contest", ids, ValidIdent)
}

// validList checks that owner's list of what is non-empty, every item is
// valid and no item repeats.
func validList(owner, what string, list []string, valid func(string) bool) error {
	if len(list) == 0 {
		return fmt.Errorf("ballot: %s has no %ss", owner, what)
	}
	seen := make(map[string]bool, len(list))
	for _, s := range list {
		if !valid(s) {
			return fmt.Errorf("ballot: %s: invalid %s %q", owner, what, truncate(s))
		}
		if seen[s] {
			return fmt.Errorf("ballot: %s: %s %q listed twice", owner, what, s)
		}
		seen[s] = true
	}
	return nil
}

// maxBatchers bounds the batcher identities an election record names.
const maxBatchers = 64

// validCommonName reports whether s is a plausible certificate common name:
// 1..128 printable ASCII characters.
func validCommonName(s string) bool { return inCharset(s, 1, 128, &printableChars) }

// MayCommit reports whether the Commission client whose certificate's
// common name is cn may commit batches: it is one of Batchers. A record
// without batchers (which Validate refuses) lets no one commit.
func (e *Election) MayCommit(cn string) bool {
	return slices.Contains(e.Batchers, cn)
}

// HasState reports whether s is one of the election's states.
func (e *Election) HasState(s string) bool { return slices.Contains(e.States, s) }

// MissingStates returns those of states that are not the election's, in
// their order; none when every one is.
func (e *Election) MissingStates(states []string) []string {
	var missing []string
	for _, s := range states {
		if !e.HasState(s) {
			missing = append(missing, s)
		}
	}
	return missing
}

// Contest returns the contest with the given id.
func (e *Election) Contest(id string) (Contest, bool) {
	for _, c := range e.Contests {
		if c.ID == id {
			return c, true
		}
	}
	return Contest{}, false
}

// ContestIDs returns the ids of the election's contests, in ballot order.
func (e *Election) ContestIDs() []string {
	ids := make([]string, len(e.Contests))
	for i, c := range e.Contests {
		ids[i] = c.ID
	}
	return ids
}

// SoleContest returns the id of the election's only contest, and false if
// it has several: a vote that names no contest means the sole one.
func (e *Election) SoleContest() (string, bool) {
	if len(e.Contests) != 1 {
		return "", false
	}
	return e.Contests[0].ID, true
}

// WindowEnd is when voting ends: ClosesAt, or ClosedAt if the election was
// closed early.
func (e *Election) WindowEnd() time.Time {
	if !e.ClosedAt.IsZero() && e.ClosedAt.Before(e.ClosesAt) {
		return e.ClosedAt
	}
	return e.ClosesAt
}

// InWindow reports whether t lies in the voting window [OpensAt, WindowEnd()),
// whatever the status. A vote cast in the window may be committed after the
// window ends, until the election is finalised.
func (e *Election) InWindow(t time.Time) bool {
	return !t.Before(e.OpensAt) && t.Before(e.WindowEnd())
}

// OpenAt reports whether the election accepts new votes at t: configured and
// t inside the window.
func (e *Election) OpenAt(t time.Time) bool {
	return e.Status == StatusConfigured && e.InWindow(t)
}

// The election's lifecycle. A set-up may store the record again while it
// is configured and its window has not opened; CloseElection moves it from
// configured to closed, stamping closed_at, and FinaliseElection from
// closed to finalised, stamping finalised_at, each with its transaction's
// time; nothing moves a finalised election. The chaincode applies these
// rules (StepRefusal, SetUpRefusal, Transition) and the explorer's audit
// holds the ledger's writes of the record to the same ones. Their errors
// carry no "ballot:" prefix: they are the texts the chaincode has always
// refused with, untrusted fields clipped (Clip), which no record a
// set-up stored needs.

// StepRefusal reports why the election e may not take a step to status
// to, nil if it may: a set-up again (to configured) needs e configured, a
// close (to closed) e configured, a finalise (to finalised) e closed; no
// step leads to any other status. It checks statuses only: SetUpRefusal
// adds a set-up's window rule.
func (e *Election) StepRefusal(to string) error {
	switch from, step := stepFrom(to); {
	case !step:
		return fmt.Errorf("election %s cannot be made %s: no step leads there", truncate(e.ID), truncate(to))
	case e.Status == from:
		return nil
	case to == StatusConfigured:
		return fmt.Errorf("election %s is %s; it can no longer be set up", truncate(e.ID), truncate(e.Status))
	default:
		return fmt.Errorf("election %s is %s, not %s; cannot make it %s", truncate(e.ID), truncate(e.Status), from, to)
	}
}

// stepFrom returns the status a step to status to starts from, and false
// if no step leads to it.
func stepFrom(to string) (string, bool) {
	switch to {
	case StatusConfigured, StatusClosed:
		return StatusConfigured, true
	case StatusFinalised:
		return StatusClosed, true
	}
	return "", false
}

// SetUpRefusal reports why a set-up at time now may not replace the stored
// record e, nil if it may: e is no longer configured (StepRefusal), or its
// window has opened, now being at or after OpensAt. Whether the new record
// is one (SetupElection) and the ledger's other records let it change
// (batches, the roll's seal, CheckSetUpAnchored) are other rules.
func (e *Election) SetUpRefusal(now time.Time) error {
	if err := e.StepRefusal(StatusConfigured); err != nil {
		return err
	}
	if !now.Before(e.OpensAt) {
		return fmt.Errorf("election %s opened at %s; it can no longer be changed", truncate(e.ID), e.OpensAt.Format(time.RFC3339))
	}
	return nil
}

// Transition returns the record a close (to closed) or finalise (to
// finalised) at time at makes of e: e with status to and the step's stamp
// (closed_at or finalised_at; StepTime) at, nothing else changed. It
// refuses what StepRefusal refuses, and a step to configured: a set-up
// stores a new record (SetupElection), no stamped one.
func (e Election) Transition(to string, at time.Time) (Election, error) {
	if err := e.StepRefusal(to); err != nil {
		return Election{}, err
	}
	stamp := e.stamp(to)
	if stamp == nil {
		return Election{}, fmt.Errorf("election %s: a set-up stores a new record, no transition makes it %s", truncate(e.ID), to)
	}
	e.Status, *stamp = to, at
	return e, nil
}

// StepTime returns the time the step that gave e its status stamped:
// closed_at of a closed record, finalised_at of a finalised one, zero for
// any other status.
func (e *Election) StepTime() time.Time {
	if stamp := e.stamp(e.Status); stamp != nil {
		return *stamp
	}
	return time.Time{}
}

// stamp returns the field a step to status stamps, nil for a set-up or an
// unknown status.
func (e *Election) stamp(status string) *time.Time {
	switch status {
	case StatusClosed:
		return &e.ClosedAt
	case StatusFinalised:
		return &e.FinalisedAt
	}
	return nil
}
