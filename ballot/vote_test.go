package ballot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// testContest is the contest of the votes testVote makes.
const testContest = "president"

// testVote returns a valid vote of state for choice in testContest whose id
// and nullifier derive from i.
func testVote(state string, i int, choice string) Vote {
	n := sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(i >> 16), 'n'})
	id := sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(i >> 16), 'i'})
	return Vote{ID: hex.EncodeToString(id[:16]), State: state, Contest: testContest, Nullifier: HashHex(n), Choice: choice,
		CastAt: testOpens.UnixMilli() + int64(i)}
}

func TestVoteEncodeGolden(t *testing.T) {
	v := Vote{ID: strings.Repeat("0", 31) + "1", State: "CA", Contest: "L-1", Nullifier: strings.Repeat("ab", 32), Choice: "yes", CastAt: 258}
	var want []byte
	want = append(want, 2)                      // version
	want = append(want, 0, 32)                  // id length
	want = append(want, v.ID...)                //
	want = append(want, 0, 2, 'C', 'A')         // state
	want = append(want, 0, 3, 'L', '-', '1')    // contest
	want = append(want, 0, 64)                  // nullifier length
	want = append(want, v.Nullifier...)         //
	want = append(want, 0, 3, 'y', 'e', 's')    // choice
	want = append(want, 0, 0, 0, 0, 0, 0, 1, 2) // cast_at 258
	got, err := v.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode =\n%x\nwant\n%x", got, want)
	}
	leaf, err := v.Leaf()
	if err != nil {
		t.Fatal(err)
	}
	if wantLeaf := sha256.Sum256(append([]byte{0}, want...)); leaf != wantLeaf {
		t.Fatalf("Leaf = %x, want %x", leaf, wantLeaf)
	}
}

// TestVoteEncodingDocExample pins the vote docs/ledger.md encodes byte by
// byte (its nullifier is voter V123's for president, TestNullifierKnownAnswer):
// the 131 bytes and the leaf, which is also the root of its one-vote batch.
// Both were computed independently of this package.
func TestVoteEncodingDocExample(t *testing.T) {
	v := Vote{ID: "0123456789abcdef0123456789abcdef", State: "CA", Contest: "president",
		Nullifier: nullifierKAT["president"], Choice: "alice", CastAt: 1_764_460_800_000}
	const wantHex = "0200203031323334353637383961626364656630313233343536373839616263646566000243410009707265736964656e74" + // version, id, state, contest
		"004061326164363337373735643564633732316166643637363138373638326434313438393733646564633534383138323035303661383831363462616236643730" + // nullifier
		"0005616c6963650000019ad20f2800" // choice, cast_at
	enc, err := v.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(enc); got != wantHex || len(enc) != 131 {
		t.Fatalf("Encode = %s (%d bytes), want %s", got, len(enc), wantHex)
	}
	b, err := BuildBatch("CA", 7, []Vote{v})
	if err != nil {
		t.Fatal(err)
	}
	if want := "42cfadb9be0b396a0efeb8457f28276df66e7ea28894666f171f863460a6d303"; b.Root != want {
		t.Fatalf("leaf and root %s, want %s", b.Root, want)
	}
}

func TestVoteRoundTripAndNegativeTime(t *testing.T) {
	for _, v := range []Vote{testVote("CA", 1, "alice"), {ID: strings.Repeat("f", 32), State: "ZZ99", Contest: strings.Repeat("c", 64), Nullifier: strings.Repeat("0", 64), Choice: "x", CastAt: -1}} {
		enc, err := v.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeVote(enc)
		if err != nil || got != v {
			t.Fatalf("DecodeVote(Encode(%+v)) = %+v, %v", v, got, err)
		}
	}
}

func TestVoteValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Vote)
		errHas string
	}{
		{"bad id", func(v *Vote) { v.ID = "x" }, "vote id"},
		{"bad state", func(v *Vote) { v.State = "C" }, "state"},
		{"bad nullifier", func(v *Vote) { v.Nullifier = strings.Repeat("A", 64) }, "nullifier"},
		{"no contest", func(v *Vote) { v.Contest = "" }, "contest"},
		{"bad contest", func(v *Vote) { v.Contest = "a/b" }, "contest"},
		{"bad choice", func(v *Vote) { v.Choice = "" }, "choice"},
	}
	for _, tt := range tests {
		v := testVote("CA", 1, "alice")
		tt.change(&v)
		if err := v.Validate(); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%s: Validate() = %v, want error mentioning %q", tt.name, err, tt.errHas)
		}
		if _, err := v.Encode(); err == nil {
			t.Errorf("%s: Encode accepted an invalid vote", tt.name)
		}
		if _, err := v.Leaf(); err == nil {
			t.Errorf("%s: Leaf accepted an invalid vote", tt.name)
		}
	}
}

func TestDecodeVoteRefuses(t *testing.T) {
	good, _ := testVote("CA", 1, "alice").Encode()
	bad := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name   string
		in     []byte
		errHas string
	}{
		{"empty", nil, "empty"},
		{"version 1", bad(func(b []byte) []byte { b[0] = 1; return b }), "version"},
		{"version 3", bad(func(b []byte) []byte { b[0] = 3; return b }), "version"},
		{"version only", good[:1], "truncated"},
		{"short field", good[:10], "wants"},
		{"no time", good[:len(good)-8], "cast_at"},
		{"short time", good[:len(good)-1], "cast_at"},
		{"trailing", append(bytes.Clone(good), 0), "cast_at"},
		{"uppercase id", bad(func(b []byte) []byte { b[3] = 'A'; return b }), "vote id"},
	}
	for _, tt := range tests {
		if _, err := DecodeVote(tt.in); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%s: DecodeVote = %v, want error mentioning %q", tt.name, err, tt.errHas)
		}
	}
}

func TestLeavesReportsBadVote(t *testing.T) {
	votes := []Vote{testVote("CA", 1, "a"), {}}
	if _, err := Leaves(votes); err == nil || !strings.Contains(err.Error(), "vote 1") {
		t.Fatalf("Leaves = %v, want error naming vote 1", err)
	}
}

// FuzzDecodeVote: DecodeVote never panics, and whatever it accepts encodes
// back to exactly the input (the encoding is canonical).
func FuzzDecodeVote(f *testing.F) {
	good, _ := testVote("CA", 1, "alice").Encode()
	f.Add(good)
	f.Add([]byte{2, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeVote(b)
		if err != nil {
			return
		}
		enc, err := v.Encode()
		if err != nil {
			t.Fatalf("decoded vote does not encode: %v", err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("round trip changed bytes:\n%x\n%x", b, enc)
		}
	})
}
