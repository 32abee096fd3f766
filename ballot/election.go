package ballot

import (
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

// maxElectionName bounds the free-text name stored on the ledger.
const maxElectionName = 256

// Election is the election record stored under ElectionKey.
type Election struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	States     []string  `json:"states"`
	Candidates []string  `json:"candidates"`
	OpensAt    time.Time `json:"opens_at"`
	ClosesAt   time.Time `json:"closes_at"`
	RollRoot   string    `json:"roll_root"` // hex Merkle root over the roll's nullifiers (sorted)
	Status     string    `json:"status"`    // "configured" | "closed" | "finalised"

	// Batchers are the certificate subject common names of the Commission
	// client identities allowed to commit batches (see MayCommit), e.g.
	// "User1@commission.votechain.test". Required: no other client may.
	Batchers []string `json:"batchers"`

	// ClosedAt is when CloseElection ran (transaction time); zero while
	// configured. Closing early ends the voting window at ClosedAt.
	ClosedAt time.Time `json:"closed_at,omitzero"`
	// FinalisedAt is when FinaliseElection ran; zero until then.
	FinalisedAt time.Time `json:"finalised_at,omitzero"`
}

// Validate checks that the record is complete and well-formed: identifiers
// in their character sets, no repeated states, candidates or batchers, at
// least one batcher named, a non-empty window, a hex roll root and a known
// status.
func (e *Election) Validate() error {
	switch {
	case !ValidCandidate(e.ID):
		return fmt.Errorf("ballot: election id %q must be 1..64 characters of [A-Za-z0-9_-]", truncate(e.ID))
	case e.Name == "" || len(e.Name) > maxElectionName:
		return fmt.Errorf("ballot: election name must be 1..%d bytes, got %d", maxElectionName, len(e.Name))
	case e.OpensAt.IsZero() || e.ClosesAt.IsZero():
		return errors.New("ballot: election window needs both opens_at and closes_at")
	case !e.OpensAt.Before(e.ClosesAt):
		return fmt.Errorf("ballot: election opens_at %s is not before closes_at %s", e.OpensAt.Format(time.RFC3339), e.ClosesAt.Format(time.RFC3339))
	case !isLowerHex(e.RollRoot, 64):
		return fmt.Errorf("ballot: roll_root %q is not 64 lowercase hex characters", truncate(e.RollRoot))
	case len(e.Batchers) == 0:
		return errors.New(`ballot: election names no batchers: list the certificate common names of the Commission identities that may commit batches in "batchers", e.g. ["User1@commission.votechain.test"]`)
	case len(e.Batchers) > maxBatchers:
		return fmt.Errorf("ballot: election names %d batchers; at most %d", len(e.Batchers), maxBatchers)
	case e.Status != StatusConfigured && e.Status != StatusClosed && e.Status != StatusFinalised:
		return fmt.Errorf("ballot: unknown election status %q", truncate(e.Status))
	}
	if err := validList("state", e.States, ValidState); err != nil {
		return err
	}
	if err := validList("batcher", e.Batchers, validCommonName); err != nil {
		return err
	}
	return validList("candidate", e.Candidates, ValidCandidate)
}

// validList checks that list is non-empty, every item is valid and no item
// repeats.
func validList(what string, list []string, valid func(string) bool) error {
	if len(list) == 0 {
		return fmt.Errorf("ballot: election has no %ss", what)
	}
	seen := make(map[string]bool, len(list))
	for _, s := range list {
		if !valid(s) {
			return fmt.Errorf("ballot: invalid %s %q", what, truncate(s))
		}
		if seen[s] {
			return fmt.Errorf("ballot: %s %q listed twice", what, s)
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

// HasCandidate reports whether c is one of the election's candidates.
func (e *Election) HasCandidate(c string) bool { return slices.Contains(e.Candidates, c) }

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
