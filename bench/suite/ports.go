package suite

import (
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/votechain/votechain/network"
)

// DefaultPortBase is the run's port base unless given (benchrun
// --port-base): a whole run's ports (PortSpan, 31400-32599) lie above the
// test ports (10000-31399) and make up's (27000-27399), and below Linux's
// default ephemeral range (32768+, LinuxFirstEphemeral), where an outgoing
// connection may take a port before a server binds it.
const DefaultPortBase = 31800

// LinuxFirstEphemeral is the first port of Linux's default ephemeral
// range (net.ipv4.ip_local_port_range, 32768-60999): Config.FirstEphemeral
// when it is not set, FirstEphemeralPort when the machine's cannot be read.
const LinuxFirstEphemeral = 32768

// ephemeralRangeFile is where Linux keeps its ephemeral range: the first
// and the last port, separated by white space.
const ephemeralRangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// FirstEphemeralPort is the first port of this machine's ephemeral range
// (Config.FirstEphemeral), read from /proc; LinuxFirstEphemeral when it
// cannot be read.
func FirstEphemeralPort() int { return firstEphemeralIn(ephemeralRangeFile) }

// firstEphemeralIn is the first port of the ephemeral range the file
// path holds as /proc/sys/net/ipv4/ip_local_port_range does, or
// LinuxFirstEphemeral when it holds none.
func firstEphemeralIn(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return LinuxFirstEphemeral
	}
	var first int
	if _, err := fmt.Sscan(string(data), &first); err != nil || first < 1 || first > math.MaxUint16 {
		return LinuxFirstEphemeral
	}
	return first
}

// planPorts is how many ports a stack's port plan (network.Ports) spans
// from its base.
const planPorts = 400

// portPlan is where one of a run's stacks has its port plan: offset from
// the run's port base, and which stack it is, for messages.
type portPlan struct {
	offset int
	stack  string
}

// The port plans a run may bring up: the scale-out stack's below the run's
// port base, the run's own system's at it, the extra networks' above it.
var (
	scaleOutPlan = portPlan{scaleOutPortOffset, "the scale-out stack"}
	ownPlan      = portPlan{0, "the run's system"}
	extraPlan    = portPlan{otherPortOffset, "the extra networks"}
)

// portPlans are the port plans a run of cfg brings up, lowest first: the
// scale-out stack's if it runs the scale-out phase (--only scaleout, or a
// whole run with a scale-out rate), the run's own system's unless it runs
// that phase alone, and the extra networks' if a whole run measures
// anything on one (the other consensus, the eligibility pair, the contests
// pair: Config.Contests). The --only sweep, intake and ab runs bring up
// the run's system alone.
func (cfg Config) portPlans() []portPlan {
	whole := cfg.Only == ""
	var plans []portPlan
	if cfg.Only == OnlyScaleOut || whole && cfg.Plan.ScaleOutRate > 0 {
		plans = append(plans, scaleOutPlan)
	}
	if cfg.Only != OnlyScaleOut {
		plans = append(plans, ownPlan)
	}
	if whole && (cfg.Plan.OtherConsensus || cfg.Plan.Eligibility || len(cfg.Contests) >= 2) {
		plans = append(plans, extraPlan)
	}
	return plans
}

// portBaseFits reports whether each of plans has, from the run's port
// base, a port plan network.Ports.Validate accepts, and whether all the
// ports they span lie below firstEphemeral, the first port of the
// ephemeral range, where an outgoing connection may take a port before a
// server binds it.
func portBaseFits(base int, plans []portPlan, firstEphemeral int) bool {
	for _, p := range plans {
		if (network.Ports{Base: base + p.offset}).Validate() != nil {
			return false
		}
	}
	return base+plans[len(plans)-1].offset+planPorts-1 < firstEphemeral
}

// PortBases is the first and the last port base a run of cfg can take
// (its port plans, portPlans, all valid, its ports all below
// cfg.FirstEphemeral), found by trying every port, so that they follow
// network.Ports.Validate; first is -1 when none fits. A whole run's
// default plan (DefaultPlan) has the narrowest range.
func PortBases(cfg Config) (first, last int) {
	plans, eph := cfg.portPlans(), cfg.firstEphemeral()
	first = -1
	for base := 1; base <= math.MaxUint16; base++ {
		if portBaseFits(base, plans, eph) {
			if first < 0 {
				first = base
			}
			last = base
		}
	}
	return first, last
}

// CheckPortBase refuses cfg.Stack.PortBase when a stack the run of cfg
// brings up (portPlans) would have no valid port plan there, or a port of
// the run would lie in the ephemeral range (cfg.FirstEphemeral and above),
// naming the plans and the span of ports the run needs and the bases it
// can take (PortBases).
func CheckPortBase(cfg Config) error {
	plans, eph := cfg.portPlans(), cfg.firstEphemeral()
	if portBaseFits(cfg.Stack.PortBase, plans, eph) {
		return nil
	}
	where := make([]string, len(plans))
	for i, p := range plans {
		switch {
		case p.offset < 0:
			where[i] = fmt.Sprintf("%d below the base (%s)", -p.offset, p.stack)
		case p.offset == 0:
			where[i] = fmt.Sprintf("at the base (%s)", p.stack)
		default:
			where[i] = fmt.Sprintf("%d above it (%s)", p.offset, p.stack)
		}
	}
	if n := len(where); n > 1 {
		where = append(where[:n-2], where[n-2]+" and "+where[n-1])
	}
	lo, hi := cfg.PortSpan(0)
	needs := fmt.Sprintf("this run's port plans of %d ports each start %s: it needs the %d ports from base%s to base%+d, below the ephemeral range (%d+: net.ipv4.ip_local_port_range)",
		planPorts, strings.Join(where, ", "), hi-lo+1, signed(lo), hi, eph)
	first, last := PortBases(cfg)
	if first < 0 {
		return fmt.Errorf("%s, and no base fits below it: raise the range's first port (sysctl net.ipv4.ip_local_port_range)", needs)
	}
	return fmt.Errorf("%s, so give a base from %d to %d", needs, first, last)
}

// firstEphemeral is cfg.FirstEphemeral, or LinuxFirstEphemeral when it is
// not set.
func (cfg Config) firstEphemeral() int {
	if cfg.FirstEphemeral > 0 {
		return cfg.FirstEphemeral
	}
	return LinuxFirstEphemeral
}

// PortSpan is the lowest and the highest port a run of cfg takes from
// port base base: its lowest port plan's first port to its highest's last
// (portPlans).
func (cfg Config) PortSpan(base int) (lo, hi int) {
	plans := cfg.portPlans()
	return base + plans[0].offset, base + plans[len(plans)-1].offset + planPorts - 1
}

// signed is n with its sign, none for 0: the offset of a port from a base.
func signed(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%+d", n)
}
