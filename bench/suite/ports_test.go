package suite

import (
	"fmt"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network"
)

// TestPortBases: at the first and the last port base a whole run can take
// every stack's port plan is valid (network.Ports.Validate); one port
// lower the scale-out stack's is not, one higher the extra networks' is
// not, and CheckPortBase refuses them and a base beyond the last port,
// naming the plans, the span of ports and the range. The default base,
// DefaultPortBase (benchrun's), fits.
func TestPortBases(t *testing.T) {
	whole := Config{Plan: DefaultPlan()}
	first, last := PortBases(whole)
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
	if valid(last + 1 + otherPortOffset) {
		t.Errorf("last base %d: the extra networks' plan one higher is valid; want %d not the last", last, last)
	}
	whole.Stack.PortBase = DefaultPortBase
	if err := CheckPortBase(whole); err != nil {
		t.Errorf("the default base: %v", err)
	}
	for _, base := range []int{first - 1, last + 1, 99999, 0} {
		whole.Stack.PortBase = base
		err := CheckPortBase(whole)
		for _, want := range []string{
			"start 400 below the base (the scale-out stack), at the base (the run's system) and 400 above it (the extra networks)",
			"the 1200 ports from base-400 to base+799",
			fmt.Sprintf("give a base from %d to %d", first, last),
		} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("base %d: %v; want it refused, with %q", base, err, want)
			}
		}
	}
}

// TestPortBasesOfWhatTheRunStarts: the port bases a run can take follow
// the stacks it brings up. --only intake, sweep and ab start the run's
// system alone and take a base near the top or the bottom of the range
// that a whole run refuses; --only scaleout starts the scale-out stack
// alone, 400 below the base; a whole run without the scale-out phase or
// without any extra network needs no room for it, but the contests pair
// alone still brings up an extra network. Each refusal names the span the
// run needs.
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
		span        string
	}{
		{"whole run", Config{Plan: DefaultPlan()}, lowest + 400, highest - 400, "the 1200 ports from base-400 to base+799"},
		{"--only intake", Config{Only: OnlyIntake, Plan: DefaultPlan()}, lowest, highest, "the 400 ports from base to base+399"},
		{"--only sweep", Config{Only: OnlySweep, Plan: DefaultPlan()}, lowest, highest, "the 400 ports from base to base+399"},
		{"--only ab", Config{Only: OnlyAB, Plan: DefaultPlan()}, lowest, highest, "the 400 ports from base to base+399"},
		{"--only scaleout", Config{Only: OnlyScaleOut, Plan: DefaultPlan()}, lowest + 400, highest + 400, "the 400 ports from base-400 to base-1"},
		{"whole run, --scaleout-rate 0", Config{Plan: noScaleOut}, lowest, highest - 400, "the 800 ports from base to base+799"},
		{"whole run, no extra network", Config{Plan: noExtra}, lowest + 400, highest, "the 800 ports from base-400 to base+399"},
		{"whole run, the contests pair's extra network", Config{Plan: noExtra, Contests: twoContests}, lowest + 400, highest - 400, "the 1200 ports from base-400 to base+799"},
	} {
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
