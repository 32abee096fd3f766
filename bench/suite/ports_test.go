package suite

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network"
)

// TestPortBases: at the first and the last port base a whole run can take
// every stack's port plan is valid (network.Ports.Validate) and its last
// port lies below Linux's default ephemeral range (32768+): one port lower
// the scale-out stack's plan is not valid, one higher the extra networks'
// last port is 32768. CheckPortBase refuses them, a base beyond the last
// port and one beyond the extra networks' last valid plan, naming the
// plans, the span of ports, the ephemeral range and the bases. The
// default base, DefaultPortBase (benchrun's), fits. Before the ephemeral
// range was checked, bases up to 64600 were taken, their ports in it.
func TestPortBases(t *testing.T) {
	whole := Config{Plan: DefaultPlan()}
	first, last := PortBases(whole)
	if first != 1425 || last != 31968 {
		t.Errorf("a whole run's bases: %d to %d; want 1425 to 31968", first, last)
	}
	valid := func(base int) bool { return (network.Ports{Base: base}).Validate() == nil }
	for _, base := range []int{first, last} {
		for _, off := range []int{scaleOutPortOffset, 0, otherPortOffset} {
			if !valid(base + off) {
				t.Errorf("base %d: the plan at %+d, %d, is not valid", base, off, base+off)
			}
		}
	}
	if valid(first - 1 + scaleOutPortOffset) {
		t.Errorf("first base %d: the scale-out stack's plan one lower is valid; want %d not the first", first, first)
	}
	if _, hi := whole.PortSpan(last + 1); hi != LinuxFirstEphemeral {
		t.Errorf("last base %d: one higher the run's last port is %d; want %d, the ephemeral range's first", last, hi, LinuxFirstEphemeral)
	}
	whole.Stack.PortBase = DefaultPortBase
	if err := CheckPortBase(whole); err != nil {
		t.Errorf("the default base: %v", err)
	}
	for _, base := range []int{first - 1, last + 1, 32400, 64600, 99999, 0} {
		whole.Stack.PortBase = base
		err := CheckPortBase(whole)
		for _, want := range []string{
			"start 400 below the base (the scale-out stack), at the base (the run's system) and 400 above it (the extra networks)",
			"the 1200 ports from base-400 to base+799, below the ephemeral range (32768+: net.ipv4.ip_local_port_range)",
			"give a base from 1425 to 31968",
		} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("base %d: %v; want it refused, with %q", base, err, want)
			}
		}
	}
}

// TestPortBasesFollowTheEphemeralRange: the last base a whole run can
// take follows the machine's ephemeral range (Config.FirstEphemeral, as
// FirstEphemeralPort reads it): its last port, base+799, below the range's
// first; with the range at the top the extra networks' last valid plan
// (network.Ports.Validate) bounds it instead, and with the range below
// every plan's ports no base fits and the refusal says how to move it.
func TestPortBasesFollowTheEphemeralRange(t *testing.T) {
	for _, c := range []struct {
		eph, last int
	}{{40000, 39200}, {49152, 48352}, {65535, 64600}} {
		cfg := Config{Plan: DefaultPlan(), FirstEphemeral: c.eph}
		if first, last := PortBases(cfg); first != 1425 || last != c.last {
			t.Errorf("range from %d: bases %d to %d; want 1425 to %d", c.eph, first, last, c.last)
		}
		cfg.Stack.PortBase = c.last
		if err := CheckPortBase(cfg); err != nil {
			t.Errorf("range from %d: base %d refused: %v", c.eph, c.last, err)
		}
		cfg.Stack.PortBase = c.last + 1
		want := fmt.Sprintf("below the ephemeral range (%d+: net.ipv4.ip_local_port_range), so give a base from 1425 to %d", c.eph, c.last)
		if err := CheckPortBase(cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("range from %d: base %d: %v; want it refused, with %q", c.eph, c.last+1, err, want)
		}
	}
	low := Config{Plan: DefaultPlan(), FirstEphemeral: 1024, Stack: StackConfig{PortBase: DefaultPortBase}}
	if first, _ := PortBases(low); first != -1 {
		t.Errorf("range from 1024: first base %d; want none (-1)", first)
	}
	if err := CheckPortBase(low); err == nil || !strings.Contains(err.Error(), "no base fits below it: raise the range's first port (sysctl net.ipv4.ip_local_port_range)") {
		t.Errorf("range from 1024: %v; want it refused, saying no base fits", err)
	}
}

// TestFirstEphemeralPort: the ephemeral range's first port is read from a
// file as Linux's /proc/sys/net/ipv4/ip_local_port_range holds it; a
// missing file, or one without a port, gives Linux's default, 32768.
func TestFirstEphemeralPort(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, content string
		want          int
	}{
		{"a range", "49152\t65535\n", 49152},
		{"not a range", "ports\n", LinuxFirstEphemeral},
		{"no port", "0\t0\n", LinuxFirstEphemeral},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := firstEphemeralIn(path); got != c.want {
			t.Errorf("%s (%q): %d; want %d", c.name, c.content, got, c.want)
		}
	}
	if got := firstEphemeralIn(filepath.Join(dir, "missing")); got != LinuxFirstEphemeral {
		t.Errorf("no file: %d; want %d", got, LinuxFirstEphemeral)
	}
}

