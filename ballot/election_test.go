package ballot

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	testOpens  = time.Date(2026, 11, 3, 7, 0, 0, 0, time.UTC)
	testCloses = time.Date(2026, 11, 3, 20, 0, 0, 0, time.UTC)
)

func testElection() Election {
	return Election{
		ID: "general-2026", Name: "General election 2026",
		States: []string{"CA", "NY", "TX"},
		Contests: []Contest{
			{ID: "president", Title: "President", Kind: ContestRace, Choices: []string{"alice", "bob"}},
			{ID: "L2025-001", Title: "Law 1", Kind: ContestQuestion, Choices: []string{"yes", "no"}},
		},
		OpensAt: testOpens, ClosesAt: testCloses,
		RollRoot: HashHex(MerkleRoot(nil)), RollEntries: new(0), Status: StatusConfigured,
		Batchers: []string{"User1@commission.votechain.test"},
	}
}

func TestElectionValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Election)
		errHas string // "" = valid
	}{
		{"valid", func(*Election) {}, ""},
		{"closed", func(e *Election) { e.Status = StatusClosed }, ""},
		{"finalised", func(e *Election) { e.Status = StatusFinalised }, ""},
		{"bad id", func(e *Election) { e.ID = "a b" }, "election id"},
		{"no name", func(e *Election) { e.Name = "" }, "name"},
		{"long name", func(e *Election) { e.Name = strings.Repeat("n", 257) }, "name"},
		{"no opens", func(e *Election) { e.OpensAt = time.Time{} }, "window"},
		{"empty window", func(e *Election) { e.ClosesAt = e.OpensAt }, "not before"},
		{"bad roll root", func(e *Election) { e.RollRoot = "xyz" }, "roll_root"},
		{"roll size not stated", func(e *Election) { e.RollEntries = nil }, ""}, // an earlier chaincode's record
		{"negative roll size", func(e *Election) { e.RollEntries = new(-1) }, "roll_entries -1 is negative"},
		{"bad status", func(e *Election) { e.Status = "open" }, "status"},
		{"no states", func(e *Election) { e.States = nil }, "no states"},
		{"bad state", func(e *Election) { e.States = []string{"ca"} }, "invalid state"},
		{"repeated state", func(e *Election) { e.States = []string{"CA", "CA"} }, "twice"},
		{"one contest", func(e *Election) { e.Contests = e.Contests[:1] }, ""},
		{"no contests", func(e *Election) { e.Contests = nil }, "1..64 contests"},
		{"too many contests", func(e *Election) { e.Contests = manyContests(65) }, "1..64 contests, has 65"},
		{"64 contests", func(e *Election) { e.Contests = manyContests(64) }, ""},
		{"repeated contest", func(e *Election) { e.Contests[1].ID = "president" }, `election: contest "president" listed twice`},
		{"bad contest id", func(e *Election) { e.Contests[1].ID = "L 1" }, "contest id"},
		{"empty contest id", func(e *Election) { e.Contests[0].ID = "" }, "contest id"},
		{"long contest id", func(e *Election) { e.Contests[0].ID = strings.Repeat("c", 65) }, "contest id"},
		{"no title", func(e *Election) { e.Contests[0].Title = "" }, "contest president: title"},
		{"long title", func(e *Election) { e.Contests[0].Title = strings.Repeat("t", 257) }, "title"},
		{"bad kind", func(e *Election) { e.Contests[1].Kind = "poll" }, `kind "poll"`},
		{"no kind", func(e *Election) { e.Contests[1].Kind = "" }, "kind"},
		{"no choices", func(e *Election) { e.Contests[0].Choices = nil }, "ballot: contest president has no choices"},
		{"repeated choice", func(e *Election) { e.Contests[1].Choices = []string{"yes", "yes"} }, `ballot: contest L2025-001: choice "yes" listed twice`},
		{"bad choice", func(e *Election) { e.Contests[0].Choices = []string{"al ice"} }, `contest president: invalid choice "al ice"`},
		{"same choice in two contests", func(e *Election) { e.Contests[1].Choices = []string{"alice", "bob"} }, ""},
		{"batchers", func(e *Election) { e.Batchers = []string{"User2@commission.votechain.test"} }, ""},
		{"two batchers", func(e *Election) { e.Batchers = append(e.Batchers, "User3@commission.votechain.test") }, ""},
		{"no batchers", func(e *Election) { e.Batchers = nil }, "names no batchers"},
		{"empty batchers", func(e *Election) { e.Batchers = []string{} }, "names no batchers"},
		{"too many batchers", func(e *Election) { e.Batchers = make([]string, maxBatchers+1) }, "at most"},
		{"bad batcher", func(e *Election) { e.Batchers = []string{"a\nb"} }, "invalid batcher"},
		{"repeated batcher", func(e *Election) { e.Batchers = []string{"b", "b"} }, "twice"},
	}
	for _, tt := range tests {
		e := testElection()
		tt.change(&e)
		err := e.Validate()
		switch {
		case tt.errHas == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, err)
		case tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)):
			t.Errorf("%s: error %v, want one mentioning %q", tt.name, err, tt.errHas)
		}
	}
}

