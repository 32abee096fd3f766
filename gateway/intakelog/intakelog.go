// Package intakelog is the gateway's side of the intake log: it follows
// each state's log in Redis (votequeue.LogKey, appended by the intake's
// script) into an in-memory ballot.LogTree, signs and publishes tree heads,
// anchors them on the ledger, and serves what voters and monitors ask of the
// log: acceptance receipts, entries, heads and consistency proofs.
//
// # Signing and anchoring
//
// Every Config.Interval (1 s; at most Config.MaxInterval, 6 s, so that a
// take-over below anchors heads a stopped gateway left, counted from the
// oldest, before the IntakeLogUnanchored alert) the log
// reads the new entries of every state of the election, and for each
// state whose log grew it signs a head
// (ballot.TreeHead: election, state, size, root, time, key id; Ed25519) and
// publishes it in Redis with votequeue.PublishHead, which keeps the largest
// (a head signed again at the same size, below, replaces the earlier stamp
// there, votequeue.RepublishHead, so acceptance receipts carry a head of
// the anchored head's size and root; its stamp may differ, see below).
// A head is stamped with the gateway's clock, or with the anchored head's
// stamp when that is later (the ledger refuses a head stamped before its
// state's anchored head, ballot.ErrHeadStale): a gateway whose clock is
// behind another's, or steps back, signs heads the ledger still takes. The
// ledger also refuses a head stamped more than ballot.MaxClockSkew after
// its transaction's time (this gateway's clock): while the anchored head is
// stamped that far ahead of this gateway's clock (gateways' clocks more
// than the skew apart, or this one's stepped back since it anchored that
// head), the gateway still signs and publishes that state's
// heads but leaves them out of its anchors, which carry the other states'
// heads. A signed head it knows is stamped before its state's anchored
// head is left out of the anchor and signed again, and so is one it
// stamped that far ahead of its clock now (its clock was ahead, which the
// ledger refuses, ballot.ErrClockSkew, and stepped back once fixed): the
// head signed again is stamped with the clock and replaces the first in
// Redis (votequeue.RepublishHead), so a log that stopped growing is
// anchored once the clock is fixed. A gateway that has published no head
// of a state yet (it has just started) and whose head PublishHead refuses,
// a head of that size being stored (votequeue.HeadSameSize), takes the
// stored head as its own if it has that size and root and its key signed
// it (this gateway before a restart, or another given the same key, as
// make up gives every gateway): it anchors it (unless the ledger holds it
// already), or signs it again as above, so a restart does not leave the
// state's last votes unanchored. Once it has published a head of the
// state, such a refusal is a race lost to another gateway (sharing its
// key, or not), which anchors that head, or its own publication stored
// whose answer was lost (a read timeout, a dropped connection): the
// gateway does not sign that size again, and takes the stored head only
// if the ledger still has not
// anchored that size takeOverDelay (a round and twice an anchor's bound:
// a running winner's anchor has come by then unless its rounds are slow
// too) after the refusal, or at once in its closing round; the same holds
// after a restart's refusal when the stored head is not taken.
// So, while the gateways run, each size's anchor is normally sent once
// (taking the winner's head sooner would send it once per gateway, the
// concurrent ones failing with read conflicts); gateways stopped together
// (make down, one key) each anchor the stored last heads in their closing
// rounds, and all but the first to commit are read conflicts or no-op
// repeats of the anchored heads. An idle state costs no
// signature a second, and a size is anchored whether the winner crashed
// before anchoring, its closing anchor failed, or a reply was lost. A
// stored head another key signed (its gateway gone for good, say) is taken
// alike, after the same delay (that gateway may be alive and about to
// anchor it), if it has the size and root of this gateway's own log: the
// gateway signs its own head of them and anchors that (the ledger takes a
// head of any registered key, and compares heads by size and root), while
// the stored head stays in Redis, served in acceptance receipts (this
// gateway's key may not be registered: its anchor is then refused, and
// nothing served changed); one of another root, which this gateway's log
// does not give, is never taken (looked at again each delay). Gateways
// may each sign a size again (sharing a key, or taking another key's
// head), so the head stored may be stamped (and signed) otherwise than
// the one the ledger holds of that size: it has its size and root.
// One signature per state per interval, whatever the vote rate: no vote
// waits for a signature. Then, unless an anchoring transaction is still in
// flight, it anchors the heads it published since the last anchor on the
// ledger in one AnchorLogHeads transaction, each with the consistency proof
// from its state's last anchored head, which the chaincode checks: the
// ledger accepts only heads that extend what it holds. When Run's context
// ends (a gateway ends it once its requests in flight have finished) it
// signs and anchors once more, so that no accepted vote is left outside
// an anchored head by a gateway that stopped (again, while that anchor
// loses the race below, within its bound; gateways stopped together all
// anchor the same last heads, see Run).
//
// Several gateways may run the log at once: each follows the log, only a
// head larger than the published one replaces it, and the chaincode refuses
// an anchor that does not extend the anchored head (a concurrent anchor of
// another gateway makes one of two fail, and the next round anchors again
// from the new head, the closing round at once). That race is expected: a
// failed anchor whose error wraps ballot.ErrHeadConflict (the chaincode's
// refusal, or a read conflict at commit) while the ledger's anchored head
// of one of its states is no longer the one the anchor was built on
// counts in intake_log_anchor_races_total and is logged at debug level; every other
// failure (the ledger unreachable, another refusal, a head conflict with
// no other anchor to explain it, as a log rewritten under its anchored
// head gives) counts in intake_log_anchor_failures_total and is logged at
// warn level, unless the anchor's context had ended (an anchor in flight
// as the gateway stops); a refusal of this gateway's clock, more than
// ballot.MaxClockSkew from the peers' (the chaincode's) or more than their
// peer.authentication.timewindow (the peers', before the chaincode runs;
// both ballot.ErrClockSkew), is a failure logged naming the clock and the
// fix. After a failed anchor that wraps
// ballot.ErrHeadConflict or ballot.ErrHeadStale the gateway reads the
// anchored heads again, and signs again, even at the same size, a head
// stamped before its state's anchored head, so that the next round's
// anchor is not refused for its stamp (the head is otherwise signed only
// when the log grows, and a log that stopped growing would never be
// anchored). A gateway without a key (Config.Key nil) only follows and
// serves.
//
// # Following the log
//
// The gateway's intake (dedup.Config.Logged) hands Observe the leaf of every
// entry it appended, with its index, so the tree grows from votes the
// process holds anyway; only the entries between them (another gateway's) are read back
// from Redis, and when there are none that is one empty read per state a
// second. Observe takes only its state's mutex, which nothing holds across a
// Redis or ledger call: a slow Redis or peer never holds up a vote's answer
// here (it did, docs/bench-history.md "The ramp's other stall found").
//
// # Memory
//
// The tree keeps about two hashes (64 bytes) per entry: 64 MB per million
// accepted votes per gateway. Entries themselves stay in Redis.
package intakelog

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
)

