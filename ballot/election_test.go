package ballot

import (
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
		States: []string{"CA", "NY", "TX"}, Candidates: []string{"alice", "bob"},
		OpensAt: testOpens, ClosesAt: testCloses,
		RollRoot: HashHex(MerkleRoot(nil)), Status: StatusConfigured,
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
		{"bad status", func(e *Election) { e.Status = "open" }, "status"},
		{"no states", func(e *Election) { e.States = nil }, "no states"},
		{"bad state", func(e *Election) { e.States = []string{"ca"} }, "invalid state"},
		{"repeated state", func(e *Election) { e.States = []string{"CA", "CA"} }, "twice"},
		{"no candidates", func(e *Election) { e.Candidates = nil }, "no candidates"},
		{"repeated candidate", func(e *Election) { e.Candidates = []string{"bob", "bob"} }, "twice"},
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
	if !e.HasState("NY") || e.HasState("FL") || !e.HasCandidate("bob") || e.HasCandidate("carol") {
		t.Fatal("HasState/HasCandidate wrong")
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