// TestSetupElection: the record SetupElection stores is the argument with
// the status defaulted to configured, the window in UTC and
// finalise_needs_totals set whether the argument sets it or not; an
// argument that is no new election, or no valid one, is refused.
func TestSetupElection(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	for _, marked := range []bool{false, true} {
		arg := testElection()
		arg.Status = ""
		arg.OpensAt, arg.ClosesAt = testOpens.In(est), testCloses.In(est)
		arg.FinaliseNeedsTotals = marked
		got, err := SetupElection(arg)
		if err != nil {
			t.Fatal(err)
		}
		want := testElection()
		want.FinaliseNeedsTotals = true
		if !reflect.DeepEqual(got, want) { // times compared with their locations
			t.Errorf("argument marked %v: record %+v; want %+v", marked, got, want)
		}
	}
	for name, c := range map[string]struct {
		change func(*Election)
		errHas string
	}{
		"closed":       {func(e *Election) { e.Status = StatusClosed }, "must be configured"},
		"finalised":    {func(e *Election) { e.Status = StatusFinalised }, "must be configured"},
		"closed at":    {func(e *Election) { e.ClosedAt = testOpens }, "must be configured"},
		"finalised at": {func(e *Election) { e.FinalisedAt = testCloses }, "must be configured"},
		"another":      {func(e *Election) { e.Status = "open" }, "must be configured"},
		"invalid":      {func(e *Election) { e.Batchers = nil }, "names no batchers"},
		"no roll size": {func(e *Election) { e.RollEntries = nil }, `states no "roll_entries"`},
	} {
		arg := testElection()
		c.change(&arg)
		if _, err := SetupElection(arg); err == nil || !strings.Contains(err.Error(), c.errHas) {
			t.Errorf("%s: err %v; want one saying %q", name, err, c.errHas)
		}
	}
}

// TestCheckSetUpAnchored: with no head anchored any set-up passes; once
// one is, only the stored record again does (the mark and the times'
// zone aside: SameElection), and every change, a new id or any other
// field, is refused naming the head and what to do, as is a record over
// none.
func TestCheckSetUpAnchored(t *testing.T) {
	stored := testElection()
	stored.FinaliseNeedsTotals = true
	head := &AnchoredHead{Head: TreeHead{Election: stored.ID, State: "NY", Size: 3}, TxID: "tx7"}
	again := testElection() // as an earlier chaincode stored it: unmarked, another zone
	est := time.FixedZone("EST", -5*3600)
	again.OpensAt, again.ClosesAt = testOpens.In(est), testCloses.In(est)
	if err := CheckSetUpAnchored(&stored, &again, head); err != nil {
		t.Errorf("the same record again: %v", err)
	}
	changes := map[string]func(*Election){
		"a new id":       func(e *Election) { e.ID = "general-2026-b" },
		"a name":         func(e *Election) { e.Name = "Another" },
		"a state":        func(e *Election) { e.States = e.States[:2] },
		"a choice":       func(e *Election) { e.Contests[0].Choices = []string{"alice", "carol"} },
		"the window":     func(e *Election) { e.ClosesAt = e.ClosesAt.Add(time.Nanosecond) },
		"the roll root":  func(e *Election) { e.RollRoot = strings.Repeat("a", 64) },
		"the roll size":  func(e *Election) { e.RollEntries = new(1) },
		"no roll size":   func(e *Election) { e.RollEntries = nil },
		"the batchers":   func(e *Election) { e.Batchers = []string{"User9@commission.votechain.test"} },
		"another status": func(e *Election) { e.Status = StatusClosed },
	}
	for name, change := range changes {
		changed := testElection()
		change(&changed)
		if err := CheckSetUpAnchored(&stored, &changed, nil); err != nil {
			t.Errorf("%s, no head anchored: %v", name, err)
		}
		err := CheckSetUpAnchored(&stored, &changed, head)
		for _, want := range []string{"a head of the NY intake log of election general-2026 is anchored (size 3, transaction tx7)",
			"the election can no longer be changed", "set the changed election up on a new ledger"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s, a head anchored: err %v; want one saying %q", name, err, want)
			}
		}
	}
	if err := CheckSetUpAnchored(nil, &stored, head); err == nil {
		t.Error("a set-up over no record, a head anchored: accepted")
	}
}