// Ledger anchors heads and reads the anchored ones (implemented by
// fabricclient.Ballot).
type Ledger interface {
	// AnchorLogHeads anchors the heads by ballot.LogAnchor.Check's rule; its
	// refusal of a head that does not extend the anchored one wraps
	// ballot.ErrHeadConflict, of one stamped before it ballot.ErrHeadStale,
	// of the transaction's time (this gateway's clock) more than
	// ballot.MaxClockSkew from a peer's, or outside the peer's
	// peer.authentication.timewindow, ballot.ErrClockSkew, of a head
	// signed by a key not registered on the ledger ballot.ErrUnknownLogKey.
	AnchorLogHeads(ctx context.Context, anchors []ballot.LogAnchor) error
	// LogHead returns a state's last anchored head, or an error wrapping
	// ballot.ErrNotFound when none is.
	LogHead(ctx context.Context, state string) (ballot.AnchoredHead, error)
}

// Elections gives the current election record (its id and states).
type Elections interface {
	Election(ctx context.Context) (*ballot.Election, error)
}

// Errors of the serving side.
var (
	// ErrNoEntry: no entry of this vote at this index.
	ErrNoEntry = errors.New("intakelog: no such entry")
	// ErrNoHead: no signed head covers the entry yet.
	ErrNoHead = errors.New("intakelog: no signed tree head covers the entry yet")
	// ErrDiverged: the log in Redis no longer gives the published head's
	// root (it was rewritten). Never expected; it is logged as an error.
	ErrDiverged = errors.New("intakelog: the log does not match its signed head")
	// errSuperseded wraps an anchor's failure that another gateway's anchor
	// explains (see the package documentation, Signing and anchoring).
	errSuperseded = errors.New("intakelog: another gateway anchored a head first")
)

// Config tunes a Log. Zero fields take DefaultConfig's values.
type Config struct {
	// Key signs heads; nil: follow and serve only.
	Key ed25519.PrivateKey
	// Interval is how often heads are signed and anchored.
	Interval time.Duration
	// Wait bounds how long an acceptance receipt waits for a head that
	// covers the vote.
	Wait time.Duration
	// CallTimeout bounds one Redis or ledger call.
	CallTimeout time.Duration
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// Registry, if set, gets the log's metrics (intake_log_*).
	Registry prometheus.Registerer
}

// metrics are the log's Prometheus series.
type metrics struct {
	entries, signed, anchored   *prometheus.GaugeVec
	published                   *prometheus.GaugeVec
	anchorFailures, anchorRaces prometheus.Counter
}

// anchoredHelp says what intake_log_anchored_entries counts: the largest
// anchored size of the ledger this gateway has seen covering its own
// heads: raised by its own anchors (anchor), and by its reads of the
// ledger (readAnchored, takeOver) that find the anchored head at or past
// every head it signed or was refused (showAnchored); never lowered
// (raiseAnchored).
const anchoredHelp = "Entries of the state's intake log (one per vote accepted in the state) covered by the ledger's anchored tree head, the largest this gateway has seen: that head's size, raised (never lowered, though an anchor's answer may come after a read of a later head) when this gateway's own anchor commits, and when it reads the ledger's anchored head and finds it at or past every head this gateway signed or was refused (a restarted gateway, or one that lost the race to publish a size, shows the size another gateway or its earlier run anchored). " +
	"A head another gateway anchored below this gateway's own heads does not move it (take the max by state over the gateways); no series until this gateway has anchored or read such a head of the state."

func newMetrics(reg prometheus.Registerer) *metrics {
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"state"})
	}
	m := &metrics{
		entries:  gauge("intake_log_entries", "Entries of the state's intake log (one per vote accepted in the state) this gateway has in its tree."),
		signed:   gauge("intake_log_signed_entries", "Entries of the state's intake log (one per vote accepted in the state) covered by the last tree head this gateway signed and published, or took as its own from Redis (a head its key signed, stored before a restart or by another gateway sharing the key), or signed to anchor in place of a head another key signed, stored and not anchored (not published, the stored head staying): that head's size."),
		anchored: gauge("intake_log_anchored_entries", anchoredHelp),
		published: gauge("intake_log_published_entries", "Entries of the state's intake log (one per vote accepted in the state) covered by the head stored in Redis (served in acceptance receipts) as this gateway last learnt it when publishing: its own head stored, or the head of its size that refused its own (another gateway's, or its own stored with the answer lost). "+
			"Take the max by state over the gateways: it is the stored head's size even when the gateway that stored it is gone."),
		anchorFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "intake_log_anchor_failures_total",
			Help: "AnchorLogHeads transactions that failed other than by the expected race with another gateway's (refused, or the ledger unreachable)."}),
		anchorRaces: prometheus.NewCounter(prometheus.CounterOpts{Name: "intake_log_anchor_races_total",
			Help: "AnchorLogHeads transactions that lost the expected race with another gateway's anchor of the same state (refused as not extending the anchored head, or a read conflict); the next round anchors from the new head, the closing round at shutdown at once (again while it loses, within its bound)."}),
	}
	if reg != nil {
		reg.MustRegister(m.entries, m.signed, m.published, m.anchored, m.anchorFailures, m.anchorRaces)
	}
	return m
}

// DefaultConfig returns the defaults of Config's zero fields.
func DefaultConfig() Config {
	return Config{Interval: time.Second, Wait: 2 * time.Second, CallTimeout: 5 * time.Second, Now: time.Now}
}

// withDefaults is c with its zero fields DefaultConfig's.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.Interval = cmp.Or(c.Interval, d.Interval)
	c.Wait = cmp.Or(c.Wait, d.Wait)
	c.CallTimeout = cmp.Or(c.CallTimeout, d.CallTimeout)
	if c.Now == nil {
		c.Now = d.Now
	}
	return c
}

// chunk is the most entries read from Redis in one call.
const chunk = 10_000

// stampMargin is kept below ballot.MaxClockSkew when a head takes the
// anchored head's later stamp: the anchor's transaction is stamped when it
// is sent, after the head is signed.
const stampMargin = 5 * time.Second

