package aofrewrite_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/aofrewrite"
)

const mib = 1 << 20

var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

// testPolicy: quiet under 64 KiB/s for 60 s; rewrite once the incremental
// part reaches max(64 MiB, 50% of the base).
var testPolicy = aofrewrite.Policy{QuietRate: 64 << 10, Window: time.Minute, MinGrowth: 64 * mib, GrowthPercent: 50}

// series is a server read every step from t0, its AOF base fixed at base
// and its size at each reading given by sizes (in bytes).
func series(step time.Duration, base int64, sizes ...int64) []aofrewrite.Sample {
	var s []aofrewrite.Sample
	for i, size := range sizes {
		s = append(s, aofrewrite.Sample{At: t0.Add(time.Duration(i) * step), BaseBytes: base, CurrentBytes: size, Enabled: true, Rewrites: 3})
	}
	return s
}

// grow is sizes from start growing by per each step, n readings.
func grow(start, per int64, n int) []int64 {
	var s []int64
	for i := range n {
		s = append(s, start+int64(i)*per)
	}
	return s
}

// with returns samples with f applied to the last one.
func with(samples []aofrewrite.Sample, f func(*aofrewrite.Sample)) []aofrewrite.Sample {
	f(&samples[len(samples)-1])
	return samples
}

func TestDecide(t *testing.T) {
	const base = 400 * mib               // threshold: 200 MiB
	idle := grow(base+300*mib, 1000, 13) // 13 readings 5 s apart: 60 s at 200 B/s
	tests := []struct {
		name    string
		samples []aofrewrite.Sample
		want    aofrewrite.Reason
		rewrite bool
	}{
		{"nothing read", nil, aofrewrite.ReasonNoSamples, false},
		{"quiet a minute, grown past half the base", series(5*time.Second, base, idle...), aofrewrite.ReasonQuiet, true},
		{"quiet 55 s only", series(5*time.Second, base, idle[:12]...), aofrewrite.ReasonShort, false},
		{"one reading only", series(5*time.Second, base, idle[0]), aofrewrite.ReasonShort, false},
		{"quiet, grown 190 MiB of 200", series(5*time.Second, base, grow(base+190*mib, 1000, 13)...), aofrewrite.ReasonSmall, false},
		{"quiet, small base: 64 MiB floor", series(5*time.Second, 10*mib, grow(10*mib+60*mib, 1000, 13)...), aofrewrite.ReasonSmall, false},
		{"quiet, small base past the floor", series(5*time.Second, 10*mib, grow(10*mib+65*mib, 1000, 13)...), aofrewrite.ReasonQuiet, true},
		{"intake at 10,000 votes/s (4.3 MB/s)", series(5*time.Second, base, grow(base+300*mib, 5*4_300_000, 13)...), aofrewrite.ReasonIntake, false},
		{"intake at 150 votes/s, just under the quiet rate", series(5*time.Second, base, grow(base+300*mib, 5*64_000, 13)...), aofrewrite.ReasonQuiet, true},
		{"intake at 160 votes/s, just over", series(5*time.Second, base, grow(base+300*mib, 5*68_000, 13)...), aofrewrite.ReasonIntake, false},
		{"a burst in the window's first interval", series(5*time.Second, base, append([]int64{base + 290*mib}, idle[1:]...)...), aofrewrite.ReasonIntake, false},
		{"a burst just before the window", series(5*time.Second, base, append([]int64{base + 290*mib}, idle...)...), aofrewrite.ReasonQuiet, true},
		{"a burst in the last interval", series(5*time.Second, base, append(idle[:12:12], idle[11]+10*mib)...), aofrewrite.ReasonIntake, false},
		{"a rewrite in progress", with(series(5*time.Second, base, idle...), func(s *aofrewrite.Sample) { s.Rewriting = true }), aofrewrite.ReasonBusy, false},
		{"an RDB save (replica sync) in progress", with(series(5*time.Second, base, idle...), func(s *aofrewrite.Sample) { s.Forked = true }), aofrewrite.ReasonBusy, false},
		{"loading after a restart", with(series(5*time.Second, base, idle...), func(s *aofrewrite.Sample) { s.Loading = true }), aofrewrite.ReasonLoading, false},
		{"AOF off", with(series(5*time.Second, base, idle...), func(s *aofrewrite.Sample) { s.Enabled = false }), aofrewrite.ReasonDisabled, false},
		{"a rewrite ended 10 s ago (the safety net's)", with(series(5*time.Second, base, idle...), func(s *aofrewrite.Sample) { s.Rewrites++ }), aofrewrite.ReasonShort, false},
		{"the AOF shrank (a restart on a rewritten file)", series(5*time.Second, base, append(idle[:12:12], idle[0]-mib)...), aofrewrite.ReasonShort, false},
		{"readings 30 s apart", series(30*time.Second, base, idle[:3]...), aofrewrite.ReasonQuiet, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := testPolicy.Decide(tc.samples)
			if d.Reason != tc.want || d.Rewrite != tc.rewrite {
				t.Errorf("Decide = %v; want %s, rewrite %v", d, tc.want, tc.rewrite)
			}
		})
	}
}

