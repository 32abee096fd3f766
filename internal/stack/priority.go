package stack

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/votechain/votechain/internal/proc"
)

// DefaultLedgerPriority is the ledger side's CPU priority when up starts it
// and no other is asked for (docs/operations.md#cpu-priority-intake-first).
var DefaultLedgerPriority = proc.Priority{Nice: 10}

// LedgerPriorityFlag defines --ledger-priority on fs, defaulting to
// DefaultLedgerPriority, and its older form --ledger-nice N (the same as
// --ledger-priority nice:N; 0: normal), both setting the returned value;
// who names who starts the ledger side ("up", "the benchmark's system").
func LedgerPriorityFlag(fs *flag.FlagSet, who string) *proc.Priority {
	prio := DefaultLedgerPriority
	fs.Var(&prio, "ledger-priority", fmt.Sprintf("CPU priority of the ledger side (orderers, peers, chaincode servers, batchers, explorer) when %s starts it, so the gateway and Redis win the cores under a surge and the ledger drains in the time left: "+
		"idle (Linux's SCHED_IDLE: the ledger runs only on CPU time the rest leaves), nice:N (niceness +N, 0..19) or normal (the same as the intake)", who))
	fs.Func("ledger-nice", "older form of --ledger-priority nice:N (0: normal)", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("niceness %q: give a number from 0 to 19, or use --ledger-priority", s)
		}
		return prio.Set(fmt.Sprintf("nice:%d", n))
	})
	return &prio
}
