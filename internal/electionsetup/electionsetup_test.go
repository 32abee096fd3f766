package electionsetup

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/roll"
)

// fakeLedger holds at most one election record, as the chaincode does, and
// records what it was asked.
type fakeLedger struct {
	election   *ballot.Election
	electionFn error // returned by Election instead, if set
	setups     int
	loaded     []ballot.RollEntry
	parallel   int
	keys       []ballot.LogKey
}

func (f *fakeLedger) Election(context.Context) (*ballot.Election, error) {
	if f.electionFn != nil {
		return nil, f.electionFn
	}
	if f.election == nil {
		return nil, ballot.ErrNotFound
	}
	e := *f.election
	return &e, nil
}

func (f *fakeLedger) SetupElection(_ context.Context, e ballot.Election) error {
	if f.election != nil {
		return errors.New("an election is already set up")
	}
	stored, err := ballot.SetupElection(e) // the chaincode's checks and marks
	if err != nil {
		return err
	}
	f.setups++
	f.election = &stored
	return nil
}

func (f *fakeLedger) LoadRoll(_ context.Context, entries []ballot.RollEntry, parallel int, p Progress) (ballot.RollSeal, error) {
	if f.election == nil {
		return ballot.RollSeal{}, ballot.ErrNotFound
	}
	f.loaded, f.parallel = entries, parallel
	if p != nil {
		p.Add(int64(len(entries)))
	}
	return ballot.RollSeal{Root: f.election.RollRoot, Voters: len(entries), Chunks: 1}, nil
}

func (f *fakeLedger) RegisterLogKeys(_ context.Context, keys []ballot.LogKey) (ballot.LogKeys, error) {
	f.keys = append(f.keys, keys...)
	return ballot.LogKeys{}, nil
}

type counter struct{ n int64 }

func (c *counter) Add(n int64) { c.n += n }

// rollRoot and otherRoot are roll roots (64 hex characters, as
// ballot.Election.Validate wants).
var (
	rollRoot  = strings.Repeat("a1", 32)
	otherRoot = strings.Repeat("b2", 32)
)

var opens = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

func plan(t *testing.T) Plan {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return Plan{
		Template: ballot.Election{ID: "E1", Name: "Election", States: []string{"CA", "NY"}, Batchers: []string{"batcher1"},
			Contests: []ballot.Contest{{ID: "C", Title: "Mayor", Kind: ballot.ContestRace, Choices: []string{"ann", "bo"}}}},
		Window:          24 * time.Hour,
		Roll:            roll.Summary{Root: rollRoot, Voters: 2, Entries: 2, Roll: []ballot.RollEntry{{State: "CA", Contest: "C", Nullifier: "01"}, {State: "NY", Contest: "C", Nullifier: "02"}}},
		BatcherIdentity: "batcher1",
		LogKeys:         []ed25519.PublicKey{pub},
		Progress:        &counter{},
		Now:             func() time.Time { return opens.Add(400 * time.Millisecond) },
	}
}

