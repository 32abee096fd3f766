// Package electionsetup puts an election on the ledger: its record (from a
// template, with the voting window and the roll's root), its roll written
// and sealed against that root, and the gateways' intake log keys
// registered. Every step is idempotent, so `votechain up` runs it on each
// start, and the Commission's operator of separate machines runs it once
// (`roll publish`) with the Commission admin's profile.
//
// The rules are these: a new election takes the template, opens now and
// closes after the window, and states the roll's root and size; an
// election already on the ledger keeps its record, its roll root must be
// the roll's (and its size, if it states one: an earlier chaincode's
// record may not), and a template given must be
// the one it was set up from (TemplateDiff); either way the record must
// name the identity the batcher processes sign with among its batchers, or
// every batch they commit would be refused. A template that does not can
// take it; a record on the ledger cannot, so what its refusal advises is
// the caller's (Plan.BatcherRemedy).
package electionsetup

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/roll"
)

// Ledger is what a set-up needs of the chaincode, as the Commission admin
// (network/fabricclient's Ballot).
type Ledger interface {
	Election(ctx context.Context) (*ballot.Election, error)
	SetupElection(ctx context.Context, e ballot.Election) error
	LoadRoll(ctx context.Context, entries []ballot.RollEntry, parallel int, p Progress) (ballot.RollSeal, error)
	RegisterLogKeys(ctx context.Context, keys []ballot.LogKey) (ballot.LogKeys, error)
}

// Progress is told of every chunk of the roll's entries as it commits
// (an alias, so that the adapters' own progress types are this one).
type Progress = interface{ Add(n int64) }

// RollParallel is how many roll transactions are in flight at once.
const RollParallel = 8

// MinWindow is the shortest voting window a new election takes (Plan.Window),
// the bound its set-up commands hold their window flag to before any work
// (votechain up --window, roll publish -window). A new election opens at
// now truncated to the second, so a shorter window could close before the
// record is even on the ledger.
const MinWindow = time.Second

