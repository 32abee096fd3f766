package stack

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/proc"
)

// TestLedgerPriorityFlag: the default, the new flag's forms and the older
// --ledger-nice all set the one value; a bad value is refused.
func TestLedgerPriorityFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want proc.Priority
	}{
		{nil, DefaultLedgerPriority()},
		{[]string{"--ledger-priority", "idle"}, proc.PriorityIdle()},
		{[]string{"--ledger-priority", "nice:5"}, proc.Priority{Nice: 5}},
		{[]string{"--ledger-priority", "normal"}, proc.PriorityNormal()},
		{[]string{"--ledger-nice", "0"}, proc.PriorityNormal()},
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

// TestLedgerPriorityFlagsAreOneSetting: the older and the newer flag are
// one setting, so giving both, on the command line or one of them through
// the environment (cli.ApplyEnv sets the flags the command line did not),
// is refused rather than one silently winning.
func TestLedgerPriorityFlagsAreOneSetting(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"both on the command line", []string{"--ledger-nice", "5", "--ledger-priority", "idle"}, nil},
		{"the older flag, the newer in the environment", []string{"--ledger-nice", "5"}, map[string]string{"VOTECHAIN_LEDGER_PRIORITY": "idle"}},
		{"the newer flag, the older in the environment", []string{"--ledger-priority", "idle"}, map[string]string{"VOTECHAIN_LEDGER_NICE": "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			prio := LedgerPriorityFlag(fs, "up")
			err := fs.Parse(tc.args)
			if err == nil {
				err = cli.ApplyEnv(fs, "VOTECHAIN")
			}
			if err == nil {
				t.Fatalf("accepted: priority %s", prio)
			}
			if !strings.Contains(err.Error(), "give one of the two") {
				t.Errorf("error %q does not say what to do", err)
			}
		})
	}
	// One flag given twice is one setting given twice: the last wins.
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	prio := LedgerPriorityFlag(fs, "up")
	if err := fs.Parse([]string{"--ledger-priority", "idle", "--ledger-priority", "nice:3"}); err != nil || *prio != (proc.Priority{Nice: 3}) {
		t.Errorf("the flag twice: %s, %v; want nice:3", prio, err)
	}
}
