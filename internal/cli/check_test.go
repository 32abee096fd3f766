package cli

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/network"
)

// TestLedgerCheck: each organisation of the consortium passes; another name, or
// one in the wrong case, is a usage error listing them.
func TestLedgerCheck(t *testing.T) {
	for _, o := range network.PeerOrgs {
		if err := (&Ledger{Org: o.Name}).Check(); err != nil {
			t.Errorf("--org %s: %v", o.Name, err)
		}
	}
	for _, name := range []string{"Nobody", "commission", ""} {
		if err := (&Ledger{Org: name}).Check(); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "want Commission or Observers") {
			t.Errorf("--org %q: %v; want a usage error listing the organisations", name, err)
		}
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
}

// TestFloatsAtLeast: a value below the bound, or NaN, is a usage error
// naming the flag; the bound itself passes.
func TestFloatsAtLeast(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	rate := fs.Float64("rate", 0, "")
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