// Log follows, signs and anchors the intake logs. It is safe for
// concurrent use.
type Log struct {
	rdb    redis.UniversalClient
	ledger Ledger
	cfg    Config
	log    *slog.Logger
	m      *metrics

	mu     sync.Mutex
	states map[string]*stateLog
	// leaving is set by the closing round: sign takes over a size refused
	// as stored (stateLog.lost) at once, not after takeOverDelay.
	leaving atomic.Bool
	// unknownKeyWarned is when (Config.Now, Unix nanoseconds) a round's
	// anchor refused for this gateway's key not being registered on the
	// ledger (ballot.ErrUnknownLogKey) was last logged at warn level; zero
	// since an anchor committed, or none was (anchorFailed).
	unknownKeyWarned atomic.Int64
}

// stateLog is one state's tree, as far as this process has read it.
type stateLog struct {
	mu   sync.Mutex
	tree ballot.LogTree
	// early holds the leaves of entries this process appended (Observe)
	// beyond the tree's end, by index, until the entries before them are in.
	early map[uint64][32]byte
	// signed is the last head this process published, or, as its first,
	// found stored with its key at the size it signed (ownStoredHead);
	// anchored the last head it knows the ledger holds (Size 0: none read
	// yet or none).
	signed, anchored ballot.TreeHead
	anchoredKnown    bool
	// resign: signed is stamped before the anchored head; sign it again.
	resign bool
	// lost is the size at which PublishHead last refused this process's
	// head for one of that size stored (votequeue.HeadSameSize), and
	// lostAt when; the state is not signed again at that size, and from
	// lostAt+takeOverDelay (at once in the closing round) the ledger is
	// read to see whether that size is anchored (lostAt zero: it was, or
	// the stored head was taken).
	lost   uint64
	lostAt time.Time
	// unstored: signed is this key's head of the size and root of a
	// stored head another key signed (takeStoredHead), which Redis keeps:
	// it is anchored, and signed again if its stamp is refused, but never
	// published.
	unstored bool
	// tookOver: the closing round took the stored head (takeOver), and
	// tookOther: signing its own head of another key's; closingAnchor:
	// its anchor committed the state's head. Its log lines name them
	// (closingRound).
	tookOver, tookOther, closingAnchor bool
	// shown is the state's intake_log_anchored_entries (raiseAnchored).
	shown uint64
}

// New returns a Log over rdb; ledger may be nil when Key is (no anchoring).
// The caller checks cfg first (Config.Check).
func New(rdb redis.UniversalClient, ledger Ledger, cfg Config, log *slog.Logger) *Log {
	cfg = cfg.withDefaults()
	return &Log{rdb: rdb, ledger: ledger, cfg: cfg, log: log, m: newMetrics(cfg.Registry), states: map[string]*stateLog{}}
}

func (l *Log) state(state string) *stateLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.states[state]
	if !ok {
		s = &stateLog{}
		l.states[state] = s
	}
	return s
}

// Observe records the leaf of an entry this process appended at index of the state's
// log (dedup.Config.Logged), so the tree grows without reading it back from
// Redis; entries other gateways appended are still read (follow).
func (l *Log) Observe(state string, index int64, leaf [32]byte) {
	if index < 0 {
		return
	}
	s := l.state(state)
	s.mu.Lock()
	defer s.mu.Unlock()
	if uint64(index) < s.tree.Size() {
		return // read from Redis already
	}
	if s.early == nil {
		s.early = map[uint64][32]byte{}
	}
	s.early[uint64(index)] = leaf
	s.drain()
}

// drain appends the observed leaves that continue the tree. The caller
// holds s.mu.
func (s *stateLog) drain() {
	for {
		leaf, ok := s.early[s.tree.Size()]
		if !ok {
			return
		}
		delete(s.early, s.tree.Size())
		s.tree.Append(leaf)
	}
}

// follow reads entries into s's tree until it holds at least upto of them
// (or all there are, when upto is 0), taking observed leaves where it can
// and reading from Redis only the entries between them. It takes s.mu
// itself, and never holds it across a read: Observe, on every accepted
// vote's path, waits for no Redis call (an entry read here that Observe
// appended meanwhile is skipped).
func (l *Log) follow(ctx context.Context, state string, s *stateLog, upto uint64) error {
	for {
		s.mu.Lock()
		s.drain()
		have := s.tree.Size()
		if upto > 0 && have >= upto {
			s.mu.Unlock()
			return nil
		}
		end := have + chunk
		for i := range s.early { // read only up to the next observed leaf
			if i > have && i < end {
				end = i
			}
		}
		s.mu.Unlock()
		entries, err := votequeue.LogEntries(ctx, l.rdb, state, have, end)
		if err != nil {
			return err
		}
		leaves := make([][32]byte, len(entries))
		for i, e := range entries {
			leaves[i] = ballot.EntryLeaf(e)
		}
		s.mu.Lock()
		for i := s.tree.Size() - have; i < uint64(len(leaves)); i++ {
			s.tree.Append(leaves[i])
		}
		for i := range s.early {
			if i < s.tree.Size() {
				delete(s.early, i)
			}
		}
		size := s.tree.Size()
		s.mu.Unlock()
		if uint64(len(entries)) < end-have { // the log ends here, for now
			if upto > size {
				return fmt.Errorf("%w: the %s log holds %d entries, a head says %d", ErrDiverged, state, size, upto)
			}
			return nil
		}
	}
}

// Run signs and anchors every Interval until ctx ends; without a key it
// only follows the logs. When ctx ends it waits for the anchoring
// transaction it had in flight, if any, then signs and anchors once more
// (the closing round, within 2 × CallTimeout), so that every vote accepted
// before ctx ended is under an anchored head: a gateway ends ctx after its
// requests in flight have finished. It returns after that, so a caller may
// close the Redis client and the ledger connection after it.
func (l *Log) Run(ctx context.Context, elections Elections) {
	tick := time.NewTicker(l.cfg.Interval)
	defer tick.Stop()
	anchoring := make(chan struct{}, 1) // held while an anchor is in flight
	for {
		select {
		case <-ctx.Done():
			anchoring <- struct{}{} // waits for the anchor in flight
			l.closingRound(context.WithoutCancel(ctx), elections)
			return
		case <-tick.C:
		}
		states, anchor := l.signAll(ctx, elections)
		if !anchor {
			continue
		}
		select {
		case anchoring <- struct{}{}:
			go func() {
				defer func() { <-anchoring }()
				l.anchorAndLog(ctx, states)
			}()
		default: // the previous anchor is still in flight
		}
	}
}

