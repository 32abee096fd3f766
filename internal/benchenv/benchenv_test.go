package benchenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"testing"
	"time"
)

// fatalTB records the first Fatalf instead of stopping the test.
type fatalTB struct{ msg string }

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	if f.msg == "" {
		f.msg = fmt.Sprintf(format, args...)
	}
}

func TestInt(t *testing.T) {
	const name = "VOTECHAIN_BENCHENV_TEST"
	for _, c := range []struct {
		value     string
		min, want int
		fatal     string
	}{
		{"", 1, 7, ""},
		{"12", 1, 12, ""},
		{"0", 0, 0, ""},
		{"0", 1, 0, `VOTECHAIN_BENCHENV_TEST="0": want a whole number ≥ 1`},
		{"-3", 0, 0, `VOTECHAIN_BENCHENV_TEST="-3": want a whole number ≥ 0`},
		{"2k", 0, 0, `VOTECHAIN_BENCHENV_TEST="2k": want a whole number ≥ 0`},
	} {
		t.Setenv(name, c.value)
		tb := &fatalTB{}
		got := Int(tb, name, 7, c.min)
		if tb.msg != c.fatal || (c.fatal == "" && got != c.want) {
			t.Errorf("%s=%q min %d: %d, fatal %q; want %d, fatal %q", name, c.value, c.min, got, tb.msg, c.want, c.fatal)
		}
	}
}

func TestDuration(t *testing.T) {
	const name = "VOTECHAIN_BENCHENV_TEST"
	for _, c := range []struct {
		value string
		want  time.Duration
		fatal bool
	}{{"", 40 * time.Second, false}, {"1m30s", 90 * time.Second, false}, {"0s", 0, true}, {"40", 0, true}} {
		t.Setenv(name, c.value)
		tb := &fatalTB{}
		got := Duration(tb, name, 40*time.Second)
		if (tb.msg != "") != c.fatal || (!c.fatal && got != c.want) {
			t.Errorf("%s=%q: %v, fatal %q; want %v, fatal %v", name, c.value, got, tb.msg, c.want, c.fatal)
		}
	}
}

func ExampleInt() {
	// A benchmark's drive: DRAIN_VOTES votes, 200,000 unless set; a value
	// below 1 stops the benchmark saying what it wants.
	os.Setenv("DRAIN_VOTES", "50000")
	defer os.Unsetenv("DRAIN_VOTES")
	var b fatalTB // a *testing.B in a benchmark
	fmt.Println(Int(&b, "DRAIN_VOTES", 200_000, 1))
	// Output: 50000
}

func TestCPUTimeGrowsWithWork(t *testing.T) {
	// Busy work until CPUTime has grown by 10 ms: on a loaded machine the
	// work may take far longer than 10 ms of wall time (the process waits
	// for a core), so only a CPUTime that does not grow fails, at the
	// 30 s bound.
	began := CPUTime(t)
	x := uint64(1)
	for deadline := time.Now().Add(30 * time.Second); CPUTime(t)-began < 10*time.Millisecond; {
		for range 100_000 {
			x = x*6364136223846793005 + 1
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s of busy work used %v of CPU (x=%d)", CPUTime(t)-began, x)
		}
	}
}

func TestCopyFile(t *testing.T) {
	dir := t.TempDir()
	src, dst := dir+"/src", dir+"/dst"
	if err := os.WriteFile(dst, []byte("an older, longer content"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, []byte("fixture"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CopyFile(dst, src); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dst); err != nil || string(got) != "fixture" {
		t.Errorf("dst holds %q (%v), want %q", got, err, "fixture")
	}
	if err := CopyFile(dst, dir+"/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("copying a missing file: %v, want fs.ErrNotExist", err)
	}
}
