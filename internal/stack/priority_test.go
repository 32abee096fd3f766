package stack

import (
	"flag"
	"io"
	"testing"

	"github.com/votechain/votechain/internal/proc"
)

// TestLedgerPriorityFlag: the default, the new flag's forms and the older
// --ledger-nice all set the one value; a bad value is refused.
func TestLedgerPriorityFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want proc.Priority
	}{
		{nil, DefaultLedgerPriority},
		{[]string{"--ledger-priority", "idle"}, proc.PriorityIdle},
		{[]string{"--ledger-priority", "nice:5"}, proc.Priority{Nice: 5}},
		{[]string{"--ledger-priority", "normal"}, proc.PriorityNormal},
		{[]string{"--ledger-nice", "0"}, proc.PriorityNormal},
		{[]string{"--ledger-nice", "15"}, proc.Priority{Nice: 15}},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		prio := LedgerPriorityFlag(fs, "up")
		if err := fs.Parse(tc.args); err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if *prio != tc.want {
			t.Errorf("%v: %s, want %s", tc.args, prio, tc.want)
		}
	}
	for _, bad := range [][]string{{"--ledger-nice", "x"}, {"--ledger-nice", "20"}, {"--ledger-priority", "batch"}} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		LedgerPriorityFlag(fs, "up")
		if err := fs.Parse(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