// waitNote says, in a closing round's warning, who anchors what it left.
const waitNote = "the votes after the last anchored head wait for another gateway with a registered signing key still running (it takes the stored head and anchors it, or its own head of that size and root if another key signed it, before IntakeLogUnanchored fires, 3 min after the oldest head left unanchored: within 125 s of it at the default interval, 150 s at the longest), this gateway's restart, or a head of a longer log"

// closingRound signs and anchors what the logs hold now, within
// 2 × CallTimeout, and logs what it did: one info line naming the states
// whose stored heads it took (if any), then either "closing heads
// anchored", naming the states whose heads its own anchors committed
// (none when earlier anchors, or other gateways', covered them), or a
// warning naming what it left. It anchors once, and again
// after an anchor that lost a race (anchorPastRaces). A size refused as
// stored and not yet found anchored (a reply lost, a race lost, earlier
// or in this round) is taken over at once: this gateway anchors nothing
// later, and a winner still anchoring it makes the second anchor a race
// at worst, counted. So gateways sharing a key that stop together (make
// down stops a system's gateways at once), their logs followed to the
// end, each anchor the same final heads (the ones stored), and the first
// of their anchors to commit covers all the others hold. An anchor that
// loses a race fails its other states' heads too, which no other gateway
// may hold: the closing round anchors them again while it loses, within
// its bound, rather than leave them to another gateway's take-over or
// this one's restart.
func (l *Log) closingRound(ctx context.Context, elections Elections) {
	ctx, cancel := context.WithTimeout(ctx, closingTimeout(l.cfg.CallTimeout))
	defer cancel()
	l.leaving.Store(true)
	states, anchor := l.signAll(ctx, elections)
	if !anchor {
		return
	}
	err := l.anchorPastRaces(ctx, states)
	if err == nil {
		// A head found stamped before the anchored one, or by this clock
		// before it stepped back, was left out: sign it again and anchor
		// once more.
		if resign := l.where(states, func(s *stateLog) bool { return s.resign }); len(resign) > 0 {
			if _, anchor = l.signAll(ctx, elections); anchor {
				err = l.anchorPastRaces(ctx, resign)
			}
		}
	}
	if took := l.where(states, func(s *stateLog) bool { return s.tookOver }); len(took) > 0 {
		msg, args := "intake log: closing round took the stored heads refused to this gateway and not anchored, to anchor them", []any{"states", took}
		if others := l.where(states, func(s *stateLog) bool { return s.tookOther }); len(others) > 0 {
			msg += " (for other_key, another key's, it anchors its own head of their size and root; the stored heads stay)"
			args = append(args, "other_key", others)
		}
		l.log.Info(msg, args...)
	}
	if err != nil {
		l.anchorFailed("intake log: closing anchor failed: "+waitNote, err, true)
		return
	}
	if left := l.where(states, (*stateLog).unanchored); len(left) > 0 {
		l.log.Warn("intake log: closing round left heads unanchored: "+waitNote, "states", left)
		return
	}
	l.log.Info("intake log: closing heads anchored", "states", len(states),
		"anchored", l.where(states, func(s *stateLog) bool { return s.closingAnchor }))
}

// anchorPastRaces anchors the states' signed heads (anchor) and, while
// the anchor loses a race (errSuperseded: another gateway's anchor of one
// of the states committed first, a take-over racing its winner's anchor
// or a head both stamped in the same millisecond, failing the
// transaction's other heads with it) and ctx (the closing round's bound)
// has not ended, anchors again: anchor has read the anchored heads
// again, and what they do not cover is anchored once more (nothing is
// sent when they cover it all: a race lost to heads at least this
// gateway's ends it). The tries are bounded by ctx, not counted: each
// race lost is another gateway's anchor committed first, which moved an
// anchored head on, and with several gateways stopping at once, each
// with an anchor in flight, a count (it was 3 tries) could run out
// before the heads were anchored, while a block is cut every tenth of a
// second (network.BatchTimeout), far within the bound. It returns the
// last anchor's error.
func (l *Log) anchorPastRaces(ctx context.Context, states []string) error {
	err := l.anchor(ctx, states)
	for errors.Is(err, errSuperseded) && ctx.Err() == nil {
		err = l.anchor(ctx, states)
	}
	return err
}

// where lists the states of which is holds, called with the state's
// mutex held.
func (l *Log) where(states []string, is func(*stateLog) bool) []string {
	var out []string
	for _, st := range states {
		s := l.state(st)
		s.mu.Lock()
		if is(s) {
			out = append(out, st)
		}
		s.mu.Unlock()
	}
	return out
}

// unanchored says whether the head this process signed, or the size
// refused it as stored and not found anchored or taken over (lostAt set),
// is past the anchored head as it knows it. The caller holds s.mu.
func (s *stateLog) unanchored() bool {
	head := s.signed.Size
	if !s.lostAt.IsZero() {
		head = max(head, s.lost)
	}
	return head > s.anchored.Size
}

// signAll signs a head of every state of the election whose log grew. It
// returns the states and whether to anchor them (a key and a ledger; an
// election record read).
func (l *Log) signAll(ctx context.Context, elections Elections) (states []string, anchor bool) {
	e, err := elections.Election(ctx)
	if err != nil {
		l.log.Warn("intake log: no election record", "err", err)
		return nil, false
	}
	for _, st := range e.States {
		if err := l.sign(ctx, e.ID, st); err != nil {
			l.log.Warn("intake log: sign", "state", st, "err", err)
		}
	}
	return e.States, l.ledger != nil && l.cfg.Key != nil
}

// anchorAndLog anchors the states' signed heads and logs a failure (an
// anchor another gateway's explains at debug level, none once ctx ended).
func (l *Log) anchorAndLog(ctx context.Context, states []string) {
	switch err := l.anchor(ctx, states); {
	case err == nil || ctx.Err() != nil:
	case errors.Is(err, errSuperseded):
		l.log.Debug("intake log: anchor", "err", err)
	default:
		l.anchorFailed("intake log: anchor", err, false)
	}
}

