package ballot

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// scanAgrees checks that scanBatch, if it accepts data, gives what
// encoding/json (DecodeStrict) gives; it reports whether scanBatch
// accepted.
func scanAgrees(t *testing.T, data []byte) bool {
	t.Helper()
	got, ok := scanBatch(data)
	if !ok {
		return false
	}
	var want batchJSON
	if err := DecodeStrict(data, &want); err != nil {
		t.Fatalf("scanBatch accepted %q, which encoding/json refuses: %v", data, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("scanBatch read %q as %+v; encoding/json as %+v", data, got, want)
	}
	return true
}

// TestScanBatchAgreesWithEncodingJSON: scanBatch reads every batch
// MarshalJSON writes, as encoding/json reads it, and leaves every other
// form (white space, escapes, other key spellings or order, duplicate
// keys, numbers out of range or with leading zeros, trailing data) to
// encoding/json.
func TestScanBatchAgreesWithEncodingJSON(t *testing.T) {
	one, _ := BuildBatch("CA", 7, testVotes("CA", 1))
	many, _ := BuildBatch("NY", 1<<63, testVotes("NY", 40))
	many.Votes[3].CastAt, many.Votes[4].CastAt = -1, 0
	for _, b := range []Batch{one, many,
		{State: "TX", Seq: 0, Votes: []Vote{}, Root: "x"},                                           // no votes, nil tallies
		{State: "TX", Seq: 18446744073709551615, Root: "x", Tallies: Tally{}},                       // the largest seq, empty tallies
		{State: "TX", Seq: 2, Root: "x", Tallies: Tally{"p": {}, "q": {"a": 18446744073709551615}}}, // empty counts, the largest count
	} {
		data, err := b.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !scanAgrees(t, data) {
			t.Errorf("scanBatch left MarshalJSON's %q to encoding/json", data)
		}
		arr := []byte("[" + string(data) + "," + string(data) + "]")
		ws, raws, ok := scanBatches(arr)
		if !ok || len(ws) != 2 || string(raws[0]) != string(data) || string(raws[1]) != string(data) {
			t.Errorf("scanBatches of two batches: ok %v, %d batches, raws %q", ok, len(ws), raws)
		}
	}
	good, _ := many.MarshalJSON()
	g := string(good)
	for name, data := range map[string]string{
		"space after {":     strings.Replace(g, `{"state"`, `{ "state"`, 1),
		"trailing newline":  g + "\n",
		"trailing data":     g + "{}",
		"escaped choice":    strings.Replace(g, `"choice":["`, `"choice":["\u0061`, 1),
		"upper-case key":    strings.Replace(g, `"state"`, `"State"`, 1),
		"keys reordered":    `{"seq":1,` + strings.Replace(g[1:], `,"seq":1`, "", 1),
		"duplicate contest": `{"state":"TX","seq":1,"votes":{"id":[],"contest":[],"nullifier":[],"choice":[],"cast_at":[]},"root":"x","tallies":{"p":{"a":1},"p":{"b":2}}}`,
		"duplicate choice":  `{"state":"TX","seq":1,"votes":{"id":[],"contest":[],"nullifier":[],"choice":[],"cast_at":[]},"root":"x","tallies":{"p":{"a":1,"a":2}}}`,
		"null column":       `{"state":"TX","seq":1,"votes":{"id":null,"contest":[],"nullifier":[],"choice":[],"cast_at":[]},"root":"x","tallies":null}`,
		"seq leading zero":  `{"state":"TX","seq":01,"votes":{"id":[],"contest":[],"nullifier":[],"choice":[],"cast_at":[]},"root":"x","tallies":null}`,
		"seq overflow":      `{"state":"TX","seq":18446744073709551616,"votes":{"id":[],"contest":[],"nullifier":[],"choice":[],"cast_at":[]},"root":"x","tallies":null}`,
		"cast_at overflow":  `{"state":"TX","seq":1,"votes":{"id":[],"contest":[],"nullifier":[],"choice":[],"cast_at":[9223372036854775808]},"root":"x","tallies":null}`,
		"cast_at fraction":  `{"state":"TX","seq":1,"votes":{"id":[],"contest":[],"nullifier":[],"choice":[],"cast_at":[1.5]},"root":"x","tallies":null}`,
		"unknown field":     `{"state":"TX","seq":1,"votes":{"id":[],"contest":[],"nullifier":[],"choice":[],"cast_at":[]},"root":"x","tallies":null,"x":1}`,
		"non-ASCII state":   `{"state":"TÉ","seq":1,"votes":{"id":[],"contest":[],"nullifier":[],"choice":[],"cast_at":[]},"root":"x","tallies":null}`,
		"truncated":         g[:len(g)-1],
		"trailing comma":    `{"state":"TX","seq":1,"votes":{"id":["a",],"contest":[],"nullifier":[],"choice":[],"cast_at":[]},"root":"x","tallies":null}`,
		"empty":             ``,
	} {
		if scanAgrees(t, []byte(data)) {
			t.Errorf("%s: scanBatch accepted %q; it must leave it to encoding/json", name, data)
		}
	}
	// The smallest int64 is read as encoding/json reads it.
	if !scanAgrees(t, []byte(`{"state":"TX","seq":1,"votes":{"id":[],"contest":[],"nullifier":[],"choice":[],"cast_at":[-9223372036854775808,-0]},"root":"x","tallies":null}`)) {
		t.Error("scanBatch left the smallest cast_at to encoding/json")
	}
	// DecodeBatches reads an array with white space as before.
	spaced := "[ " + g + " ]"
	if _, _, ok := scanBatches([]byte(spaced)); ok {
		t.Error("scanBatches accepted white space")
	}
	bs, raws, err := DecodeBatches([]byte(spaced), 100)
	if err != nil || len(bs) != 1 || string(raws[0]) != g || !reflect.DeepEqual(bs[0], many) {
		t.Errorf("DecodeBatches of a spaced array: %v, %d batches", err, len(bs))
	}
}

// FuzzScanBatch: whatever scanBatch accepts, encoding/json reads the same.
func FuzzScanBatch(f *testing.F) {
	b, _ := BuildBatch("CA", 7, testVotes("CA", 3))
	good, _ := json.Marshal(b)
	f.Add(good)
	f.Add([]byte(`{"state":"TX","seq":1,"votes":{"id":[],"contest":[],"nullifier":[],"choice":[],"cast_at":[-0]},"root":"x","tallies":{"p":{"a":1}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		scanAgrees(t, data)
	})
}
