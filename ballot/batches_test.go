package ballot

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeBatches(t *testing.T) {
	ca, err := BuildBatch("CA", 1, testVotes("CA", 3))
	if err != nil {
		t.Fatal(err)
	}
	ny, err := BuildBatch("NY", 4, testVotes("NY", 2))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal([]Batch{ca, ny})
	bs, raws, err := DecodeBatches(data, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].ID() != "CA/1" || bs[1].ID() != "NY/4" || bs[1].Root != ny.Root {
		t.Fatalf("decoded %+v", bs)
	}
	if string(raws[0]) != string(testBatchJSON(t, ca)) || string(raws[1]) != string(testBatchJSON(t, ny)) {
		t.Fatalf("raw batches %s, %s", raws[0], raws[1])
	}
	twice, _ := json.Marshal([]Batch{ca, ca})
	for name, c := range map[string]struct {
		data     string
		maxVotes int
		want     string
	}{
		"over the bound in all": {string(data), 4, "more than 4 votes in all"},
		"a state twice":         {string(twice), 10, "both of state CA"},
		"empty":                 {`[]`, 10, "no batch"},
		"not an array":          {string(testBatchJSON(t, ca)), 10, "decode batches"},
		"trailing data":         {string(data) + `[]`, 10, "trailing data"},
		"a bad batch":           {`[{"state":"CA","seq":1,"votes":[],"root":"","tallies":{}}]`, 10, "batch 0"},
	} {
		if _, _, err := DecodeBatches([]byte(c.data), c.maxVotes); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", name, err, c.want)
		}
	}
}

func TestBatchEvents(t *testing.T) {
	a := BatchRecord{State: "CA", Seq: 1, Counted: 2, Rejected: []int{}, Reasons: []string{}}
	b := BatchRecord{State: "NY", Seq: 3, Counted: 1, Rejected: []int{0}, Reasons: []string{RejectDuplicate}}
	one, _ := json.Marshal(a.Event())
	many, _ := json.Marshal(BatchesEvent([]BatchRecord{a, b}))
	evs, ok, err := BatchEvents(EventBatchCommitted, one)
	if !ok || err != nil || len(evs) != 1 || evs[0].State != "CA" || evs[0].Counted != 2 {
		t.Fatalf("%s: %+v %t %v", EventBatchCommitted, evs, ok, err)
	}
	evs, ok, err = BatchEvents(EventBatchesCommitted, many)
	if !ok || err != nil || len(evs) != 2 || evs[1].State != "NY" || evs[1].Reasons[0] != RejectDuplicate {
		t.Fatalf("%s: %+v %t %v", EventBatchesCommitted, evs, ok, err)
	}
	if _, ok, _ := BatchEvents("Other", one); ok {
		t.Fatal("another event taken for a batch event")
	}
	if _, ok, err := BatchEvents(EventBatchesCommitted, one); !ok || err == nil {
		t.Fatalf("a single event's payload under %s: %t %v, want an error", EventBatchesCommitted, ok, err)
	}
}
