package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/explorer/logmonitor"
)

// fakeMonitor answers the reports queued in it, one per check, and records
// the heads it was handed as seen.
type fakeMonitor struct {
	reports []logmonitor.Report
	errs    []error
	seen    []map[string]ballot.TreeHead
}

func (f *fakeMonitor) Check(_ context.Context, seen map[string]ballot.TreeHead) (logmonitor.Report, error) {
	f.seen = append(f.seen, seen)
	i := len(f.seen) - 1
	return f.reports[i], f.errs[i]
}

func head(state string, size uint64) *ballot.AnchoredHead {
	return &ballot.AnchoredHead{TxID: fmt.Sprintf("tx%s%d", state, size), Head: ballot.TreeHead{Election: "e", State: state, Size: size,
		Root: strings.Repeat(fmt.Sprint(size%10), 64), Timestamp: 1700000000000, KeyID: "k1", Signature: strings.Repeat("ab", 64)}}
}

func intakeServer(t *testing.T, il *IntakeLog) *Server {
	t.Helper()
	idx, err := index.Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	s, err := New(Config{Index: idx, Ledger: fakeLedger{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), IntakeLog: il})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func getIntakeLog(t *testing.T, s *Server) (intakeLogView, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/intake-log", nil))
	var v intakeLogView
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &v) != nil {
		t.Fatalf("GET /api/v1/intake-log: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/intake-log", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /intake-log: %d %s", rec.Code, rec.Body)
	}
	return v, rec.Body.String()
}

// TestIntakeLogPage: the page shows the monitor's last finding, hands the
// last verified head of each state to the next check, keeps it when a
// check fails, and names MISSING entries in words.
func TestIntakeLogPage(t *testing.T) {
	missing := logmonitor.Entry{State: "CA", Index: 4, Vote: ballot.Vote{ID: "vote-gone"}, Standing: ballot.StandingMissing}
	rejected := logmonitor.Entry{State: "CA", Index: 1, Vote: ballot.Vote{ID: "vote-bad"}, Standing: ballot.StandingRejected, Reason: "not_on_roll"}
	fm := &fakeMonitor{
		reports: []logmonitor.Report{
			{Election: "e", States: []logmonitor.StateReport{
				{State: "CA", Head: head("CA", 3), Counts: map[string]int{"counted": 3}},
				{State: "NY", Counts: map[string]int{}}}},
			{Election: "e", States: []logmonitor.StateReport{
				{State: "CA", Head: head("CA", 6), Counts: map[string]int{"counted": 4, "rejected": 1, "MISSING": 1, "pending": 7}, Entries: []logmonitor.Entry{rejected, missing}, PendingUnlisted: 7,
					Unlogged: 2, UnloggedVotes: []logmonitor.UnloggedVote{{Seq: 9, Index: 3, CastAt: 1_700_000_000_000}, {Seq: 9, Index: 4, CastAt: 1_700_000_000_001}}},
				{State: "NY", Counts: map[string]int{}}}},
			{},
			{},
		},
		errs: []error{nil, nil, fmt.Errorf("%w: CA head of size 6 rewritten", logmonitor.ErrInconsistent), errors.New("dial tcp: refused")},
	}
	il := &IntakeLog{Monitor: fm, Every: 20e9, Deadline: 60e9}
	s := intakeServer(t, il)

	if v, _ := getIntakeLog(t, s); !v.Configured || !v.CheckedAt.IsZero() || v.Every != 20 {
		t.Fatalf("before the first check: %+v", v)
	}
	il.Refresh(context.Background())
	v, _ := getIntakeLog(t, s)
	if v.Election != "e" || len(v.States) != 2 || v.States[0].Consistency != "first" || !v.States[0].SignatureVerified || v.States[1].Consistency != "none" || v.Missing != 0 || v.Unlogged != 0 {
		t.Fatalf("first check: %+v", v)
	}

	il.Refresh(context.Background())
	if got := fm.seen[1]["CA"]; got.Size != 3 || len(fm.seen[1]) != 1 {
		t.Fatalf("second check was handed %+v, want the CA head of size 3", fm.seen[1])
	}
	v, page := getIntakeLog(t, s)
	ca := v.States[0]
	if ca.Consistency != "consistent" || ca.Previous == nil || ca.Previous.Size != 3 || ca.Head.Head.Size != 6 ||
		ca.Counted != 4 || ca.Rejected != 1 || ca.Missing != 1 || v.Missing != 1 || len(ca.Entries) != 2 || ca.Pending != 7 || ca.PendingUnlisted != 7 ||
		ca.Unlogged != 2 || v.Unlogged != 2 || len(ca.UnloggedVotes) != 2 {
		t.Fatalf("second check: %+v", v)
	}
	var ids []string
	for _, st := range v.States {
		for _, e := range st.Entries {
			if e.Standing == ballot.StandingMissing {
				ids = append(ids, e.Vote.ID)
			}
		}
	}
	if !slices.Equal(ids, []string{"vote-gone"}) {
		t.Errorf("MISSING in JSON: %v", ids)
	}
	for _, want := range []string{"1 MISSING", "<strong class=\"bad\">MISSING</strong>", "vote-gone", "not_on_roll", "consistent</span> with the head of 3 entries", "txCA6", "CA: 7 more pending entries are not listed",
		"2 not in the log", `href="/batches/CA/9"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	il.Refresh(context.Background()) // inconsistent
	v, page = getIntakeLog(t, s)
	if !strings.Contains(v.Failure, "rewritten") || !strings.Contains(page, "FAILED:") || len(v.States) != 2 {
		t.Fatalf("inconsistent log: %+v", v)
	}
	il.Refresh(context.Background()) // unreachable
	v, page = getIntakeLog(t, s)
	if fm.seen[3]["CA"].Size != 6 || v.Failure != "" || v.Error == "" || strings.Contains(page, "refused") || v.Missing != 1 {
		t.Fatalf("after failures: handed %+v, view %+v", fm.seen[3], v)
	}
}

// TestIntakeLogUnconfigured: without a monitor the page says so.
func TestIntakeLogUnconfigured(t *testing.T) {
	v, page := getIntakeLog(t, intakeServer(t, nil))
	if v.Configured || !strings.Contains(page, "--gateway") {
		t.Fatalf("unconfigured: %+v", v)
	}
}

// treeProofs serves a tree's consistency proofs.
type treeProofs struct{ tree *ballot.LogTree }

func (p treeProofs) Consistency(_ context.Context, _ string, first, second uint64) ([][32]byte, error) {
	return p.tree.ConsistencyProof(first, second)
}

// treeHead is the CA head of tree's first size entries (its root the
// tree's), anchored.
func treeHead(tree *ballot.LogTree, size uint64) *ballot.AnchoredHead {
	h := head("CA", size)
	root, _ := tree.Root(size)
	h.Head.Root = ballot.HashHex(root)
	return h
}

// TestIntakeLogProofs: a new head is checked to extend the one verified
// before by the served consistency proof; a proof from a rewritten log is
// a failure and the verified head is kept.
func TestIntakeLogProofs(t *testing.T) {
	var tree, rewritten ballot.LogTree
	for i := range 6 {
		tree.Append([32]byte{byte(i)})
		rewritten.Append([32]byte{byte(i + 1)})
	}
	at := func(size uint64) *ballot.AnchoredHead { return treeHead(&tree, size) }
	report := func(size uint64) logmonitor.Report {
		return logmonitor.Report{Election: "e", States: []logmonitor.StateReport{{State: "CA", Head: at(size), Counts: map[string]int{"counted": int(size)}}}}
	}
	fm := &fakeMonitor{reports: []logmonitor.Report{report(3), report(6), report(6)}, errs: make([]error, 3)}
	il := &IntakeLog{Monitor: fm, Proofs: treeProofs{&tree}}
	s := intakeServer(t, il)
	il.Refresh(context.Background())
	il.Refresh(context.Background())
	v, page := getIntakeLog(t, s)
	if ca := v.States[0]; !ca.ProofVerified || ca.Previous.Size != 3 || v.Failure != "" || !strings.Contains(page, "consistency proof verified") {
		t.Fatalf("3 → 6: %+v", v)
	}
	fm.reports = append(fm.reports, report(6))
	fm.errs = append(fm.errs, nil)
	il.Proofs = treeProofs{&rewritten}
	fm.reports[2].States[0].Head = at(6)
	fm.reports[2].States[0].Head.Head.Size = 5 // a smaller head: the proof 5 → 6 comes from the rewritten log
	il.Refresh(context.Background())
	v, _ = getIntakeLog(t, s)
	if !strings.Contains(v.Failure, "does not extend") || !strings.Contains(v.Failure, "inconsistent") {
		t.Fatalf("rewritten: %+v", v)
	}
	il.Refresh(context.Background())
	if got := fm.seen[3]["CA"]; got.Size != 6 {
		t.Fatalf("after the failure the check was handed %+v, want the head of size 6", got)
	}
}

// TestIntakeLogSeenAhead: a head verified before past the one anchored now
// (the peer read is behind: logmonitor's SeenAhead) is shown pending with
// both sizes, neither consistent nor a failure, the gateway's proof from
// the anchored head to it checked; so is one with no head anchored. It is
// kept and handed to the next checks, not replaced by the smaller anchored
// head, and once the anchored head reaches it the state is consistent.
func TestIntakeLogSeenAhead(t *testing.T) {
	var tree ballot.LogTree
	for i := range 6 {
		tree.Append([32]byte{byte(i)})
	}
	fm := &fakeMonitor{errs: make([]error, 4)}
	for _, size := range []uint64{6, 4, 0, 6} { // the anchored head's (0: none)
		sr := logmonitor.StateReport{State: "CA", Counts: map[string]int{}, SeenAhead: len(fm.reports) > 0 && size < 6}
		if size > 0 {
			sr.Head = treeHead(&tree, size)
		}
		fm.reports = append(fm.reports, logmonitor.Report{Election: "e", States: []logmonitor.StateReport{sr}})
	}
	il := &IntakeLog{Monitor: fm, Proofs: treeProofs{&tree}}
	s := intakeServer(t, il)
	il.Refresh(context.Background())
	for _, c := range []struct {
		anchored string
		proved   bool
	}{{"the anchored head of 4 entries", true}, {"this peer's (none anchored)", false}} {
		il.Refresh(context.Background())
		v, page := getIntakeLog(t, s)
		ca := v.States[0]
		if ca.Consistency != "pending" || ca.Previous == nil || ca.Previous.Size != 6 || ca.ProofVerified != c.proved || v.Failure != "" || v.Error != "" {
			t.Fatalf("anchored %s: %+v", c.anchored, v)
		}
		want := "<strong>pending</strong>: the head of 6 entries seen before is past " + c.anchored + ": the peer read is behind"
		if !strings.Contains(page, want) || strings.Contains(page, "consistent</span>") || strings.Contains(page, "consistency proof from the anchored head to it verified") != c.proved {
			t.Errorf("anchored %s: the page lacks %q, or says consistent, or the proof verified %v", c.anchored, want, !c.proved)
		}
	}
	il.Refresh(context.Background())
	for i, seen := range fm.seen[1:] {
		if seen["CA"] != treeHead(&tree, 6).Head {
			t.Fatalf("check %d was handed %+v; want the CA head of 6, kept", i+2, seen)
		}
	}
	if v, _ := getIntakeLog(t, s); v.States[0].Consistency != "consistent" || v.States[0].Previous.Size != 6 || v.States[0].Head.Head.Size != 6 {
		t.Fatalf("anchored at 6 again: %+v", v)
	}
}

// TestIntakeLogFailures: a check refusing the anchored head (unregistered
// key, bad signature, a malformed head, a head of another election or
// state), finding the log inconsistent, or finding a batch record that
// does not describe its transaction's votes is shown FAILED with its
// reason; one that could not run is an error, not a finding.
func TestIntakeLogFailures(t *testing.T) {
	for _, c := range []struct {
		err     error
		failure bool
	}{
		{fmt.Errorf("%w: CA head rewritten", logmonitor.ErrInconsistent), true},
		{fmt.Errorf("the anchored CA head: %w: it names election \"f\"", logmonitor.ErrForeignHead), true},
		{fmt.Errorf("the anchored CA head: %w", ballot.ErrUnknownLogKey), true},
		{fmt.Errorf("the anchored CA head: %w", ballot.ErrBadSignature), true},
		{fmt.Errorf("the anchored CA head: %w: root is not hex", ballot.ErrBadHead), true},
		{fmt.Errorf("read the CA batches: batch CA/1: %w: the ledger's record of batch CA/1 counts 5 votes, its transaction tx1 carries 4", logmonitor.ErrRecordMismatch), true},
		{errors.New("dial tcp: refused"), false},
	} {
		il := &IntakeLog{Monitor: &fakeMonitor{reports: make([]logmonitor.Report, 1), errs: []error{c.err}}}
		il.Refresh(context.Background())
		v, page := getIntakeLog(t, intakeServer(t, il))
		if failed := v.Failure == c.err.Error() && strings.Contains(page, "FAILED:"); failed != c.failure || (v.Error != "") == c.failure {
			t.Errorf("%v: failure %q, error %q; want failed %v", c.err, v.Failure, v.Error, c.failure)
		}
	}
}
