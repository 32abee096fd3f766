package chaincode

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

func (h *harness) commitsFn(bs ...ballot.Batch) txFunc { return h.jsonArg(bs, h.cc.CommitBatches) }

// TestCommitBatches: one transaction records two states' batches, each
// judged by the per-batch rules under its own key and record, in one read
// and one write exchange, with one event listing both; a batch committed
// before is returned as stored and left out of the event.
func TestCommitBatches(t *testing.T) {
	h := newHarness(t)
	h.open()
	ca1, ny1 := batch(t, "CA", 1, votes("CA", 0, 3)), batch(t, "NY", 1, votes("NY", 0, 4))
	first := h.must(commissionClient, h.commitFn(ca1))
	h.now = h.now.Add(time.Second)
	ca2 := batch(t, "CA", 2, append(votes("CA", 10, 2), votes("CA", 0, 1)...)) // CA voter 0 again
	out, err := h.call(commissionClient, h.commitsFn(ca2, ny1))
	if err != nil {
		t.Fatal(err)
	}
	var recs []json.RawMessage
	if err := json.Unmarshal([]byte(out), &recs); err != nil || len(recs) != 2 {
		t.Fatalf("CommitBatches returned %s (%v), want 2 records", out, err)
	}
	var got [2]ballot.BatchRecord
	for i, raw := range recs {
		if err := json.Unmarshal(raw, &got[i]); err != nil {
			t.Fatal(err)
		}
	}
	tx := h.stub.txID
	wantCA := ballot.BatchRecord{State: "CA", Seq: 2, Root: ca2.Root, Votes: 3, Counted: 2, Tallies: ballot.Tally{president: {"alice": 1, "bob": 1}},
		Rejected: []int{2}, Reasons: []string{ballot.RejectDuplicate}, TxID: tx, CommittedAt: h.now.UnixMilli()}
	wantNY := ballot.BatchRecord{State: "NY", Seq: 1, Root: ny1.Root, Votes: 4, Counted: 4, Tallies: ballot.Tally{president: {"alice": 2, "bob": 2}},
		Rejected: []int{}, Reasons: []string{}, TxID: tx, CommittedAt: h.now.UnixMilli()}
	if !recordsEqual(got[0], wantCA) || !recordsEqual(got[1], wantNY) {
		t.Fatalf("records %+v, want %+v and %+v", got, wantCA, wantNY)
	}
	s := h.stub
	if s.gets != 0 || s.multiGets != 1 || s.keysRead != 2+(1+3)+(1+4) || s.puts != (2+1)+(4+1) || s.writeExchanges != 1 || s.ranges != 0 {
		t.Fatalf("ledger calls: %d GetState, %d GetMultipleStates of %d keys, %d PutState in %d exchanges, %d ranges",
			s.gets, s.multiGets, s.keysRead, s.puts, s.writeExchanges, s.ranges)
	}
	if s.event == nil || s.event.name != ballot.EventBatchesCommitted {
		t.Fatalf("event %+v, want %s", s.event, ballot.EventBatchesCommitted)
	}
	evs, _, err := ballot.BatchEvents(s.event.name, s.event.payload)
	if err != nil || len(evs) != 2 || evs[0].State != "CA" || evs[0].Seq != 2 || evs[0].Counted != 2 || evs[1].State != "NY" || evs[1].Counted != 4 {
		t.Fatalf("event batches %+v (%v), want CA/2 and NY/1", evs, err)
	}
	res := results(t, h)
	if res.Counted != 3+2+4 || res.Rejected != 1 || res.States["CA"].Batches != 2 || res.States["NY"].Batches != 1 {
		t.Fatalf("results %+v", res)
	}

	// One committed before (CA/1), one new (NY/2): the first as stored, only
	// the second written and in the event.
	h.now = h.now.Add(time.Second)
	ny2 := batch(t, "NY", 2, votes("NY", 20, 1))
	var partial []json.RawMessage
	if err := json.Unmarshal([]byte(h.must(commissionClient, h.commitsFn(ca1, ny2))), &partial); err != nil || len(partial) != 2 || string(partial[0]) != first {
		t.Fatalf("partial resubmission returned %s (%v), want CA/1 as stored %s first", partial, err, first)
	}
	evs, _, err = ballot.BatchEvents(h.stub.event.name, h.stub.event.payload)
	if err != nil || len(evs) != 1 || evs[0].State != "NY" || evs[0].Seq != 2 || h.stub.puts != 1+1 {
		t.Fatalf("partial resubmission: event %+v (%v), %d writes; want NY/2 alone", evs, err, h.stub.puts)
	}

	// All committed: the records as stored, nothing written, no event.
	h.now = h.now.Add(time.Second)
	again := h.must(commissionClient, h.commitsFn(ca2, ny1))
	var stored []json.RawMessage
	if err := json.Unmarshal([]byte(again), &stored); err != nil || len(stored) != 2 || string(stored[0]) != string(recs[0]) || string(stored[1]) != string(recs[1]) {
		t.Fatalf("full resubmission returned %s, want the stored records", again)
	}
	if h.stub.puts != 0 || h.stub.event != nil {
		t.Fatalf("full resubmission wrote %d keys, event %v", h.stub.puts, h.stub.event)
	}
	// The single-batch function still reads what the shared one wrote.
	if one := h.must(commissionClient, h.commitFn(ny1)); one != string(recs[1]) {
		t.Fatalf("CommitBatch of a batch CommitBatches wrote: %s, want %s", one, recs[1])
	}
}

// TestCommitBatchesRefusals: if one batch is refused, the transaction is,
// and nothing is written.
func TestCommitBatchesRefusals(t *testing.T) {
	forged := batch(t, "NY", 1, votes("NY", 0, 2))
	forged.Root = batch(t, "NY", 1, votes("NY", 0, 1)).Root
	ca := batch(t, "CA", 1, votes("CA", 0, 2))
	cases := []struct {
		name string
		fn   func(h *harness) txFunc
		want string
	}{
		{"none", func(h *harness) txFunc { return h.commitsFn() }, "no batch"},
		{"a state twice", func(h *harness) txFunc { return h.commitsFn(ca, batch(t, "CA", 2, votes("CA", 5, 1))) }, "one transaction carries at most one batch of a state"},
		{"one forged root", func(h *harness) txFunc { return h.commitsFn(ca, forged) }, "root does not match"},
		{"a state not in the election", func(h *harness) txFunc { return h.commitsFn(ca, batch(t, "TX", 1, votes("TX", 0, 1))) }, "not in election"},
		{"one committed with another root", func(h *harness) txFunc {
			h.must(commissionClient, h.commitFn(batch(t, "NY", 1, votes("NY", 50, 1))))
			return h.commitsFn(ca, batch(t, "NY", 1, votes("NY", 0, 2)))
		}, "already committed with root"},
		{"too many votes in all", func(h *harness) txFunc {
			return h.commitsFn(batch(t, "CA", 1, votes("CA", 0, MaxBatchVotes/2+1)), batch(t, "NY", 1, votes("NY", 0, MaxBatchVotes/2)))
		}, "votes in all"},
	}
	for _, c := range cases {
		h := newHarness(t)
		h.open()
		fn := c.fn(h)
		_, err := h.call(commissionClient, fn)
		wantErr(t, c.name, err, c.want)
		if res := results(t, h); res.States["CA"].Batches != 0 {
			t.Errorf("%s: CA batch written: %+v", c.name, res.States["CA"])
		}
	}
	h := newHarness(t)
	h.open()
	_, err := h.call(observerAdmin, h.commitsFn(ca))
	wantErr(t, "an Observer", err, "not a CommissionMSP client")
}
