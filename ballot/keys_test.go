package ballot

import (
	"crypto/sha256"
	"math"
	"strings"
	"testing"
)

func TestKeyLayout(t *testing.T) {
	tests := []struct{ got, want string }{
		{ElectionKey, "\x00election\x00"},
		{BatchKey("CA", 42), "\x00batch\x00CA\x0000000000000000000042\x00"},
		{BatchKey("NY", math.MaxUint64), "\x00batch\x00NY\x0018446744073709551615\x00"},
		{NullifierKey("CA", "ab"), "\x00n\x00CA\x00ab\x00"},
		{NullifierKey("CA", strings.Repeat("0", 62)+"ff"), "\x00n\x00CA\x00" + strings.Repeat("A", 41) + "P8\x00"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("key %q, want %q", tt.got, tt.want)
		}
	}
	if !(BatchKey("CA", 9) < BatchKey("CA", 10)) {
		t.Error("batch keys do not sort in seq order")
	}
}

func TestParseBatchKey(t *testing.T) {
	state, seq, err := ParseBatchKey(BatchKey("TX", 7))
	if err != nil || state != "TX" || seq != 7 {
		t.Fatalf("ParseBatchKey = %q, %d, %v", state, seq, err)
	}
	for _, bad := range []string{"", "batch", "\x00", NullifierKey("CA", "x"), "\x00batch\x00CA\x00", "\x00batch\x00CA\x00000000000000000000zz\x00"} {
		if _, _, err := ParseBatchKey(bad); err == nil {
			t.Errorf("ParseBatchKey(%q) accepted", bad)
		}
	}
}

// TestInBatchRange: every key of object "batch" is in the range, however
// malformed its attributes (a range read of the batches returns it); no
// other object's key is.
func TestInBatchRange(t *testing.T) {
	for _, key := range []string{BatchKey("CA", 1), "\x00batch\x00CA\x00", "\x00batch\x00CA\x00x\x00y\x00", "\x00batch\x00"} {
		if !InBatchRange(key) {
			t.Errorf("InBatchRange(%q) = false", key)
		}
	}
	for _, key := range []string{"", "batch", "\x00batches\x00CA\x00", "\x00batc\x00", ElectionKey, NullifierKey("CA", "ab"), RollSealKey, LogKeysKey} {
		if InBatchRange(key) {
			t.Errorf("InBatchRange(%q) = true", key)
		}
	}
}

func TestSplitKey(t *testing.T) {
	obj, attrs, err := SplitKey(NullifierKey("CA", "ff"))
	if err != nil || obj != NullifierObject || len(attrs) != 2 || attrs[0] != "CA" || attrs[1] != "ff" {
		t.Fatalf("SplitKey = %q %q %v", obj, attrs, err)
	}
	if obj, _, _ := SplitKey(NullifierKey("CA", HashHex(sha256.Sum256([]byte("v"))))); obj != NullifierObject {
		t.Fatalf("object of a nullifier key: %q", obj)
	}
	obj, attrs, err = SplitKey(ElectionKey)
	if err != nil || obj != "election" || len(attrs) != 0 {
		t.Fatalf("SplitKey(ElectionKey) = %q %q %v", obj, attrs, err)
	}
}

func TestParseNullifierKey(t *testing.T) {
	n := HashHex(sha256.Sum256([]byte("voter")))
	key := NullifierKey("NY", n)
	if len(key) != 50 {
		t.Errorf("nullifier key of a two-letter state is %d bytes, want 50", len(key))
	}
	state, got, ok := ParseNullifierKey(key)
	if !ok || state != "NY" || got != n {
		t.Fatalf("ParseNullifierKey = %q %q %v, want NY %s", state, got, ok, n)
	}
	if state, got, ok := ParseNullifierKey(NullifierKey("CA", "ab")); !ok || state != "CA" || got != "ab" {
		t.Errorf("ParseNullifierKey of a raw attribute = %q %q %v", state, got, ok)
	}
	for _, bad := range []string{"", ElectionKey, BatchKey("CA", 1), "\x00n\x00CA\x00", "\x00n\x00CA\x00a\x00b\x00"} {
		if _, _, ok := ParseNullifierKey(bad); ok {
			t.Errorf("ParseNullifierKey(%q) accepted", bad)
		}
	}
}

// TestInNullifierRange: every key of object "n" is in the range, however
// malformed its attributes (ListNullifiers' range read returns it); no
// other object's key is.
func TestInNullifierRange(t *testing.T) {
	for _, key := range []string{NullifierKey("CA", strings.Repeat("ab", 32)), NullifierKey("CA", "x"), "\x00n\x00CA\x00", "\x00n\x00"} {
		if !InNullifierRange(key) {
			t.Errorf("InNullifierRange(%q) = false", key)
		}
	}
	for _, key := range []string{"", "n", "\x00nn\x00CA\x00", "\x00\x00", ElectionKey, BatchKey("CA", 1), RollSealKey, RollChunkKey(0), LogKeysKey} {
		if InNullifierRange(key) {
			t.Errorf("InNullifierRange(%q) = true", key)
		}
	}
}

// TestAppendNullifierKey: the key is appended after what the buffer holds,
// as NullifierKey gives it, for an encoded nullifier and for one kept as
// it is.
func TestAppendNullifierKey(t *testing.T) {
	for _, n := range []string{strings.Repeat("0f", 32), "ab", strings.Repeat("0F", 32)} {
		if got, want := string(AppendNullifierKey([]byte("x"), "NY", n)), "x"+NullifierKey("NY", n); got != want {
			t.Errorf("AppendNullifierKey(%q) = %q, want %q", n, got, want)
		}
	}
	if got, want := NullifierKey("NY", strings.Repeat("0F", 32)), "\x00n\x00NY\x00"+strings.Repeat("0F", 32)+"\x00"; got != want {
		t.Errorf("an uppercase nullifier's key %q, want it kept as it is: %q", got, want)
	}
}
