package stack

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/votechain/votechain/internal/proc"
)

// DefaultLedgerPriority returns the ledger side's CPU priority when up
// starts it and no other is asked for
// (docs/operations.md#cpu-priority-intake-first): niceness +10. It is a
// new value at each call, so no caller can change the default for the
// others.
func DefaultLedgerPriority() proc.Priority { return proc.Priority{Nice: 10} }

// LedgerPriorityFlag defines --ledger-priority on fs, defaulting to
// DefaultLedgerPriority, and its older form --ledger-nice N (the same as
// --ledger-priority nice:N; 0: normal), both setting the returned value;
// who names who starts the ledger side ("up", "the benchmark's system").
//
// The two are one setting: once one of them is set, setting the other is
// an error, whether each came from the command line or the environment
// (cli.ApplyEnv), so neither silently overrides the other.
func LedgerPriorityFlag(fs *flag.FlagSet, who string) *proc.Priority {
	prio := DefaultLedgerPriority()
	by := new(string)
	fs.Var(priorityValue{"ledger-priority", &prio, by, prio.Set}, "ledger-priority", fmt.Sprintf("CPU priority of the ledger side (orderers, peers, chaincode servers, batchers, explorer) when %s starts it, so the gateway and Redis win the cores under a surge and the ledger drains in the time left: "+
		"idle (Linux's SCHED_IDLE: the ledger runs only on CPU time the rest leaves), nice:N (niceness +N, 0..19) or normal (the same as the intake)", who))
	fs.Var(priorityValue{"ledger-nice", nil, by, func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 19 {
			return fmt.Errorf("niceness %q: give a number from 0 to 19, or use --ledger-priority", s)
		}
		return prio.Set(fmt.Sprintf("nice:%d", n))
	}}, "ledger-nice", "older form of --ledger-priority nice:N (0: normal); give one of the two")
	return &prio
}

// priorityValue is one of the two flags that set the ledger's priority:
// set applies a value, by names the flag that set it first.
type priorityValue struct {
	name string
	prio *proc.Priority // shown as the default; nil for the older form
	by   *string
	set  func(string) error
}

func (v priorityValue) String() string {
	if v.prio == nil {
		return ""
	}
	return v.prio.String()
}

func (v priorityValue) Set(s string) error {
	if *v.by != "" && *v.by != v.name {
		return fmt.Errorf("--%s is already set by --%s (on the command line or in the environment): give one of the two", v.name, *v.by)
	}
	*v.by = v.name
	return v.set(s)
}