// anchorFailed logs a failed anchor at warn level as msg. A refusal of
// this gateway's clock (ballot.ErrClockSkew, the chaincode's or the
// peers') says so, with the clock and the fix: signing again does not
// help, and every anchor is refused until the clock is fixed. So does a
// refusal of its key, not registered on the ledger
// (ballot.ErrUnknownLogKey): a round's (closing false) at most once every
// UnanchoredAlertAfter while the key is not registered (an anchor
// committed starts it again), the rounds' in between at debug level (each
// counted in intake_log_anchor_failures_total, as every failure is); the
// closing round's (closing) always.
func (l *Log) anchorFailed(msg string, err error, closing bool) {
	if errors.Is(err, ballot.ErrUnknownLogKey) {
		now := l.cfg.Now()
		if last := l.unknownKeyWarned.Load(); !closing && last != 0 && now.Sub(time.Unix(0, last)).Abs() < UnanchoredAlertAfter {
			l.log.Debug(msg, "err", err)
			return
		}
		if !closing {
			l.unknownKeyWarned.Store(now.UnixNano())
		}
		l.log.Warn(msg+": "+unknownKeyNote(), "err", err)
		return
	}
	if !errors.Is(err, ballot.ErrClockSkew) {
		l.log.Warn(msg, "err", err)
		return
	}
	l.log.Warn(msg+": refused for this gateway's clock; its heads are signed and served but none is anchored until the clock is fixed, then they are (signed again if stamped ahead). "+ballot.ClockSkewAdvice(),
		"clock", l.cfg.Now().UTC().Format(time.RFC3339), "max_skew", ballot.MaxClockSkew.String(), "err", err)
}

// unknownKeyNote says, in a warning of an anchor refused for this
// gateway's key (anchorFailed), what it means and the fix.
func unknownKeyNote() string {
	return fmt.Sprintf("refused for this gateway's signing key, not registered on the ledger; its heads are signed and served but none is anchored until the key is registered (bin/roll publish -log-public-key <its public key>); while it is not, a round's refusal is logged at warn level once every %s, the others at debug level, each counted in intake_log_anchor_failures_total", UnanchoredAlertAfter)
}

// sign follows the state's log and, with a key, publishes a head of it if
// it grew since the last head this process published, or signs that head
// again if anchorOf found its stamp refused by the ledger's rules (resign). The head is
// stamped with the clock, or with the anchored head's stamp if later. Till
// this process has published a head of the state (it has just started), a
// head of the same size and root that this key signed, found stored in
// its place (votequeue.HeadSameSize: stamped otherwise, before a restart
// or by a gateway sharing the key), is taken as this process's: anchored
// as it is, or signed again if its stamp is refused, so no restart leaves
// a size unanchored. Any other such refusal (a race lost to another
// gateway, of this key or another, or this process's own head stored with its answer
// lost) leaves the size unsigned until the log grows; takeOver takes that
// stored head (for another key's, this key's own head of its size and
// root, never published) after takeOverDelay (at once in the closing
// round) if the ledger has not anchored its size by then. Run
// signs one state at a time and runs one anchor at a time; only sign sets
// a state's signed head, only anchor its anchored one.
func (l *Log) sign(ctx context.Context, election, state string) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.CallTimeout)
	defer cancel()
	s := l.state(state)
	if err := l.follow(ctx, state, s, 0); err != nil {
		return err
	}
	now := l.cfg.Now()
	s.mu.Lock()
	size, signed := s.tree.Size(), s.signed.Size
	lost := size == s.lost && size != signed // refused at this size: not signed again
	check := lost && l.ledger != nil && !s.lostAt.IsZero() && (l.leaving.Load() || now.Sub(s.lostAt) >= takeOverDelay(l.cfg.Interval, l.cfg.CallTimeout))
	due := l.cfg.Key != nil && size > 0 && (size != signed || s.resign) && !lost
	var root [32]byte
	if due || check {
		root, _ = s.tree.Root(size)
	}
	notBefore := s.anchored.Timestamp
	unstored := size == signed && s.unstored // signed again, still unpublished
	s.mu.Unlock()
	l.m.entries.WithLabelValues(state).Set(float64(size))
	if check {
		return l.takeOver(ctx, ballot.TreeHead{Election: election, State: state, Size: size, Root: ballot.HashHex(root)}, s)
	}
	if !due {
		return nil
	}
	h, err := ballot.TreeHead{Election: election, State: state, Size: size, Root: ballot.HashHex(root),
		Timestamp: max(now.UnixMilli(), notBefore)}.Sign(l.cfg.Key)
	if err != nil {
		return err
	}
	publish := votequeue.PublishHead
	switch {
	case unstored: // another key's head of its size and root stays stored
		publish = func(context.Context, redis.Scripter, ballot.TreeHead) (votequeue.Publication, error) {
			return votequeue.HeadStored, nil
		}
	case size == signed: // signed again: Redis takes it in place of the earlier stamp
		publish = votequeue.RepublishHead
	}
	published, err := publish(ctx, l.rdb, h)
	if err != nil {
		return err
	}
	stored := published == votequeue.HeadStored
	if published == votequeue.HeadSameSize && signed == 0 {
		// Just started (this process has published no head of the
		// state): a head of this size its key signed before a restart
		// keeps h out, and is this gateway's to anchor, or to sign
		// again. Once it has published one, or when another key
		// signed the stored head, such a refusal is a race lost to
		// another gateway, whose head that is to anchor (taking it
		// at once would anchor each size once per gateway), or its
		// own answer lost: takeOver, below.
		// Not stored, it is not read again at this size: the size is
		// lost (below), never signed again.
		if h, stored, err = l.ownStoredHead(ctx, h); err != nil {
			return err
		}
	}
	if published != votequeue.HeadLarger {
		l.m.published.WithLabelValues(state).Set(float64(size))
	}
	if published == votequeue.HeadSameSize && !stored {
		// A race lost to another gateway, or this process's
		// own head stored by a publication whose answer was lost: wait
		// for that size's anchor, then take the stored head (takeOver).
		s.mu.Lock()
		s.lost, s.lostAt = size, now
		s.mu.Unlock()
		if l.leaving.Load() && l.ledger != nil && size != signed {
			// The closing round: refused by a gateway stopping with
			// this one (make down stops them together), its closing
			// round concurrent. Take the stored head at once, as a
			// size refused earlier is: every closing round then
			// anchors the same final heads, and the first to commit
			// covers the others'.
			return l.takeOver(ctx, ballot.TreeHead{Election: election, State: state, Size: size, Root: h.Root}, s)
		}
	}
	// Only a published head is anchored: a larger one published by
	// another gateway meanwhile is that gateway's to anchor. A head signed
	// again at the size this process published replaces it for anchoring
	// even where Redis kept a larger one (both have the root of its size).
	if stored || size == signed {
		s.mu.Lock()
		// An anchor refused meanwhile may have learnt a later anchored
		// head than notBefore: then h is to be signed again too.
		s.signed, s.resign, s.unstored = h, h.Timestamp < s.anchored.Timestamp, unstored
		s.mu.Unlock()
		l.m.signed.WithLabelValues(state).Set(float64(size))
	}
	return nil
}