// TestDecideShared: the masters of a cluster on one machine are quiet only
// together.
func TestDecideShared(t *testing.T) {
	const base = 40 * mib // threshold: the 64 MiB floor
	at := func(bytesPerSecond int64) []aofrewrite.Sample {
		return series(5*time.Second, base, grow(base+100*mib, 5*bytesPerSecond, 13)...)
	}
	tests := []struct {
		name    string
		rates   []int64 // bytes/s of each master
		want    aofrewrite.Reason
		rewrite bool
	}{
		{"all idle", []int64{300, 800, 500}, aofrewrite.ReasonQuiet, true},
		{"each under the quiet rate, together over", []int64{30_000, 30_000, 30_000}, aofrewrite.ReasonSharedIntake, false},
		{"one busy", []int64{300, 500_000, 300}, aofrewrite.ReasonSharedIntake, false},
		{"together just under", []int64{20_000, 20_000, 25_000}, aofrewrite.ReasonQuiet, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string][]aofrewrite.Sample{}
			for i, r := range tc.rates {
				h[fmt.Sprint("m", i)] = at(r)
			}
			for addr, d := range testPolicy.DecideShared(h) {
				if addr == "m1" && tc.rates[1] > 64<<10 { // the busy one's own reason
					if d.Reason != aofrewrite.ReasonIntake || d.Rewrite {
						t.Errorf("%s: %v; want %s", addr, d, aofrewrite.ReasonIntake)
					}
					continue
				}
				if d.Reason != tc.want || d.Rewrite != tc.rewrite {
					t.Errorf("%s: %v; want %s, rewrite %v", addr, d, tc.want, tc.rewrite)
				}
			}
		})
	}
	// A master loading or rewriting keeps its own reason, and its growth
	// still counts.
	h := map[string][]aofrewrite.Sample{"m0": at(300), "m1": with(at(70_000), func(s *aofrewrite.Sample) { s.Rewriting = true })}
	ds := testPolicy.DecideShared(h)
	if ds["m1"].Reason != aofrewrite.ReasonBusy || ds["m0"].Reason != aofrewrite.ReasonSharedIntake {
		t.Errorf("DecideShared = %v; want m1 busy, m0 waiting for the sum", ds)
	}
}

// TestDecideFigures: the decision carries what the log shows.
func TestDecideFigures(t *testing.T) {
	d := testPolicy.Decide(series(5*time.Second, 400*mib, grow(700*mib, 1000, 13)...))
	if d.Growth != 300*mib+12000 || d.Threshold != 200*mib || d.Rate != 200 || d.Quiet != time.Minute {
		t.Errorf("Decide = %+v; want growth 300 MiB + 12,000 B, threshold 200 MiB, rate 200 B/s, quiet 1m", d)
	}
	d = testPolicy.Decide(series(5*time.Second, 400*mib, append(grow(700*mib, 1000, 12), 700*mib+11000+5*100_000)...))
	if d.Rate != 100_000 || d.Quiet != 0 {
		t.Errorf("Decide = %+v; want the breaking rate 100,000 B/s, quiet 0", d)
	}
}

func TestTrim(t *testing.T) {
	s := series(5*time.Second, 0, make([]int64, 20)...) // 0..95 s
	got := testPolicy.Trim(s)
	if len(got) != 13 || !got[0].At.Equal(t0.Add(35*time.Second)) {
		t.Fatalf("Trim kept %d samples from %v; want 13 from 35 s (the window back from 95 s)", len(got), got[0].At.Sub(t0))
	}
	if d := testPolicy.Decide(got); d.Quiet != time.Minute {
		t.Errorf("after Trim, quiet %v; want the whole window", d.Quiet)
	}
	if len(testPolicy.Trim(nil)) != 0 {
		t.Error("Trim(nil) not empty")
	}
}