// Plan is one election's set-up.
type Plan struct {
	// Template is the record of a new election (id, name, states,
	// contests, batchers). When the ledger already holds one, a template
	// given must be the one it was set up from (TemplateDiff finds no
	// difference); a zero Template (no ID) gives none.
	Template ballot.Election
	// Window is a new election's voting window, from Now: at least
	// MinWindow.
	Window time.Duration
	// Roll is the roll's summary with its entries (roll.Options.Entries).
	Roll roll.Summary
	// BatcherIdentity is the certificate common name the batcher
	// processes sign with; the record's batchers must list it.
	BatcherIdentity string
	// BatcherRemedy is the fix the refusal of an election on the ledger
	// whose batchers do not list BatcherIdentity gives (RecordBatcherListed):
	// those batchers cannot change, and only the caller knows whether its
	// batcher processes can sign as another identity and how its ledger is
	// wiped for a new election. Empty: DefaultBatcherRemedy.
	BatcherRemedy string
	// LogKeys are the gateways' intake log public keys to register.
	LogKeys []ed25519.PublicKey
	// Progress, if set, is told of the roll's entries as they commit.
	Progress Progress
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Record makes sure the ledger holds the election: the one there, if its
// roll root (and size, if stated) is the plan's roll's and the plan's
// template (if any) is its own, or a new one from the template with the
// roll's root and size, read back as the ledger stores it. It reports
// whether it created it.
func Record(ctx context.Context, l Ledger, p Plan) (e *ballot.Election, created bool, err error) {
	if err := p.checkRoll(); err != nil {
		return nil, false, err
	}
	existing, err := l.Election(ctx)
	if err != nil && !errors.Is(err, ballot.ErrNotFound) {
		return nil, false, err
	}
	if existing != nil {
		if existing.RollRoot != p.Roll.Root {
			return nil, false, fmt.Errorf("election %s on the ledger has roll root %s, this roll's is %s: it is another roll (or another election secret)", existing.ID, existing.RollRoot, p.Roll.Root)
		}
		if existing.RollEntries != nil && *existing.RollEntries != p.Roll.Entries {
			return nil, false, fmt.Errorf("election %s on the ledger states a roll of %d entries, this roll has %d: it is another roll", existing.ID, *existing.RollEntries, p.Roll.Entries)
		}
		if p.Template.ID != "" {
			if diff := TemplateDiff(p.Template, *existing); len(diff) > 0 {
				return nil, false, fmt.Errorf("the election template differs from election %s on the ledger (%s): the ledger holds one election, which cannot change once it has opened; give the template it was set up from, or none to keep it", existing.ID, strings.Join(diff, "; "))
			}
		}
		return existing, false, RecordBatcherListed(existing, p.BatcherIdentity, p.BatcherRemedy)
	}
	if p.Window < MinWindow {
		return nil, false, fmt.Errorf("a new election needs a voting window of at least %s, got %s", MinWindow, p.Window)
	}
	t := p.Template
	if err := BatcherListed(&t, "the election template", p.BatcherIdentity); err != nil {
		return nil, false, err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	opens := now().UTC().Truncate(time.Second)
	t.OpensAt, t.ClosesAt = opens, opens.Add(p.Window)
	t.RollRoot, t.RollEntries, t.Status = p.Roll.Root, new(p.Roll.Entries), ballot.StatusConfigured
	if err := l.SetupElection(ctx, t); err != nil {
		return nil, false, err
	}
	stored, err := l.Election(ctx) // as the chaincode stored it, with its own marks
	if err != nil {
		return nil, false, fmt.Errorf("read back the election just set up: %w", err)
	}
	return stored, true, nil
}

// SealRoll writes the roll to the ledger and seals it against its root.
func SealRoll(ctx context.Context, l Ledger, p Plan) (ballot.RollSeal, error) {
	if err := p.checkRoll(); err != nil {
		return ballot.RollSeal{}, err
	}
	return l.LoadRoll(ctx, p.Roll.Roll, RollParallel, p.Progress)
}

// checkRoll refuses an empty roll (an election nobody could vote in, sealed
// for good) and a summary read without its entries: its root alone cannot
// be sealed.
func (p Plan) checkRoll() error {
	if p.Roll.Entries == 0 {
		return errors.New("the roll lists no voters: an election's roll cannot be empty")
	}
	if len(p.Roll.Roll) != p.Roll.Entries {
		return fmt.Errorf("the roll summary holds %d of its %d entries: read it with roll.Options.Entries", len(p.Roll.Roll), p.Roll.Entries)
	}
	return nil
}

// RegisterLogKeys registers the plan's intake log keys (none: nothing).
func RegisterLogKeys(ctx context.Context, l Ledger, p Plan) ([]ballot.LogKey, error) {
	if len(p.LogKeys) == 0 {
		return nil, nil
	}
	keys := make([]ballot.LogKey, len(p.LogKeys))
	for i, k := range p.LogKeys {
		keys[i] = ballot.NewLogKey(k)
	}
	_, err := l.RegisterLogKeys(ctx, keys)
	return keys, err
}

// Ensure runs the three steps in order, stopping at the first error.
func Ensure(ctx context.Context, l Ledger, p Plan, log *slog.Logger) (*ballot.Election, error) {
	e, created, err := Record(ctx, l, p)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("election set up on the ledger", "id", e.ID, "voters", p.Roll.Voters, "roll_root", e.RollRoot, "opens_at", e.OpensAt, "closes_at", e.ClosesAt)
	} else {
		log.Info("election on the ledger", "id", e.ID, "states", len(e.States), "closes_at", e.ClosesAt)
	}
	start := time.Now()
	seal, err := SealRoll(ctx, l, p)
	if err != nil {
		return nil, fmt.Errorf("seal the roll: %w", err)
	}
	log.Info("voter roll sealed on the ledger", "voters", seal.Voters, "chunks", seal.Chunks, "roll_root", seal.Root, "took", time.Since(start).Round(time.Millisecond))
	keys, err := RegisterLogKeys(ctx, l, p)
	if err != nil {
		return nil, fmt.Errorf("register the intake log keys: %w", err)
	}
	for _, k := range keys {
		log.Info("intake log key registered on the ledger", "key_id", k.ID, "public_key", k.PublicKey)
	}
	return e, nil
}

// BatcherListed refuses the template e (what names where it comes from)
// unless its batchers list the identity the batcher processes sign with;
// the fix it gives is to add the identity to the template's batchers.
func BatcherListed(e *ballot.Election, what, identity string) error {
	if !e.MayCommit(identity) {
		return fmt.Errorf(`%s: "batchers" %q does not name the batcher processes' identity %q, so their batches would be refused: add it to "batchers" (only the identities listed may commit)`, what, e.Batchers, identity)
	}
	return nil
}

// DefaultBatcherRemedy is RecordBatcherListed's fix for a caller that
// gives none: the two that work wherever the ledger is.
const DefaultBatcherRemedy = "run the batcher processes as one of them, or wipe the ledger and set a new election up"

// RecordBatcherListed refuses the election e on the ledger unless its
// batchers list the identity the batcher processes sign with. The error
// lists its batchers, says they cannot change, and ends with remedy, the
// caller's fix (DefaultBatcherRemedy if empty): never the template's
// "add it to batchers", which no record on the ledger can take.
func RecordBatcherListed(e *ballot.Election, identity, remedy string) error {
	if e.MayCommit(identity) {
		return nil
	}
	if remedy == "" {
		remedy = DefaultBatcherRemedy
	}
	return fmt.Errorf(`election %s on the ledger names the batchers %q, not the batcher processes' identity %q, so their batches would be refused, and its batchers cannot change: %s`, e.ID, e.Batchers, identity, remedy)
}

// TemplateDiff lists, for people, how template differs from the election
// onLedger in what a template gives: id, name, states, contests and
// batchers (the window, roll root and status are the record's own). States
// and batchers compare as sets; contests in ballot order, each by title,
// kind and choices (in order). Each entry names the field, the template's
// value first, then the ledger's. No entries: the record is the template's.
func TemplateDiff(template, onLedger ballot.Election) []string {
	var diff []string
	if template.ID != onLedger.ID {
		diff = append(diff, fmt.Sprintf("id %q, the ledger's %q", template.ID, onLedger.ID))
	}
	if template.Name != onLedger.Name {
		diff = append(diff, fmt.Sprintf("name %q, the ledger's %q", template.Name, onLedger.Name))
	}
	if !sameSet(template.States, onLedger.States) {
		diff = append(diff, fmt.Sprintf("states %q, the ledger's %q", template.States, onLedger.States))
	}
	diff = append(diff, contestsDiff(template.Contests, onLedger.Contests)...)
	if !sameSet(template.Batchers, onLedger.Batchers) {
		diff = append(diff, fmt.Sprintf("batchers %q, the ledger's %q", template.Batchers, onLedger.Batchers))
	}
	return diff
}

// contestsDiff lists the contests only one side has, each title, kind and
// choices that differ, and the contests' order if only it differs.
func contestsDiff(template, onLedger []ballot.Contest) []string {
	var diff []string
	find := func(cs []ballot.Contest, id string) (ballot.Contest, bool) {
		i := slices.IndexFunc(cs, func(c ballot.Contest) bool { return c.ID == id })
		if i < 0 {
			return ballot.Contest{}, false
		}
		return cs[i], true
	}
	for _, c := range template {
		l, ok := find(onLedger, c.ID)
		if !ok {
			diff = append(diff, fmt.Sprintf("contest %s not on the ledger", c.ID))
			continue
		}
		if c.Title != l.Title {
			diff = append(diff, fmt.Sprintf("contest %s: title %q, the ledger's %q", c.ID, c.Title, l.Title))
		}
		if c.Kind != l.Kind {
			diff = append(diff, fmt.Sprintf("contest %s: kind %q, the ledger's %q", c.ID, c.Kind, l.Kind))
		}
		if !slices.Equal(c.Choices, l.Choices) {
			diff = append(diff, fmt.Sprintf("contest %s: choices %q, the ledger's %q", c.ID, c.Choices, l.Choices))
		}
	}
	for _, l := range onLedger {
		if _, ok := find(template, l.ID); !ok {
			diff = append(diff, fmt.Sprintf("contest %s only on the ledger", l.ID))
		}
	}
	ids := func(cs []ballot.Contest) []string {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = c.ID
		}
		return out
	}
	if t, l := ids(template), ids(onLedger); len(diff) == 0 && !slices.Equal(t, l) {
		diff = append(diff, fmt.Sprintf("contests in the order %q, the ledger's %q", t, l))
	}
	return diff
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
