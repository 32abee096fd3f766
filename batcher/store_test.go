package batcher

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// TestJournalEntryEncode: a journal entry's encoding is byte for byte
// json.Marshal's, decodes back to the entry, and refuses a batch whose
// votes its JSON cannot carry.
func TestJournalEntryEncode(t *testing.T) {
	r := newShareRig(t, Config{Partitions: []string{"CA"}})
	j := journalEntry{Batch: r.batch("CA", 7, 3), StreamIDs: []string{"1-0", "1-1", "2-0"}}
	got, err := j.encode()
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encode\n%s\nwant\n%s", got, want)
	}
	var back journalEntry
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, j) {
		t.Fatalf("decoded %+v, want %+v", back, j)
	}
	j.Batch.Votes[1].State = "TX"
	if _, err := j.encode(); err == nil {
		t.Fatal("a vote of another state was encoded")
	}
}
