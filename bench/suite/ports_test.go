package suite

import (
	"fmt"
	"strings"
	"testing"

	"github.com/votechain/votechain/network"
)

// TestPortBases: at the first and the last port base a run can take every
// stack's port plan is valid (network.Ports.Validate); one port lower the
// scale-out stack's is not, one higher the extra networks' is not, and
// CheckPortBase refuses them and a base beyond the last port, naming the
// range. The default base, 32000, fits.
func TestPortBases(t *testing.T) {
	first, last := PortBases()
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
	if err := CheckPortBase(32000); err != nil {
		t.Errorf("the default base: %v", err)
	}
	for _, base := range []int{first - 1, last + 1, 99999, 0} {
		err := CheckPortBase(base)
		if want := fmt.Sprintf("give a base from %d to %d", first, last); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("base %d: %v; want it refused, with %q", base, err, want)
		}
	}
}
