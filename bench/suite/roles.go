package suite

import (
	"strings"

	"github.com/votechain/votechain/internal/monitor"
)

// The process names come from the stack and the network's status:
// "orderer0".., "peer.<Org>", "cc.<Org>", "redis", "gateway", "batcher0"..,
// "explorer"; the benchmark adds its own.

// loadGenerator is this process's name in the CPU books: it drives the
// load of every phase.
const loadGenerator = "benchrun (load generator)"

// role groups the processes of the CPU table: the intake (gateway and
// Redis), the load generator (this process and the bare handler), the
// monitoring (Prometheus and the Redis exporter), and the ledger side
// (everything else: orderers, peers, chaincode, batchers, explorer).
func role(name string) string {
	switch {
	case name == "gateway" || name == "redis":
		return "intake"
	case strings.HasPrefix(name, "benchrun") || name == "bare handler":
		return "loadgen"
	case name == monitor.PrometheusProcess || name == monitor.ExporterProcess:
		return "monitor"
	default:
		return "ledger"
	}
}

// ledgerNode is what the ledger-side CPU per committed vote counts: peers,
// chaincode, orderers and the explorer (not the batcher, which is the
// client of the ledger).
func ledgerNode(name string) bool {
	return strings.HasPrefix(name, "peer.") || strings.HasPrefix(name, "cc.") ||
		strings.HasPrefix(name, "orderer") || name == "explorer"
}

// commitNode is what the sweep's choice counts: ledgerNode without the
// explorer, whose indexing lags the drives (its work on one setting's
// blocks lands in the next setting's window).
func commitNode(name string) bool { return ledgerNode(name) && name != "explorer" }

// partOrder lists the components part names, in the report's order.
var partOrder = []string{"gateway", "Redis", "batcher", "explorer", "peers", "chaincode", "orderers", "load generator", "monitoring"}

// part is a process's component: one of partOrder.
func part(name string) string {
	switch {
	case name == "gateway":
		return "gateway"
	case name == "redis":
		return "Redis"
	case strings.HasPrefix(name, "batcher"):
		return "batcher"
	case name == "explorer":
		return "explorer"
	case strings.HasPrefix(name, "peer."):
		return "peers"
	case strings.HasPrefix(name, "cc."):
		return "chaincode"
	case strings.HasPrefix(name, "orderer"):
		return "orderers"
	case role(name) == "loadgen":
		return "load generator"
	default:
		return "monitoring"
	}
}

// named matches exactly the names given.
func named(names ...string) func(string) bool {
	return func(n string) bool {
		for _, x := range names {
			if n == x {
				return true
			}
		}
		return false
	}
}

// prefixed matches the names starting with p.
func prefixed(p string) func(string) bool {
	return func(n string) bool { return strings.HasPrefix(n, p) }
}
