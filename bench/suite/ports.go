package suite

import (
	"fmt"
	"math"

	"github.com/votechain/votechain/network"
)

// portPlanOffsets are where a run's stacks have their port plans
// (network.Ports, each within 400 of its base), from the run's port base:
// the scale-out stack's below it, the run's own system's at it, the extra
// networks' above it.
var portPlanOffsets = []int{scaleOutPortOffset, 0, otherPortOffset}

// portBaseFits reports whether every stack of a run at base has a port
// plan network.Ports.Validate accepts.
func portBaseFits(base int) bool {
	for _, off := range portPlanOffsets {
		if (network.Ports{Base: base + off}).Validate() != nil {
			return false
		}
	}
	return true
}

// PortBases is the first and the last port base a run can take
// (portBaseFits), found by trying every port, so that they follow
// network.Ports.Validate.
func PortBases() (first, last int) {
	first = -1
	for base := 1; base <= math.MaxUint16; base++ {
		if portBaseFits(base) {
			if first < 0 {
				first = base
			}
			last = base
		}
	}
	return first, last
}

// CheckPortBase refuses a port base at which one of a run's stacks would
// have no valid port plan, saying which bases a run can take (PortBases).
func CheckPortBase(base int) error {
	if portBaseFits(base) {
		return nil
	}
	first, last := PortBases()
	return fmt.Errorf("a run's port plans of 400 ports each start %d below the base (the scale-out stack), at it (the run's system) and %d above it (the extra networks): give a base from %d to %d",
		-scaleOutPortOffset, otherPortOffset, first, last)
}
