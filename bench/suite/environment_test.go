package suite

import (
	"bytes"
	"strings"
	"testing"

	"github.com/votechain/votechain/bench/report"
)

// TestRunRecordsItsEnvironment: a variable that sets a flag of a process
// the run starts goes into the report's settings and the run's first
// line, a secret's value into neither, and one for another command is
// left out.
func TestRunRecordsItsEnvironment(t *testing.T) {
	t.Setenv("BATCHER_LEDGER_LAG", "-1s")
	t.Setenv("GATEWAY_REDIS_PASSWORD_FILE", "/secret/path")
	t.Setenv("VCNET_PORT_BASE", "27000")
	var out bytes.Buffer
	r := &run{cfg: Config{Progress: &out}, rep: &report.Report{}}
	r.recordEnvironment()
	env := r.rep.Settings.Environment
	if strings.Join(env.Prefixes, ",") != "BATCHER,GATEWAY,EXPLORER" {
		t.Errorf("prefixes %q", env.Prefixes)
	}
	for _, want := range []string{"BATCHER_LEDGER_LAG=-1s", "GATEWAY_REDIS_PASSWORD_FILE=(set)"} {
		if !strings.Contains(strings.Join(env.Set, " "), want) {
			t.Errorf("recorded %q; want %s among them", env.Set, want)
		}
	}
	line := out.String()
	if !strings.HasPrefix(line, "bench: environment of the run's batchers, gateways and explorer: ") || !strings.Contains(line, "BATCHER_LEDGER_LAG=-1s") {
		t.Errorf("said %q; want the variables", line)
	}
	for _, s := range []string{"/secret/path", "VCNET"} {
		if strings.Contains(line, s) || strings.Contains(strings.Join(env.Set, " "), s) {
			t.Errorf("%q shown (line %q, recorded %q)", s, line, env.Set)
		}
	}
}