func TestElectionMayCommit(t *testing.T) {
	e := testElection()
	e.Batchers = nil
	if e.MayCommit("anyone") || e.MayCommit("") {
		t.Fatal("a record without batchers must let no one commit")
	}
	e.Batchers = []string{"User2@c", "User3@c"}
	if !e.MayCommit("User3@c") || e.MayCommit("User1@c") || e.MayCommit("") {
		t.Fatal("with batchers listed only they may commit")
	}
}

func TestElectionMembershipAndWindow(t *testing.T) {
	e := testElection()
	if !e.HasState("NY") || e.HasState("FL") {
		t.Fatal("HasState wrong")
	}
	if got := e.MissingStates([]string{"FL", "NY", "ca", "WA"}); !slices.Equal(got, []string{"FL", "ca", "WA"}) {
		t.Fatalf("MissingStates(FL, NY, ca, WA) of states %v = %v; want FL, ca, WA in their order", e.States, got)
	}
	if got := e.MissingStates(e.States); got != nil {
		t.Fatalf("MissingStates of the election's own states = %v; want none", got)
	}
	tests := []struct {
		at         time.Time
		in, isOpen bool
	}{
		{testOpens.Add(-time.Millisecond), false, false},
		{testOpens, true, true},
		{testCloses.Add(-time.Millisecond), true, true},
		{testCloses, false, false},
	}
	for _, tt := range tests {
		if e.InWindow(tt.at) != tt.in || e.OpenAt(tt.at) != tt.isOpen {
			t.Errorf("at %s: InWindow %v OpenAt %v, want %v %v", tt.at, e.InWindow(tt.at), e.OpenAt(tt.at), tt.in, tt.isOpen)
		}
	}
	// Closing early ends the window at ClosedAt; a closed election is never open.
	e.Status, e.ClosedAt = StatusClosed, testOpens.Add(time.Hour)
	if !e.WindowEnd().Equal(e.ClosedAt) || e.InWindow(e.ClosedAt) || !e.InWindow(e.ClosedAt.Add(-1)) || e.OpenAt(testOpens) {
		t.Fatal("early close not honoured")
	}
	// Closing late leaves the window as configured.
	e.ClosedAt = testCloses.Add(time.Hour)
	if !e.WindowEnd().Equal(testCloses) {
		t.Fatal("late close moved the window end")
	}
}

// manyContests returns n valid contests with distinct ids.
func manyContests(n int) []Contest {
	cs := make([]Contest, n)
	for i := range cs {
		cs[i] = Contest{ID: fmt.Sprintf("q%d", i), Title: fmt.Sprintf("Question %d", i), Kind: ContestQuestion, Choices: []string{"yes", "no"}}
	}
	return cs
}

func TestElectionContests(t *testing.T) {
	e := testElection()
	if c, ok := e.Contest("L2025-001"); !ok || c.Title != "Law 1" || !c.HasChoice("no") || c.HasChoice("alice") {
		t.Fatalf("Contest(L2025-001) = %+v, %v", c, ok)
	}
	if p, _ := e.Contest("president"); !p.HasChoice("bob") || p.HasChoice("yes") || p.HasChoice("") {
		t.Fatal("HasChoice wrong for president")
	}
	if _, ok := e.Contest("senate"); ok {
		t.Fatal("Contest found a contest not on the ballot")
	}
	if ids := e.ContestIDs(); !slices.Equal(ids, []string{"president", "L2025-001"}) {
		t.Fatalf("ContestIDs = %v, want ballot order", ids)
	}
}

func TestElectionSoleContest(t *testing.T) {
	e := testElection()
	if id, ok := e.SoleContest(); ok || id != "" {
		t.Fatalf("two contests: SoleContest = %q, %v; want none", id, ok)
	}
	e.Contests = e.Contests[1:]
	if id, ok := e.SoleContest(); !ok || id != "L2025-001" {
		t.Fatalf("one contest: SoleContest = %q, %v; want L2025-001", id, ok)
	}
	e.Contests = nil
	if _, ok := e.SoleContest(); ok {
		t.Fatal("no contests: SoleContest found one")
	}
}

