package ballot

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func testNullifierRecord() NullifierRecord {
	return NullifierRecord{State: "CA", Contest: "president", Seq: 1<<40 + 7, Index: MaxBatchVotes - 1, VoteID: strings.Repeat("0f", 16)}
}

// TestNullifierRecordValue: the stored value round-trips, leaves the state
// to the key, is far smaller than the JSON the query answers, and never
// looks like a roll mark.
func TestNullifierRecordValue(t *testing.T) {
	r := testNullifierRecord()
	v, err := r.Value()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeNullifierRecord("CA", v)
	if err != nil || got != r {
		t.Fatalf("DecodeNullifierRecord(Value()) = %+v, %v; want %+v", got, err, r)
	}
	if bytes.Contains(v, []byte(r.State)) {
		t.Errorf("value %q repeats the state its key holds", v)
	}
	js, _ := json.Marshal(r)
	if len(v) != nullifierRecordFixed+len(r.Contest) || 2*len(v) > len(js) {
		t.Errorf("value is %d bytes (JSON %d); want %d", len(v), len(js), nullifierRecordFixed+len(r.Contest))
	}
	if _, mark := ParseRollMark(v); mark {
		t.Error("a record parses as a roll mark")
	}
	if _, err := DecodeNullifierRecord("CA", RollMark("president")); err == nil {
		t.Error("a roll mark decodes as a record")
	}
}

// TestNullifierRecordStrict: what Value refuses to write, and values it
// never writes, do not decode.
func TestNullifierRecordStrict(t *testing.T) {
	for name, mut := range map[string]func(*NullifierRecord){
		"state":       func(r *NullifierRecord) { r.State = "ca" },
		"contest":     func(r *NullifierRecord) { r.Contest = "pres ident" },
		"no contest":  func(r *NullifierRecord) { r.Contest = "" },
		"index":       func(r *NullifierRecord) { r.Index = MaxBatchVotes },
		"minus index": func(r *NullifierRecord) { r.Index = -1 },
		"vote id":     func(r *NullifierRecord) { r.VoteID = strings.Repeat("0F", 16) },
	} {
		r := testNullifierRecord()
		mut(&r)
		if v, err := r.Value(); err == nil {
			t.Errorf("%s: Value() = %x, want an error", name, v)
		}
	}
	good, _ := testNullifierRecord().Value()
	js, _ := json.Marshal(testNullifierRecord())
	bigIndex := bytes.Clone(good)
	bigIndex[9], bigIndex[10] = 0xff, 0xff
	badContest := append(bytes.Clone(good), '/')
	for name, v := range map[string][]byte{
		"empty":       nil,
		"json":        js,
		"version":     append([]byte{2}, good[1:]...),
		"no contest":  good[:nullifierRecordFixed],
		"short":       good[:5],
		"index":       bigIndex,
		"bad contest": badContest,
	} {
		if r, err := DecodeNullifierRecord("CA", v); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, r)
		}
	}
	if _, err := DecodeNullifierRecord("ca", good); err == nil {
		t.Error("decoded under an invalid state")
	}
}

func FuzzDecodeNullifierRecord(f *testing.F) {
	good, _ := testNullifierRecord().Value()
	f.Add(good)
	f.Add([]byte("roll/president"))
	f.Fuzz(func(t *testing.T, v []byte) {
		r, err := DecodeNullifierRecord("CA", v)
		if err != nil {
			return
		}
		again, err := r.Value()
		if err != nil || !bytes.Equal(again, v) {
			t.Fatalf("%x decodes to %+v, which encodes to %x, %v", v, r, again, err)
		}
	})
}

// TestNullifierRecordAppendValue: AppendValue appends Value after what the
// buffer holds, and refuses what Value refuses.
func TestNullifierRecordAppendValue(t *testing.T) {
	r := testNullifierRecord()
	want, err := r.Value()
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.AppendValue([]byte("prefix"))
	if err != nil || string(got) != "prefix"+string(want) {
		t.Fatalf("AppendValue = %q, %v; want %q", got, err, "prefix"+string(want))
	}
	r.VoteID = strings.Repeat("0F", 16)
	if got, err := r.AppendValue([]byte("prefix")); err == nil {
		t.Fatalf("AppendValue of an uppercase vote id = %q, no error", got)
	}
}
