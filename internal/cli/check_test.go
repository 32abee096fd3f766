package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/network"
)

// TestLedgerCheck: each organisation of the consortium passes, as --org
// and as --peer; another name, or one in the wrong case, is a usage error
// listing them, naming its flag (--org and --peer both at once).
func TestLedgerCheck(t *testing.T) {
	for _, o := range network.PeerOrgs() {
		if err := (&Ledger{Org: o.Name}).Check(); err != nil {
			t.Errorf("--org %s: %v", o.Name, err)
		}
	}
	for _, name := range []string{"Nobody", "commission", ""} {
		if err := (&Ledger{Org: name}).Check(); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "want Commission or Observers") {
			t.Errorf("--org %q: %v; want a usage error listing the organisations", name, err)
		}
	}
	for _, o := range network.PeerOrgs() {
		if err := (&Ledger{Org: "Observers", Peer: o.Name}).Check(); err != nil {
			t.Errorf("--peer %s: %v", o.Name, err)
		}
	}
	both := "--org \"Nobody\" is not an organisation of the consortium: want Commission or Observers\n--peer \"commission\" is not an organisation of the consortium: want Commission or Observers"
	if err := (&Ledger{Org: "Nobody", Peer: "commission"}).Check(); !errors.Is(err, ErrUsage) || err.Error() != both {
		t.Errorf("--org Nobody --peer commission: %v; want both refused:\n%s", err, both)
	}
}

// TestCheckAddrs: an empty address flag is off and passes, a host:port with a
// port number passes, anything else is a usage error naming the flag.
func TestCheckAddrs(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.String("listen", "127.0.0.1:80", "")
	fs.String("pprof", "", "")
	if err := CheckAddrs(fs, "listen", "pprof"); err != nil {
		t.Errorf("good and empty: %v", err)
	}
	fs.Set("pprof", "localhost")
	if err := CheckAddrs(fs, "listen", "pprof"); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), `--pprof "localhost": want host:port`) {
		t.Errorf("--pprof localhost: %v; want a usage error naming it", err)
	}
	fs.Set("listen", "nowhere")
	if err := CheckAddrs(fs, "listen", "pprof"); !errors.Is(err, ErrUsage) || err.Error() != `--listen "nowhere": want host:port (missing port in address)`+"\n"+`--pprof "localhost": want host:port (missing port in address)` {
		t.Errorf("--listen nowhere --pprof localhost: %v; want a usage error naming both", err)
	}
}

// TestIntsIn: values within the bounds pass; one outside is a usage error
// naming the flag, its value and the range (a lower bound alone when there
// is no upper one).
func TestIntsIn(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	size, workers := fs.Int("size", 1, ""), fs.Int("workers", 4, "")
	if err := errors.Join(IntsIn(fs, 1, 10, "size"), IntsIn(fs, 1, Unbounded, "workers")); err != nil {
		t.Errorf("in range: %v", err)
	}
	for _, c := range []struct {
		size, workers int
		says          string
	}{
		{0, 4, "--size is 0: want 1 to 10"},
		{11, 4, "--size is 11: want 1 to 10"},
		{10, 0, "--workers is 0: want at least 1"},
		{0, 0, "--size is 0: want 1 to 10\n--workers is 0: want at least 1"},
	} {
		*size, *workers = c.size, c.workers
		err := errors.Join(IntsIn(fs, 1, 10, "size"), IntsIn(fs, 1, Unbounded, "workers"))
		if !errors.Is(err, ErrUsage) || err.Error() != c.says {
			t.Errorf("--size %d --workers %d: %v; want a usage error saying %s", c.size, c.workers, err, c.says)
		}
	}
}

// TestIntsInWiderTypes: int64 and uint64 flags are checked as int ones
// are; a uint64 beyond int64's range reads as above any bound.
func TestIntsInWiderTypes(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	body, voters := fs.Int64("body", -5, ""), fs.Uint64("voters", 0, "")
	for _, c := range []struct {
		name, says string
	}{
		{"body", "--body is -5: want at least 1"},
		{"voters", "--voters is 0: want at least 1"},
	} {
		if err := IntsIn(fs, 1, Unbounded, c.name); !errors.Is(err, ErrUsage) || err.Error() != c.says {
			t.Errorf("%s: %v; want a usage error saying %s", c.name, err, c.says)
		}
	}
	*body, *voters = 4096, 1<<63+1
	if err := IntsIn(fs, 1, Unbounded, "body", "voters"); err != nil {
		t.Errorf("in range: %v", err)
	}
	if err := IntsIn(fs, 1, 100, "voters"); err == nil || !strings.Contains(err.Error(), "want 1 to 100") {
		t.Errorf("a uint64 above int64's range against 1 to 100: %v", err)
	}
	*body = 0
	if err := IntsIn(fs, 1, 100, "body", "voters"); err == nil || err.Error() != "--body is 0: want 1 to 100\n--voters is 9223372036854775807: want 1 to 100" {
		t.Errorf("both out of 1 to 100: %v; want each reported", err)
	}
}