// anchorTimeout bounds one anchor: its reads of the anchored heads and
// its AnchorLogHeads transaction.
func (l *Log) anchorTimeout() time.Duration { return anchorTimeout(l.cfg.CallTimeout) }

// anchorTimeout bounds one anchor of a Log whose CallTimeout is call.
func anchorTimeout(call time.Duration) time.Duration { return 4 * call }

// closingTimeout bounds the closing round of a Log whose CallTimeout is
// call.
func closingTimeout(call time.Duration) time.Duration { return 2 * call }

// StopTimeout is the longest Run of a Log with c takes to return once its
// ctx has ended (c's zero CallTimeout taken as DefaultConfig's): the
// anchor it may have in flight, given up after 4 × CallTimeout, then the
// closing round, 2 × CallTimeout; 30 s by default. A caller that closes
// the Redis client or the ledger connection sooner cuts the closing round,
// leaving the last votes under no anchored head.
func (c Config) StopTimeout() time.Duration {
	call := c.withDefaults().CallTimeout
	return anchorTimeout(call) + closingTimeout(call)
}

// takeOverDelay is how long a size refused by PublishHead
// (votequeue.HeadSameSize) is left, by a Log whose Interval and
// CallTimeout are interval and call, to the gateway whose head is stored
// before takeOver reads the ledger: how long that gateway's anchor of it
// may be held up by its anchors' timeout. Run sends one anchor at a time,
// so the anchor it had in flight when it published may take
// anchorTimeout, the next round ticks an Interval on, and its anchor of
// the size may take anchorTimeout again: Interval + 2 × anchorTimeout
// (41 s by default). It is no bound: that round's signing (up to
// CallTimeout a state, and the election record's read) may delay the
// anchor further, and a take-over concurrent with it is then a race,
// counted (intake_log_anchor_races_total), failing the other states'
// heads of one transaction till the next round. A shorter delay makes
// that race the rule whenever the ledger is slow (a poll's close).
func takeOverDelay(interval, call time.Duration) time.Duration {
	return interval + 2*anchorTimeout(call)
}

// takeOver is sign's step for a state whose head of size h.Size (of root
// h.Root, this gateway's own view of its log) PublishHead refused
// takeOverDelay ago (or at all, in the closing round): unless the ledger's
// anchored head now covers that size, the stored head is taken as this
// process's signed head if it has that size and root (takeStoredHead) and
// anchored, or signed again if its stamp is refused; one of another size
// or root (a larger one stored meanwhile, a log this gateway does not
// see) is looked at again after another delay. A round's take-over is
// logged, and anchorOf reads the anchored head afresh (an anchor may be in
// flight meanwhile); the closing round's, with no anchor of this process
// awaiting its answer (one the stop cut may still commit, which the
// closing anchor then loses to and sends again: anchorPastRaces), keeps
// the anchored head just read as known, so that each head taken costs one
// read, not two, before the anchor, and is named in the round's one line
// (closingRound), not a line a state (gateways stopped together each take
// every state's last head).
func (l *Log) takeOver(ctx context.Context, h ballot.TreeHead, s *stateLog) error {
	anchored, err := l.ledger.LogHead(ctx, h.State)
	switch {
	case errors.Is(err, ballot.ErrNotFound):
		anchored = ballot.AnchoredHead{} // none: the zero head
	case err != nil:
		return fmt.Errorf("read the anchored %s head: %w", h.State, err) // again next round
	case anchored.Head.Size >= h.Size:
		s.mu.Lock()
		s.lostAt = time.Time{}
		s.mu.Unlock()
		l.showAnchored(h.State, s, anchored.Head.Size, h.Size)
		return nil
	}
	cur, others, taken, err := l.takeStoredHead(ctx, h, anchored.Head.Timestamp)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || !taken {
		s.lostAt = l.cfg.Now()
		return err
	}
	s.signed, s.lostAt, s.unstored = cur, time.Time{}, others
	l.m.signed.WithLabelValues(h.State).Set(float64(cur.Size))
	if l.leaving.Load() {
		s.anchored, s.anchoredKnown, s.tookOver, s.tookOther = anchored.Head, true, true, others
		return nil
	}
	s.anchoredKnown = false // anchorOf reads the anchored head afresh
	if others {
		l.log.Info("intake log: took the stored head of another key, refused to this gateway and not anchored since: anchoring this gateway's own head of its size and root (the stored head stays)", "state", h.State, "size", cur.Size)
		return nil
	}
	l.log.Info("intake log: took the stored head of its key, refused to this gateway and not anchored since, to anchor it", "state", h.State, "size", cur.Size)
	return nil
}

// takeStoredHead is takeOver's taking of the head stored for h's state
// (h being this gateway's size and root, unsigned), if it has h's size
// and root: one this gateway's key signed is taken as it is
// (ownStoredHead); for one another key signed (a gateway of that key gone
// before anchoring it, or its own anchor failing) this gateway signs its
// own head of that size and root, stamped with the clock or notBefore
// (the anchored head's stamp) if later, to anchor it: the ledger takes a
// head of any registered key, and the ledger, the log monitor and verify
// compare heads by size and root only. The stored head stays in Redis
// (served in acceptance receipts): this gateway's key may not be
// registered on the ledger (a gateway started before roll publish added
// its key, or one of another election), and its head in Redis would make
// the receipts fail while the ledger refused its anchor. It returns the
// head taken, whether another key signed the stored head, and whether it
// was taken.
func (l *Log) takeStoredHead(ctx context.Context, h ballot.TreeHead, notBefore int64) (_ ballot.TreeHead, others, taken bool, err error) {
	cur, same, err := l.storedOf(ctx, h)
	if err != nil || !same {
		return h, false, false, err
	}
	if l.signedByKey(cur) {
		return cur, false, true, nil
	}
	h.Timestamp = max(l.cfg.Now().UnixMilli(), notBefore)
	h, err = h.Sign(l.cfg.Key)
	return h, true, err == nil, err
}

// ownStoredHead returns the head stored for h's state, and true, if it has
// h's size and root and this gateway's key signed it; else h and false.
func (l *Log) ownStoredHead(ctx context.Context, h ballot.TreeHead) (ballot.TreeHead, bool, error) {
	cur, same, err := l.storedOf(ctx, h)
	if err != nil || !same || !l.signedByKey(cur) {
		return h, false, err
	}
	return cur, true, nil
}