func TestBytesFlag(t *testing.T) {
	for in, want := range map[string]int64{"65536": 65536, "64KiB": 64 << 10, "64 MiB": 64 << 20, "1GiB": 1 << 30, "100KB": 100_000, "2MB": 2_000_000, "512B": 512} {
		var b aofrewrite.Bytes
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "64k", "-1", "1.5MiB", "MiB"} {
		var b aofrewrite.Bytes
		if err := b.Set(in); err == nil {
			t.Errorf("Set(%q) accepted: %d", in, b)
		}
	}
	for b, want := range map[aofrewrite.Bytes]string{64 << 10: "64KiB", 64 << 20: "64MiB", 1 << 30: "1GiB", 1000: "1000", 0: "0"} {
		if got := b.String(); got != want {
			t.Errorf("%d.String() = %q; want %q", int64(b), got, want)
		}
	}
}

func TestParseInfo(t *testing.T) {
	info := "# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_bgsave_in_progress:0\r\naof_enabled:1\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:1\r\naof_rewrites:7\r\naof_current_size:734003200\r\naof_base_size:419430400\r\nmodule_fork_in_progress:0\r\naof_last_bgrewrite_status:err\r\n"
	s := aofrewrite.ParseInfo(info, t0)
	want := aofrewrite.Sample{At: t0, BaseBytes: 400 * mib, CurrentBytes: 700 * mib, Rewrites: 7, Enabled: true, Rewriting: true, RewriteFailed: true}
	if s != want {
		t.Errorf("ParseInfo = %+v; want %+v", s, want)
	}
	if s := aofrewrite.ParseInfo("loading:1\nrdb_bgsave_in_progress:1\naof_last_bgrewrite_status:ok\n", t0); !s.Loading || !s.Forked || s.Enabled || s.RewriteFailed || s.FailuresReported {
		t.Errorf("ParseInfo = %+v; want loading, forked, AOF off, the last rewrite ok, no count of failures reported", s)
	}
	for info, want := range map[string]int64{"aof_rewrites_consecutive_failures:3\r\n": 3, "aof_rewrites_consecutive_failures:0\r\n": 0} {
		if s := aofrewrite.ParseInfo(info, t0); !s.FailuresReported || s.RewriteFailures != want {
			t.Errorf("ParseInfo(%q) = %+v; want %d failed rewrites reported", info, s, want)
		}
	}
}

// A night of an election: the AOF read every 5 s. While votes come in the
// policy waits; once the intake has been quiet for a minute and the
// incremental part is past half the base, it rewrites.
func ExamplePolicy_Decide() {
	p := aofrewrite.DefaultPolicy() // quiet under 64 KiB/s for a minute; half the base, at least 64 MiB
	const base = 400 << 20
	var samples []aofrewrite.Sample
	size := int64(base + 150<<20)
	read := func(at time.Duration, votesPerSecond int64) {
		size += votesPerSecond * 430 * 5 // 430 bytes a vote, 5 s
		samples = p.Trim(append(samples, aofrewrite.Sample{At: t0.Add(at), BaseBytes: base, CurrentBytes: size, Enabled: true}))
	}
	for at := time.Duration(0); at <= 5*time.Minute; at += 5 * time.Second {
		votes := int64(2000) // the evening's last voters
		if at > 2*time.Minute {
			votes = 20 // the night
		}
		read(at, votes)
		if at%(30*time.Second) == 0 {
			fmt.Printf("%3.0f s: %v\n", at.Seconds(), p.Decide(samples))
		}
	}
	// (The Rewriter sends BGREWRITEAOF at 180 s; its next reading shows the
	// rewrite running, and the one after it a new base.)
	// Output:
	//   0 s: wait (below threshold): incremental 161586400 of 209715200 bytes, rate 0 B/s, quiet 0s
	//  30 s: wait (intake above quiet): incremental 187386400 of 209715200 bytes, rate 860000 B/s, quiet 0s
	//  60 s: wait (intake above quiet): incremental 213186400 of 209715200 bytes, rate 860000 B/s, quiet 0s
	//  90 s: wait (intake above quiet): incremental 238986400 of 209715200 bytes, rate 860000 B/s, quiet 0s
	// 120 s: wait (intake above quiet): incremental 264786400 of 209715200 bytes, rate 860000 B/s, quiet 0s
	// 150 s: wait (intake above quiet): incremental 265044400 of 209715200 bytes, rate 860000 B/s, quiet 30s
	// 180 s: rewrite (quiet): incremental 265302400 of 209715200 bytes, rate 8600 B/s, quiet 1m0s
	// 210 s: rewrite (quiet): incremental 265560400 of 209715200 bytes, rate 8600 B/s, quiet 1m0s
	// 240 s: rewrite (quiet): incremental 265818400 of 209715200 bytes, rate 8600 B/s, quiet 1m0s
	// 270 s: rewrite (quiet): incremental 266076400 of 209715200 bytes, rate 8600 B/s, quiet 1m0s
	// 300 s: rewrite (quiet): incremental 266334400 of 209715200 bytes, rate 8600 B/s, quiet 1m0s
}
