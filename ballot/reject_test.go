package ballot

import (
	"strings"
	"testing"
	"time"
)

func TestRefusal(t *testing.T) {
	e := testElection()
	tx := testOpens.Add(time.Hour)
	at := func(ts time.Time, choice string) Vote {
		return Vote{Contest: "president", Choice: choice, CastAt: ts.UnixMilli()}
	}
	in := func(contest, choice string) Vote {
		return Vote{Contest: contest, Choice: choice, CastAt: testOpens.UnixMilli()}
	}
	closedEarly := testElection()
	closedEarly.ClosedAt = testOpens.Add(30 * time.Minute)
	tests := []struct {
		name string
		e    Election
		v    Vote
		want string
	}{
		{"in window", e, at(testOpens, "alice"), ""},
		{"cast at tx time", e, at(tx, "bob"), ""},
		{"unknown choice", e, at(testOpens, "mallory"), RejectUnknownChoice},
		{"question answered", e, in("L2025-001", "no"), ""},
		{"choice of another contest", e, in("L2025-001", "alice"), RejectUnknownChoice},
		{"unknown contest", e, in("senate", "alice"), RejectUnknownContest},
		{"no contest", e, in("", "alice"), RejectUnknownContest},
		{"contest ids are exact", e, in("President", "alice"), RejectUnknownContest},
		{"before opening", e, at(testOpens.Add(-time.Millisecond), "alice"), RejectOutsideWindow},
		{"at closing", e, at(testCloses, "alice"), RejectOutsideWindow},
		{"after an early close", closedEarly, at(closedEarly.ClosedAt, "alice"), RejectOutsideWindow},
		{"before an early close", closedEarly, at(closedEarly.ClosedAt.Add(-time.Millisecond), "alice"), ""},
		{"after the transaction", e, at(tx.Add(time.Millisecond), "alice"), RejectCastAfterTx},
		{"choice checked before the window", e, at(testCloses, "mallory"), RejectUnknownChoice},
		{"contest checked first", e, Vote{Contest: "senate", Choice: "mallory", CastAt: testCloses.UnixMilli()}, RejectUnknownContest},
	}
	for _, tt := range tests {
		if got := tt.e.Refusal(tt.v, tx); got != tt.want {
			t.Errorf("%s: Refusal = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestBatchRefusal: a batch is refused whole once the election is
// finalised, before it opens (by the transaction's time) and for a state
// not on it, with the chaincode's refusal text; a closed election still
// takes batches, and the finalised status is checked first.
func TestBatchRefusal(t *testing.T) {
	e := testElection()
	ca := Batch{State: "CA", Seq: 7}
	closed, finalised := e, e
	closed.Status, finalised.Status = StatusClosed, StatusFinalised
	tests := []struct {
		name string
		e    Election
		b    Batch
		at   time.Time
		want string // the refusal's text; "" for none
	}{
		{"open", e, ca, testOpens, ""},
		{"after the window", e, ca, testCloses.Add(time.Hour), ""},
		{"closed", closed, ca, testCloses, ""},
		{"finalised", finalised, ca, testCloses, "election general-2026 is finalised; batch CA/7 refused"},
		{"before opening", e, ca, testOpens.Add(-time.Millisecond), "election general-2026 opens at 2026-11-03T07:00:00Z; batch CA/7 refused"},
		{"state not on the ballot", e, Batch{State: "WA", Seq: 1}, testOpens, "state WA is not in election general-2026"},
		{"finalised checked first", finalised, Batch{State: "WA", Seq: 1}, testOpens.Add(-time.Hour), "election general-2026 is finalised; batch WA/1 refused"},
		{"opening checked before the state", e, Batch{State: "WA", Seq: 1}, testOpens.Add(-time.Hour), "election general-2026 opens at"},
	}
	for _, tt := range tests {
		err := tt.e.BatchRefusal(tt.b, tt.at)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
			t.Errorf("%s: BatchRefusal = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestRecordReasonsAndStatus(t *testing.T) {
	var r BatchRecord
	r.Reject(1, RejectDuplicate)
	r.Reject(4, RejectOutsideWindow)
	want := []struct {
		reason, status string
	}{{"", ReceiptCounted}, {RejectDuplicate, ReceiptDuplicate}, {"", ReceiptCounted}, {"", ReceiptCounted}, {RejectOutsideWindow, ReceiptRejected}}
	for i, w := range want {
		if got := r.Reason(i); got != w.reason {
			t.Errorf("Reason(%d) = %q, want %q", i, got, w.reason)
		}
		if got := r.Status(i); got != w.status {
			t.Errorf("Status(%d) = %q, want %q", i, got, w.status)
		}
	}
	// A record written before reasons were recorded rejected duplicates only.
	old := BatchRecord{Rejected: []int{2}}
	if old.Reason(2) != RejectDuplicate || old.Status(2) != ReceiptDuplicate || old.Reason(0) != "" {
		t.Errorf("old record: reason %q status %q", old.Reason(2), old.Status(2))
	}
	rc := Receipt{Index: 4}.Committed(r, 9)
	if rc.Status != ReceiptRejected || rc.Reason != RejectOutsideWindow || rc.Block != 9 {
		t.Errorf("committed receipt %+v", rc)
	}
	if err := (Receipt{Index: 4, Status: ReceiptRejected, Reason: RejectCastAfterTx}).CheckRecord(r); err == nil {
		t.Error("a receipt with the wrong reason passed CheckRecord")
	}
}
