package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/logmonitor"
)

// LogMonitor audits the intake logs against the ledger
// (*logmonitor.Monitor): each anchored head's signature against the
// registered keys, the log's entries up to it, the heads seen before
// (seen, by state) against the log, and every entry's standing. A head
// seen before past the anchored one is not checked but marked
// (StateReport.SeenAhead).
type LogMonitor interface {
	Check(ctx context.Context, seen map[string]ballot.TreeHead) (logmonitor.Report, error)
}

// IntakeLog runs the log monitor on a timer and keeps its latest finding
// for the intake log page, so a request costs no ledger or gateway query.
// The monitor (*logmonitor.Monitor) remembers what it verified, so a check
// reads only the entries and batches new since the last one.
// It remembers the largest verified head of each state (in memory) and
// hands it to the next check: a log that no longer gives that head's root
// is reported inconsistent, and the remembered head is kept as the
// evidence. A remembered head past the state's anchored head now (the peer
// read is behind the one read before: the ledger never anchors a smaller
// head) is pending, neither consistent nor inconsistent: the monitor did
// not check it, and it is kept, not replaced by the smaller anchored head,
// till a check once the anchored head reaches it does.
type IntakeLog struct {
	Monitor LogMonitor
	// Proofs, when set, serves consistency proofs (logmonitor.Gateway):
	// each new head is also checked to extend the one verified before it
	// by a proof (logmonitor.Extends), besides the monitor's recount.
	Proofs logmonitor.Proofs
	// Every is the time between checks (default 15 s); Timeout bounds one
	// check (default Every).
	Every, Timeout time.Duration
	// Deadline is the monitor's: how long an accepted vote may take to
	// reach the ledger before it is MISSING (shown on the page).
	Deadline time.Duration
	// Log gets each failed check: an error when the logs fail it, a
	// warning when it cannot run; nil discards them.
	Log *slog.Logger

	mu   sync.Mutex
	view intakeLogView
	seen map[string]ballot.TreeHead
}

// intakeLogView is the intake log page.
type intakeLogView struct {
	Configured bool      `json:"configured"` // false: the explorer runs without a gateway to read the logs from
	Election   string    `json:"election,omitempty"`
	CheckedAt  time.Time `json:"checked_at"` // the last completed check; zero: none yet
	AttemptAt  time.Time `json:"attempt_at"` // the last check tried
	Every      float64   `json:"refresh_seconds"`
	Deadline   float64   `json:"deadline_seconds"`
	// Failure is a finding against the log or the ledger: an anchored head
	// that does not verify (unregistered key, bad signature) or that is not
	// of the election's state (logmonitor.ErrForeignHead), a log
	// inconsistent with a signed head (rewritten, or serving other entries
	// than signed), or a batch record that does not describe its
	// transaction's votes (logmonitor.ErrRecordMismatch). None clears by
	// checking again.
	Failure string `json:"failure,omitempty"`
	// Error says the last check could not run (gateway or peer
	// unreachable); States are then those of the last completed check.
	Error    string           `json:"error,omitempty"`
	States   []intakeLogState `json:"states"`
	Missing  int              `json:"missing"`  // MISSING entries in every state
	Unlogged int              `json:"unlogged"` // votes the ledger counts that no state's log holds
}

// intakeLogState is one state's log as last checked.
type intakeLogState struct {
	State string `json:"state"`
	// Head is the latest anchored head (nil: none yet); its signature
	// verified against the ledger's registered log keys.
	Head              *ballot.AnchoredHead `json:"head,omitempty"`
	SignatureVerified bool                 `json:"signature_verified"`
	// Previous is the head this explorer verified before Head: one the log
	// still gives ("consistent"), or one past Head, not checked
	// ("pending"); nil: Head is the first seen, or none was.
	Previous *ballot.TreeHead `json:"previous,omitempty"`
	// ProofVerified: the gateway's consistency proof between Previous and
	// Head verified (from the smaller to the larger).
	ProofVerified bool `json:"consistency_proof_verified"`
	// Consistency is "consistent" (the log gives Previous's root),
	// "pending" (Previous is past Head, or no head is anchored: the peer
	// read is behind the one Previous was read from, so it was not checked
	// and is kept till Head reaches it), "first" (nothing seen before) or
	// "none" (no head, none seen).
	Consistency string `json:"consistency"`
	Counted     int    `json:"counted"`
	Rejected    int    `json:"rejected"`
	Pending     int    `json:"pending"`
	Missing     int    `json:"missing"`
	// Entries are the entries not counted (every rejected and MISSING
	// one, the oldest pending ones), each under Head, the signed head that
	// proves its acceptance; PendingUnlisted counts the pending ones left
	// out (logmonitor.Monitor.PendingListed).
	Entries         []logmonitor.Entry `json:"entries"`
	PendingUnlisted int                `json:"pending_unlisted"`
	// Unlogged counts the votes the ledger counted that the log does not
	// hold (logmonitor.StateReport.Unlogged); UnloggedVotes lists the
	// earliest cast, by batch and index.
	Unlogged      int                       `json:"unlogged"`
	UnloggedVotes []logmonitor.UnloggedVote `json:"unlogged_votes"`
}