// TestFloatsAtLeast: a value below the bound, or NaN, is a usage error
// naming the flag; the bound itself passes.
func TestFloatsAtLeast(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	rate, burst := fs.Float64("rate", 0, ""), fs.Float64("burst", -1, "")
	if err := FloatsAtLeast(fs, 0, "rate"); err != nil {
		t.Errorf("--rate 0: %v", err)
	}
	for _, v := range []string{"-0.5", "NaN"} {
		if err := fs.Set("rate", v); err != nil {
			t.Fatal(err)
		}
		if err := FloatsAtLeast(fs, 0, "rate"); !errors.Is(err, ErrUsage) || !strings.HasPrefix(err.Error(), "--rate is ") {
			t.Errorf("--rate %s (%g): %v; want a usage error naming --rate", v, *rate, err)
		}
	}
	if err := FloatsAtLeast(fs, 0, "rate", "burst"); err == nil || err.Error() != "--rate is NaN: want at least 0\n--burst is -1: want at least 0" {
		t.Errorf("--rate NaN --burst %g: %v; want each reported", *burst, err)
	}
}

// TestSplitList: entries come back in order with space around them dropped; an
// empty entry, a rejected one and a repeat are usage errors naming the flag.
func TestSplitList(t *testing.T) {
	upper := func(s string) bool { return s == strings.ToUpper(s) }
	if got, err := SplitList("--parts", "A, B,C", upper, "upper case"); err != nil || strings.Join(got, "|") != "A|B|C" {
		t.Errorf("A, B,C: %q, %v; want A, B, C", got, err)
	}
	for value, says := range map[string]string{
		"":      `--parts "": an empty entry: want upper case, comma-separated`,
		"A,,B":  `--parts "A,,B": an empty entry: want upper case, comma-separated`,
		"A,b":   `--parts "A,b": "b" is not upper case`,
		"A,B,A": `--parts "A,B,A": A is named twice: name each once`,
		"a,,B,,B,c": `--parts "a,,B,,B,c": "a" is not upper case
--parts "a,,B,,B,c": an empty entry: want upper case, comma-separated
--parts "a,,B,,B,c": B is named twice: name each once
--parts "a,,B,,B,c": "c" is not upper case`,
	} {
		if _, err := SplitList("--parts", value, upper, "upper case"); !errors.Is(err, ErrUsage) || err.Error() != says {
			t.Errorf("%q: %v; want a usage error saying %s", value, err, says)
		}
	}
}

// TestDurationsAtLeast: a duration below the bound is a usage error
// naming the flag, its value and the bound; the bound itself passes.
func TestDurationsAtLeast(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // "" for no error
	}{
		{nil, ""},
		{[]string{"-tick", "1ms"}, ""},
		{[]string{"-tick", "0s"}, "--tick is 0s: it must be at least 1ms"},
		{[]string{"-lease", "-1s"}, "--lease is -1s: it must be at least 1ms"},
		{[]string{"-tick", "0s", "-lease", "999us"}, "--tick is 0s: it must be at least 1ms\n--lease is 999µs: it must be at least 1ms"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.Duration("tick", time.Second, "")
		fs.Duration("lease", time.Second, "")
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		err := DurationsAtLeast(fs, time.Millisecond, "tick", "lease")
		if c.want == "" && err != nil || c.want != "" && (err == nil || err.Error() != c.want || !errors.Is(err, ErrUsage)) {
			t.Errorf("%v: %v; want %q (a usage error)", c.args, err, c.want)
		}
	}
}

