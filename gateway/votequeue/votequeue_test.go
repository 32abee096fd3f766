package votequeue

import (
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
)

func TestKeysShareTheHashTag(t *testing.T) {
	roll, err := NewRoll("CA", 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{StreamKey("CA"), BloomKey("CA"), BloomParamsKey("CA"),
		roll.Key([]byte{0xff, 0, 0}), RollShardsKey("CA"), DupesKey("CA"), ReviewKey("CA"), BatchesKey("CA")} {
		if strings.Count(k, "{CA}") != 1 || strings.Index(k, "{") != strings.Index(k, "{CA}") {
			t.Errorf("key %q does not carry exactly the hash tag {CA} first", k)
		}
	}
}

func TestFieldsDecodeRoundTrip(t *testing.T) {
	v := ballot.Vote{ID: strings.Repeat("0f", 16), State: "CA", Nullifier: strings.Repeat("ab", 32), Contest: "race", Choice: "alice", CastAt: 1700000000123}
	f := Fields(v)
	values := map[string]any{}
	for i := 0; i < len(f); i += 2 {
		values[f[i]] = f[i+1]
	}
	got, err := Decode(values)
	if err != nil || got != v {
		t.Fatalf("Decode(Fields(v)) = %+v, %v; want %+v", got, err, v)
	}
	for _, mutate := range []func(map[string]any){
		func(m map[string]any) { delete(m, FieldChoice) },
		func(m map[string]any) { delete(m, FieldContest) },
		func(m map[string]any) { m[FieldVersion] = "1" },
		func(m map[string]any) { m[FieldCastAt] = "soon" },
		func(m map[string]any) { m[FieldNullifier] = "xyz" },
		func(m map[string]any) { m[FieldVoteID] = 7 },
	} {
		bad := map[string]any{}
		for k, x := range values {
			bad[k] = x
		}
		mutate(bad)
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%v) accepted a malformed entry", bad)
		}
	}
}

// The one-field form the gateway writes (Entry) decodes to the vote; a
// malformed one is refused.
func TestDecodeOneFieldEntry(t *testing.T) {
	v := ballot.Vote{ID: strings.Repeat("0f", 16), State: "CA", Nullifier: strings.Repeat("ab", 32), Contest: "race", Choice: "alice", CastAt: 1700000000123}
	fv, err := Entry(v)
	if err != nil {
		t.Fatal(err)
	}
	if len(fv) != 2 || fv[0] != "CA" {
		t.Fatalf("Entry = %q; want the state as its one field", fv)
	}
	entry := func() map[string]any { return map[string]any{fv[0]: fv[1]} }
	if got, err := Decode(entry()); err != nil || got != v {
		t.Fatalf("Decode(one field) = %+v, %v; want %+v", got, err, v)
	}
	for _, bad := range []map[string]any{
		{"CA": fv[1][:len(fv[1])-1]}, // truncated
		{"ca": fv[1]},                // not a state
		{"CA": "\x02" + fv[1][1:]},   // not a compact entry's tag
		{"CA": ""},
		{FieldVersion: Version},
	} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%q) accepted a malformed one-field entry", bad)
		}
	}
}

// The compact form the gateway writes decodes to the vote; a malformed one
// is refused.
func TestDecodeCompactEntry(t *testing.T) {
	v := ballot.Vote{ID: strings.Repeat("0f", 16), State: "CA", Nullifier: strings.Repeat("ab", 32), Contest: "race", Choice: "alice", CastAt: 1700000000123}
	e, err := AppendLogEntry(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	entry := func() map[string]any {
		return map[string]any{FieldVersion: Version, FieldState: "CA", FieldEntry: string(e)}
	}
	if got, err := Decode(entry()); err != nil || got != v {
		t.Fatalf("Decode(compact) = %+v, %v; want %+v", got, err, v)
	}
	for _, mutate := range []func(map[string]any){
		func(m map[string]any) { m[FieldEntry] = string(e[:len(e)-1]) },
		func(m map[string]any) { m[FieldState] = "ca" },
		func(m map[string]any) { delete(m, FieldState) },
		func(m map[string]any) { m[FieldChoice] = "bob" },
	} {
		bad := entry()
		mutate(bad)
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%q) accepted a malformed compact entry", bad)
		}
	}
}

// TestValidPartition: a state code or a state's sub-shard "S#n" (n decimal,
// no sign, no leading zero) is a partition; anything else is not.
func TestValidPartition(t *testing.T) {
	for p, want := range map[string]bool{
		"CA": true, "DC": true, "ABCDEFGH": true, "CA#0": true, "CA#3": true, "TX#12": true,
		"": false, "C": false, "ca": false, "ABCDEFGHI": false, "C A": false, "CA#": false, "#3": false,
		"CA#x": false, "CA#-1": false, "CA#+1": false, "CA#03": false, "CA#3#4": false, "ca#3": false,
	} {
		if got := ValidPartition(p); got != want {
			t.Errorf("ValidPartition(%q) = %v, want %v", p, got, want)
		}
	}
}
