package bloom

import (
	"math"
	"testing"
)

func TestForCapacity(t *testing.T) {
	// 50 M voters at 0.01% is about 120 MB in one filter.
	p, err := ForCapacity(50_000_000, 0.0001)
	if err != nil {
		t.Fatal(err)
	}
	if mb := float64(p.Bytes()) / 1e6; mb < 110 || mb > 130 || p.Hashes != 13 {
		t.Fatalf("50M at 0.01%%: %s = %.0f MB; want about 120 MB and 13 hashes", p, mb)
	}
	if got := p.FalsePositiveRate(p.ExpectedFill(50_000_000)); math.Abs(got-0.0001)/0.0001 > 0.1 {
		t.Fatalf("predicted rate at capacity %v; want about 0.0001", got)
	}
	for _, bad := range []float64{0, 1, -1, math.NaN()} {
		if _, err := ForCapacity(10, bad); err == nil {
			t.Errorf("rate %v accepted", bad)
		}
	}
	if _, err := ForCapacity(1<<40, 0.0001); err == nil {
		t.Error("a filter larger than a Redis string was accepted")
	}
}

func TestParamsRoundTrip(t *testing.T) {
	p := Params{Bits: 958506, Hashes: 7}
	got, err := ParseParams(p.String())
	if err != nil || got != p {
		t.Fatalf("ParseParams(%q) = %v, %v", p.String(), got, err)
	}
	for _, bad := range []string{"", "12", "x,3", "12,y", "0,3", "12,0", "12,99"} {
		if _, err := ParseParams(bad); err == nil {
			t.Errorf("ParseParams(%q) accepted", bad)
		}
	}
}

func TestPositionsInRangeAndStable(t *testing.T) {
	p := Params{Bits: 1000, Hashes: 5}
	a := p.Positions(nil, []byte("key"))
	b := p.Positions(nil, []byte("key"))
	if len(a) != 5 {
		t.Fatalf("%d positions; want 5", len(a))
	}
	for i := range a {
		if a[i] != b[i] || a[i] >= p.Bits {
			t.Fatalf("positions %v then %v; want equal and below %d", a, b, p.Bits)
		}
	}
	bitmap := make([]byte, p.Bytes())
	for _, pos := range a {
		bitmap[pos/8] |= 0x80 >> (pos % 8)
	}
	if !p.Test(bitmap, []byte("key")) {
		t.Fatal("key tests negative after its bits were set")
	}
	if p.Test(bitmap[:0], []byte("key")) {
		t.Fatal("key tests positive against an empty bitmap")
	}
}

func BenchmarkPositions(b *testing.B) {
	p, _ := ForCapacity(50_000_000, 0.0001)
	key := make([]byte, 32)
	buf := make([]uint64, 0, MaxHashes)
	for b.Loop() {
		buf = p.Positions(buf[:0], key)
	}
}