// storedOf returns the head stored for h's state and whether it has h's
// size and root (false when none is stored).
func (l *Log) storedOf(ctx context.Context, h ballot.TreeHead) (ballot.TreeHead, bool, error) {
	cur, err := votequeue.GetHead(ctx, l.rdb, h.State)
	if errors.Is(err, votequeue.ErrNoHead) {
		return h, false, nil
	}
	if err != nil {
		return h, false, err
	}
	return cur, cur.Size == h.Size && cur.Root == h.Root, nil
}

// signedByKey says whether this gateway's key signed h (Ed25519 being
// deterministic, signing it again gives it byte for byte).
func (l *Log) signedByKey(h ballot.TreeHead) bool {
	again, err := h.Sign(l.cfg.Key)
	return err == nil && again == h
}

// anchor anchors the heads this process signed since their state's last
// anchored head, in one transaction. A failure that another gateway's
// anchor explains wraps errSuperseded; one after ctx ended (the gateway
// stopping under an anchor in flight) is not counted as a failure.
func (l *Log) anchor(ctx context.Context, states []string) error {
	caller := ctx
	ctx, cancel := context.WithTimeout(ctx, l.anchorTimeout())
	defer cancel()
	var anchors []ballot.LogAnchor
	var prevs []ballot.TreeHead // the anchored head each anchor extends
	var heads []*stateLog
	for _, st := range states {
		s := l.state(st)
		a, prev, ok, err := l.anchorOf(ctx, st, s)
		if err != nil {
			return err
		}
		if ok {
			anchors = append(anchors, a)
			prevs = append(prevs, prev)
			heads = append(heads, s)
		}
	}
	if len(anchors) == 0 {
		return nil
	}
	err := l.ledger.AnchorLogHeads(ctx, anchors)
	if err == nil {
		l.unknownKeyWarned.Store(0)
		leaving := l.leaving.Load()
		for i, s := range heads {
			s.mu.Lock()
			s.anchored = anchors[i].Head
			s.closingAnchor = s.closingAnchor || leaving
			s.mu.Unlock()
			l.raiseAnchored(anchors[i].Head.State, s, anchors[i].Head.Size)
		}
		return nil
	}
	err = fmt.Errorf("anchor %d heads: %w", len(anchors), err)
	for _, s := range heads {
		s.mu.Lock()
		s.anchoredKnown = false // read it again: another gateway may have anchored
		s.mu.Unlock()
	}
	if conflict := errors.Is(err, ballot.ErrHeadConflict); conflict || errors.Is(err, ballot.ErrHeadStale) {
		// Read the anchored heads now (for the next round too): if one
		// moved, another gateway's anchor explains a conflict; a head
		// stamped before its state's anchored one is signed again.
		moved := false
		for i, s := range heads {
			now, rerr := l.readAnchored(ctx, anchors[i].Head.State, s)
			if rerr != nil {
				continue
			}
			moved = moved || now.Size != prevs[i].Size || now.Root != prevs[i].Root
			s.mu.Lock()
			s.resign = s.resign || now.Timestamp > s.signed.Timestamp
			s.mu.Unlock()
		}
		if conflict && moved {
			l.m.anchorRaces.Inc()
			return fmt.Errorf("%w: %w", errSuperseded, err)
		}
	}
	if caller.Err() == nil {
		l.m.anchorFailures.Inc()
	}
	return err
}

