package ballot

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func testVotes(state string, n int) []Vote {
	votes := make([]Vote, n)
	for i := range votes {
		votes[i] = testVote(state, i, []string{"alice", "bob", "carol"}[i%3])
	}
	return votes
}

func testBatchJSON(t testing.TB, b Batch) []byte {
	t.Helper()
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestBuildBatch(t *testing.T) {
	votes := testVotes("CA", 5)
	b, err := BuildBatch("CA", 42, votes)
	if err != nil {
		t.Fatal(err)
	}
	leaves, _ := Leaves(votes)
	if b.Root != HashHex(MerkleRoot(leaves)) || !b.Tallies.Equal(Tally{testContest: {"alice": 2, "bob": 2, "carol": 1}}) {
		t.Fatalf("batch root %s tallies %v", b.Root, b.Tallies)
	}
	if b.ID() != "CA/42" {
		t.Fatalf("ID = %q", b.ID())
	}
	if got, err := b.Verify(); err != nil || !equalHashes(got, leaves) {
		t.Fatalf("Verify = %v", err)
	}
	tests := []struct {
		name   string
		state  string
		votes  []Vote
		errHas string
	}{
		{"bad state", "ca", votes, "batch state"},
		{"empty", "CA", nil, "no votes"},
		{"other state", "NY", votes, "of state"},
		{"invalid vote", "CA", append(testVotes("CA", 1), Vote{State: "CA"}), "vote 1"},
	}
	for _, tt := range tests {
		if _, err := BuildBatch(tt.state, 1, tt.votes); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%s: BuildBatch error %v, want one mentioning %q", tt.name, err, tt.errHas)
		}
	}
}

func TestBatchVerifyRefusesForgery(t *testing.T) {
	b, _ := BuildBatch("CA", 1, testVotes("CA", 4))
	forgedRoot := b
	forgedRoot.Root = HashHex(MerkleRoot(nil))
	if _, err := forgedRoot.Verify(); !errors.Is(err, ErrBatchRoot) {
		t.Errorf("forged root: %v", err)
	}
	forgedTally := b
	forgedTally.Tallies = Tally{testContest: {"alice": 4}}
	if _, err := forgedTally.Verify(); !errors.Is(err, ErrBatchTally) {
		t.Errorf("forged tally: %v", err)
	}
	otherContest := b
	otherContest.Tallies = Tally{"L2025-001": b.Tallies[testContest]}
	if _, err := otherContest.Verify(); !errors.Is(err, ErrBatchTally) {
		t.Errorf("the right counts under another contest: %v", err)
	}
	badVote := b
	badVote.Votes = append([]Vote{{}}, b.Votes[1:]...)
	if _, err := badVote.Verify(); err == nil {
		t.Error("invalid vote verified")
	}
}

func TestDecodeBatch(t *testing.T) {
	b, _ := BuildBatch("CA", 7, testVotes("CA", 3))
	good := testBatchJSON(t, b)
	got, err := DecodeBatch(good, 3)
	if err != nil {
		t.Fatal(err)
	}
	if string(testBatchJSON(t, got)) != string(good) || !reflect.DeepEqual(got, b) {
		t.Fatal("decode/encode round trip changed the batch")
	}
	if n := strings.Count(string(good), `"state"`); n != 1 {
		t.Errorf("batch JSON names a state %d times, want once (the votes' state is the batch's): %s", n, good)
	}
	other, _ := BuildBatch("NY", 1, testVotes("NY", 1))
	mixed := b
	mixed.Votes = append(append([]Vote(nil), b.Votes...), other.Votes...)
	if data, err := json.Marshal(mixed); err == nil || !strings.Contains(err.Error(), "of state") {
		t.Errorf("a batch with a vote of another state encoded: %s, %v", data, err)
	}
	badRoot := b
	badRoot.Root = strings.ToUpper(b.Root)
	tests := []struct {
		name   string
		data   string
		max    int
		errHas string
	}{
		{"bound zero", string(good), 0, "must be positive"},
		{"too many votes", string(good), 2, "exceeds the bound"},
		{"too many bytes", string(good) + strings.Repeat(" ", MaxBatchBytes(3)), 3, "byte bound"},
		{"unknown field", strings.Replace(string(good), `"seq"`, `"extra":1,"seq"`, 1), 3, "unknown field"},
		{"unknown vote field", strings.Replace(string(good), `"cast_at"`, `"voter":"x","cast_at"`, 1), 3, "unknown field"},
		{"trailing object", string(good) + `{}`, 3, "trailing"},
		{"trailing garbage", string(good) + `x`, 3, "trailing"},
		{"not json", `nope`, 3, "invalid"},
		{"wrong type", `{"seq":"1"}`, 3, "cannot unmarshal"},
		{"no votes", `{"state":"CA","seq":1,"votes":{"id":[],"contest":[],"nullifier":[],"choice":[],"cast_at":[]},"root":"` + b.Root + `","tallies":{}}`, 3, "no votes"},
		{"votes as objects", `{"state":"CA","seq":1,"votes":[],"root":"` + b.Root + `","tallies":{}}`, 3, "cannot unmarshal"},
		{"short column", strings.Replace(string(good), `"choice":["`, `"choice":["alice","`, 1), 3, "differ in length"},
		{"missing columns", `{"state":"CA","seq":7,"votes":{"id":["` + b.Votes[0].ID + `"]},"root":"` + b.Root + `","tallies":{}}`, 3, "differ in length"},
		{"vote names a state", strings.Replace(string(good), `"contest"`, `"state":"CA","contest"`, 1), 3, "unknown field"},
		{"bad root", string(testBatchJSON(t, badRoot)), 3, "root"},
	}
	for _, tt := range tests {
		if _, err := DecodeBatch([]byte(tt.data), tt.max); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%s: DecodeBatch error %v, want one mentioning %q", tt.name, err, tt.errHas)
		}
	}
}

