package suite

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/internal/cli/clitest"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/stack"
)

// TestRunRecordsItsEnvironment: a variable that sets a flag of a process
// the run starts goes into the report's settings and the run's first
// line, a secret's value into neither, and one for another command is
// left out. Each set one is checked against the commands' --help (here
// stand-ins printing a flag list) and the stack's command lines: the
// output warns of a misspelt one and of one for a flag the stack gives,
// and names the default one overrides.
func TestRunRecordsItsEnvironment(t *testing.T) {
	clitest.ClearEnv(t, stack.EnvPrefixes()...) // the caller's own settings would count
	bin := helpStandIns(t)
	t.Setenv("BATCHER_LEDGER_LAG", "-1s")
	t.Setenv("BATCHER_LEDGR_LAG", "-1s")
	t.Setenv("GATEWAY_REDIS_PASSWORD_FILE", "/secret/path")
	t.Setenv("VCNET_PORT_BASE", "27000")
	var out bytes.Buffer
	dir := t.TempDir()
	r := &run{cfg: Config{Progress: &out, Stack: StackConfig{Dir: dir, PortBase: 23200, BinDir: bin, FabricBin: dir, Election: dir}}, rep: &report.Report{}}
	r.recordEnvironment(context.Background())
	env := r.rep.Settings.Environment
	if strings.Join(env.Prefixes, ",") != "BATCHER,GATEWAY,EXPLORER" {
		t.Errorf("prefixes %q", env.Prefixes)
	}
	for _, want := range []string{"BATCHER_LEDGER_LAG=-1s", "GATEWAY_REDIS_PASSWORD_FILE=(set)"} {
		if !strings.Contains(strings.Join(env.Set, " "), want) {
			t.Errorf("recorded %q; want %s among them", env.Set, want)
		}
	}
	if env.Unchecked != "" || len(env.Overrides) != 1 || len(env.Unread) != 2 {
		t.Errorf("checked: overrides %q, unread %q, unchecked %q; want 1, 2 and none", env.Overrides, env.Unread, env.Unchecked)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.HasPrefix(lines[0], "bench: environment of the run's batchers, gateways and explorer: ") || !strings.Contains(lines[0], "BATCHER_LEDGER_LAG=-1s") {
		t.Errorf("said %q first; want the variables", lines[0])
	}
	for _, want := range []string{
		"bench: environment: WARNING: read by no process, changes nothing: BATCHER_LEDGR_LAG: batcher has no such flag (did you mean BATCHER_LEDGER_LAG?)",
		"bench: environment: WARNING: read by no process, changes nothing: GATEWAY_REDIS_PASSWORD_FILE: gateway is given --redis-password-file on its command line, which wins",
		"bench: environment: overrides a default: BATCHER_LEDGER_LAG=-1s: batcher --ledger-lag (default 1s)",
	} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, s := range []string{"/secret/path", "VCNET"} {
		if strings.Contains(out.String(), s) || strings.Contains(strings.Join(env.Set, " "), s) {
			t.Errorf("%q shown (output %q, recorded %q)", s, out.String(), env.Set)
		}
	}
}

// TestUncheckedEnvironmentSaysWhy: when the commands cannot be asked for
// their flags (not built), the run says so and records why, and still
// records the variables.
func TestUncheckedEnvironmentSaysWhy(t *testing.T) {
	t.Setenv("BATCHER_LEDGER_LAG", "-1s")
	var out bytes.Buffer
	dir := t.TempDir()
	r := &run{cfg: Config{Progress: &out, Stack: StackConfig{Dir: dir, PortBase: 23200, BinDir: filepath.Join(dir, "nobin"), FabricBin: dir, Election: dir}}, rep: &report.Report{}}
	r.recordEnvironment(context.Background())
	env := r.rep.Settings.Environment
	if !strings.Contains(env.Unchecked, "batcher") || !strings.Contains(strings.Join(env.Set, " "), "BATCHER_LEDGER_LAG=-1s") {
		t.Errorf("recorded %+v; want the variable and why it was not checked", env)
	}
	if !strings.Contains(out.String(), "bench: environment: not checked against the processes' flags: the flags of batcher: ") {
		t.Errorf("output does not say the check failed:\n%s", out.String())
	}
}

// helpStandIns is a folder of stand-ins for the batcher, gateway and
// explorer that print a flag list as --help does.
func helpStandIns(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	for _, name := range []string{"batcher", "gateway", "explorer"} {
		help := "  -ledger-lag duration\n    \tlag (default 1s)\n  -redis-addr string\n    \tRedis (default \"127.0.0.1:27379\")\n  -redis-password-file string\n    \tpassword\n"
		script := "#!/bin/sh\n/bin/cat >&2 <<'END'\n" + help + "END\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

// TestFreshRunChecksEnvironmentAfterTheWipe: a --fresh run on a folder
// whose network was made with another --port-base checks its environment
// against the system it will make: the wipe comes first (the folder's old
// record made stack.New refuse, and the check said only that).
func TestFreshRunChecksEnvironmentAfterTheWipe(t *testing.T) {
	clitest.ClearEnv(t, stack.EnvPrefixes()...) // the caller's own settings would count
	bin := helpStandIns(t)
	t.Setenv("BATCHER_LEDGER_LAG", "-1s")
	dir := filepath.Join(t.TempDir(), "bench")
	if err := rundir.Make(dir, nil, nil); err != nil {
		t.Fatal(err)
	}
	makeDirs(t, dir, "network")
	writeRecord(t, filepath.Join(dir, "network", "state.json"), map[string]any{"port_base": 30000})
	var out bytes.Buffer
	r := &run{cfg: Config{Progress: &out, Fresh: true, Stack: StackConfig{Dir: dir, PortBase: 23200, BinDir: bin, FabricBin: bin, Election: bin}}, rep: &report.Report{}}
	if err := r.prepare(context.Background()); err != nil {
		t.Fatalf("prepare: %v\n%s", err, out.String())
	}
	if env := r.rep.Settings.Environment; env.Unchecked != "" || len(env.Overrides) != 1 {
		t.Errorf("environment checked: overrides %q, unchecked %q; want 1 and none\n%s", env.Overrides, env.Unchecked, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "network", "state.json")); !os.IsNotExist(err) {
		t.Errorf("the old network's state.json is still there (%v): not wiped", err)
	}
}