// anchorOf returns the anchor of s's last signed head, if it extends the
// anchored one, is not stamped before it (such a head is to be signed
// again, resign, not sent to a refusal) and is not stamped so far ahead of
// the clock that the ledger would refuse it (logged at warn level: a stamp
// taken from the anchored head, stamped by a clock that was ahead, another
// gateway's or this one's before it stepped back, which waits for this
// clock to catch up; or one this key gave, by this clock before it stepped
// back or by a gateway sharing the key, which is signed again, resign: a
// log that stopped growing is signed only so), and
// that anchored head,
// reading it from the ledger first if it is not known (without holding
// s.mu across the read).
func (l *Log) anchorOf(ctx context.Context, state string, s *stateLog) (ballot.LogAnchor, ballot.TreeHead, bool, error) {
	s.mu.Lock()
	signed, known := s.signed.Size, s.anchoredKnown
	s.mu.Unlock()
	if signed == 0 {
		return ballot.LogAnchor{}, ballot.TreeHead{}, false, nil
	}
	if !known {
		if _, err := l.readAnchored(ctx, state, s); err != nil {
			return ballot.LogAnchor{}, ballot.TreeHead{}, false, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.signed.Size <= s.anchored.Size {
		return ballot.LogAnchor{}, ballot.TreeHead{}, false, nil
	}
	if s.signed.Timestamp < s.anchored.Timestamp {
		s.resign = true
		return ballot.LogAnchor{}, ballot.TreeHead{}, false, nil
	}
	now := l.cfg.Now().UnixMilli()
	if ahead := time.Duration(s.signed.Timestamp-now) * time.Millisecond; ahead > ballot.MaxClockSkew-stampMargin {
		if max(now, s.anchored.Timestamp) < s.signed.Timestamp {
			// Stamped by this clock before it stepped back (it was
			// ahead, refused by the ledger, then fixed): signing again
			// stamps it with the clock, or the anchored head's stamp.
			s.resign = true
			l.log.Warn("intake log: this gateway's last head is stamped too far ahead of its clock for the ledger (its clock was ahead and stepped back, or that of a gateway sharing its key was ahead); it is signed again with the clock's time",
				"state", state, "ahead", ahead.Round(time.Second), "skew", ballot.MaxClockSkew-stampMargin)
			return ballot.LogAnchor{}, ballot.TreeHead{}, false, nil
		}
		l.log.Warn("intake log: a head stamped as the anchored head is too far ahead of this gateway's clock for the ledger, which refuses a head stamped more than the skew after its transaction: a gateway's clock (possibly this one's, since stepped back) was ahead when it anchored that head; the state is anchored once this clock catches up (keep the gateways' clocks within the skew of each other)",
			"state", state, "ahead", ahead.Round(time.Second), "skew", ballot.MaxClockSkew-stampMargin)
		return ballot.LogAnchor{}, ballot.TreeHead{}, false, nil
	}
	proof, err := s.tree.ConsistencyProof(s.anchored.Size, s.signed.Size)
	if err != nil {
		return ballot.LogAnchor{}, ballot.TreeHead{}, false, err
	}
	return ballot.LogAnchor{Head: s.signed, Consistency: ballot.HexHashes(proof)}, s.anchored, true, nil
}

// readAnchored reads the state's anchored head from the ledger (the zero
// head when none is), records it in s as known (without holding s.mu
// across the read) and shows it (showAnchored).
func (l *Log) readAnchored(ctx context.Context, state string, s *stateLog) (ballot.TreeHead, error) {
	var anchored ballot.TreeHead
	a, err := l.ledger.LogHead(ctx, state)
	switch {
	case errors.Is(err, ballot.ErrNotFound):
	case err != nil:
		return anchored, fmt.Errorf("read the anchored %s head: %w", state, err)
	default:
		anchored = a.Head
	}
	s.mu.Lock()
	s.anchored, s.anchoredKnown = anchored, true
	mine := max(s.signed.Size, s.lost)
	s.mu.Unlock()
	l.showAnchored(state, s, anchored.Size, mine)
	return anchored, nil
}

// showAnchored sets intake_log_anchored_entries to size, the state's
// anchored head's as just read from the ledger, if it covers mine, the
// largest head this gateway signed or was refused (HeadSameSize) of the
// state: a gateway whose heads another gateway's anchor (or its own before
// a restart) covers sends no anchor of them, and would otherwise show
// nothing, or an older anchor of its own, while it serves (and
// intake_log_published_entries shows) that size. One below mine leaves the
// gauge at this gateway's own last anchor.
func (l *Log) showAnchored(state string, s *stateLog, size, mine uint64) {
	if size > 0 && size >= mine {
		l.raiseAnchored(state, s, size)
	}
}

// raiseAnchored sets intake_log_anchored_entries of s's state to size
// unless it shows a larger one. The ledger's anchored head only grows,
// but this gateway may learn it out of order: its anchor's answer may
// come after a read of a later head (takeOver, on Run's signing side,
// while the anchor is in flight), and a read may come from a peer behind
// the one read before. The gauge going back would show heads unanchored
// that are anchored (IntakeLogUnanchored, once the gateway that showed
// the larger size is gone).
func (l *Log) raiseAnchored(state string, s *stateLog, size uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if size > s.shown {
		s.shown = size
		l.m.anchored.WithLabelValues(state).Set(float64(size))
	}
}

// Head returns the state's latest published head, or ErrNoHead.
func (l *Log) Head(ctx context.Context, state string) (ballot.TreeHead, error) {
	h, err := votequeue.GetHead(ctx, l.rdb, state)
	if errors.Is(err, votequeue.ErrNoHead) {
		return h, ErrNoHead
	}
	return h, err
}

// Entries returns entries [start, end) of the state's log.
func (l *Log) Entries(ctx context.Context, state string, start, end uint64) ([][]byte, error) {
	return votequeue.LogEntries(ctx, l.rdb, state, start, end)
}

// ConsistencyProof returns the proof that the state's log of size first
// is a prefix of its log of size second.
func (l *Log) ConsistencyProof(ctx context.Context, state string, first, second uint64) ([][32]byte, error) {
	s := l.state(state)
	if err := l.follow(ctx, state, s, second); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tree.ConsistencyProof(first, second)
}

// Acceptance returns the acceptance receipt of the vote at index of the
// state's log, under the latest published head, waiting up to Config.Wait
// for a head that covers it. ErrNoEntry if the entry there is not the vote
// voteID, ErrNoHead if no head covers it in time. Its errors name neither
// the vote nor its index: the gateway logs them with the request's id,
// which its access log ties to the client's address, and the public log
// gives the vote at a state's index.
func (l *Log) Acceptance(ctx context.Context, voteID, state string, index uint64) (ballot.Acceptance, error) {
	entries, err := votequeue.LogEntries(ctx, l.rdb, state, index, index+1)
	if err != nil {
		return ballot.Acceptance{}, readError(state, err)
	}
	if len(entries) == 0 {
		return ballot.Acceptance{}, ErrNoEntry
	}
	v, err := ballot.DecodeVote(entries[0])
	if err != nil || v.ID != voteID {
		return ballot.Acceptance{}, ErrNoEntry
	}
	h, err := l.coveringHead(ctx, state, index)
	if err != nil {
		return ballot.Acceptance{}, err
	}
	s := l.state(state)
	if err := l.follow(ctx, state, s, h.Size); err != nil {
		return ballot.Acceptance{}, readError(state, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if root, _ := s.tree.Root(h.Size); ballot.HashHex(root) != h.Root {
		l.log.Error("intake log: the log does not give its signed head's root", "state", state, "size", h.Size)
		return ballot.Acceptance{}, fmt.Errorf("%w: %s at size %d", ErrDiverged, state, h.Size)
	}
	proof, err := s.tree.InclusionProof(index, h.Size)
	if err != nil { // not for an index under h, in a tree of h.Size leaves
		return ballot.Acceptance{}, fmt.Errorf("intakelog: no inclusion proof in the %s log under its head of size %d", state, h.Size)
	}
	leaf, _ := s.tree.Leaf(index)
	return ballot.Acceptance{VoteID: voteID, Vote: v, Index: index, Leaf: ballot.HashHex(leaf),
		Proof: ballot.HexHashes(proof), Head: h}, nil
}

// readError is err, of a read of the state's log for Acceptance, in a
// text that names no index nor range (which may start at the vote's
// index): a Redis error as the client gave it, an entry that does not
// decode without the decoding error, which may name the entry's vote (the
// background round's "intake log: sign" warn line, which carries no
// request's id, names the entry and the cause). Other errors (ErrDiverged's, which names the log's sizes) stay.
func readError(state string, err error) error {
	var le *votequeue.LogEntriesError
	switch {
	case !errors.As(err, &le):
		return err
	case le.Decode:
		return fmt.Errorf("intakelog: an entry of the %s log does not decode", state)
	default:
		return fmt.Errorf("intakelog: read the %s log for a vote's acceptance: %w", state, le.Err)
	}
}

// coveringHead polls the published head until it covers index.
func (l *Log) coveringHead(ctx context.Context, state string, index uint64) (ballot.TreeHead, error) {
	deadline := time.Now().Add(l.cfg.Wait)
	for {
		h, err := votequeue.GetHead(ctx, l.rdb, state)
		switch {
		case err == nil && h.Size > index:
			return h, nil
		case err != nil && !errors.Is(err, votequeue.ErrNoHead):
			return h, err
		case time.Now().After(deadline):
			return h, ErrNoHead
		}
		select {
		case <-ctx.Done():
			return h, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
