package ballot

import (
	"math"
	"testing"
)

func TestKeyLayout(t *testing.T) {
	tests := []struct{ got, want string }{
		{ElectionKey, "\x00election\x00"},
		{BatchKey("CA", 42), "\x00batch\x00CA\x0000000000000000000042\x00"},
		{BatchKey("NY", math.MaxUint64), "\x00batch\x00NY\x0018446744073709551615\x00"},
		{NullifierKey("CA", "ab"), "\x00nullifier\x00CA\x00ab\x00"},
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

func TestSplitKey(t *testing.T) {
	obj, attrs, err := SplitKey(NullifierKey("CA", "ff"))
	if err != nil || obj != NullifierObject || len(attrs) != 2 || attrs[0] != "CA" || attrs[1] != "ff" {
		t.Fatalf("SplitKey = %q %q %v", obj, attrs, err)
	}
	obj, attrs, err = SplitKey(ElectionKey)
	if err != nil || obj != "election" || len(attrs) != 0 {
		t.Fatalf("SplitKey(ElectionKey) = %q %q %v", obj, attrs, err)
	}
}