func TestBatchRecordEventAndResults(t *testing.T) {
	r := BatchRecord{State: "CA", Seq: 3, Root: "r", Votes: 4, Counted: 3, Tallies: Tally{"president": {"alice": 2}, "L2025-001": {"no": 1}}, Rejected: []int{1}, Reasons: []string{RejectDuplicate}, TxID: "tx", CommittedAt: 5}
	data, _ := json.Marshal(r.Event())
	want := `{"state":"CA","seq":3,"root":"r","counted":3,"rejected":[1],"reasons":["duplicate"],"tallies":{"L2025-001":{"no":1},"president":{"alice":2}}}`
	if string(data) != want {
		t.Fatalf("event JSON %s, want %s", data, want)
	}
	s := StateResult{State: "CA", Tallies: Tally{}}
	s.Add(r)
	s.Add(r)
	if s.Batches != 2 || s.Counted != 6 || s.Rejected != 2 || s.Tallies["president"]["alice"] != 4 || s.Tallies["L2025-001"]["no"] != 2 {
		t.Fatalf("state result %+v", s)
	}
}

// FuzzDecodeBatch: DecodeBatch never panics; what it accepts is a valid
// batch that survives a JSON round trip unchanged.
func FuzzDecodeBatch(f *testing.F) {
	b, _ := BuildBatch("CA", 7, testVotes("CA", 3))
	good, _ := json.Marshal(b)
	f.Add(good)
	f.Add([]byte(`{"state":"CA","seq":1,"votes":{"id":[],"contest":[],"nullifier":[],"choice":[],"cast_at":[]},"root":"","tallies":null}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBatch(data, 8)
		if err != nil {
			return
		}
		if err := b.checkVotes(); err != nil || len(b.Votes) > 8 {
			t.Fatalf("accepted an invalid batch: %v", err)
		}
		again, err := DecodeBatch(testBatchJSON(t, b), 8)
		if err != nil {
			t.Fatalf("re-encoded batch refused: %v", err)
		}
		if testBatchJSON(t, again) == nil || string(testBatchJSON(t, again)) != string(testBatchJSON(t, b)) {
			t.Fatal("round trip changed the batch")
		}
	})
}

func TestResultsApplyAddsStateAndNational(t *testing.T) {
	var r Results
	r.Apply(BatchEvent{State: "CA", Seq: 1, Counted: 4, Rejected: []int{}, Tallies: Tally{"p": {"a": 2, "b": 1}, "q": {"yes": 1}}})
	r.Apply(BatchEvent{State: "CA", Seq: 2, Counted: 1, Rejected: []int{0, 2}, Tallies: Tally{"p": {"a": 1}}})
	r.Apply(BatchEvent{State: "TX", Seq: 1, Counted: 3, Rejected: []int{}, Tallies: Tally{"p": {"b": 2}, "q": {"no": 1}}})
	ca := r.States["CA"]
	if ca.Batches != 2 || ca.Counted != 5 || ca.Rejected != 2 || !ca.Tallies.Equal(Tally{"p": {"a": 3, "b": 1}, "q": {"yes": 1}}) {
		t.Errorf("CA = %+v", ca)
	}
	if tx := r.States["TX"]; !tx.Tallies.Equal(Tally{"p": {"b": 2}, "q": {"no": 1}}) {
		t.Errorf("TX = %+v", tx)
	}
	if r.Counted != 8 || r.Rejected != 2 || !r.National.Equal(Tally{"p": {"a": 3, "b": 3}, "q": {"yes": 1, "no": 1}}) {
		t.Errorf("national = %d counted, %d rejected, %v", r.Counted, r.Rejected, r.National)
	}
}

// BenchmarkDecodeBatch decodes a batch of 1,000 votes as the chaincode, the
// explorer and bin/verify do; it reports the batch JSON's bytes per vote.
func BenchmarkDecodeBatch(b *testing.B) {
	const n = 1000
	batch, err := BuildBatch("CA", 7, testVotes("CA", n))
	if err != nil {
		b.Fatal(err)
	}
	data := testBatchJSON(b, batch)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBatch(data, n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(data))/n, "bytes/vote")
}