// TestDefaultPortBaseSpanBelowEphemeral: a whole run at the default
// --port-base (DefaultPortBase) with the default plan, the widest a run
// brings up (the scale-out stack below its system, the extra networks
// above), has all its ports (Config.PortSpan) above the test ports
// (internal/testport: 10000-31399) and below Linux's default ephemeral
// range (32768+, LinuxFirstEphemeral), where an outgoing connection may
// take a port between its check and a server's bind. At 32000 the run
// reached 32799.
func TestDefaultPortBaseSpanBelowEphemeral(t *testing.T) {
	const lastTestPort = 31399
	lo, hi := Config{Plan: DefaultPlan()}.PortSpan(DefaultPortBase)
	if lo <= lastTestPort || hi >= LinuxFirstEphemeral {
		t.Errorf("a whole run at --port-base %d takes ports %d to %d; want them all in %d-%d", DefaultPortBase, lo, hi, lastTestPort+1, LinuxFirstEphemeral-1)
	}
}

// TestPortBasesOfWhatTheRunStarts: the port bases a run can take follow
// the stacks it brings up. --only intake, sweep and ab start the run's
// system alone and take a base near the top or the bottom of the range
// that a whole run refuses; --only scaleout starts the scale-out stack
// alone, 400 below the base; a whole run without the scale-out phase or
// without any extra network needs no room for it, but the contests pair
// alone still brings up an extra network. Each refusal names the span the
// run needs. With the ephemeral range at the top (65535+) the plans'
// validity bounds the bases; with Linux's default (32768+) the last base
// is the one whose span ends at 32767 (linuxLast).
func TestPortBasesOfWhatTheRunStarts(t *testing.T) {
	lowest, highest := 1025, 65000 // network.Ports.Validate's
	noExtra := DefaultPlan()
	noExtra.OtherConsensus, noExtra.Eligibility = false, false
	noScaleOut := DefaultPlan()
	noScaleOut.ScaleOutRate = 0
	twoContests := []ballot.Contest{{ID: "L1"}, {ID: "L2"}}
	for _, c := range []struct {
		name        string
		cfg         Config
		first, last int
		linuxLast   int
		span        string
	}{
		{"whole run", Config{Plan: DefaultPlan()}, lowest + 400, highest - 400, 31968, "the 1200 ports from base-400 to base+799"},
		{"--only intake", Config{Only: OnlyIntake, Plan: DefaultPlan()}, lowest, highest, 32368, "the 400 ports from base to base+399"},
		{"--only sweep", Config{Only: OnlySweep, Plan: DefaultPlan()}, lowest, highest, 32368, "the 400 ports from base to base+399"},
		{"--only ab", Config{Only: OnlyAB, Plan: DefaultPlan()}, lowest, highest, 32368, "the 400 ports from base to base+399"},
		{"--only scaleout", Config{Only: OnlyScaleOut, Plan: DefaultPlan()}, lowest + 400, highest + 400, 32768, "the 400 ports from base-400 to base-1"},
		{"whole run, --scaleout-rate 0", Config{Plan: noScaleOut}, lowest, highest - 400, 31968, "the 800 ports from base to base+799"},
		{"whole run, no extra network", Config{Plan: noExtra}, lowest + 400, highest, 32368, "the 800 ports from base-400 to base+399"},
		{"whole run, the contests pair's extra network", Config{Plan: noExtra, Contests: twoContests}, lowest + 400, highest - 400, 31968, "the 1200 ports from base-400 to base+799"},
	} {
		if first, last := PortBases(c.cfg); first != c.first || last != c.linuxLast {
			t.Errorf("%s, Linux's ephemeral range: bases %d to %d; want %d to %d", c.name, first, last, c.first, c.linuxLast)
		}
		c.cfg.FirstEphemeral = 65535
		first, last := PortBases(c.cfg)
		if first != c.first || last != c.last {
			t.Errorf("%s: bases %d to %d; want %d to %d", c.name, first, last, c.first, c.last)
		}
		for _, base := range []int{c.first, c.last} {
			c.cfg.Stack.PortBase = base
			if err := CheckPortBase(c.cfg); err != nil {
				t.Errorf("%s: base %d refused: %v", c.name, base, err)
			}
		}
		for _, base := range []int{c.first - 1, c.last + 1} {
			c.cfg.Stack.PortBase = base
			if err := CheckPortBase(c.cfg); err == nil || !strings.Contains(err.Error(), c.span) {
				t.Errorf("%s: base %d: %v; want it refused naming %q", c.name, base, err, c.span)
			}
		}
	}
}