// TestDurationsPositive: 0 and below are usage errors saying the flag must
// be more than 0, as its usage words it (not "at least 1ns"), whether
// asked for by DurationsPositive or by DurationsIn's bound of 1ns; the
// smallest positive duration passes.
func TestDurationsPositive(t *testing.T) {
	for _, c := range []struct {
		value, want string // want: "" for no error
	}{
		{"1ns", ""},
		{"5m", ""},
		{"0s", "--wait is 0s: it must be more than 0"},
		{"-1s", "--wait is -1s: it must be more than 0"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.Duration("wait", time.Second, "")
		if err := fs.Parse([]string{"-wait", c.value}); err != nil {
			t.Fatal(err)
		}
		for check, err := range map[string]error{
			"DurationsPositive":    DurationsPositive(fs, "wait"),
			"DurationsIn from 1ns": DurationsIn(fs, time.Nanosecond, time.Hour, "wait"),
		} {
			if c.want == "" && err != nil || c.want != "" && (err == nil || err.Error() != c.want || !errors.Is(err, ErrUsage)) {
				t.Errorf("%s, --wait %s: %v; want %q (a usage error)", check, c.value, err, c.want)
			}
		}
	}
}

// TestDurationsIn: a duration below the lower bound or above the upper one
// is a usage error naming the flag, its value and the bound it passes;
// both bounds pass, and every flag out of range is reported.
func TestDurationsIn(t *testing.T) {
	for _, c := range []struct {
		delay, poll string
		want        string // "" for no error
	}{
		{"0s", "1s", ""},
		{"1s", "1m", ""},
		{"-1ns", "30s", "--delay is -1ns: it must be at least 0s"},
		{"1.001s", "30s", "--delay is 1.001s: it must be at most 1s"},
		{"0s", "999ms", "--poll is 999ms: it must be at least 1s"},
		{"2s", "1m0.5s", "--delay is 2s: it must be at most 1s\n--poll is 1m0.5s: it must be at most 1m0s"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.Duration("delay", 0, "")
		fs.Duration("poll", time.Second, "")
		if err := fs.Parse([]string{"-delay", c.delay, "-poll", c.poll}); err != nil {
			t.Fatal(err)
		}
		err := errors.Join(DurationsIn(fs, 0, time.Second, "delay"), DurationsIn(fs, time.Second, time.Minute, "poll"))
		if c.want == "" && err != nil || c.want != "" && (err == nil || err.Error() != c.want || !errors.Is(err, ErrUsage)) {
			t.Errorf("--delay %s --poll %s: %v; want %q (a usage error)", c.delay, c.poll, err, c.want)
		}
	}
}

// TestDurationsInPanicsOnAnotherType: naming a flag that is not a duration
// is the command's mistake, told at once rather than passed unchecked.
func TestDurationsInPanicsOnAnotherType(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Int("size", 0, "")
	defer func() {
		if recover() == nil {
			t.Error("DurationsIn of an int flag did not panic")
		}
	}()
	DurationsIn(fs, 0, time.Second, "size")
}

// TestPrefixes: addresses and CIDRs come back as canonical prefixes in
// order (an address its /32 or /128, an IPv4-mapped one its IPv4 one);
// empty is none. A bad entry, a CIDR with host bits set (naming its
// network and its address), and two spellings of one prefix (naming both)
// are usage errors naming the flag, every one reported.
func TestPrefixes(t *testing.T) {
	for _, c := range []struct {
		value, want string // want: the prefixes joined by spaces, or the error
	}{
		{"", ""},
		{"10.0.0.0/8", "10.0.0.0/8"},
		{" 10.0.0.1 , ::1,fd00::/8", "10.0.0.1/32 ::1/128 fd00::/8"},
		{"::ffff:10.0.0.1,::ffff:192.168.0.0/112,::ffff:0:0/96", "10.0.0.1/32 192.168.0.0/16 0.0.0.0/0"},
		{"0.0.0.0/0,::/0", "0.0.0.0/0 ::/0"},
		{"10.0.0.1,10.0.0.1/32", `--p "10.0.0.1,10.0.0.1/32": 10.0.0.1 and 10.0.0.1/32 are the same entry, 10.0.0.1/32: name each once`},
		{"::ffff:10.0.0.1,10.0.0.1", `--p "::ffff:10.0.0.1,10.0.0.1": ::ffff:10.0.0.1 and 10.0.0.1 are the same entry, 10.0.0.1/32: name each once`},
		{"::1, 0::1/128", `--p "::1, 0::1/128": ::1 and 0::1/128 are the same entry, ::1/128: name each once`},
		{"fd00::/8,fd00::/8", `--p "fd00::/8,fd00::/8": fd00::/8 is named twice: name each once`},
		{"10.0.0.1/8", `--p "10.0.0.1/8": 10.0.0.1/8 sets bits beyond its /8: give 10.0.0.0/8 for its network, or 10.0.0.1 for the one address`},
		{"fd00::1/64", `--p "fd00::1/64": fd00::1/64 sets bits beyond its /64: give fd00::/64 for its network, or fd00::1 for the one address`},
		{"fe80::1%eth0", `--p "fe80::1%eth0": "fe80::1%eth0" is not ` + prefixWant},
		{"10.0.0.0/33", `--p "10.0.0.0/33": "10.0.0.0/33" is not ` + prefixWant},
		{"example.org", `--p "example.org": "example.org" is not ` + prefixWant},
		{"10.0.0.1:80", `--p "10.0.0.1:80": "10.0.0.1:80" is not ` + prefixWant},
		{" ", `--p " ": an empty entry: want ` + prefixWant + `, comma-separated`},
		{"x,10.0.0.0/8,,10.1.2.3/16,10.0.0.0/8", `--p "x,10.0.0.0/8,,10.1.2.3/16,10.0.0.0/8": "x" is not ` + prefixWant + `
--p "x,10.0.0.0/8,,10.1.2.3/16,10.0.0.0/8": an empty entry: want ` + prefixWant + `, comma-separated
--p "x,10.0.0.0/8,,10.1.2.3/16,10.0.0.0/8": 10.1.2.3/16 sets bits beyond its /16: give 10.1.0.0/16 for its network, or 10.1.2.3 for the one address
--p "x,10.0.0.0/8,,10.1.2.3/16,10.0.0.0/8": 10.0.0.0/8 is named twice: name each once`},
	} {
		ps, err := Prefixes("--p", c.value)
		got := fmt.Sprint(ps)
		got = strings.Trim(got, "[]")
		if err != nil {
			got = err.Error()
			if !errors.Is(err, ErrUsage) || ps != nil {
				t.Errorf("%q: %v, %v; want a usage error and no prefixes", c.value, ps, err)
			}
		}
		if got != c.want {
			t.Errorf("%q: %s; want %s", c.value, got, c.want)
		}
	}
}