// onLedger is a ledger holding plan's election as set up for its roll
// (rollRoot, 2 entries), changed by change before the set-up.
func onLedger(t *testing.T, change func(*ballot.Election)) *fakeLedger {
	e := plan(t).Template
	e.OpensAt, e.ClosesAt, e.RollRoot, e.RollEntries = opens, opens.Add(24*time.Hour), rollRoot, new(2)
	change(&e)
	l := &fakeLedger{}
	if err := l.SetupElection(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return l
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestEnsureNewElection: the template becomes the record, opening now (to
// the second) for the window, bound to the roll's root and size; the roll
// is sealed and the key registered.
func TestEnsureNewElection(t *testing.T) {
	l, p := &fakeLedger{}, plan(t)
	e, err := Ensure(context.Background(), l, p, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if l.setups != 1 || e.ID != "E1" || e.RollRoot != rollRoot || e.RollEntries == nil || *e.RollEntries != 2 || e.Status != ballot.StatusConfigured {
		t.Fatalf("record %+v after %d set-ups, want E1 configured with root %s and 2 entries after 1", e, l.setups, rollRoot)
	}
	if !e.FinaliseNeedsTotals {
		t.Errorf("record %+v: want the ledger's as stored (marked), not the template sent", e)
	}
	if !e.OpensAt.Equal(opens) || !e.ClosesAt.Equal(opens.Add(24*time.Hour)) {
		t.Errorf("window %s – %s, want %s – %s", e.OpensAt, e.ClosesAt, opens, opens.Add(24*time.Hour))
	}
	if len(l.loaded) != 2 || l.parallel != RollParallel || p.Progress.(*counter).n != 2 {
		t.Errorf("roll: %d entries loaded %d in flight, progress %d; want 2, %d, 2", len(l.loaded), l.parallel, p.Progress.(*counter).n, RollParallel)
	}
	if want := ballot.NewLogKey(p.LogKeys[0]); len(l.keys) != 1 || l.keys[0] != want {
		t.Errorf("keys registered %+v, want [%+v]", l.keys, want)
	}
}

// TestEnsureAgain: a second run keeps the record, and seals and registers
// again (both idempotent on the ledger).
func TestEnsureAgain(t *testing.T) {
	l, p := &fakeLedger{}, plan(t)
	if _, err := Ensure(context.Background(), l, p, quiet); err != nil {
		t.Fatal(err)
	}
	first := *l.election
	p.Now = func() time.Time { return opens.Add(time.Hour) }
	e, err := Ensure(context.Background(), l, p, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if l.setups != 1 || !e.OpensAt.Equal(first.OpensAt) {
		t.Errorf("second run: %d set-ups, opens %s; want 1 and the first run's %s", l.setups, e.OpensAt, first.OpensAt)
	}
}

// TestEnsureKeepsARecordStatingNoSize: a record an earlier chaincode
// stored, stating no roll size, is kept and its roll sealed (held to its
// root alone).
func TestEnsureKeepsARecordStatingNoSize(t *testing.T) {
	l := onLedger(t, func(*ballot.Election) {})
	l.election.RollEntries = nil
	if _, err := Ensure(context.Background(), l, plan(t), quiet); err != nil || l.setups != 1 || len(l.loaded) != 2 {
		t.Fatalf("%v after %d set-ups, %d entries loaded; want the record kept and the roll of 2 sealed", err, l.setups, len(l.loaded))
	}
}

// TestEnsureRefusals: every refusal stops before the ledger is written,
// and says what to fix.
func TestEnsureRefusals(t *testing.T) {
	boom := errors.New("peer unreachable")
	cases := []struct {
		name   string
		ledger *fakeLedger
		change func(*Plan)
		want   string
	}{
		{"another roll", onLedger(t, func(e *ballot.Election) { e.RollRoot = otherRoot }), nil,
			"has roll root " + otherRoot + ", this roll's is " + rollRoot},
		{"another roll size", onLedger(t, func(e *ballot.Election) { e.RollEntries = new(3) }), nil,
			"states a roll of 3 entries, this roll has 2"},
		{"template without the batchers' identity", &fakeLedger{}, func(p *Plan) { p.BatcherIdentity = "gateway1" },
			`the election template: "batchers" ["batcher1"] does not name the batcher processes' identity "gateway1"`},
		{"record without the batchers' identity", onLedger(t, func(e *ballot.Election) { e.Batchers = []string{"other"} }), func(p *Plan) { p.Template = ballot.Election{} },
			`election E1 on the ledger names the batchers ["other"], not the batcher processes' identity "batcher1", so their batches would be refused, and its batchers cannot change: ` + DefaultBatcherRemedy},
		{"record without the batchers' identity, with the caller's remedy", onLedger(t, func(e *ballot.Election) { e.Batchers = []string{"other"} }), func(p *Plan) { p.Template, p.BatcherRemedy = ballot.Election{}, "wipe it with `make down WIPE=1`" },
			`, and its batchers cannot change: wipe it with ` + "`make down WIPE=1`"},
		{"no window", &fakeLedger{}, func(p *Plan) { p.Window = 0 }, "needs a voting window of at least 1s, got 0s"},
		{"a window under MinWindow", &fakeLedger{}, func(p *Plan) { p.Window = MinWindow - time.Millisecond }, "needs a voting window of at least 1s, got 999ms"},
		{"an empty roll", &fakeLedger{}, func(p *Plan) { p.Roll = roll.Summary{Root: rollRoot} }, "the roll lists no voters"},
		{"a roll summary without its entries", &fakeLedger{}, func(p *Plan) { p.Roll.Roll = nil }, "holds 0 of its 2 entries"},
		{"the ledger unreachable", &fakeLedger{electionFn: boom}, nil, "peer unreachable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := plan(t)
			if c.change != nil {
				c.change(&p)
			}
			before := fmt.Sprint(c.ledger.election)
			_, err := Ensure(context.Background(), c.ledger, p, quiet)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if len(c.ledger.loaded) != 0 || len(c.ledger.keys) != 0 {
				t.Errorf("refused, yet %d roll entries and %d keys written", len(c.ledger.loaded), len(c.ledger.keys))
			}
			if fmt.Sprint(c.ledger.election) != before {
				t.Errorf("refused, yet the record changed: %s → %s", before, fmt.Sprint(c.ledger.election))
			}
		})
	}
}

func ExampleEnsure() {
	ledger := &fakeLedger{}
	e, err := Ensure(context.Background(), ledger, Plan{
		Template: ballot.Election{ID: "L2025", Name: "Levy 2025", States: []string{"CA"}, Batchers: []string{"batcher1"},
			Contests: []ballot.Contest{{ID: "L2025-001", Title: "School levy", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}}}},
		Window:          12 * time.Hour,
		Roll:            roll.Summary{Root: rollRoot, Voters: 1, Entries: 1, Roll: []ballot.RollEntry{{State: "CA", Contest: "L2025-001", Nullifier: "01"}}},
		BatcherIdentity: "batcher1",
		Now:             func() time.Time { return opens },
	}, quiet)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.ID, e.Status, e.RollRoot == rollRoot, e.ClosesAt.Format(time.RFC3339))
	// Output: L2025 configured true 2026-12-01T20:00:00Z
}

// TestTemplateOfTheElectionOnTheLedger: a template given while the ledger
// holds an election must be the one it was set up from: the same one (its
// states and batchers in another order too) changes nothing, and any
// difference is refused, naming it, before the ledger is written.
func TestTemplateOfTheElectionOnTheLedger(t *testing.T) {
	onLedger := func() *fakeLedger {
		p := plan(t)
		p.Template.Contests = []ballot.Contest{
			{ID: "C", Title: "Mayor", Kind: ballot.ContestRace, Choices: []string{"ann", "bo"}},
			{ID: "D", Title: "Bridge", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}},
		}
		p.Template.Batchers = []string{"batcher1", "batcher2"}
		l := &fakeLedger{}
		if _, err := Ensure(context.Background(), l, p, quiet); err != nil {
			t.Fatal(err)
		}
		return l
	}
	same := []struct {
		name   string
		change func(*ballot.Election)
	}{
		{"the same template", func(*ballot.Election) {}},
		{"states and batchers in another order", func(e *ballot.Election) {
			e.States, e.Batchers = []string{"NY", "CA"}, []string{"batcher2", "batcher1"}
		}},
		{"no template", func(e *ballot.Election) { *e = ballot.Election{} }},
	}
	for _, c := range same {
		t.Run(c.name, func(t *testing.T) {
			l, p := onLedger(), plan(t)
			p.Template = *l.election
			c.change(&p.Template)
			if _, err := Ensure(context.Background(), l, p, quiet); err != nil || l.setups != 1 {
				t.Fatalf("%v after %d set-ups; want the record kept", err, l.setups)
			}
		})
	}
	differ := []struct {
		name   string
		change func(*ballot.Election)
		want   []string
	}{
		{"another id and name", func(e *ballot.Election) { e.ID, e.Name = "E2", "Other" },
			[]string{`id "E2", the ledger's "E1"`, `name "Other", the ledger's "Election"`}},
		{"a state more", func(e *ballot.Election) { e.States = append(e.States, "TX") },
			[]string{`states ["CA" "NY" "TX"], the ledger's ["CA" "NY"]`}},
		{"a batcher less", func(e *ballot.Election) { e.Batchers = e.Batchers[:1] },
			[]string{`batchers ["batcher1"], the ledger's ["batcher1" "batcher2"]`}},
		{"contests changed", func(e *ballot.Election) {
			e.Contests = []ballot.Contest{
				{ID: "C", Title: "Mayor", Kind: ballot.ContestRace, Choices: []string{"bo", "ann"}},
				{ID: "E", Title: "Park", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}},
			}
		}, []string{`contest C: choices ["bo" "ann"], the ledger's ["ann" "bo"]`, "contest E not on the ledger", "contest D only on the ledger"}},
		{"a contest retitled", func(e *ballot.Election) { e.Contests[1].Title = "Tunnel" },
			[]string{`contest D: title "Tunnel", the ledger's "Bridge"`}},
		{"a contest's title, kind and choices all changed", func(e *ballot.Election) {
			e.Contests[0] = ballot.Contest{ID: "C", Title: "Governor", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}}
		}, []string{`contest C: title "Governor", the ledger's "Mayor"`, `contest C: kind "question", the ledger's "race"`, `contest C: choices ["yes" "no"], the ledger's ["ann" "bo"]`}},
		{"contests in another order", func(e *ballot.Election) { slices.Reverse(e.Contests) },
			[]string{`contests in the order ["D" "C"], the ledger's ["C" "D"]`}},
	}
	for _, c := range differ {
		t.Run(c.name, func(t *testing.T) {
			l, p := onLedger(), plan(t)
			p.Template = *l.election
			p.Template.Contests = slices.Clone(l.election.Contests)
			c.change(&p.Template)
			if diff := TemplateDiff(p.Template, *l.election); len(diff) != len(c.want) {
				t.Errorf("differences %q, want %d: %q", diff, len(c.want), c.want)
			}
			before := fmt.Sprint(l.election)
			l.loaded, l.keys = nil, nil
			_, err := Ensure(context.Background(), l, p, quiet)
			if err == nil || !strings.Contains(err.Error(), "differs from election E1 on the ledger") || !strings.Contains(err.Error(), "give the template it was set up from") {
				t.Fatalf("error %v, want the template refused with the fix", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %v, want it to name %s", err, w)
				}
			}
			if fmt.Sprint(l.election) != before || len(l.loaded) != 0 || len(l.keys) != 0 {
				t.Errorf("refused, yet the ledger was written")
			}
		})
	}
}