// Run checks now and then every Every until ctx ends.
func (l *IntakeLog) Run(ctx context.Context) error {
	every := l.Every
	if every <= 0 {
		every = 15 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		l.Refresh(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Refresh runs one check and records its finding.
func (l *IntakeLog) Refresh(ctx context.Context) {
	timeout := firstPositive(l.Timeout, l.Every, 15*time.Second)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	l.mu.Lock()
	seen := make(map[string]ballot.TreeHead, len(l.seen))
	for k, v := range l.seen {
		seen[k] = v
	}
	l.mu.Unlock()

	rep, err := l.Monitor.Check(ctx, seen)
	proved := map[string]bool{}
	for _, sr := range rep.States {
		if prev, ok := seen[sr.State]; ok && err == nil && sr.Head != nil && l.Proofs != nil {
			err = logmonitor.Extends(ctx, l.Proofs, prev, sr.Head.Head)
			proved[sr.State] = err == nil
		}
	}
	now := time.Now()

	l.mu.Lock()
	defer l.mu.Unlock()
	l.view.AttemptAt = now
	l.view.Failure, l.view.Error = "", ""
	switch {
	case errors.Is(err, logmonitor.ErrInconsistent), errors.Is(err, logmonitor.ErrForeignHead), errors.Is(err, logmonitor.ErrRecordMismatch),
		errors.Is(err, ballot.ErrUnknownLogKey), errors.Is(err, ballot.ErrBadSignature), errors.Is(err, ballot.ErrBadHead):
		l.view.Failure = err.Error()
		l.logger().Error("intake log check failed", "error", err)
		return
	case err != nil:
		l.view.Error = "the intake logs cannot be checked right now; the explorer's log has the details"
		l.logger().Warn("intake log check", "error", err)
		return
	}
	if l.seen == nil {
		l.seen = map[string]ballot.TreeHead{}
	}
	v := &l.view
	v.Election, v.CheckedAt, v.States, v.Missing, v.Unlogged = rep.Election, now, nil, 0, 0
	for _, sr := range rep.States {
		st := intakeLogState{State: sr.State, Head: sr.Head, Consistency: "none", Entries: sr.Entries, PendingUnlisted: sr.PendingUnlisted,
			Counted: sr.Counts[ballot.StandingCounted], Rejected: sr.Counts[ballot.StandingRejected],
			Pending: sr.Counts[ballot.StandingPending], Missing: sr.Counts[ballot.StandingMissing],
			Unlogged: sr.Unlogged, UnloggedVotes: sr.UnloggedVotes}
		prev, hadPrev := seen[sr.State] // the head Check was handed
		switch {
		case sr.SeenAhead: // not checked: neither consistent nor not
			st.Previous, st.Consistency, st.ProofVerified = &prev, "pending", proved[sr.State]
		case sr.Head == nil:
		case hadPrev:
			st.Previous, st.Consistency, st.ProofVerified = &prev, "consistent", proved[sr.State]
		default:
			st.Consistency = "first"
		}
		if sr.Head != nil {
			st.SignatureVerified = true // Check verified it, or failed
			if kept, ok := l.seen[sr.State]; !ok || sr.Head.Head.Size >= kept.Size {
				l.seen[sr.State] = sr.Head.Head // never forget a larger head
			}
		}
		v.Missing += st.Missing
		v.Unlogged += st.Unlogged
		v.States = append(v.States, st)
	}
}

func (l *IntakeLog) logger() *slog.Logger {
	if l.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Log
}

// snapshot is the page's view as of the last check.
func (l *IntakeLog) snapshot() intakeLogView {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := l.view
	v.Configured = true
	v.Every = firstPositive(l.Every, 15*time.Second).Seconds()
	v.Deadline = l.Deadline.Seconds()
	return v
}

// firstPositive is the first positive duration.
func firstPositive(d ...time.Duration) time.Duration {
	for _, x := range d {
		if x > 0 {
			return x
		}
	}
	return 0
}

// intakeLog is the intake log page: the monitor's last finding.
func (s *Server) intakeLog(*http.Request) (any, error) {
	if s.cfg.IntakeLog == nil {
		return intakeLogView{}, nil
	}
	return s.cfg.IntakeLog.snapshot(), nil
}
