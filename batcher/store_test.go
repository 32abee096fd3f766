package batcher

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redistest"
)

// TestJournalEntryEncode: a journal entry keeps the batch's number, root
// and stream ids, not its votes; an entry of the earlier form, the whole
// batch, still decodes complete; an entry without its ids, or whose ids do
// not match its votes, is refused.
func TestJournalEntryEncode(t *testing.T) {
	r := newShareRig(t, Config{Partitions: []string{"CA"}})
	j := journalEntry{Batch: r.batch("CA", 7, 3), StreamIDs: []string{"1-0", "1-1", "2-0"}}
	got, err := j.encode()
	if err != nil {
		t.Fatal(err)
	}
	back, complete, err := decodeJournal("CA", got)
	want := journalEntry{Batch: ballot.Batch{State: "CA", Seq: 7, Root: j.Batch.Root}, StreamIDs: j.StreamIDs}
	if err != nil || complete || !reflect.DeepEqual(back, want) {
		t.Fatalf("decoded %+v, %v, %v; want %+v without its votes", back, complete, err, want)
	}
	if len(got) > 40+len(j.Batch.Root)+20*len(j.StreamIDs) {
		t.Fatalf("a compact entry of %d bytes: %s", len(got), got)
	}
	legacy, err := json.Marshal(map[string]any{"batch": j.Batch, "stream_ids": j.StreamIDs})
	if err != nil {
		t.Fatal(err)
	}
	if back, complete, err := decodeJournal("CA", legacy); err != nil || !complete || !reflect.DeepEqual(back, j) {
		t.Fatalf("the earlier form decoded %+v, %v, %v; want %+v", back, complete, err, j)
	}
	listed, err := json.Marshal(map[string]any{"seq": 7, "root": j.Batch.Root, "stream_ids": j.StreamIDs})
	if err != nil {
		t.Fatal(err)
	}
	if back, complete, err := decodeJournal("CA", listed); err != nil || complete || !reflect.DeepEqual(back, want) {
		t.Fatalf("the form listing the ids decoded %+v, %v, %v; want %+v", back, complete, err, want)
	}
	for _, bad := range []string{`{"seq":7,"root":"ab","stream_ids":[]}`, `{"seq":7,"root":"ab","ids":"1-0"}`, `{"seq":7,"root":"ab","ids":"1.0,,2.0"}`} {
		if _, _, err := decodeJournal("CA", []byte(bad)); err == nil {
			t.Fatalf("the entry %s was decoded", bad)
		}
	}
	j.StreamIDs = j.StreamIDs[:2]
	if _, err := j.encode(); err == nil {
		t.Fatal("a batch of 3 votes was journaled with 2 stream ids")
	}
}

// Stream ids delta-coded for the journal decode to the same ids, in
// order, whatever their milliseconds do; what is not a stream id is
// refused.
func TestStreamIDsCoding(t *testing.T) {
	for _, ids := range [][]string{
		{"0-0"},
		{"1733000000000-0", "1733000000000-1", "1733000000001-0", "1733000000009-4", "1733000000009-5"},
		{"1733000000009-0", "1733000000002-7", "18446744073709551615-18446744073709551615", "5-0"},
	} {
		coded, err := encodeStreamIDs(ids)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeStreamIDs(coded)
		if err != nil || !reflect.DeepEqual(back, ids) {
			t.Fatalf("%q coded as %q decoded to %q, %v", ids, coded, back, err)
		}
	}
	if coded, _ := encodeStreamIDs([]string{"1733000000000-0", "1733000000000-1", "1733000000001-0"}); coded != "1733000000000.0,0.1,1.0" {
		t.Fatalf("coded %q", coded)
	}
	if _, err := encodeStreamIDs([]string{"1-0", "x"}); err == nil {
		t.Fatal("coded a non-id")
	}
}

// A batch journaled in the compact form is rebuilt from its votes in the
// stream, exactly; a vote missing from the stream, or votes whose root is
// not the journaled one, are an error rather than another batch.
func TestJournalVotesFromTheStream(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	votes := EnqueueVotes(t, rdb, 0, 15, "j") // 3 in CA, each fifth
	s := &store{rdb: rdb, partition: "CA"}
	msgs, err := s.read(ctx, "0-0", 10, 10*time.Millisecond)
	if err != nil || len(msgs) != 3 {
		t.Fatalf("read %d, %v", len(msgs), err)
	}
	var ca []ballot.Vote
	for _, v := range votes {
		if v.State == "CA" {
			ca = append(ca, v)
		}
	}
	want, err := ballot.BuildBatch("CA", 4, ca)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{msgs[0].ID, msgs[1].ID, msgs[2].ID}
	journaled := func(root string, ids []string) journalEntry {
		return journalEntry{Batch: ballot.Batch{State: "CA", Seq: 4, Root: root}, StreamIDs: ids}
	}
	j := journaled(want.Root, ids)
	if err := s.votesOf(ctx, &j); err != nil || !reflect.DeepEqual(j.Batch, want) {
		t.Fatalf("rebuilt %+v, %v; want %+v", j.Batch, err, want)
	}
	j = journaled(want.Root, []string{ids[1], ids[0], ids[2]})
	if err := s.votesOf(ctx, &j); err == nil || !strings.Contains(err.Error(), "root") {
		t.Fatalf("votes in another order: %v; want a root mismatch", err)
	}
	rdb.XDel(ctx, votequeue.StreamKey("CA"), ids[1])
	j = journaled(want.Root, ids)
	if err := s.votesOf(ctx, &j); err == nil || !strings.Contains(err.Error(), "not in the stream") {
		t.Fatalf("a vote missing from the stream: %v; want an error", err)
	}
}