// TestElectionSteps: StepRefusal allows exactly a set-up again of a
// configured election, a close of a configured one and a finalise of a
// closed one, for every pair of statuses (and an unknown one), refusing
// the rest with the chaincode's texts; Transition takes exactly the close
// and the finalise, stamping closed_at or finalised_at (StepTime) and
// changing nothing else, its receiver untouched.
func TestElectionSteps(t *testing.T) {
	at := testOpens.Add(3 * time.Hour)
	allowed := map[[2]string]bool{
		{StatusConfigured, StatusConfigured}: true,
		{StatusConfigured, StatusClosed}:     true,
		{StatusClosed, StatusFinalised}:      true,
	}
	statuses := []string{StatusConfigured, StatusClosed, StatusFinalised, "bogus"}
	for _, from := range statuses {
		for _, to := range statuses {
			e := testElection()
			e.Status = from
			refusal := e.StepRefusal(to)
			var want string
			switch {
			case allowed[[2]string{from, to}]:
			case to == "bogus":
				want = "election general-2026 cannot be made bogus: no step leads there"
			case to == StatusConfigured:
				want = "election general-2026 is " + from + "; it can no longer be set up"
			case to == StatusClosed:
				want = "election general-2026 is " + from + ", not configured; cannot make it closed"
			default:
				want = "election general-2026 is " + from + ", not closed; cannot make it finalised"
			}
			if got := fmt.Sprint(refusal); refusal == nil && want != "" || refusal != nil && got != want {
				t.Errorf("%s → %s: StepRefusal %v; want %q", from, to, refusal, want)
			}

			before := testElection()
			before.Status = from
			next, err := e.Transition(to, at)
			if !reflect.DeepEqual(e, before) {
				t.Errorf("%s → %s: Transition changed its receiver", from, to)
			}
			if to == StatusConfigured || refusal != nil {
				if err == nil {
					t.Errorf("%s → %s: Transition allowed; want refused", from, to)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s → %s: Transition: %v", from, to, err)
			}
			stamped := before
			stamped.Status = to
			if to == StatusClosed {
				stamped.ClosedAt = at
			} else {
				stamped.FinalisedAt = at
			}
			if !reflect.DeepEqual(next, stamped) || !next.StepTime().Equal(at) {
				t.Errorf("%s → %s: Transition gives %+v (step time %v); want %+v", from, to, next, next.StepTime(), stamped)
			}
		}
	}
}

// TestSetUpRefusal: a set-up may replace a configured record until the
// instant its window opens, then no more; a record no longer configured
// refuses it at any time.
func TestSetUpRefusal(t *testing.T) {
	const opened = "election general-2026 opened at 2026-11-03T07:00:00Z; it can no longer be changed"
	for _, c := range []struct {
		status string
		now    time.Time
		want   string // "": allowed
	}{
		{StatusConfigured, testOpens.Add(-time.Hour), ""},
		{StatusConfigured, testOpens.Add(-time.Nanosecond), ""},
		{StatusConfigured, testOpens, opened},
		{StatusConfigured, testOpens.Add(time.Nanosecond), opened},
		{StatusConfigured, testCloses.Add(time.Hour), opened},
		{StatusClosed, testOpens.Add(-time.Hour), "election general-2026 is closed; it can no longer be set up"},
		{StatusFinalised, testOpens.Add(-time.Hour), "election general-2026 is finalised; it can no longer be set up"},
		{"", testOpens.Add(-time.Hour), "election general-2026 is ; it can no longer be set up"},
	} {
		e := testElection()
		e.Status = c.status
		err := e.SetUpRefusal(c.now)
		if err == nil && c.want != "" || err != nil && err.Error() != c.want {
			t.Errorf("%s at %s: SetUpRefusal %v; want %q", c.status, c.now.Format(time.RFC3339Nano), err, c.want)
		}
	}
}

// TestStepRefusalClips: the lifecycle's refusals quote the record's id and
// status clipped (Clip), so a record the audit reads unchecked gives a
// bounded message; text of up to 80 bytes is quoted whole.
func TestStepRefusalClips(t *testing.T) {
	e := testElection()
	e.ID, e.Status = strings.Repeat("i", 1<<20), strings.Repeat("s", 1<<20)
	for _, err := range []error{e.StepRefusal(StatusClosed), e.SetUpRefusal(testOpens), e.StepRefusal(strings.Repeat("t", 1<<20))} {
		if err == nil || len(err.Error()) > 400 {
			t.Errorf("refusal %.100v... of %d bytes; want one of at most 400", err, len(fmt.Sprint(err)))
		}
	}
	if s := strings.Repeat("x", 80); Clip(s) != s {
		t.Errorf("Clip changed text of 80 bytes")
	}
	if got := Clip(strings.Repeat("x", 81)); got != strings.Repeat("x", 80)+"..." {
		t.Errorf("Clip of 81 bytes gives %q", got)
	}
}
